"""Train a TopK sparse autoencoder on one hook point of a loaded model (no Qt, no Session).

    acts = collect_activations(lm.model, "blocks.2.hook_resid_post", batches, max_tokens=2e6)
    result = train_topk_sae(acts, TopKTrainConfig(d_sae=2048, k=24, minutes=10),
                            hook_name="blocks.2.hook_resid_post", model_name="pocket")
    save_saelens(result.sae, folder, density=result.density)

The recipe follows Gao et al. (2024), "Scaling and evaluating sparse autoencoders":

- encode: `topk(relu((x - b_dec) @ W_enc + b_enc))`, decode: `acts @ W_dec + b_dec`;
- init: decoder rows random unit vectors, `W_enc = W_dec.T`, `b_enc = 0`, `b_dec` = the
  geometric median of a sample of activations (or their mean);
- loss: mean squared error, plus `aux_coef` x the AuxK loss: the `aux_k` strongest dead latents
  reconstruct what the live ones left over, so that dead latents get a gradient back;
- Adam, linear warmup then linear decay to 0; decoder rows renormalised to unit norm after
  every step (and the gradient component parallel to each row removed before it);
- a latent is dead when it has not fired in the last `dead_tokens` training tokens.

Activations are held in memory as one float32 `[tokens, d_in]` tensor (2M tokens of a
256-wide stream are 2 GB); `collect_activations` stops each forward pass at the hook, so the
layers after it are never run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from steerdesk.engine.hooks import capture_at, resolve_hook
from steerdesk.engine.sae.base import SAE, SAEConfig

Log = Callable[[str], None]


# ---- activations --------------------------------------------------------------------------

def collect_activations(model: torch.nn.Module, hook_name: str, batches: Iterable[torch.Tensor],
                        *, max_tokens: int | None = None, skip_first: int = 1,
                        skip_ids: Iterable[int] = (), log: Log | None = None,
                        return_ids: bool = False):
    """Run `batches` of token ids `[batch, seq]` through `model` and keep the activation at
    `hook_name` for every kept position, as a float32 CPU tensor `[tokens, d_in]`.

    The first `skip_first` positions of every window are dropped (the first position of a
    sequence carries an attention-sink activation with a norm many times the others), and so are
    positions holding any of `skip_ids` (document separators, BOS). With `return_ids`, also the
    token id at each kept position."""
    point = resolve_hook(model, hook_name)
    skip = torch.tensor(sorted(set(int(i) for i in skip_ids)), dtype=torch.long)
    device = next(model.parameters()).device
    chunks: list[torch.Tensor] = []
    id_chunks: list[torch.Tensor] = []
    total = 0
    start = time.monotonic()
    for ids in batches:
        ids = ids.to(torch.long)
        hidden = capture_at(model, point, ids.to(device)).float().cpu()
        keep = torch.ones_like(ids, dtype=torch.bool)
        keep[:, :skip_first] = False
        if len(skip):
            keep &= ~torch.isin(ids, skip)
        chunk = hidden[keep]
        chunks.append(chunk.clone())
        if return_ids:
            id_chunks.append(ids[keep].clone())
        total += len(chunk)
        if log and len(chunks) % 50 == 0:
            rate = total / max(time.monotonic() - start, 1e-9)
            log(f"activations: {total:,} tokens ({rate:,.0f}/s)")
        if max_tokens is not None and total >= max_tokens:
            break
    acts = torch.cat(chunks)
    ids_out = torch.cat(id_chunks) if return_ids else None
    if max_tokens is not None:
        acts = acts[: int(max_tokens)]
        ids_out = ids_out[: int(max_tokens)] if ids_out is not None else None
    return (acts, ids_out) if return_ids else acts


def geometric_median(x: torch.Tensor, iterations: int = 50, eps: float = 1e-6) -> torch.Tensor:
    """Weiszfeld's algorithm over the rows of `x` (float64 inside)."""
    x = x.double()
    median = x.mean(0)
    for _ in range(iterations):
        w = 1.0 / (x - median).norm(dim=-1).clamp_min(eps)
        new = (w[:, None] * x).sum(0) / w.sum()
        if (new - median).norm() < eps * max(1.0, float(median.norm())):
            median = new
            break
        median = new
    return median.float()


# ---- the model being trained --------------------------------------------------------------

@dataclass
class TopKTrainConfig:
    d_sae: int = 2048
    k: int = 24
    lr: float = 1e-3
    batch_size: int = 2048
    minutes: float | None = 10.0     # wall-clock budget; the schedule follows its fraction used
    max_steps: int | None = None     # and/or a step budget
    warmup_steps: int = 50
    aux_k: int | None = 64           # None or 0: no AuxK loss
    aux_coef: float = 1.0 / 32
    dead_tokens: int = 1_000_000     # a latent unseen for this many tokens is dead
    b_dec_init: str = "geometric_median"   # or "mean"
    adam_betas: tuple[float, float] = (0.9, 0.999)
    threads: int | None = None
    seed: int = 0
    log_every: int = 50


