"""Llama Scope (OpenMOSS Language-Model-SAEs): `hyperparams.json` (or `hyperparameters.json`) +
`checkpoints/final.safetensors` with `encoder.weight [d_sae, d_model]`, `encoder.bias`,
`decoder.weight [d_model, d_sae]`, `decoder.bias`.

lm_saes `SparseAutoEncoder.encode` (src/lm_saes/sae.py):
    x = x * sqrt(d_model) / dataset_average_activation_norm[in]     # norm_activation "dataset-wise"
    x = x - decoder.bias              if use_decoder_bias and apply_decoder_bias_to_pre_encoder
    pre = encoder(x)
    score = pre * |decoder column|    if sparsity_include_decoder_norm, else pre
    acts = pre * (score > jump_relu_threshold)
and decoding is `decoder(acts)` divided by the same factor. With a positive threshold that is
base.SAE's JumpReLU with a per-feature threshold `jump_relu_threshold / |decoder column|`.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from steerdesk.engine.errors import InputError
from steerdesk.engine.sae.base import SAE, SAEConfig, whole
from steerdesk.engine.sae.files import read_json, read_safetensors
from steerdesk.engine.sae.registry import SAEFormat

CONFIGS = ("hyperparams.json", "hyperparameters.json")
WEIGHTS = Path("checkpoints") / "final.safetensors"
NEVER = torch.finfo(torch.float32).max  # threshold of a feature with a zero decoder column


def config_file(folder: Path) -> Path | None:
    return next((folder / n for n in CONFIGS if (folder / n).is_file()), None)


def detect(path: Path) -> bool:
    path = Path(path)
    return path.is_dir() and config_file(path) is not None and (path / WEIGHTS).is_file()


def _number(cfg: dict, key: str, where: Path) -> float:
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        raise InputError(f"{where}: field {key!r} is missing or not a finite number "
                         f"({value!r:.40})")
    return float(value)


def _input_scale(cfg: dict, t: dict, hook_in: str, d_in: int, where: Path) -> tuple[str, float]:
    mode = cfg.get("norm_activation", "dataset-wise")
    if mode == "inference":  # the factor is already folded into the weights
        return "none", 1.0
    if mode == "token-wise":  # sqrt(d_model) / |x| per token
        return "constant_norm_rescale", 1.0
    if mode != "dataset-wise":
        raise InputError(f"{where}: norm_activation {mode!r} is not supported (steerdesk reads "
                         "dataset-wise, token-wise and inference)")
    norms = cfg.get("dataset_average_activation_norm") or {}
    norm = norms.get("in", norms.get(hook_in)) if isinstance(norms, dict) else None
    if norm is None and f"dataset_average_activation_norm.{hook_in}" in t:  # newer checkpoints
        norm = float(t[f"dataset_average_activation_norm.{hook_in}"].item())
    if isinstance(norm, bool) or not isinstance(norm, (int, float)) or not norm > 0 \
            or not math.isfinite(norm) or not math.isfinite(math.sqrt(d_in) / norm):
        raise InputError(f"{where}: dataset_average_activation_norm.in is missing or not a "
                         f"positive number ({norm!r}); it sets the input scale")
    return "scale", math.sqrt(d_in) / float(norm)


def load(path: Path, *, allow_pickle: bool = False, hook: str | None = None) -> SAE:
    folder = Path(path)
    cfg_file = config_file(folder)
    if cfg_file is None:
        raise InputError(f"{folder}: no {CONFIGS[0]} here (a Llama Scope SAE folder has "
                         f"{CONFIGS[0]} and {WEIGHTS})")
    cfg = read_json(cfg_file)
    t = read_safetensors(folder / WEIGHTS)
    where_w = folder / WEIGHTS
    for key in ("encoder.weight", "encoder.bias", "decoder.weight"):
        if key not in t:
            raise InputError(f"{where_w}: tensor {key!r} is missing (found {', '.join(t)})")
    hook_in = cfg.get("hook_point_in")
    hook_out = cfg.get("hook_point_out", hook_in)
    if hook_in != hook_out:
        raise InputError(f"{cfg_file}: reads {hook_in} but writes {hook_out} (a transcoder); "
                         "steerdesk steers with autoencoders only")
    if cfg.get("use_glu_encoder"):
        raise InputError(f"{cfg_file}: use_glu_encoder is not supported")
    enc, dec = t["encoder.weight"].float(), t["decoder.weight"].float()
    if enc.ndim != 2:
        raise InputError(f"{where_w}: encoder.weight has shape {tuple(enc.shape)}, "
                         "expected [d_sae, d_model]")
    d_sae, d_in = enc.shape
    use_bias = bool(cfg.get("use_decoder_bias", True)) and "decoder.bias" in t
    b_dec = t["decoder.bias"].float() if use_bias else torch.zeros(d_in)
    if cfg.get("d_model", d_in) != d_in or cfg.get("d_sae", d_sae) != d_sae:
        raise InputError(f"{cfg_file}: d_model={cfg.get('d_model')}, d_sae={cfg.get('d_sae')} "
                         f"do not match encoder.weight's shape {tuple(enc.shape)} in {where_w}")
    norm, scale = _input_scale(cfg, t, str(hook_in), int(d_in), cfg_file)

    act = str(cfg.get("act_fn", "relu")).lower()
    fields: dict = {"architecture": "relu"}
    tensors = {"W_enc": enc.T, "b_enc": t["encoder.bias"], "W_dec": dec.T, "b_dec": b_dec}
    if act == "jumprelu":
        if "log_jumprelu_threshold" in t:  # newer lm_saes: one learned threshold per feature
            thr = t["log_jumprelu_threshold"].float().exp()
        else:
            thr = torch.full((int(d_sae),), _number(cfg, "jump_relu_threshold", cfg_file))
        if (thr < 0).any():
            raise InputError(f"{cfg_file}: a negative JumpReLU threshold is not supported")
        if cfg.get("sparsity_include_decoder_norm", True) and dec.shape == (d_in, d_sae):
            # A zero (or vanishing) column never fires upstream: give it a threshold never met.
            thr = (thr / dec.norm(dim=0)).nan_to_num(nan=NEVER, posinf=NEVER)
        fields, tensors["threshold"] = {"architecture": "jumprelu"}, thr
    elif act == "topk":
        fields = {"architecture": "topk", "k": whole(_number(cfg, "top_k", cfg_file))}
    elif act != "relu":
        raise InputError(f"{cfg_file}: act_fn {act!r} is not supported (steerdesk reads "
                         "jumprelu, topk and relu)")
    config = SAEConfig(d_in=int(d_in), d_sae=int(d_sae),
                       apply_b_dec_to_input=use_bias
                       and bool(cfg.get("apply_decoder_bias_to_pre_encoder", False)),
                       normalize_activations=norm, input_scale=scale,
                       hook_name=str(hook_in) if hook_in else None,
                       model_name=str(cfg["model_name"]) if cfg.get("model_name") else None,
                       source_format="llamascope",
                       source_path=str(folder), **fields)
    return SAE(config, tensors)


FORMAT = SAEFormat(name="llamascope", title="Llama Scope",
                   layout="a folder with hyperparams.json + checkpoints/final.safetensors",
                   detect=detect, load=load, priority=20)
