"""saprmarks/dictionary_learning: a folder with `ae.pt` (a pickled state dict) + `config.json`
(`trainer.dict_class`, `activation_dim`, `dict_size`, `k`, `layer`, `lm_name`, `submodule_name`).

How each dictionary class encodes (dictionary_learning/dictionary.py, trainers/*.py):
- AutoEncoder:            relu(encoder(x - bias)); decode decoder(f) + bias. from_pretrained
                          rescales the decoder to unit-norm columns by default (and the encoder
                          to match), so activations are read in that unit; so are ours.
- AutoEncoderNew:         relu(encoder(x)); decode decoder(f) with decoder.bias.
- GatedAutoEncoder:       x' = x - decoder_bias; gate (x'W + gate_bias > 0) times
                          relu(exp(r_mag) * x'W + mag_bias).
- JumpReluAutoEncoder:    W_enc/b_enc/W_dec/b_dec/threshold, no b_dec subtraction.
- AutoEncoderTopK:        top-k of relu(encoder(x - b_dec)) per token (threshold unused by default).
- BatchTopKSAE,
  MatryoshkaBatchTopKSAE: relu(encoder(x - b_dec)) kept where > the learned scalar threshold
                          (batch top-k is for training only). Matryoshka stores W_enc [d, F].
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from steerdesk.engine.errors import InputError
from steerdesk.engine.sae.base import SAE, SAEConfig, whole
from steerdesk.engine.sae.files import read_json, read_torch_pickle
from steerdesk.engine.sae.registry import SAEFormat

WEIGHTS = "ae.pt"
CONFIG = "config.json"

# Old configs name only the trainer; each trainer trains one dictionary class.
TRAINER_DICT_CLASS = {
    "StandardTrainer": "AutoEncoder", "StandardTrainerAprilUpdate": "AutoEncoder",
    "PAnnealTrainer": "AutoEncoder", "TrainerTopK": "AutoEncoderTopK",
    "TopKTrainer": "AutoEncoderTopK", "TrainerBatchTopK": "BatchTopKSAE",
    "BatchTopKTrainer": "BatchTopKSAE", "MatryoshkaBatchTopKTrainer": "MatryoshkaBatchTopKSAE",
    "JumpReluTrainer": "JumpReluAutoEncoder", "GatedSAETrainer": "GatedAutoEncoder",
    "GatedAnnealTrainer": "GatedAutoEncoder",
}


def files(path: Path) -> tuple[Path, Path] | None:
    path = Path(path)
    if path.is_dir() and (path / WEIGHTS).is_file() and (path / CONFIG).is_file():
        return path / WEIGHTS, path / CONFIG
    if path.is_file() and path.suffix in (".pt", ".pth") and (path.parent / CONFIG).is_file():
        return path, path.parent / CONFIG
    return None


def detect(path: Path) -> bool:
    return files(Path(path)) is not None


def hook_for(trainer: dict) -> tuple[str | None, str]:
    """dictionary_learning records a layer index and a free-form submodule name, not a hook."""
    layer, sub = trainer.get("layer"), str(trainer.get("submodule_name") or "").lower()
    if not isinstance(layer, int) or isinstance(layer, bool):
        return None, "config.json names no layer: pass the hook name"
    if "mlp" in sub:
        return f"blocks.{layer}.hook_mlp_out", f"MLP output of layer {layer} (submodule {sub!r})"
    if "attn" in sub or "attention" in sub:
        return f"blocks.{layer}.hook_attn_out", f"attention output of layer {layer} ({sub!r})"
    if sub and "resid" not in sub:
        return None, f"submodule {sub!r} is not a residual-stream layer: pass the hook name"
    return (f"blocks.{layer}.hook_resid_post",
            f"assumed the residual stream after layer {layer} (submodule {sub or 'unnamed'!r})")


class _Tensors:
    """The state dict, with errors that name the file and the key."""

    def __init__(self, sd: dict, where: Path, dict_class: str):
        self.sd, self.where, self.dict_class = sd, where, dict_class

    def __call__(self, key: str) -> torch.Tensor:
        value = self.sd.get(key)
        if not isinstance(value, torch.Tensor):
            raise InputError(f"{self.where}: tensor {key!r} is missing (a {self.dict_class} "
                             f"state dict has it; found {', '.join(map(str, self.sd))})")
        return value.float()

    def scalar(self, key: str) -> float | None:
        value = self.sd.get(key)
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            return float(value.item())
        return None


def _shapes_agree(where: Path, t: dict[str, torch.Tensor]) -> None:
    """Shapes checked before any arithmetic on them (which would fail with torch's words)."""
    enc = t["W_enc"]
    if enc.ndim != 2:
        raise InputError(f"{where}: the encoder weight has shape {tuple(enc.shape)}, expected a "
                         "matrix")
    d_in, d_sae = enc.shape
    want = {"W_dec": (d_sae, d_in), "b_enc": (d_sae,), "b_dec": (d_in,)}
    for name, shape in want.items():
        if name in t and tuple(t[name].shape) != shape:
            raise InputError(f"{where}: tensor for {name} has shape {tuple(t[name].shape)}, but "
                             f"the encoder ({d_sae} features of width {d_in}) needs {shape}")


def _unit_decoder(t: dict[str, torch.Tensor]) -> None:
    """AutoEncoder.from_pretrained(normalize_decoder=True): decoder columns to unit norm, encoder
    rows and bias scaled up to match, so reconstructions are unchanged."""
    norms = t["W_dec"].norm(dim=1)
    norms = torch.where(norms > 0, norms, torch.ones_like(norms))  # a dead feature stays as is
    t["W_dec"] = t["W_dec"] / norms[:, None]
    t["W_enc"] = t["W_enc"] * norms[None, :]
    t["b_enc"] = t["b_enc"] * norms


def _convert(dict_class: str, get: _Tensors, k_cfg) -> tuple[dict, dict]:
    """(tensors in SAELens orientation, SAEConfig fields) for one dictionary class."""
    if dict_class == "AutoEncoder":
        t = {"W_enc": get("encoder.weight").T, "b_enc": get("encoder.bias"),
             "W_dec": get("decoder.weight").T, "b_dec": get("bias")}
        _shapes_agree(get.where, t)
        _unit_decoder(t)
        return t, {"architecture": "relu"}
    if dict_class == "AutoEncoderNew":
        return ({"W_enc": get("encoder.weight").T, "b_enc": get("encoder.bias"),
                 "W_dec": get("decoder.weight").T, "b_dec": get("decoder.bias")},
                {"architecture": "relu", "apply_b_dec_to_input": False})
    if dict_class == "GatedAutoEncoder":
        return ({"W_enc": get("encoder.weight").T, "b_gate": get("gate_bias"),
                 "b_mag": get("mag_bias"), "r_mag": get("r_mag"),
                 "W_dec": get("decoder.weight").T, "b_dec": get("decoder_bias")},
                {"architecture": "gated"})
    if dict_class == "JumpReluAutoEncoder":
        return ({k: get(k) for k in ("W_enc", "b_enc", "W_dec", "b_dec", "threshold")},
                {"architecture": "jumprelu", "apply_b_dec_to_input": False})
    k = get.scalar("k")
    k = k if k is not None else k_cfg
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, float))
                          or not math.isfinite(k) or k != int(k) or k < 1):
        raise InputError(f"{get.where}: k is {k!r}; a TopK dictionary needs a whole number of "
                         "features >= 1")
    if dict_class in ("AutoEncoderTopK", "BatchTopKSAE"):
        t = {"W_enc": get("encoder.weight").T, "b_enc": get("encoder.bias"),
             "W_dec": get("decoder.weight").T, "b_dec": get("b_dec")}
    elif dict_class == "MatryoshkaBatchTopKSAE":
        t = {k_: get(k_) for k_ in ("W_enc", "b_enc", "W_dec", "b_dec")}
    else:
        raise InputError(f"{get.where}: dictionary class {dict_class!r} is not supported; "
                         "steerdesk reads AutoEncoder, AutoEncoderNew, GatedAutoEncoder, "
                         "JumpReluAutoEncoder, AutoEncoderTopK, BatchTopKSAE, "
                         "MatryoshkaBatchTopKSAE")
    _shapes_agree(get.where, t)
    threshold = get.scalar("threshold")
    if threshold is not None and not math.isfinite(threshold):
        raise InputError(f"{get.where}: threshold is {threshold}; it must be a finite number")
    if dict_class == "AutoEncoderTopK" or threshold is None or threshold < 0:
        # TopK encodes per token by default; a BatchTopK threshold < 0 was never learned, and
        # per-token top-k is the closest inference rule to batch top-k.
        return t, {"architecture": "topk", "k": whole(k)}
    # relu(pre) > threshold >= 0 is the same as pre > threshold: JumpReLU with one threshold.
    t["threshold"] = torch.full((t["b_enc"].shape[0],), float(threshold))
    return t, {"architecture": "jumprelu", "k": whole(k)}


