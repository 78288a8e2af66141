"""Gemma Scope 2 (the SAEs for Gemma 3): one folder per SAE, e.g.
`resid_post/layer_12_width_16k_l0_medium/`, holding `params.safetensors` with lower-case
`w_enc [d_in, d_sae]`, `w_dec [d_sae, d_in]`, `b_enc`, `b_dec`, `threshold`, and, where
present, `config.json` (`architecture: jump_relu`, `hf_hook_point_in`, e.g.
`model.layers.12.output`).

As SAELens's gemma_3 loader reads them (sae_lens 6.54, loading/pretrained_sae_loaders.py):
JumpReLU, `apply_b_dec_to_input` false, no input normalisation:
    pre = x @ w_enc + b_enc;  acts = relu(pre) * (pre > threshold);  x_hat = acts @ w_dec + b_dec
The hook: the site folder (`resid_post` -> blocks.L.hook_resid_post, `mlp_out` ->
blocks.L.hook_mlp_out) and `layer_L` in the folder name; config.json's hf_hook_point_in
(`model.layers.L.output`) says the same. Transcoders, crosscoders and attention-output SAEs
(hook_z) of the same release are other layouts and are refused here.
"""

from __future__ import annotations

import re
from pathlib import Path

from steerdesk.engine.errors import InputError
from steerdesk.engine.sae.base import SAE, SAEConfig
from steerdesk.engine.sae.files import read_json, read_safetensors
from steerdesk.engine.sae.registry import SAEFormat

NAME = "gemmascope2"
TITLE = "Gemma Scope 2"
PARAMS = "params.safetensors"
CONFIG = "config.json"
NEEDED = ("w_enc", "w_dec", "b_enc", "b_dec", "threshold")
_LAYER = re.compile(r"layer_(\d+)")
_HF_OUT = re.compile(r"^model\.layers\.(\d+)\.output$")
_HF_MLP = re.compile(r"^model\.layers\.(\d+)\.post_feedforward_layernorm\.output$")


def params_file(path: Path) -> Path | None:
    path = Path(path)
    if path.is_file() and path.name == PARAMS:
        return path
    if path.is_dir() and (path / PARAMS).is_file():
        return path / PARAMS
    return None


def detect(path: Path) -> bool:
    file = params_file(Path(path))
    if file is None:
        return False
    from safetensors import safe_open

    try:
        with safe_open(str(file), framework="pt") as f:
            return {"w_enc", "threshold"} <= set(f.keys())
    except Exception:  # noqa: BLE001 - an unreadable file is not this format; load says why
        return False


def hook_from(folder: Path, cfg: dict) -> tuple[str | None, str]:
    """The hook name and how it was found: config.json first, then the folder names."""
    point = str(cfg.get("hf_hook_point_in") or "")
    if m := _HF_OUT.match(point):
        return f"blocks.{m.group(1)}.hook_resid_post", f"config.json: {point}"
    if m := _HF_MLP.match(point):
        return f"blocks.{m.group(1)}.hook_mlp_out", f"config.json: {point}"
    parts = Path(folder).absolute().parts  # not resolve(): the HF cache links files to blobs/
    layer = next((int(m.group(1)) for p in reversed(parts) if (m := _LAYER.search(p))), None)
    site = next((p for p in reversed(parts) if p in ("resid_post", "mlp_out", "attn_out")), None)
    if "transcoder" in str(folder) or "clt" in Path(folder).name or "crosscoder" in str(folder):
        return None, "a transcoder or crosscoder, not an SAE of one activation"
    if layer is None:
        return None, "no layer_L in the folder name and no hf_hook_point_in in config.json"
    if site == "mlp_out":
        return f"blocks.{layer}.hook_mlp_out", f"mlp_out/ folder, layer {layer}"
    if site == "attn_out":
        return None, "attention-output SAEs read hook_z, which steerdesk cannot hook"
    return f"blocks.{layer}.hook_resid_post", f"layer {layer}'s output (resid_post)"


def load(path: Path, *, allow_pickle: bool = False, hook: str | None = None) -> SAE:
    file = params_file(Path(path))
    if file is None:
        raise InputError(f"{path}: no {PARAMS} here (a Gemma Scope 2 SAE folder holds one)")
    cfg = read_json(file.parent / CONFIG) if (file.parent / CONFIG).is_file() else {}
    arch = cfg.get("architecture", "jump_relu")
    if arch != "jump_relu":
        raise InputError(f"{file.parent / CONFIG}: architecture {arch!r}; Gemma Scope 2 SAEs "
                         "are jump_relu")
    raw = read_safetensors(file)
    missing = [k for k in NEEDED if k not in raw]
    if missing:
        raise InputError(f"{file}: tensor(s) {', '.join(missing)} missing; a Gemma Scope 2 "
                         f"params.safetensors holds {', '.join(NEEDED)} (found {', '.join(raw)})")
    if "affine_skip_connection" in raw or raw["w_dec"].ndim != 2:
        raise InputError(f"{file}: a transcoder or crosscoder (it maps one activation to "
                         "another); steerdesk steers with SAEs of one activation")
    if raw["w_enc"].ndim != 2:
        raise InputError(f"{file}: w_enc has shape {tuple(raw['w_enc'].shape)}, expected [d_in, d_sae]")
    d_in, d_sae = (int(n) for n in raw["w_enc"].shape)
    hook_name, note = hook_from(file.parent, cfg)
    tensors = {"W_enc": raw["w_enc"], "W_dec": raw["w_dec"], "b_enc": raw["b_enc"],
               "b_dec": raw["b_dec"], "threshold": raw["threshold"]}
    config = SAEConfig(architecture="jumprelu", d_in=d_in, d_sae=d_sae, apply_b_dec_to_input=False,
                       hook_name=hook or hook_name, model_name=cfg.get("model_name"),
                       source_format=NAME, source_path=str(file.parent),
                       extra={"hook_note": note})
    return SAE(config, tensors)


FORMAT = SAEFormat(name=NAME, title=TITLE,
                   layout="a folder with params.safetensors (w_enc, w_dec, threshold) "
                          "[+ config.json]",
                   detect=detect, load=load, priority=35)
