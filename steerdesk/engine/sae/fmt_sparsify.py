"""EleutherAI sparsify (formerly `sae`): one folder per hookpoint (`layers.6`, `embed_tokens`,
...) holding `cfg.json` + `sae.safetensors`, often several such folders under one root.

Tensors: `encoder.weight [d_sae, d_in]`, `encoder.bias [d_sae]`, `W_dec [d_sae, d_in]`,
`b_dec [d_in]`, optional `W_skip [d_in, d_in]` used as `x @ W_skip.T`. Encoding is
`top-k(relu(encoder(x - b_dec)))` (sparsify/sparse_coder.py + fused_encoder.py); decoding is
`acts @ W_dec + b_dec (+ x @ W_skip.T)`.
"""

from __future__ import annotations

from pathlib import Path

from steerdesk.engine.errors import InputError
from steerdesk.engine.sae.base import SAE, SAEConfig
from steerdesk.engine.sae.files import read_json, read_safetensors
from steerdesk.engine.sae.registry import SAEFormat

CFG = "cfg.json"
WEIGHTS = "sae.safetensors"


def is_hookpoint_folder(path: Path) -> bool:
    return path.is_dir() and (path / CFG).is_file() and (path / WEIGHTS).is_file()


def hookpoints(root: Path) -> list[Path]:
    """The hookpoint folders directly under `root`, in natural order (layers.2 before layers.10)."""
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if is_hookpoint_folder(p)]

    def natural(p: Path):
        return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in p.name.split(".")]

    return sorted(found, key=natural)


def pick_folder(path: Path, hook: str | None) -> Path:
    if is_hookpoint_folder(path):
        return path
    found = hookpoints(path)
    names = [p.name for p in found]
    if hook is not None and hook in names:
        return path / hook
    if len(found) == 1 and hook is None:
        return found[0]
    if not found:
        raise InputError(f"{path}: no sparsify hookpoint folders ({CFG} + {WEIGHTS}) here")
    if hook is None:
        raise InputError(f"{path}: holds SAEs for several hookpoints; pick one as the hook "
                         f"(available: {', '.join(names)})", field="hook",
                         cli_hint="pick one with --hook NAME")
    raise InputError(f"{path}: no hookpoint folder named {hook!r} (available: {', '.join(names)})",
                     field="hook")


def detect(path: Path) -> bool:
    path = Path(path)
    return is_hookpoint_folder(path) or bool(hookpoints(path))


def _int_field(cfg: dict, key: str, where: Path) -> int | None:
    value = cfg.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{where}: field {key!r} should be an integer, not {value!r}")
    return value


def load(path: Path, *, allow_pickle: bool = False, hook: str | None = None) -> SAE:
    folder = pick_folder(Path(path), hook)
    cfg_file, weights_file = folder / CFG, folder / WEIGHTS
    cfg = read_json(cfg_file)
    t = read_safetensors(weights_file)
    for key in ("encoder.weight", "encoder.bias", "W_dec", "b_dec"):
        if key not in t:
            raise InputError(f"{weights_file}: tensor {key!r} is missing (found {', '.join(t)})")
    if cfg.get("transcode"):
        raise InputError(f"{cfg_file}: this is a transcoder (transcode: true), which predicts "
                         "another layer's output; steerdesk steers with autoencoders only")
    activation = str(cfg.get("activation", "topk")).lower()
    if activation != "topk" or cfg.get("signed"):
        raise InputError(f"{cfg_file}: activation {activation!r}"
                         f"{' (signed)' if cfg.get('signed') else ''} is not supported; "
                         "steerdesk reads sparsify TopK SAEs")
    enc = t["encoder.weight"]
    if enc.ndim != 2:
        raise InputError(f"{weights_file}: encoder.weight has shape {tuple(enc.shape)}, "
                         "expected [num_latents, d_in]")
    # d_in is written by save_to_disk but not by every version; the weights always know it.
    d_in = _int_field(cfg, "d_in", cfg_file) or int(enc.shape[1])
    d_sae = _int_field(cfg, "num_latents", cfg_file) or (
        d_in * (_int_field(cfg, "expansion_factor", cfg_file) or 0)) or int(enc.shape[0])
    if tuple(enc.shape) != (d_sae, d_in):
        raise InputError(f"{weights_file}: encoder.weight has shape {tuple(enc.shape)}, but "
                         f"{cfg_file.name} says d_in={d_in} and {d_sae} latents")
    k = _int_field(cfg, "k", cfg_file)
    if not k or k < 1:
        raise InputError(f"{cfg_file}: field 'k' (latents kept per token) is missing or < 1")
    W_dec = t["W_dec"]
    if tuple(W_dec.shape) == (d_in, d_sae) and d_in != d_sae:
        W_dec = W_dec.T  # stored the other way round by some exports
    tensors = {"W_enc": enc.T, "b_enc": t["encoder.bias"], "W_dec": W_dec, "b_dec": t["b_dec"]}
    if t.get("W_skip") is not None:
        tensors["W_skip"] = t["W_skip"].T  # sparsify adds x @ W_skip.T; base.SAE adds x @ W_skip
    config = SAEConfig(architecture="topk", d_in=d_in, d_sae=d_sae, k=k,
                       apply_b_dec_to_input=True, hook_name=folder.name,
                       source_format="sparsify", source_path=str(folder),
                       extra={"hook_note": "sparsify hookpoint name (a module path in the "
                                           "Hugging Face model)"})
    return SAE(config, tensors)


FORMAT = SAEFormat(name="sparsify", title="EleutherAI sparsify",
                   layout="cfg.json + sae.safetensors, one folder per hookpoint",
                   detect=detect, load=load, priority=40)