def load(path: Path, *, allow_pickle: bool = False, hook: str | None = None) -> SAE:
    found = files(Path(path))
    if found is None:
        raise InputError(f"{path}: expected a dictionary_learning folder with {WEIGHTS} and "
                         f"{CONFIG}")
    weights_file, config_file = found
    config = read_json(config_file)
    trainer = config.get("trainer")
    if not isinstance(trainer, dict):
        raise InputError(f"{config_file}: no 'trainer' section (dictionary_learning configs "
                         "keep the dictionary's settings there)")
    dict_class = trainer.get("dict_class") or TRAINER_DICT_CLASS.get(trainer.get("trainer_class"))
    if not dict_class:
        raise InputError(f"{config_file}: trainer.dict_class is missing and trainer_class "
                         f"{trainer.get('trainer_class')!r} is not one steerdesk knows")
    sd = read_torch_pickle(weights_file, allow_pickle)
    tensors, fields = _convert(str(dict_class), _Tensors(sd, weights_file, dict_class),
                               trainer.get("k"))
    if tensors["W_enc"].ndim != 2:
        raise InputError(f"{weights_file}: the encoder weight has shape "
                         f"{tuple(tensors['W_enc'].shape)}, expected a matrix")
    d_in, d_sae = tensors["W_enc"].shape
    for key, want in (("activation_dim", d_in), ("dict_size", d_sae)):
        if trainer.get(key) is not None and trainer.get(key) != want:
            raise InputError(f"{config_file}: trainer.{key} is {trainer.get(key)}, but the "
                             f"weights in {weights_file.name} have {want}")
    hook_name, note = hook_for(trainer)
    lm_name = trainer.get("lm_name")
    cfg = SAEConfig(d_in=int(d_in), d_sae=int(d_sae), hook_name=hook_name,
                    model_name=str(lm_name) if lm_name else None,
                    source_format="dictionary_learning", source_path=str(weights_file),
                    extra={"hook_note": note, "dict_class": dict_class}, **fields)
    return SAE(cfg, tensors)


# Before openai: its ae.pt is a .pt file too.
FORMAT = SAEFormat(name="dictionary_learning", title="dictionary_learning",
                   layout="a folder with ae.pt + config.json",
                   detect=detect, load=load, priority=50)
