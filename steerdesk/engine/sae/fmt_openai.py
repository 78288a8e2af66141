"""OpenAI sparse_autoencoder: one pickled state dict (`.pt`), as `Autoencoder.state_dict()`
writes it (sparse_autoencoder/model.py):

    pre_bias [d], encoder.weight [n, d], latent_bias [n], decoder.weight [d, n]
    (or decoder.linear.weight [n, d] when tied), activation: "ReLU" | "TopK",
    activation_state_dict: {"k": int, "postact_fn": "ReLU"}
    (or flattened: "activation_state_dict.k")

`latents = activation(encoder(x - pre_bias) + latent_bias)`, `recons = decoder(latents) + pre_bias`.
TopK autoencoders (v5) also layer-norm the input first (`from_state_dict` turns `normalize` on
exactly when the activation is TopK): `(x - mu) / (std + 1e-5)` with the unbiased std, undone
after decoding by `* std + mu` -- the same as SAELens's `layer_norm`, which base.SAE implements.

The file holds no hook; the released files live at `{location}_{version}/autoencoders/{L}.pt`,
and when the path has that shape the hook is read from it.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from steerdesk.engine.errors import InputError
from steerdesk.engine.sae.base import SAE, SAEConfig, whole
from steerdesk.engine.sae.files import read_torch_pickle
from steerdesk.engine.sae.registry import SAEFormat

SUFFIXES = (".pt", ".pth")
# sparse_autoencoder's README: its locations in TransformerLens hook names.
LOCATIONS = {
    "mlp_post_act": "blocks.{L}.mlp.hook_post",
    "resid_delta_attn": "blocks.{L}.hook_attn_out",
    "resid_post_attn": "blocks.{L}.hook_resid_mid",
    "resid_delta_mlp": "blocks.{L}.hook_mlp_out",
    "resid_post_mlp": "blocks.{L}.hook_resid_post",
}


def detect(path: Path) -> bool:
    # A pickle cannot be looked into without running it, so only the name is checked here;
    # `load` reads it once the user has allowed pickle files.
    path = Path(path)
    return path.is_file() and path.suffix.lower() in SUFFIXES


def hook_from_path(path: Path) -> str | None:
    path = Path(path)
    if not path.stem.isdigit() or path.parent.name != "autoencoders":
        return None
    run = path.parent.parent.name
    location = next((loc for loc in LOCATIONS if re.fullmatch(rf"{loc}(_v\w+)?", run)), None)
    return LOCATIONS[location].format(L=int(path.stem)) if location else None


def _activation(sd: dict, file: Path) -> tuple[str, int | None]:
    name = sd.get("activation", "ReLU")
    if name == "ReLU":
        return "relu", None
    if name != "TopK":
        raise InputError(f"{file}: activation {name!r} is not supported; steerdesk reads the "
                         "ReLU and TopK autoencoders of sparse_autoencoder")
    state = sd.get("activation_state_dict")
    state = state if isinstance(state, dict) else {
        key.split(".", 1)[1]: v for key, v in sd.items()
        if isinstance(key, str) and key.startswith("activation_state_dict.")}
    k, post = state.get("k"), state.get("postact_fn", "ReLU")
    if isinstance(k, torch.Tensor) and k.numel() == 1:
        k = whole(k.item())
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise InputError(f"{file}: a TopK autoencoder needs activation_state_dict.k, a positive "
                         f"integer (found {k!r})")
    if post != "ReLU":
        # Identity would let negative values through top-k; base.SAE applies a ReLU.
        raise InputError(f"{file}: TopK with postact_fn {post!r} is not supported (only ReLU)")
    return "topk", k


def load(path: Path, *, allow_pickle: bool = False, hook: str | None = None) -> SAE:
    file = Path(path)
    sd = read_torch_pickle(file, allow_pickle)
    if isinstance(sd.get("state_dict"), dict):  # some re-saves wrap the state dict
        sd = sd["state_dict"]
    arch, k = _activation(sd, file)

    def get(key: str) -> torch.Tensor:
        value = sd.get(key)
        if not isinstance(value, torch.Tensor):
            raise InputError(f"{file}: tensor {key!r} is missing; an OpenAI sparse_autoencoder "
                             "state dict has pre_bias, encoder.weight, latent_bias and "
                             f"decoder.weight (found {', '.join(map(str, sd))})")
        return value.float()

    enc = get("encoder.weight")
    if enc.ndim != 2:
        raise InputError(f"{file}: encoder.weight has shape {tuple(enc.shape)}, expected [n, d]")
    n, d = enc.shape
    tied = "decoder.weight" not in sd and "decoder.linear.weight" in sd
    W_dec = get("decoder.linear.weight") if tied else get("decoder.weight").T
    tensors = {"W_enc": enc.T, "b_enc": get("latent_bias"), "W_dec": W_dec,
               "b_dec": get("pre_bias")}
    cfg = SAEConfig(architecture=arch, d_in=int(d), d_sae=int(n), k=k,
                    apply_b_dec_to_input=True,
                    normalize_activations="layer_norm" if arch == "topk" else "none",
                    hook_name=hook_from_path(file), source_format="openai",
                    source_path=str(file))
    return SAE(cfg, tensors)


# Last: any .pt file passes its detect (a pickle cannot be looked into).
FORMAT = SAEFormat(name="openai", title="OpenAI sparse_autoencoder",
                   layout="a .pt state dict",
                   detect=detect, load=load, priority=90)
