"""Train the pocket Llama from scratch on packed, language-balanced token windows.

AdamW with linear warmup and a cosine decay driven by progress, where progress is the
fraction of the time budget (or of `max_steps`) used so far: the schedule always completes,
however busy the machine is. Checkpoints every few minutes; a rerun with the same work
folder resumes. At the end: held-out loss per language, metrics.json and the saved model.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import torch

from .model_shape import ModelShape, build_model, count_parameters
from .token_streams import BalancedWindowSampler, fixed_windows

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


@dataclass(frozen=True)
class TrainSettings:
    budget_minutes: float | None = 45.0  # wall-clock training time, evaluation not included
    max_steps: int | None = None  # stop after this many steps (whichever of the two comes first)
    batch_size: int = 8
    learning_rate: float = 2e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 50
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    threads: int = 1
    seed: int = 0
    log_every: int = 25
    checkpoint_minutes: float = 5.0
    eval_windows: int = 64  # per language

    def __post_init__(self):
        if self.budget_minutes is None and self.max_steps is None:
            raise ValueError("TrainSettings needs budget_minutes or max_steps")


@dataclass
class _State:
    step: int = 0
    elapsed: float = 0.0  # seconds spent training, summed over resumed runs
    tokens: int = 0
    losses: list | None = None  # [step, mean train loss since the previous log line]


def progress(state: _State, settings: TrainSettings) -> float:
    parts = []
    if settings.budget_minutes is not None:
        parts.append(state.elapsed / (settings.budget_minutes * 60.0))
    if settings.max_steps is not None:
        parts.append(state.step / settings.max_steps)
    return max(parts)


def learning_rate(state: _State, settings: TrainSettings) -> float:
    warmup = min(1.0, (state.step + 1) / max(1, settings.warmup_steps))
    p = min(1.0, progress(state, settings))
    floor = settings.min_lr_ratio
    return settings.learning_rate * warmup * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)))


def _optimizer(model, settings: TrainSettings) -> torch.optim.AdamW:
    # No weight decay on norms (1-D weights); the tied embedding is decayed like a matrix.
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": settings.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=settings.learning_rate, betas=(0.9, 0.95), eps=1e-8)


def data_fingerprint(tokenizer_dir: Path, train_streams: Mapping[str, np.ndarray]) -> str:
    """Identifies the tokenizer and training data a checkpoint belongs to."""
    digest = hashlib.sha1((tokenizer_dir / "tokenizer.json").read_bytes())
    for language, stream in sorted(train_streams.items()):
        digest.update(f"{language}:{len(stream)}:".encode())
        digest.update(stream[:4096].tobytes())
    return digest.hexdigest()


def _save_checkpoint(path: Path, model, optimizer, sampler, state: _State, shape: ModelShape, data: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(
        {
            "shape": shape.to_dict(),
            "data": data,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "sampler_rng": sampler.rng.bit_generator.state,
            "state": asdict(state),
        },
        tmp,
    )
    tmp.replace(path)


def _load_checkpoint(path: Path, model, optimizer, sampler, shape: ModelShape, data: str) -> _State:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if ckpt.get("data") != data:
        raise ValueError(f"{path}: checkpoint was trained on another tokenizer or corpus; delete it to start over")
    if ckpt["shape"] != shape.to_dict():
        raise ValueError(
            f"{path}: checkpoint is for shape {ckpt['shape']}, not {shape.to_dict()}; "
            "delete it to start over"
        )
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    sampler.rng.bit_generator.state = ckpt["sampler_rng"]
    return _State(**ckpt["state"])


@torch.no_grad()
def held_out_loss(model, val_streams: Mapping[str, np.ndarray], length: int, max_windows: int) -> dict:
    model.eval()
    report = {}
    for language, stream in sorted(val_streams.items()):
        windows = fixed_windows(stream, length, max_windows)
        total, count = 0.0, 0
        for batch in windows.split(16):
            logits = model(input_ids=batch).logits[:, :-1]
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1), reduction="sum"
            )
            total += loss.item()
            count += batch[:, 1:].numel()
        mean = total / count
        report[language] = {"loss": round(mean, 4), "perplexity": round(math.exp(mean), 2), "tokens": count}
    model.train()
    return report


def save_model_folder(model, tokenizer_dir: Path, out_dir: Path, metrics: dict) -> None:
    """Write model + tokenizer + metrics.json into a fresh folder, then swap it in whole."""
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))  # safetensors is the default format
    if not (tmp / "model.safetensors").is_file():
        raise RuntimeError(f"{tmp}: save_pretrained wrote no model.safetensors")
    for name in TOKENIZER_FILES:
        source = tokenizer_dir / name
        if not source.is_file():
            raise FileNotFoundError(f"{source}: tokenizer file missing")
        shutil.copy2(source, tmp / name)
    (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    for path in tmp.iterdir():
        path.chmod(0o644)  # safetensors writes 0600; package data must be readable by all users
    old = out_dir.with_name(out_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        out_dir.replace(old)
    tmp.replace(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def train(
    train_streams: Mapping[str, np.ndarray],
    val_streams: Mapping[str, np.ndarray],
    tokenizer_dir: Path,
    work_dir: Path,
    out_dir: Path,
    shape: ModelShape,
    settings: TrainSettings,
    eot_id: int,
    log: Callable[[str], None] = print,
    after_training: Callable[[object], dict] | None = None,
) -> dict:
    """Train (resuming from `work_dir/checkpoint.pt` if present), evaluate, save to `out_dir`.

    `after_training(model)` may return extra entries for metrics.json (e.g. sample texts).
    """
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        return _train(
            train_streams, val_streams, tokenizer_dir, work_dir, out_dir, shape, settings,
            eot_id, log, after_training,
        )
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    train_streams, val_streams, tokenizer_dir, work_dir, out_dir, shape, settings, eot_id, log, after_training
) -> dict:
    work_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = work_dir / "checkpoint.pt"

    model = build_model(shape, eot_id, seed=settings.seed)
    model.train()
    optimizer = _optimizer(model, settings)
    sampler = BalancedWindowSampler(train_streams, shape.context_length, seed=settings.seed)
    state = _State(losses=[])
    data = data_fingerprint(tokenizer_dir, train_streams)
    if checkpoint.is_file():
        state = _load_checkpoint(checkpoint, model, optimizer, sampler, shape, data)
        log(f"resumed from {checkpoint} at step {state.step}, {state.elapsed / 60:.1f} min trained")

    n_params = count_parameters(model)
    log(f"model: {n_params:,} parameters, shape {shape.to_dict()}, threads {settings.threads}")
    log(f"languages: {', '.join(f'{k}={len(v):,} tok' for k, v in sorted(train_streams.items()))}")

    running, running_n = 0.0, 0
    last_checkpoint = time.monotonic()
    segment_start, segment_elapsed0, segment_tokens0 = time.monotonic(), state.elapsed, state.tokens
    while progress(state, settings) < 1.0:
        lr = learning_rate(state, settings)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = sampler.sample(settings.batch_size)
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()

        state.step += 1
        state.tokens += batch.numel()
        state.elapsed = segment_elapsed0 + (time.monotonic() - segment_start)
        running += loss.item()
        running_n += 1
        if state.step % settings.log_every == 0 or state.step == 1:
            mean = running / running_n
            state.losses.append([state.step, round(mean, 4)])
            rate = (state.tokens - segment_tokens0) / max(1e-9, state.elapsed - segment_elapsed0)
            log(
                f"step {state.step:6d}  loss {mean:.4f}  lr {lr:.2e}  {rate:,.0f} tok/s  "
                f"{state.elapsed / 60:5.1f} min  progress {progress(state, settings):.1%}"
            )
            running, running_n = 0.0, 0
        if time.monotonic() - last_checkpoint > settings.checkpoint_minutes * 60:
            _save_checkpoint(checkpoint, model, optimizer, sampler, state, shape, data)
            last_checkpoint = time.monotonic()
    _save_checkpoint(checkpoint, model, optimizer, sampler, state, shape, data)

    log("evaluating held-out loss per language")
    held_out = held_out_loss(model, val_streams, shape.context_length, settings.eval_windows)
    metrics = {
        "parameters": n_params,
        "shape": shape.to_dict(),
        "settings": asdict(settings),
        "steps": state.step,
        "tokens_seen": state.tokens,
        "train_minutes": round(state.elapsed / 60, 2),
        "tokens_per_second": round(state.tokens / max(1e-9, state.elapsed), 1),
        "train_loss_curve": state.losses,
        "held_out": held_out,
        "held_out_mean_loss": round(float(np.mean([v["loss"] for v in held_out.values()])), 4),
    }
    if after_training is not None:
        metrics.update(after_training(model))
    save_model_folder(model, tokenizer_dir, out_dir, metrics)
    log(json.dumps({"held_out": held_out}, indent=2))
    log(f"saved model to {out_dir}")
    return metrics
