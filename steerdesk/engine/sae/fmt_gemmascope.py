"""Gemma Scope: one `params.npz` per SAE (`W_enc [d_model, d_sae]`, `W_dec [d_sae, d_model]`,
`b_enc`, `b_dec`, `threshold`), in folders like `layer_20/width_16k/average_l0_71/`.

JumpReLU without subtracting `b_dec` from the input:
`pre = x @ W_enc + b_enc; acts = relu(pre) * (pre > threshold)`. The files hold no config, so
the hook comes from the path: `layer_L` in a residual-stream release reads layer L's output.
"""

from __future__ import annotations

import re
from pathlib import Path

from steerdesk.engine.errors import InputError
from steerdesk.engine.sae.base import SAE, SAEConfig
from steerdesk.engine.sae.files import read_npz
from steerdesk.engine.sae.registry import SAEFormat

PARAMS = "params.npz"
NEEDED = ("W_enc", "W_dec", "b_enc", "b_dec", "threshold")
_LAYER = re.compile(r"^layer_(\d+)$")


def params_file(path: Path) -> Path | None:
    path = Path(path)
    if path.is_file() and path.suffix == ".npz":
        return path
    if path.is_dir() and (path / PARAMS).is_file():
        return path / PARAMS
    return None


def hook_from_path(path: Path) -> tuple[str | None, str]:
    """The hook a Gemma Scope SAE reads, from its folder names, and a note on how it was found.
    Releases are named `gemma-scope-2b-pt-res|mlp|att`; a local copy may keep that name as a
    parent folder (the Hugging Face cache does), and without it a residual SAE is assumed."""
    parts = Path(path).absolute().parts  # not resolve(): the HF cache links files to blobs/
    layer = next((int(m.group(1)) for part in reversed(parts) if (m := _LAYER.match(part))), None)
    if layer is None:
        return None, "no layer_L folder in the path: pass the hook name"
    release = " ".join(p.lower() for p in parts if "gemma-scope" in p.lower())
    if re.search(r"-mlp\b", release):
        return f"blocks.{layer}.hook_mlp_out", "MLP-output SAE (from the release folder name)"
    if re.search(r"-att\b", release):
        return f"blocks.{layer}.attn.hook_z", "attention-output SAE (from the release folder name)"
    return (f"blocks.{layer}.hook_resid_post",
            f"residual stream after layer {layer} (from layer_{layer})")


def detect(path: Path) -> bool:
    return params_file(Path(path)) is not None


def load(path: Path, *, allow_pickle: bool = False, hook: str | None = None) -> SAE:
    file = params_file(Path(path))
    if file is None:
        raise InputError(f"{path}: no {PARAMS} here (Gemma Scope SAEs are one params.npz file)")
    # Some exports write the weight names in lower case (w_enc, w_dec).
    tensors = {("W_" + k[2:] if k.startswith("w_") else k): v for k, v in read_npz(file).items()}
    missing = [k for k in NEEDED if k not in tensors]
    if missing:
        raise InputError(f"{file}: array(s) {', '.join(missing)} missing; a Gemma Scope "
                         f"params.npz holds {', '.join(NEEDED)} (found {', '.join(tensors)})")
    if tensors["W_enc"].ndim != 2:
        raise InputError(f"{file}: W_enc has shape {tuple(tensors['W_enc'].shape)}, "
                         "expected [d_model, d_sae]")
    d_in, d_sae = tensors["W_enc"].shape
    hook_name, note = hook_from_path(file.parent)
    cfg = SAEConfig(architecture="jumprelu", d_in=int(d_in), d_sae=int(d_sae),
                    apply_b_dec_to_input=False, hook_name=hook_name,
                    source_format="gemmascope", source_path=str(file),
                    extra={"hook_note": note})
    return SAE(cfg, tensors)


FORMAT = SAEFormat(name="gemmascope", title="Gemma Scope",
                   layout="params.npz",
                   detect=detect, load=load, priority=30)
