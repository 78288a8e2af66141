"""The steering panel as plain data: the rows the user chose, their strengths, modes and
toggles, and the unit. A row is a feature, or a steering vector built from examples
(`vector` set, `index` -1, strength in x typical whatever the unit). Widgets read from it and listen to its notifiers; undo lives in
`panel_commands`, which changes it only through these methods. No Qt here."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

from steerdesk.engine.describe import LabelOf
from steerdesk.engine.diffmean import SteeringVector
from steerdesk.engine.presets import Preset, PresetFeature, PresetVector
from steerdesk.engine.rules import Rule
from steerdesk.engine.steering import FeatureSteer, SteeringSpec, VectorSteer
from steerdesk.ui import wording
from steerdesk.ui.notify import Notifier

_row_ids = itertools.count(1)


@dataclass
class PanelRow:
    index: int
    strength: float = 1.0
    mode: str = "add"
    label: str = ""
    enabled: bool = True
    uid: int = field(default_factory=lambda: next(_row_ids))  # stable across edits, for undo
    vector: SteeringVector | None = None

    @property
    def is_vector(self) -> bool:
        return self.vector is not None

    def title(self) -> str:
        if self.vector is not None:
            return wording.vector_words(self.vector.name)
        return wording.feature_words(self.index, self.label)


def vector_row(vector: SteeringVector, strength: float = 1.0, enabled: bool = True) -> PanelRow:
    return PanelRow(-1, strength, "add", vector.name, enabled, vector=vector)


class PanelState:
    def __init__(self):
        self.rows_changed = Notifier()   # rows added, removed, reordered or replaced
        self.row_changed = Notifier()    # (uid): one row's strength, mode or toggle
        self.unit_changed = Notifier()   # (unit)
        self.name_changed = Notifier()   # (name)
        self.rules_changed = Notifier()  # the rules were replaced (a preset, the rule editor)
        self.rows: list[PanelRow] = []
        self.rules: list[Rule] = []      # conditional steering of the steered variant
        self.unit = "max"
        self.name = "my steering"
        self.description = ""
        self.prompt_equivalent = ""      # the loaded preset's, kept when it is saved again
        self._loaded: tuple | None = None  # _what() when the preset was loaded

    # -- queries ---------------------------------------------------------------------------
    def row(self, uid: int) -> PanelRow | None:
        return next((r for r in self.rows if r.uid == uid), None)

    def position(self, uid: int) -> int:
        return next((n for n, r in enumerate(self.rows) if r.uid == uid), -1)

    def indices(self) -> list[int]:
        seen: list[int] = []
        for r in self.rows:
            if not r.is_vector and r.index not in seen:
                seen.append(r.index)
        return seen

    def spec(self, name: str = "") -> SteeringSpec:
        """The enabled rows as one steered variant (its words: engine.describe)."""
        return SteeringSpec([FeatureSteer(r.index, r.strength, r.mode, r.label)
                             for r in self.rows if r.enabled and not r.is_vector],
                            unit=self.unit, name=name or self.name,
                            vectors=[VectorSteer(r.vector, r.strength)
                                     for r in self.rows if r.enabled and r.is_vector],
                            rules=list(self.rules))

    def mode_of(self, index: int, default: str = "add") -> str:
        return next((r.mode for r in self.rows if r.index == index and not r.is_vector),
                    default)

    def _what(self) -> tuple:
        """What steers, and how (not how hard): what a preset's description speaks of."""
        return ([(r.index, r.mode, r.vector.name if r.is_vector else None) for r in self.rows],
                list(self.rules))

    def to_preset(self) -> Preset:
        # The loaded preset's description and prompt equivalent, while the same features steer
        # the same way; with others added, removed or switched, they would no longer be true
        # ("Adds feature 598 ... came out in German" over a panel that also speaks Spanish).
        kept = self._what() == self._loaded
        prompt_equivalent = self.prompt_equivalent if kept else ""
        return Preset(self.name, self.description if kept else "", self.unit,
                      [PresetFeature(r.index, r.strength, r.mode, r.label, r.enabled)
                       for r in self.rows if not r.is_vector], list(self.rules),
                      vectors=[PresetVector(r.vector, r.strength, r.enabled)
                               for r in self.rows if r.is_vector],
                      prompt_equivalent=prompt_equivalent)

    def snapshot(self) -> tuple[list[PanelRow], str, str, list[Rule]]:
        return [replace(r) for r in self.rows], self.unit, self.name, list(self.rules)

    # -- changes (called by undo commands) ---------------------------------------------------
    def insert(self, pos: int, row: PanelRow) -> None:
        self.rows.insert(pos if pos >= 0 else len(self.rows), row)
        self.rows_changed.emit()

    def remove(self, uid: int) -> tuple[int, PanelRow] | None:
        pos = self.position(uid)
        if pos < 0:
            return None
        row = self.rows.pop(pos)
        self.rows_changed.emit()
        return pos, row

    def update(self, uid: int, **values) -> None:
        row = self.row(uid)
        if row is None:
            return
        for key, value in values.items():
            setattr(row, key, value)
        self.row_changed.emit(uid)

    def set_unit(self, unit: str) -> None:
        if unit != self.unit:
            self.unit = unit
            self.unit_changed.emit(unit)

    def set_rules(self, rules: list[Rule]) -> None:
        if list(rules) != self.rules:
            self.rules = list(rules)
            self.rules_changed.emit()

    def set_name(self, name: str) -> None:
        self.name = name
        self.name_changed.emit(name)

    def restore(self, snap: tuple[list[PanelRow], str, str, list[Rule]]) -> None:
        rows, unit, name, rules = snap
        self.rows = [replace(r) for r in rows]
        self.set_unit(unit)
        self.set_name(name)
        self.set_rules(rules)
        self.rows_changed.emit()

    def drop_missing_features(self, d_sae: int) -> list[int]:
        """Rows for features this SAE does not have (a panel remembered from another SAE, a
        hand-edited settings file) go: a repair, not an undoable edit. Returns their indices."""
        gone = [r.index for r in self.rows if not r.is_vector and not 0 <= r.index < d_sae]
        if gone:
            self.rows = [r for r in self.rows if r.is_vector or 0 <= r.index < d_sae]
            self.rows_changed.emit()
        return gone

    def drop_misfit_vectors(self, d_model: int) -> list[str]:
        """Steering vectors of another width than the open model's activation go, as features
        the SAE does not have do. Returns their names."""
        gone = [r.vector.name for r in self.rows if r.is_vector and r.vector.d_model != d_model]
        if gone:
            self.rows = [r for r in self.rows if not r.is_vector or r.vector.d_model == d_model]
            self.rows_changed.emit()
        return gone

    def fill_labels(self, label_of: LabelOf) -> None:
        """Rows that came without a label (restored before the catalog was known, or from a
        preset that leaves labels out) get the catalog's: a display fill-in, not an edit."""
        for row in self.rows:
            if not row.label and not row.is_vector:
                row.label = label_of(row.index) or ""
        self.rows_changed.emit()

    def apply_preset(self, preset: Preset) -> None:
        self.description = preset.description
        self.prompt_equivalent = preset.prompt_equivalent
        self.restore(([PanelRow(f.index, f.strength, f.mode, f.label, f.enabled)
                       for f in preset.features]
                      + [vector_row(v.vector, v.strength, v.enabled) for v in preset.vectors],
                      preset.unit, preset.name, list(preset.rules)))
        self._loaded = self._what()
