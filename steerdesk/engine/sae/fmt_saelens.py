"""SAELens folders: `cfg.json` + `sae_weights.safetensors` (+ optional `sparsity.safetensors`).

Configs from SAELens 6 keep model-side facts under `metadata`; older ones keep them flat.
Both are read; `save_saelens` writes the SAELens 6 layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from steerdesk.engine.errors import InputError
from steerdesk.engine.sae.base import SAE, SAEConfig, whole
from steerdesk.engine.sae.files import read_json, read_safetensors
from steerdesk.engine.sae.registry import SAEFormat

CFG = "cfg.json"
WEIGHTS = "sae_weights.safetensors"
SPARSITY = "sparsity.safetensors"


def is_saelens_folder(path: Path) -> bool:
    return path.is_dir() and (path / CFG).is_file() and (path / WEIGHTS).is_file()


def _architecture(cfg: dict) -> tuple[str, int | None]:
    arch = cfg.get("architecture")
    k = cfg.get("k")
    fn = str(cfg.get("activation_fn_str", cfg.get("activation_fn", "")) or "").lower()
    kwargs = cfg.get("activation_fn_kwargs") or {}
    if k is None and isinstance(kwargs, dict):
        k = kwargs.get("k")
    if arch is None:
        arch = "topk" if fn == "topk" else "standard"
    elif arch == "standard" and fn == "topk":  # SAELens < 6 wrote TopK as standard + topk fn
        arch = "topk"
    return arch, whole(k)


def _fold_decoder_norm(tensors: dict, where: Path) -> None:
    """TopK with rescale_acts_by_decoder_norm (what SAELens's trainer writes): it ranks
    pre * |W_dec[i]| and decodes acts / |W_dec[i]|. Folding the norms into the weights, as
    SAELens's fold_W_dec_norm does, gives the same activations and reconstructions with a
    unit-norm decoder, so that steering by a feature adds its direction per unit activation."""
    for name in ("W_enc", "W_dec", "b_enc"):
        if name not in tensors:
            raise InputError(f"{where}: tensor {name!r} is missing (a topk SAE needs W_enc, "
                             "W_dec, b_enc, b_dec)")
    w_dec = tensors["W_dec"].float()
    if w_dec.ndim != 2 or tensors["W_enc"].ndim != 2 or tensors["b_enc"].ndim != 1 \
            or not tensors["W_enc"].shape[1] == w_dec.shape[0] == tensors["b_enc"].shape[0]:
        return   # the shape check in SAE() names the problem
    norms = w_dec.norm(dim=-1).clamp(min=1e-8)
    tensors["W_dec"] = w_dec / norms[:, None]
    tensors["W_enc"] = tensors["W_enc"].float() * norms[None, :]
    tensors["b_enc"] = tensors["b_enc"].float() * norms


def load_saelens(folder: Path) -> SAE:
    folder = Path(folder)
    cfg = read_json(folder / CFG)
    tensors = read_safetensors(folder / WEIGHTS)
    meta = cfg.get("metadata") if isinstance(cfg.get("metadata"), dict) else {}

    def get(key, default=None):
        return meta.get(key, cfg.get(key, default))

    for key in ("d_in", "d_sae"):
        if not isinstance(cfg.get(key), int):
            raise InputError(f"{folder / CFG}: field {key!r} is missing or not an integer")
    arch, k = _architecture(cfg)
    norm = cfg.get("normalize_activations") or "none"
    if norm in ("expected_average_only_in", "covariance_whitening"):
        # As SAELens's load_from_disk: both are folded into the weights when an inference
        # SAE is saved, and at run time they normalise nothing. A norm_scaling_factor in
        # cfg.json is not applied (SAELens applies one only from its pretrained registry).
        norm = "none"
    if not isinstance(norm, str):
        raise InputError(f"{folder / CFG}: field 'normalize_activations' must be text, not "
                         f"{norm!r:.40}")
    if "threshold" not in tensors and "log_threshold" in tensors:
        # JumpReLU training checkpoints store log(threshold); inference files store threshold.
        tensors["threshold"] = torch.exp(tensors.pop("log_threshold").float())
    if arch == "topk" and cfg.get("rescale_acts_by_decoder_norm"):
        _fold_decoder_norm(tensors, folder / WEIGHTS)
    if "scaling_factor" in tensors:  # fine-tuning factor of old SAELens: it scales the decoder
        sf = tensors.pop("scaling_factor").float()
        tensors["W_dec"] = tensors["W_dec"].float() * sf.reshape(-1, 1)
    config = SAEConfig(
        architecture=arch, d_in=cfg["d_in"], d_sae=cfg["d_sae"], k=k,
        apply_b_dec_to_input=bool(cfg.get("apply_b_dec_to_input", True)),
        normalize_activations=norm,
        hook_name=get("hook_name") or get("hook_point"),
        hook_head_index=get("hook_head_index"),
        model_name=get("model_name"), prepend_bos=bool(get("prepend_bos", True)),
        context_size=get("context_size"), neuronpedia_id=get("neuronpedia_id"),
        source_format="saelens", source_path=str(folder),
    )
    sae = SAE(config, tensors)
    sparsity_file = folder / SPARSITY
    if sparsity_file.is_file():
        sparsity = read_safetensors(sparsity_file).get("sparsity")
        if sparsity is not None and sparsity.shape == (config.d_sae,):
            sae.feature_density = torch.pow(10.0, sparsity.float())
    return sae


def save_saelens(sae: SAE, folder: Path, density: torch.Tensor | None = None) -> Path:
    """Write `sae` as a SAELens 6 folder. Normalisations SAELens has no name for ("scale") are
    folded into the weights, so that SAELens and steerdesk read identical encodes."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    c = sae.cfg
    tensors = {name: getattr(sae, name).detach().float().cpu().contiguous()
               for name in ("W_enc", "W_dec", "b_enc", "b_dec", "threshold", "b_gate", "b_mag",
                            "r_mag", "W_skip") if hasattr(sae, name)}
    norm = c.normalize_activations
    if norm == "scale":
        # encode(x*s - b_dec) == encode(x - b_dec/s) with W_enc*s; decode/s == W_dec/s, b_dec/s
        s = c.input_scale
        tensors["W_enc"] = tensors["W_enc"] * s
        tensors["W_dec"] = tensors["W_dec"] / s
        tensors["b_dec"] = tensors["b_dec"] / s
        norm = "none"
    arch = {"relu": "standard"}.get(c.architecture, c.architecture)
    cfg = {
        "architecture": arch, "d_in": c.d_in, "d_sae": c.d_sae, "dtype": "float32",
        "device": "cpu", "apply_b_dec_to_input": c.apply_b_dec_to_input,
        "normalize_activations": norm, "reshape_activations": "none",
        "metadata": {"model_name": c.model_name, "hook_name": c.hook_name,
                     "hook_head_index": c.hook_head_index, "prepend_bos": c.prepend_bos,
                     "context_size": c.context_size, "neuronpedia_id": c.neuronpedia_id,
                     "saved_by": "steerdesk"},
    }
    if c.architecture == "topk":
        cfg["k"] = c.k
    (folder / CFG).write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    save_file(tensors, str(folder / WEIGHTS))
    density = density if density is not None else sae.feature_density
    if density is not None:
        log10 = torch.log10(density.detach().float().cpu().clamp_min(1e-10))
        save_file({"sparsity": log10.contiguous()}, str(folder / SPARSITY))
    return folder


def detect(path: Path) -> bool:
    return is_saelens_folder(Path(path))


def load(path: Path, *, allow_pickle: bool = False, hook: str | None = None) -> SAE:
    return load_saelens(Path(path))


FORMAT = SAEFormat(name="saelens", title="SAELens",
                   layout="a folder with cfg.json + sae_weights.safetensors",
                   detect=detect, load=load, priority=10)
