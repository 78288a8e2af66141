"""Rules evaluated during generation, in two halves that meet once per step.

On the device, inside the steering hook (`read`): the signals the conditions compare, for
every rule of every steered row at once, on the activation as it arrives (one `encode_subset`
of the condition features, and the classifiers' scores pooled on the device). Then the rules
acting at this position are applied (`apply`): their summed add vector and clamps, one tensor
per set of acting rules, made once and kept. On a TopK SAE on the CPU a step is read from the
condition features' own columns alone wherever the k-th largest could not change what the
conditions say (`_decided`); the full read runs only where it could.

On the host (`advance`): the comparisons and each rule's state. The signals ride along with
the step's log-probs in the one transfer the step makes anyway, so a rule costs no extra sync
on a GPU, and on the CPU its state is a few Python operations, not a dozen tensor launches.

Timing: at position t, the rules acting are those whose span, set by holds at earlier
positions, has not run out; then the conditions are read at t, and a hold sets the rule's
span, so its action steers t+1 .. t+span. A rule with no `for N` has span 1: it steers t+1
exactly when it held at t. Text conditions are set from the host (`set_text`) before the
position's forward pass. Each rule belongs to one row (its variant's) and holds in no other.
"""

from __future__ import annotations

from typing import Sequence

import torch

from steerdesk.engine.errors import InputError
from steerdesk.engine.rules import ClassifierCondition, FeatureCondition, Rule, TextCondition
from steerdesk.engine.sae.base import SAE
from steerdesk.engine.steering import apply_clamp, raw_strength