class _TopK(torch.nn.Module):
    def __init__(self, d_in: int, d_sae: int, k: int, b_dec: torch.Tensor, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        w = torch.randn(d_sae, d_in, generator=g)
        w = w / w.norm(dim=-1, keepdim=True)
        self.W_dec = torch.nn.Parameter(w.clone())
        self.W_enc = torch.nn.Parameter(w.T.clone().contiguous())
        self.b_enc = torch.nn.Parameter(torch.zeros(d_sae))
        self.b_dec = torch.nn.Parameter(b_dec.clone().float())
        self.k = k

    def pre(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.b_dec) @ self.W_enc + self.b_enc

    def selected(self, xc: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Pre-activations of the latents `idx [B, m]` only, with gradients: a gather of m
        encoder columns per row instead of the dense `[B, d_sae]` product."""
        cols = self.W_enc.T[idx]                                  # [B, m, d_in]
        return torch.einsum("bmd,bd->bm", cols, xc) + self.b_enc[idx]

    def decode_selected(self, vals: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return (vals.unsqueeze(-1) * self.W_dec[idx]).sum(-2)

    def forward(self, x: torch.Tensor):
        """Reconstruction, the (gradient-free) dense pre-activations, the chosen latents and
        their values. The top k are chosen without gradients, then only their k
        pre-activations are recomputed with gradients, so the backward pass costs O(B k d_in)
        rather than O(B d_sae d_in)."""
        xc = x - self.b_dec
        with torch.no_grad():
            pre = xc.detach() @ self.W_enc + self.b_enc
            idx = torch.topk(pre, self.k, dim=-1).indices
        vals = torch.relu(self.selected(xc, idx))
        recon = self.decode_selected(vals, idx) + self.b_dec
        return recon, pre, idx, vals

    @torch.no_grad()
    def normalise_decoder(self) -> None:
        self.W_dec.div_(self.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-8))

    @torch.no_grad()
    def remove_parallel_grad(self) -> None:
        if self.W_dec.grad is None:
            return
        w = self.W_dec
        self.W_dec.grad -= (self.W_dec.grad * w).sum(-1, keepdim=True) * w

    def to_sae(self, hook_name: str | None, model_name: str | None, context_size: int | None,
               extra: dict[str, Any] | None = None) -> SAE:
        cfg = SAEConfig(architecture="topk", d_in=self.W_dec.shape[1], d_sae=self.W_dec.shape[0],
                        k=self.k, apply_b_dec_to_input=True, hook_name=hook_name,
                        model_name=model_name, context_size=context_size, prepend_bos=True,
                        source_format="saelens", extra=dict(extra or {}))
        with torch.no_grad():
            return SAE(cfg, {"W_enc": self.W_enc.detach().clone(), "W_dec": self.W_dec.detach().clone(),
                             "b_enc": self.b_enc.detach().clone(), "b_dec": self.b_dec.detach().clone()})


@dataclass
class TrainResult:
    sae: SAE
    density: torch.Tensor                 # fraction of training tokens each latent fired on
    steps: int
    tokens: int
    seconds: float
    dead: int                             # latents dead at the end (by dead_tokens)
    curve: list[tuple[int, float, int]] = field(default_factory=list)  # (step, fvu, dead)
    config: dict[str, Any] = field(default_factory=dict)


def train_topk_sae(acts: torch.Tensor, cfg: TopKTrainConfig, *, hook_name: str | None = None,
                   model_name: str | None = None, context_size: int | None = None,
                   log: Log | None = None) -> TrainResult:
    """Train a TopK SAE on `acts [tokens, d_in]` (shuffled here), epoch after epoch until the
    step or time budget is spent."""
    if acts.ndim != 2 or len(acts) < 2:
        raise ValueError("acts must be a [tokens, d_in] tensor with at least two rows")
    if cfg.minutes is None and cfg.max_steps is None:
        raise ValueError("give a time budget (minutes) or a step budget (max_steps)")
    say = log or (lambda line: None)
    old_threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        torch.manual_seed(cfg.seed)
        n, d_in = acts.shape
        k = min(cfg.k, cfg.d_sae)
        sample = acts[torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed))[:20000]]
        b_dec = geometric_median(sample) if cfg.b_dec_init == "geometric_median" else sample.mean(0)
        model = _TopK(d_in, cfg.d_sae, k, b_dec, cfg.seed)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.adam_betas, eps=6.25e-10)
        data_mean = acts.mean(0)
        batch = min(cfg.batch_size, n)
        since_fired = torch.zeros(cfg.d_sae, dtype=torch.long)
        fired = torch.zeros(cfg.d_sae, dtype=torch.long)
        counted = 0
        curve: list[tuple[int, float, int]] = []
        start = time.monotonic()
        budget_s = cfg.minutes * 60 if cfg.minutes is not None else None
        step = 0
        tokens = 0
        gen = torch.Generator().manual_seed(cfg.seed + 1)
        order = torch.randperm(n, generator=gen)
        pos = 0
        fvu_acc, fvu_n = 0.0, 0

        def progress() -> float:
            parts = []
            if budget_s is not None:
                parts.append((time.monotonic() - start) / budget_s)
            if cfg.max_steps is not None:
                parts.append(step / cfg.max_steps)
            return max(parts)

        while progress() < 1.0:
            if pos + batch > n:
                order = torch.randperm(n, generator=gen)
                pos = 0
            x = acts[order[pos: pos + batch]]
            pos += batch
            frac = progress()
            lr = cfg.lr * min(1.0, (step + 1) / max(cfg.warmup_steps, 1)) * min(1.0, 5 * (1 - frac))
            for group in opt.param_groups:
                group["lr"] = lr

            recon, pre, idx, vals = model(x)
            err = x - recon
            mse = (err ** 2).sum(-1).mean()
            denom = ((x - data_mean) ** 2).sum(-1).mean()
            loss = mse / denom
            with torch.no_grad():
                active = torch.zeros(cfg.d_sae, dtype=torch.long)
                active.index_add_(0, idx[vals > 0].flatten(), torch.ones_like(idx[vals > 0].flatten()))
                since_fired += len(x)
                since_fired[active > 0] = 0
                fired += active
                counted += len(x)
                dead_mask = since_fired >= cfg.dead_tokens
            n_dead = int(dead_mask.sum())
            if cfg.aux_k and n_dead > 0:
                aux_k = min(cfg.aux_k, n_dead)
                dead_pre = pre.masked_fill(~dead_mask, float("-inf"))
                aux_idx = torch.topk(dead_pre, aux_k, dim=-1).indices
                aux_vals = torch.relu(model.selected(x - model.b_dec, aux_idx))
                aux_recon = model.decode_selected(aux_vals, aux_idx)
                target = err.detach()
                aux = ((target - aux_recon) ** 2).sum(-1).mean() / (target ** 2).sum(-1).mean().clamp_min(1e-12)
                loss = loss + cfg.aux_coef * torch.nan_to_num(aux, nan=0.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            model.remove_parallel_grad()
            opt.step()
            model.normalise_decoder()
            step += 1
            tokens += len(x)
            fvu_acc += float(mse.detach() / denom)
            fvu_n += 1
            if step % cfg.log_every == 0:
                fvu = fvu_acc / fvu_n
                fvu_acc, fvu_n = 0.0, 0
                curve.append((step, round(fvu, 5), n_dead))
                say(f"step {step}: fvu {fvu:.4f}, dead {n_dead}, lr {lr:.2e}, "
                    f"{tokens / max(time.monotonic() - start, 1e-9):,.0f} tokens/s")
        seconds = time.monotonic() - start
        density = fired.double() / max(counted, 1)
        n_dead = int((since_fired >= cfg.dead_tokens).sum())
        sae = model.to_sae(hook_name, model_name, context_size,
                           extra={"trained_by": "steerdesk.engine.sae_trainer"})
        return TrainResult(sae=sae, density=density.float(), steps=step, tokens=tokens,
                           seconds=seconds, dead=n_dead, curve=curve, config=asdict(cfg))
    finally:
        torch.set_num_threads(old_threads)


# ---- evaluation ---------------------------------------------------------------------------

@torch.no_grad()
def evaluate_sae(sae: SAE, acts: torch.Tensor, batch: int = 8192) -> dict[str, float]:
    """Fraction of variance unexplained (summed squared error over summed squared deviation
    from the mean of `acts`), mean L0 and the fraction of latents that fired, over `acts`."""
    mean = acts.mean(0)
    err = dev = l0 = 0.0
    fired = torch.zeros(sae.d_sae, dtype=torch.bool)
    for i in range(0, len(acts), batch):
        x = acts[i: i + batch]
        a = sae.encode(x)
        r = sae.decode(a, sae.normalise(x)[1], x)
        err += float(((x - r) ** 2).sum())
        dev += float(((x - mean) ** 2).sum())
        nz = a > 0
        l0 += float(nz.sum())
        fired |= nz.any(0)
    n = max(len(acts), 1)
    return {"fvu": err / max(dev, 1e-12), "l0": l0 / n, "tokens": len(acts),
            "alive_fraction": float(fired.float().mean())}


@torch.no_grad()
def feature_density(sae: SAE, acts: torch.Tensor, batch: int = 8192) -> torch.Tensor:
    counts = torch.zeros(sae.d_sae, dtype=torch.float64)
    for i in range(0, len(acts), batch):
        counts += (sae.encode(acts[i: i + batch]) > 0).sum(0).double()
    return (counts / max(len(acts), 1)).float()


def default_aux_k(d_in: int) -> int:
    return max(1, min(512, d_in // 2 if d_in >= 2 else 1))


__all__ = ["TopKTrainConfig", "TrainResult", "collect_activations", "default_aux_k",
           "evaluate_sae", "feature_density", "geometric_median", "train_topk_sae"]
