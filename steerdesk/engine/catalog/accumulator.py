"""The streaming part of a catalog build: per-feature statistics and top-k snippets, merged
batch by batch with vectorised operations over all features at once.

- each feature's max over the positions of each sequence ([batch, d_sae]) is merged into a
  running [d_sae, k] top-k buffer with one torch.topk over the concatenation; only the
  (feature, sequence) pairs that enter the buffer get a snippet window gathered;
- on-counts (density), sums (mean when active) and a log-binned histogram are updated from
  the non-zero activations only.
"""

from __future__ import annotations

import numpy as np
import torch

from steerdesk.engine.errors import InputError

# Histogram: 8 log-spaced bins per decade from 1e-3 to 1e5; bin 0 also takes (0, 1e-3],
# the last bin everything above its lower edge.
_E = np.geomspace(1e-3, 1e5, 65)
HIST_EDGES = np.concatenate([[0.0], _E[1:]]).astype(np.float32)    # 65 edges, 64 bins
N_BINS = len(HIST_EDGES) - 1


class TopKAccumulator:
    """Running per-feature statistics and top-k snippets, all as [d_sae, ...] tensors."""

    def __init__(self, d_sae: int, k: int, before: int, after: int, device: torch.device):
        self.d_sae, self.k, self.before, self.after = d_sae, k, before, after
        self.W = before + after + 1
        F, W = d_sae, self.W
        self.device = device
        self.top_vals = torch.full((F, k), -1.0, device=device)
        self.top_tok = torch.full((F, k, W), -1, dtype=torch.int32, device=device)
        self.top_act = torch.zeros((F, k, W), dtype=torch.float32, device=device)
        self.top_doc = torch.full((F, k), -1, dtype=torch.long, device=device)
        self.on = torch.zeros(F, dtype=torch.long, device=device)
        self.total = torch.zeros(F, dtype=torch.float64, device=device)
        self.hist = torch.zeros(F * N_BINS, dtype=torch.long, device=device)
        self.offsets = torch.arange(-before, after + 1, device=device)

    def state(self) -> dict[str, torch.Tensor]:
        return {n: getattr(self, n).cpu() for n in
                ("top_vals", "top_tok", "top_act", "top_doc", "on", "total", "hist")}

    def load(self, state: dict[str, torch.Tensor]) -> None:
        for n, t in state.items():
            cur = getattr(self, n)
            if tuple(t.shape) != tuple(cur.shape):
                raise InputError(f"the saved build state does not fit this build ({n} has shape "
                                 f"{tuple(t.shape)}, expected {tuple(cur.shape)}); restart it")
            setattr(self, n, t.to(cur.device, cur.dtype))

    def add(self, acts: torch.Tensor, ids: torch.Tensor, real: torch.Tensor, docs: torch.Tensor
            ) -> None:
        """acts [b, T, F] float32 (0 at special and pad positions), ids [b, T], real [b, T]
        (False at padding), docs [b] document ids."""
        b, T, F = acts.shape
        k, W = self.k, self.W
        # density, mean-when-on, histogram: from the non-zero entries only
        flat = acts.reshape(-1)
        nz = torch.nonzero(flat > 0).squeeze(1)
        if nz.numel():
            v = flat[nz]
            f = nz % F
            ones = torch.ones_like(f)
            self.on.index_add_(0, f, ones)
            self.total.index_add_(0, f, v.double())
            # edges 1e-3 * 10^(j/8): the bin is a log, not a search
            bins = (torch.log10(v).add_(3.0).mul_(8.0)).floor_().clamp_(0, N_BINS - 1).long()
            self.hist.index_add_(0, f * N_BINS + bins, ones)
        # top-k over sequences: one candidate (the sequence max) per feature and sequence;
        # from the non-zero entries when they are few (TopK SAEs), else a dense reduction
        if nz.numel() * 16 <= flat.numel():
            seq_max = torch.zeros(b * F, device=acts.device)
            if nz.numel():
                seq_max.scatter_reduce_(0, (nz // (T * F)) * F + f, v, reduce="amax")
            seq_max = seq_max.view(b, F)
        else:
            seq_max = acts.amax(dim=1)                            # [b, F]
        cand = seq_max.t()                                        # [F, b]
        cand = torch.where(cand > 0, cand, torch.full_like(cand, -1.0))
        # only features with a candidate above their current k-th value can change
        rows = torch.nonzero((cand > self.top_vals[:, -1:]).any(dim=1)).squeeze(1)
        if rows.numel() == 0:
            return
        new_vals, sel_r = torch.cat([self.top_vals[rows], cand[rows]], dim=1).topk(k, dim=1)
        self.top_vals[rows] = new_vals
        is_new = (sel_r >= k) & (new_vals > 0)      # empty slots (-1) tie: not news
        old = sel_r.clamp(max=k - 1)
        tok_r = self.top_tok[rows].gather(1, old.unsqueeze(-1).expand(-1, -1, W))
        act_r = self.top_act[rows].gather(1, old.unsqueeze(-1).expand(-1, -1, W))
        doc_r = self.top_doc[rows].gather(1, old)
        wr, ws = torch.nonzero(is_new, as_tuple=True)             # winners: (row in R, slot)
        f = rows[wr]
        bi = sel_r[wr, ws] - k
        pos = acts[bi.unsqueeze(1), torch.arange(T, device=acts.device), f.unsqueeze(1)].argmax(1)
        win = pos.unsqueeze(1) + self.offsets                     # [n, W]
        inside = (win >= 0) & (win < T)
        wc = win.clamp(0, T - 1)
        bcol = bi.unsqueeze(1)
        keep = inside & real[bcol, wc]
        toks = torch.where(keep, ids[bcol, wc].to(torch.int32),
                           torch.full_like(wc, -1, dtype=torch.int32))
        vals = torch.where(keep, acts[bcol, wc, f.unsqueeze(1)],
                           torch.zeros((), device=acts.device))
        tok_r[wr, ws] = toks
        act_r[wr, ws] = vals
        doc_r[wr, ws] = docs[bi]
        self.top_tok[rows] = tok_r
        self.top_act[rows] = act_r
        self.top_doc[rows] = doc_r

    def referenced_docs(self) -> set[int]:
        d = self.top_doc[self.top_vals > 0]
        return set(int(x) for x in d.unique().tolist() if x >= 0)

