"""Steering as persistent tensors of fixed capacity, for the compiled decode step.

A compiled step (and a CUDA graph replay even more so) runs what was traced: the Python of
`SteeringHook` with its lists of features does not run again. So everything a generation
changes lives in tensors allocated once per decode shape and overwritten in place:

    add           [rows, 1, d]   summed decoder rows and vectors per row (zeros: nothing added)
    row_on        [rows, 1, 1]   1 for the rows this generation uses, 0 for spare rows
    clamp_index   [C]            clamped features, padded with feature 0
    clamp_target  [rows, C]      their targets
    clamp_mask    [rows, C]      1 where row r clamps slot c (padding: 0)
    watch_index   [W]            watched features, padded with feature 0

Changing strengths, which features are steered or watched (up to C and W), or how many rows
are used (up to `rows`) rewrites these tensors and never retraces. The values are copied from
the generation's `SteeringHook`, which already resolved units and summed the add vectors.

The math is the eager hook's, in fixed shapes: padded slots carry mask 0 and add exact zeros,
and the clamped readout is pinned with masks instead of Python loops.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from steerdesk.engine.sae.base import SAE
from steerdesk.engine.steering import SteeringHook, apply_clamp


@dataclass(frozen=True)
class Slots:
    rows: int          # rows of the batch (the baseline is row 0)
    clamp: int         # clamp slots; 0: the step has no clamp at all
    watch: int         # watched-feature slots; 0: nothing watched
    top_k: int         # top-k readout of a full encode; 0: none

    @property
    def reads(self) -> bool:
        return self.watch > 0 or self.top_k > 0


class CapacityError(ValueError):
    """A generation asks for more rows or features than these buffers hold."""


class SteeringBuffers:
    def __init__(self, sae: SAE, slots: Slots):
        self.sae = sae
        self.slots = slots
        dev, dt = sae.device, sae.dtype
        self.dtype = dt
        r, c, w = slots.rows, max(slots.clamp, 1), max(slots.watch, 1)
        with torch.inference_mode():
            self.add = torch.zeros(r, 1, sae.d_in, dtype=dt, device=dev)
            self.row_on = torch.zeros(r, 1, 1, dtype=dt, device=dev)
            self.clamp_index = torch.zeros(c, dtype=torch.long, device=dev)
            self.clamp_target = torch.zeros(r, c, dtype=dt, device=dev)
            self.clamp_mask = torch.zeros(r, c, dtype=dt, device=dev)
            self.watch_index = torch.zeros(w, dtype=torch.long, device=dev)
        for t in self.tensors():
            # The addresses never change: CUDA graphs read them in place instead of copying.
            torch._dynamo.mark_static_address(t)

    def tensors(self) -> list[torch.Tensor]:
        return [self.add, self.row_on, self.clamp_index, self.clamp_target, self.clamp_mask,
                self.watch_index]

    # ---- host side: load one generation's steering ---------------------------------------
    def load(self, hook: SteeringHook) -> None:
        """Copy `hook`'s rows, add vectors, clamps and watched features into the buffers."""
        s = self.slots
        rows, n_clamp, n_watch = hook.rows, len(hook.clamp_features), len(hook.watch)
        if rows > s.rows or n_clamp > s.clamp or n_watch > s.watch or hook.top_k != s.top_k:
            raise CapacityError(
                f"{rows} rows, {n_clamp} clamped, {n_watch} watched, top-{hook.top_k} do not fit "
                f"buffers of {s.rows} rows, {s.clamp} clamp and {s.watch} watch slots, top-{s.top_k}")
        with torch.inference_mode():
            for t in self.tensors():
                t.zero_()
            self.row_on[:rows] = 1.0
            if hook.add_vec is not None:
                self.add[:rows].copy_(hook.add_vec)
            if n_clamp:
                self.clamp_index[:n_clamp].copy_(hook.clamp_index)
                self.clamp_target[:rows, :n_clamp].copy_(hook.clamp_target)
                self.clamp_mask[:rows, :n_clamp].copy_(hook.clamp_mask)
            if n_watch:
                self.watch_index[:n_watch].copy_(hook.watch_index)

    # ---- traced side: what the compiled step computes -------------------------------------
    def steer(self, h: torch.Tensor) -> torch.Tensor:
        """`h [rows, T, d]` (in the SAE's dtype) steered as the eager hook steers it."""
        h = h + self.add * self.row_on
        if self.slots.clamp:
            h = apply_clamp(self.sae, h, self.clamp_index, self.clamp_target, self._mask())
        return h

    def read(self, h: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(watched [rows, T, W], top-k values, top-k indices [rows, T, K]), the parts the
        slots ask for; a clamped feature reads its target, as in the eager hook."""
        sae, s = self.sae, self.slots
        out: list[torch.Tensor] = []
        if s.top_k:
            acts = sae.encode(h)
            if s.clamp:
                acts = self._pin_all(acts)
            top = torch.topk(acts, s.top_k, dim=-1)
            if s.watch:
                out.append(acts.index_select(-1, self.watch_index))
            out += [top.values, top.indices]
        elif s.watch:
            watched = sae.encode_subset(h, self.watch_index)
            out.append(self._pin_watched(watched) if s.clamp else watched)
        return tuple(out)

    def _mask(self) -> torch.Tensor:
        return self.clamp_mask * self.row_on[:, :, 0]

    def _pin_all(self, acts: torch.Tensor) -> torch.Tensor:
        """All features' activations with the clamped ones at their targets. index_add over the
        slots: padded slots add 0 to feature 0, so they never undo a real clamp of it."""
        m = self._mask()
        on = torch.zeros_like(acts).index_add_(-1, self.clamp_index,
                                               m.unsqueeze(1).expand(-1, acts.shape[1], -1))
        val = torch.zeros_like(acts).index_add_(
            -1, self.clamp_index, (m * self.clamp_target).unsqueeze(1).expand(-1, acts.shape[1], -1))
        return torch.where(on > 0, val, acts)

    def _pin_watched(self, watched: torch.Tensor) -> torch.Tensor:
        match = (self.watch_index.unsqueeze(1) == self.clamp_index.unsqueeze(0)).to(watched.dtype)
        m = self._mask()
        on = (m @ match.T).unsqueeze(1)                    # [rows, 1, W]: clamped here?
        val = ((m * self.clamp_target) @ match.T).unsqueeze(1)   # the target (one slot matches)
        return torch.where(on > 0, val, watched)