_KEPT_PATTERNS = 256   # sets of acting rules whose steering tensors are kept (then rebuilt)


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
        n_cond = len(self.cond_features)
        # Each rule compares one signal column (a feature, or a classifier's score) with its
        # threshold, on the host; a text rule takes its flag from its row's text instead.
        self.tests: list[tuple[int, float, bool] | None] = []   # (column, threshold, is '>')
        self.patterns: list[tuple[int, int, object]] = []   # (rule, row, compiled pattern)
        k = 0
        for j, rule in enumerate(self.rules):
            c = rule.condition
            if isinstance(c, FeatureCondition):
                thr = c.value * (_max_of(c.index, max_acts) if c.unit == "max" else 1.0)
                self.tests.append((col[sae.check_index(c.index)], thr, c.op == ">"))
            elif isinstance(c, ClassifierCondition):
                self.tests.append((n_cond + k, c.value, c.op == ">"))
                k += 1
            else:
                assert isinstance(c, TextCondition)
                self.tests.append(None)
                self.patterns.append((j, self.owner[j], c.compiled()))
        self.n_signals = n_cond + k
        # A TopK feature's activation is its own relu'd pre-activation or 0 (whether it is among
        # the k largest needs all d_sae pre-activations). Where every condition reads the same
        # for both values, that one column per feature decides the step. On the CPU a step is
        # checked on the host for free; on a GPU the check would cost a sync that the full read
        # does not. Classifiers pool the true values, so they always take the full read.
        cheap = sae.arch.needs_full_encode and sae.device.type == "cpu" and not self.classifiers
        self.if_active = sae.subset_if_active(self.cond_index) if cheap else None
        self.feature_tests = [(self.owner[j] - 1, *t) for j, t in enumerate(self.tests)
                              if t is not None]
        self._classifier_tensors(col, dev)
        self.stops = [rule.stops for rule in self.rules]
        self.span = [rule.span for rule in self.rules]
        self._actions(max_acts)
        R = len(self.rules)
        self.remaining = [0] * R                 # positions each rule's action still steers
        self.held = [False] * R                  # held at the position last read
        self.acting = [False] * R                # steering the position last run
        self.text_held = [False] * R
        # [rows - 1, n_signals], read, not yet moved on: a tensor, or rows on the host already
        self.signal: torch.Tensor | list | None = None
        self.pool_max = self.pool_sum = None
        self.pool_count = 0
        self._steering: dict[tuple[int, ...], tuple] = {}
        self.last_clamp: tuple[torch.Tensor, torch.Tensor] | None = None  # target, mask

    def _classifier_tensors(self, col: dict[int, int], dev) -> None:
        """Each classifier's columns among the condition features, and its weights, made once."""
        self.clf_tensors = []
        for clf in self.classifiers:
            self.clf_tensors.append((
                torch.tensor([col[i] for i in clf.features], dtype=torch.long, device=dev),
                torch.tensor(clf.center, device=dev), torch.tensor(clf.scale, device=dev),
                torch.tensor(clf.weights, device=dev)))

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

    # ---- on the device, in the hook ------------------------------------------------------
    def read(self, h: torch.Tensor, prefill: bool) -> None:
        """The signals at this pass's last position (the prompt's pass: its last token), for
        the steered rows; the host compares them in `advance`."""
        if self.signal is not None:
            raise RuntimeError("rule gates: a position was read before the last one moved the "
                               "rules on")
        if not self.n_signals:
            return
        # Row 0 (the baseline) has no rules: its activations are not encoded (for SAEs that
        # need a full encode, such as TopK, that is half the cost with one variant).
        x = h[1:, -1, :]
        if self.if_active is not None:
            if_active = self.if_active(x).tolist()
            if self._decided(if_active):
                self.signal = if_active
                return
        v = self.sae.encode_subset(x, self.cond_index).float()
        self.signal = torch.cat([v, self._scores(v, prefill)], -1) if self.classifiers else v

    def _decided(self, if_active: list[list[float]]) -> bool:
        """Whether every condition reads the same for each feature's value if active and for
        0, so that whether it is active does not matter (NaN reads differently: full read)."""
        for r, c, thr, above in self.feature_tests:
            x = if_active[r][c]
            if ((x > thr) != (0.0 > thr)) if above else ((x < thr) != (0.0 < thr)):
                return False
        return True

    def _scores(self, v: torch.Tensor, prefill: bool) -> torch.Tensor:
        """Each classifier's score [rows - 1, n], on its features pooled (max or mean) over the
        positions from the prompt's last token to this one."""
        if prefill:
            self.pool_max, self.pool_sum, self.pool_count = v, v, 1
        else:
            self.pool_max = torch.maximum(self.pool_max, v)
            self.pool_sum = self.pool_sum + v
            self.pool_count += 1
        scores = []
        for clf, (cols, center, scale, weights) in zip(self.classifiers, self.clf_tensors):
            pooled = (self.pool_max if clf.pool == "max"
                      else self.pool_sum / self.pool_count).index_select(-1, cols)
            scores.append(torch.sigmoid((pooled - center) / scale @ weights + clf.bias))
        return torch.stack(scores, dim=-1)

    def apply(self, h: torch.Tensor) -> torch.Tensor:
        """`h` with the actions of the rules acting at this position (those whose span has not
        run out) applied: adds, then clamps."""
        key = tuple(j for j, n in enumerate(self.remaining) if n > 0)
        self.last_clamp = None
        if not key:
            return h
        add, clamp = self._steering.get(key) or self._steering_for(key)
        if add is not None:
            h = h + add
        if clamp is not None:
            target, mask = clamp
            h = apply_clamp(self.sae, h, self.clamp_index, target, mask)
            self.last_clamp = clamp
        return h

    def _steering_for(self, key: tuple[int, ...]) -> tuple:
        """The add [rows, 1, d] and clamp (target, mask) [rows, C] of one set of acting rules."""
        if len(self._steering) >= _KEPT_PATTERNS:
            self._steering.clear()
        a = torch.zeros(self.rows, len(self.rules), dtype=self.sae.dtype, device=self.sae.device)
        for j in key:
            a[self.owner[j], j] = 1.0
        add = clamp = None
        if self.add_vec is not None:
            add = (a.unsqueeze(-1) * self.add_vec).sum(1, keepdim=True)
        if self.clamp_index is not None:
            w = a.unsqueeze(-1) * self.clamp_mask.unsqueeze(0)        # [rows, R, C]
            clamp = (self.clamp_target.gather(0, (w * self.order).argmax(1)), w.amax(1))
        self._steering[key] = (add, clamp)
        return add, clamp

    # ---- on the host, once per step ------------------------------------------------------
    def set_text(self, texts: Sequence[str]) -> None:
        """Each text rule's flag from its row's text so far (before the forward pass of the
        position the text ends at)."""
        for j, r, pattern in self.patterns:
            self.text_held[j] = pattern.search(texts[r]) is not None

    def take_signal(self, logprobs: torch.Tensor | None = None) -> tuple[list, list]:
        """(log-probs, signal rows) on the host, in one transfer: the signals ride along with
        the step's log-probs [rows]. Either may be empty."""
        sig, self.signal = self.signal, None
        if sig is None or isinstance(sig, list):
            return (logprobs.tolist() if logprobs is not None else []), sig or []
        if logprobs is None:
            return [], sig.tolist()
        both = torch.cat([logprobs.unsqueeze(1).float(),
                          torch.nn.functional.pad(sig, (0, 0, 1, 0))], 1).tolist()
        return [b[0] for b in both], [b[1:] for b in both[1:]]

    def advance(self, signal: Sequence[Sequence[float]]) -> None:
        """Compare the conditions read at this position (signal: `take_signal`'s rows) and move
        every rule on: the acting ones are those whose span had not run out before it (none at
        the prompt's last token, the first position read)."""
        self.acting = [n > 0 for n in self.remaining]
        for j, test in enumerate(self.tests):
            if test is None:
                held = self.text_held[j]
            else:
                c, thr, above = test
                value = signal[self.owner[j] - 1][c]
                held = value > thr if above else value < thr
            self.held[j] = held
            if held and not self.stops[j]:
                self.remaining[j] = self.span[j]
            else:
                self.remaining[j] = max(self.remaining[j] - 1, 0)

    def step(self, logprobs: torch.Tensor | None = None) -> list:
        """The position just run moved on; its log-probs [rows] (if given) on the host."""
        lp, signal = self.take_signal(logprobs)
        self.advance(signal)
        return lp

    def skip(self) -> None:
        """A position whose forward pass is not run (a run's last token, when nothing else
        needs it): its acting rules are known, its conditions are not read."""
        self.acting = [n > 0 for n in self.remaining]
        self.held = [False] * len(self.rules)

    def row_flags(self, r: int) -> tuple[list[int], list[int], bool]:
        """(held, acting, stopped) for row r at the position last moved on, as indices into
        its variant's rules."""
        mine = self.row_rules[r]
        held = [k for k, j in enumerate(mine) if self.held[j]]
        acting = [k for k, j in enumerate(mine) if self.acting[j] and not self.stops[j]]
        stopped = any(self.stops[mine[k]] for k in held)
        return held, acting, stopped
