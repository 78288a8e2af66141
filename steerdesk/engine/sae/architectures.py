"""SAE architectures: how the SAE's input becomes feature activations.

Each architecture is one object that says
- `tensors`: the per-feature tensors it needs besides W_enc, W_dec and b_dec;
- `encode(sae, xs)`: every feature's activation, from the SAE input `xs` (normalised, with
  b_dec taken off where the SAE does that);
- `encode_subset(sae, xs, idx)`: the activations of the features `idx` only;
- `needs_full_encode`: True where one feature's activation depends on the others' (TopK keeps
  the k largest), so that even a subset costs a full encode;
- `subset_if_active(sae, idx)`: for such an architecture, a function of `xs` giving what the
  features `idx` are if they are kept, without deciding whether they are (each activation is
  that value or 0), with what it needs of the encoder gathered once.

`SAE.cfg.architecture` keeps the name, for display and for the files steerdesk writes.
"""

from __future__ import annotations

import torch

from steerdesk.engine.errors import InputError


class Architecture:
    name = ""
    tensors: tuple[str, ...] = ("b_enc",)
    needs_full_encode = False

    def check(self, cfg, where: str) -> None:
        """Raise InputError where the config lacks what this architecture needs."""

    def encode(self, sae, xs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def encode_subset(self, sae, xs: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """The columns `idx` of the full encode, where the architecture needs it; the others
        compute those columns alone."""
        if not self.needs_full_encode:
            raise NotImplementedError(f"{self.name}: encode_subset without a full encode")
        return self.encode(sae, xs).index_select(-1, idx)

    def subset_if_active(self, sae, idx: torch.Tensor):
        """xs -> each feature's activation where it is active; the true one is this or 0.
        Where one feature is computed alone that is the activation itself."""
        return lambda xs: self.encode_subset(sae, xs, idx)

    def __repr__(self) -> str:
        return f"<{self.name} SAE architecture>"


class ReLU(Architecture):
    """relu(xs @ W_enc + b_enc); SAELens calls it "standard"."""

    name = "relu"

    def encode(self, sae, xs):
        return torch.relu(xs @ sae.W_enc + sae.b_enc)

    def encode_subset(self, sae, xs, idx):
        return torch.relu(xs @ sae.W_enc.index_select(1, idx) + sae.b_enc[idx])


class JumpReLU(Architecture):
    """relu(pre) where pre > threshold (per feature), else 0."""

    name = "jumprelu"
    tensors = ("b_enc", "threshold")

    @staticmethod
    def _jump(pre: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
        return torch.relu(pre) * (pre > threshold).to(pre.dtype)

    def encode(self, sae, xs):
        return self._jump(xs @ sae.W_enc + sae.b_enc, sae.threshold)

    def encode_subset(self, sae, xs, idx):
        pre = xs @ sae.W_enc.index_select(1, idx) + sae.b_enc[idx]
        return self._jump(pre, sae.threshold[idx])


class TopK(Architecture):
    """The k largest of relu(xs @ W_enc + b_enc) per token; the others are 0."""

    name = "topk"
    needs_full_encode = True

    def check(self, cfg, where):
        k = cfg.k
        if k is None:
            raise InputError(f"{where}: a TopK SAE needs k in its config")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= cfg.d_sae:
            raise InputError(f"{where}: k is {k!r}; a TopK SAE needs a whole number from 1 to "
                             f"d_sae ({cfg.d_sae})")

    def encode(self, sae, xs):
        pre = xs @ sae.W_enc + sae.b_enc
        top = torch.topk(pre, k=min(int(sae.cfg.k), sae.d_sae), dim=-1)
        return torch.zeros_like(pre).scatter_(-1, top.indices, torch.relu(top.values))

    def encode_subset(self, sae, xs, idx):
        """A few features without building all d_sae activations: a feature is kept where its
        pre-activation reaches the k-th largest. Every pre-activation is still computed (the
        k-th largest needs them), but the scatter into d_sae zeros, half of a rule's or a
        readout's per-token cost on the pocket pack, is skipped. Exact but for ties at the
        k-th value, which topk breaks by index and this keeps both of."""
        pre = xs @ sae.W_enc + sae.b_enc
        k = min(int(sae.cfg.k), sae.d_sae)
        kth = torch.topk(pre, k=k, dim=-1, sorted=False).values.amin(-1, keepdim=True)
        sub = pre.index_select(-1, idx)
        return torch.relu(sub) * (sub >= kth).to(sub.dtype)

    def subset_if_active(self, sae, idx):
        """relu of the features' own pre-activations: one column each, no k-th largest. The
        columns are gathered here, once: gathering them from the whole W_enc at every step
        costs more than the product."""
        W, b = sae.W_enc.index_select(1, idx), sae.b_enc[idx]
        return lambda xs: torch.relu(xs @ W + b)


class Gated(Architecture):
    """(xs @ W_enc + b_gate > 0) * relu(xs @ (W_enc * exp(r_mag)) + b_mag)."""

    name = "gated"
    tensors = ("b_gate", "b_mag", "r_mag")

    @staticmethod
    def _gated(xs, W, b_gate, b_mag, r_mag) -> torch.Tensor:
        gate = (xs @ W + b_gate) > 0
        mag = torch.relu(xs @ (W * torch.exp(r_mag)) + b_mag)
        return gate.to(mag.dtype) * mag

    def encode(self, sae, xs):
        return self._gated(xs, sae.W_enc, sae.b_gate, sae.b_mag, sae.r_mag)

    def encode_subset(self, sae, xs, idx):
        return self._gated(xs, sae.W_enc.index_select(1, idx), sae.b_gate[idx], sae.b_mag[idx],
                           sae.r_mag[idx])


ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in (ReLU(), JumpReLU(), TopK(), Gated())}
# Names other tools use for the same architectures.
ALIASES = {"standard": "relu", "batchtopk": "topk", **{name: name for name in ARCHITECTURES}}


def architecture(name: str, where: str) -> Architecture:
    """The architecture called `name` (any tool's name for it); InputError naming `where`."""
    found = ALIASES.get(str(name).lower())
    if found is None:
        raise InputError(f"{where}: unknown SAE architecture {name!r}; steerdesk reads "
                         f"{', '.join(sorted(ALIASES))}")
    return ARCHITECTURES[found]
