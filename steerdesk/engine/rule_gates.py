"""Rules evaluated inside the steering hook: every rule of every row at once, as [rows, R]
tensors (R: all rules of the generation; a rule belongs to one row and is never true in any
other), on activations the hook has anyway (one `encode_subset` of the condition features).

Per position t the hook calls `read` with the activation as it arrives: `acting` (the rules
whose action steers t) comes from `remaining`, set by holds at earlier positions; then the
conditions are read at t, and a hold sets `remaining` to the rule's span, so the action steers
t+1 .. t+span. A rule with no `for N` has span 1: it steers t+1 exactly when it held at t.
Text conditions are set from the host (`set_text`) before the position's forward pass.
"""

from __future__ import annotations

from typing import Sequence

import torch

from steerdesk.engine.errors import InputError
from steerdesk.engine.rules import ClassifierCondition, FeatureCondition, Rule, TextCondition
from steerdesk.engine.sae.base import SAE
from steerdesk.engine.steering import apply_clamp, raw_strength


def _max_of(index: int, max_acts: torch.Tensor | None) -> float:
    """A feature's max activation, for a condition in x max."""
    from steerdesk.engine.steering import FeatureSteer

    return raw_strength(FeatureSteer(index, 1.0), "max", max_acts)


class RuleGates:
    def __init__(self, sae: SAE, variants: Sequence, max_acts: torch.Tensor | None = None):
        self.sae = sae
        self.rows = 1 + len(variants)
        dev = sae.device
        self.rules: list[Rule] = []
        self.owner: list[int] = []
        self.row_rules: list[list[int]] = [[] for _ in range(self.rows)]
        for r, spec in enumerate(variants, start=1):
            for rule in getattr(spec, "rules", None) or []:
                self.row_rules[r].append(len(self.rules))
                self.rules.append(rule)
                self.owner.append(r)
        R = len(self.rules)
        self.classifiers = [rule.condition.load() for rule in self.rules
                            if isinstance(rule.condition, ClassifierCondition)]
        # The features the conditions read: feature conditions' and the classifiers'.
        feats = {rule.condition.index for rule in self.rules
                 if isinstance(rule.condition, FeatureCondition)}
        for c, clf in zip((r.condition for r in self.rules
                           if isinstance(r.condition, ClassifierCondition)), self.classifiers):
            if clf.d_sae and clf.d_sae != sae.d_sae:
                raise InputError(f"{c.path}: this classifier was made for an SAE with "
                                 f"{clf.d_sae} features; the loaded SAE has {sae.d_sae}",
                                 field="rule")
            feats.update(clf.features)
        self.cond_features = sorted(sae.check_index(int(i)) for i in feats)
        col = {i: c for c, i in enumerate(self.cond_features)}
        self.cond_index = torch.tensor(self.cond_features, dtype=torch.long, device=dev)
        self.zero_row = torch.zeros(1, len(self.cond_features), device=dev)
        n_cond = len(self.cond_features)
        # Each rule compares one signal column (a feature, or a classifier's score) with its
        # threshold; text rules take their flags from `text_held`.
        signal, thresh, gt, is_text = [], [], [], []
        k = 0
        self.patterns: list[tuple[int, int, object]] = []   # (rule, row, compiled pattern)
        for j, rule in enumerate(self.rules):
            c = rule.condition
            if isinstance(c, FeatureCondition):
                signal.append(col[sae.check_index(c.index)])
                thresh.append(c.value * (_max_of(c.index, max_acts) if c.unit == "max" else 1.0))
            elif isinstance(c, ClassifierCondition):
                signal.append(n_cond + k)
                thresh.append(c.value)
                k += 1
            else:
                assert isinstance(c, TextCondition)
                signal.append(0)
                thresh.append(0.0)
                self.patterns.append((j, self.owner[j], c.compiled()))
            gt.append(getattr(c, "op", ">") == ">")
            is_text.append(isinstance(c, TextCondition))
        self.signal_col = torch.tensor(signal, dtype=torch.long, device=dev)
        self.threshold = torch.tensor(thresh, dtype=torch.float32, device=dev)
        self.sign = torch.tensor([1.0 if g else -1.0 for g in gt], device=dev)
        self.is_text = torch.tensor(is_text, dtype=torch.bool, device=dev)
        self.clf_cols = [torch.tensor([col[i] for i in clf.features], dtype=torch.long,
                                      device=dev) for clf in self.classifiers]
        owner = torch.zeros(self.rows, R, dtype=torch.bool, device=dev)
        for j, r in enumerate(self.owner):
            owner[r, j] = True
        self.owner_mask = owner
        self.stop_mask = torch.tensor([rule.stops for rule in self.rules], dtype=torch.bool,
                                      device=dev)
        self.steer_mask = ~self.stop_mask
        # One comparison for both kinds: (signal - threshold) * sign > 0, sign -1 for '<'.
        self.span = torch.tensor([rule.span for rule in self.rules], dtype=torch.long, device=dev)
        self._actions(max_acts)
        self.remaining = torch.zeros(self.rows, R, dtype=torch.long, device=dev)
        self.held = torch.zeros(self.rows, R, dtype=torch.bool, device=dev)
        self.acting = torch.zeros_like(self.held)
        self.text_held = torch.zeros_like(self.held)
        self.pool_max = self.pool_sum = None
        self.pool_count = 0
        self.last_clamp: tuple[torch.Tensor, torch.Tensor] | None = None  # target, mask

    def _actions(self, max_acts) -> None:
        """Per rule: its summed add vector (in its owner row), its clamp targets and mask. The
        add vector is made as the fixed one is (steering.py), so a rule that always holds
        steers bit for bit as `positions="generated"` does."""
        sae, dev, dt = self.sae, self.sae.device, self.sae.dtype
        R, d = len(self.rules), sae.W_dec.shape[-1]
        self.add_vec = None
        clamps: dict[tuple[int, int], float] = {}
        for j, rule in enumerate(self.rules):
            if rule.stops:
                continue
            adds: dict[int, float] = {}
            for f in rule.action:
                sae.check_index(f.index)
                s = raw_strength(f, rule.unit, max_acts)
                if f.mode == "add":
                    adds[f.index] = adds.get(f.index, 0.0) + s
                else:
                    clamps[(j, f.index)] = s
            adds = {i: s for i, s in adds.items() if s != 0.0}
            if not adds:
                continue
            if self.add_vec is None:
                self.add_vec = torch.zeros(self.rows, R, d, dtype=dt, device=dev)
            index = sorted(adds)
            coef = torch.zeros(self.rows, len(index), dtype=dt, device=dev)
            r = self.owner[j]
            for c, i in enumerate(index):
                coef[r, c] = adds[i]
            rows = sae.decoder_rows(torch.tensor(index, device=dev))
            self.add_vec[r, j] = (coef @ rows * sae.model_space_scale())[r]
        self.clamp_features = sorted({i for (_, i) in clamps})
        self.clamp_index = None
        if self.clamp_features:
            col = {i: c for c, i in enumerate(self.clamp_features)}
            target = torch.zeros(R, len(self.clamp_features), dtype=dt, device=dev)
            mask = torch.zeros_like(target)
            for (j, i), s in clamps.items():
                target[j, col[i]] = s
                mask[j, col[i]] = 1.0
            self.clamp_target, self.clamp_mask = target, mask
            self.clamp_index = torch.tensor(self.clamp_features, device=dev)
            # The later rule's clamp wins where two act on one feature at once.
            self.order = torch.arange(1, R + 1, dtype=dt, device=dev).view(1, R, 1)

    @property
    def steers(self) -> bool:
        return self.add_vec is not None or self.clamp_index is not None

    # ---- per position --------------------------------------------------------------------
    def set_text(self, texts: Sequence[str]) -> None:
        """Each text rule's flag from its row's text so far (on the host, before the forward
        pass of the position the text ends at)."""
        if not self.patterns:
            return
        flags = [[False] * len(self.rules) for _ in range(self.rows)]
        for j, r, pattern in self.patterns:
            flags[r][j] = pattern.search(texts[r]) is not None
        self.text_held = torch.tensor(flags, dtype=torch.bool, device=self.sae.device)

    def read(self, h: torch.Tensor, prefill: bool) -> torch.Tensor:
        """The rules acting at this pass's position, then the conditions read at its last
        position (the prompt's pass: its last token) and the state moved on."""
        acting = torch.zeros_like(self.held) if prefill else self.remaining > 0
        # Row 0 (the baseline) has no rules: its activations are not encoded (for SAEs that
        # need a full encode, such as TopK, that is half the cost with one variant).
        x = h[1:, -1:, :]
        parts = []
        if self.cond_features:
            v = torch.cat([self.zero_row, self.sae.encode_subset(x, self.cond_index)[:, 0, :]
                           .float()])
            parts.append(v)
            if self.classifiers:
                parts.append(self._scores(v, prefill))
        if parts:
            sig = (parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1))
            held = (sig.index_select(-1, self.signal_col) - self.threshold) * self.sign > 0
            if self.patterns:
                held = torch.where(self.is_text, self.text_held, held)
        else:
            held = self.text_held
        held = held & self.owner_mask
        steer = held & self.steer_mask
        left = torch.zeros_like(self.remaining) if prefill else (self.remaining - 1).clamp_min(0)
        self.remaining = torch.where(steer, self.span, left)
        self.held, self.acting = held, acting
        return acting

    def _scores(self, v: torch.Tensor, prefill: bool) -> torch.Tensor:
        """Each classifier's score [rows, n], on its features pooled (max or mean) over the
        positions from the prompt's last token to this one."""
        if prefill:
            self.pool_max, self.pool_sum, self.pool_count = v, v, 1
        else:
            self.pool_max = torch.maximum(self.pool_max, v)
            self.pool_sum = self.pool_sum + v
            self.pool_count += 1
        scores = []
        for clf, cols in zip(self.classifiers, self.clf_cols):
            pooled = (self.pool_max if clf.pool == "max"
                      else self.pool_sum / self.pool_count).index_select(-1, cols)
            z = (pooled - torch.tensor(clf.center, device=v.device)) / torch.tensor(
                clf.scale, device=v.device)
            scores.append(torch.sigmoid(z @ torch.tensor(clf.weights, device=v.device)
                                        + clf.bias))
        return torch.stack(scores, dim=-1)

    def apply(self, h: torch.Tensor, acting: torch.Tensor) -> torch.Tensor:
        """`h` with the actions of the rules in `acting` [rows, R] applied (adds, then clamps)."""
        a = acting.to(h.dtype)
        if self.add_vec is not None:
            h = h + (a.unsqueeze(-1) * self.add_vec).sum(1, keepdim=True)
        self.last_clamp = None
        if self.clamp_index is not None:
            w = a.unsqueeze(-1) * self.clamp_mask.unsqueeze(0)        # [rows, R, C]
            mask = w.amax(1)
            target = self.clamp_target.gather(0, (w * self.order).argmax(1))
            h = apply_clamp(self.sae, h, self.clamp_index, target, mask)
            self.last_clamp = (target, mask)
        return h

    def skip(self) -> None:
        """A position whose forward pass is not run (a run's last token, when nothing else
        needs it): its acting rules are known, its conditions are not read."""
        self.acting = self.remaining > 0
        self.held = torch.zeros_like(self.held)

    # ---- on the host ---------------------------------------------------------------------
    def flags(self) -> torch.Tensor:
        """[rows, 2R] floats: held, then acting, to ride along with the step's log-probs."""
        return torch.cat([self.held, self.acting & self.steer_mask], dim=-1).float()

    def row_flags(self, values: Sequence[float], r: int) -> tuple[list[int], list[int], bool]:
        """(held, acting, stopped) for row r, as indices into its variant's rules, from its
        `flags()` row read on the host."""
        R = len(self.rules)
        held = [k for k, j in enumerate(self.row_rules[r]) if values[j] > 0.5]
        acting = [k for k, j in enumerate(self.row_rules[r]) if values[R + j] > 0.5]
        stopped = any(self.rules[self.row_rules[r][k]].stops for k in held)
        return held, acting, stopped
