"""The pocket pack's SAE: a TopK SAE on the residual stream after block 2 of the pocket model,
trained on language-balanced windows of the training split and measured on the held-out split."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

HOOK = "blocks.2.hook_resid_post"
MODEL_NAME = "steerdesk-pocket"


@dataclass
class SaeBuildSettings:
    d_sae: int = 2048
    k: int = 24
    minutes: float = 12.0
    max_steps: int | None = None
    train_tokens: int = 1_500_000
    window: int = 256
    windows_per_batch: int = 16
    eval_tokens_per_language: int = 30_000
    threads: int | None = None
    seed: int = 0


def _batches(sampler, windows_per_batch: int):
    while True:
        yield sampler.sample(windows_per_batch)


def _val_windows(stream: np.ndarray, length: int, max_tokens: int):
    from .token_streams import fixed_windows

    windows = fixed_windows(stream, length, max(1, max_tokens // length + 1))
    for i in range(0, len(windows), 16):
        yield windows[i: i + 16]


def heldout_activations(model, streams: dict[str, np.ndarray], settings: SaeBuildSettings,
                        eot_id: int) -> dict[str, torch.Tensor]:
    from steerdesk.engine.sae_trainer import collect_activations

    return {lang: collect_activations(model, HOOK, _val_windows(stream, settings.window,
                                                                settings.eval_tokens_per_language),
                                      max_tokens=settings.eval_tokens_per_language,
                                      skip_ids=[eot_id])
            for lang, stream in sorted(streams.items())}


def build_sae(model_dir: Path, tokens_dir: Path, out_dir: Path, settings: SaeBuildSettings,
              log: Callable[[str], None] = print) -> dict:
    from steerdesk.engine.models import load_model
    from steerdesk.engine.sae import load_sae
    from steerdesk.engine.sae.fmt_saelens import save_saelens
    from steerdesk.engine.sae_trainer import (
        TopKTrainConfig,
        collect_activations,
        evaluate_sae,
        train_topk_sae,
    )

    from .token_streams import BalancedWindowSampler, load_streams
    from .tokenizer import EOT

    if settings.threads:
        torch.set_num_threads(settings.threads)
    t0 = time.monotonic()
    lm = load_model(model_dir, device="cpu", dtype="float32")
    eot_id = int(lm.tokenizer.convert_tokens_to_ids(EOT))
    sampler = BalancedWindowSampler(load_streams(tokens_dir / "train.npz"), settings.window,
                                    seed=settings.seed)
    acts = collect_activations(lm.model, HOOK, _batches(sampler, settings.windows_per_batch),
                               max_tokens=settings.train_tokens, skip_ids=[eot_id], log=log)
    collect_s = time.monotonic() - t0
    log(f"collected {len(acts):,} training activations in {collect_s:.0f} s")
    cfg = TopKTrainConfig(d_sae=settings.d_sae, k=settings.k, minutes=settings.minutes,
                          max_steps=settings.max_steps, seed=settings.seed,
                          dead_tokens=min(1_000_000, len(acts) // 2))
    result = train_topk_sae(acts, cfg, hook_name=HOOK, model_name=MODEL_NAME,
                            context_size=settings.window, log=log)
    del acts
    save_saelens(result.sae, out_dir, density=result.density)
    for f in Path(out_dir).glob("*.safetensors"):
        f.chmod(0o644)   # safetensors writes 0600; the pack is read by every user
    reloaded = load_sae(out_dir)
    t1 = time.monotonic()
    val = heldout_activations(lm.model, load_streams(tokens_dir / "val.npz"), settings, eot_id)
    per_language = {lang: evaluate_sae(reloaded, a) for lang, a in val.items()}
    overall = evaluate_sae(reloaded, torch.cat(list(val.values())))
    metrics = {
        "hook": HOOK, "model_name": MODEL_NAME, "architecture": "topk",
        "d_in": reloaded.d_in, "d_sae": reloaded.d_sae, "k": reloaded.cfg.k,
        "heldout": {"overall": overall, "per_language": per_language,
                    "note": "validation split, windows of the packed per-language streams, the "
                            "first position of each window and <|endoftext|> tokens left out; "
                            "fvu = summed squared error / summed squared deviation from the mean"},
        "training": {"tokens_collected": settings.train_tokens, "steps": result.steps, "tokens_seen": result.tokens,
                     "train_minutes": round(result.seconds / 60, 2),
                     "collect_seconds": round(collect_s, 1),
                     "dead_at_end": result.dead, "curve": result.curve, "config": result.config},
        "eval_seconds": round(time.monotonic() - t1, 1),
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    log(f"held-out fvu {overall['fvu']:.4f}, L0 {overall['l0']:.1f}; " + ", ".join(
        f"{lang} {m['fvu']:.3f}" for lang, m in per_language.items()))
    return metrics
