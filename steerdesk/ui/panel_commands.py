"""Undoable edits of the steering panel (QUndoStack commands over PanelState).

Slider drags send many strength changes; consecutive ones on the same row merge into one
undo step. The rules under the panel are on the same stack: each added, edited or removed
rule is one step (typing a number into one rule's box, digit by digit, is one)."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtGui import QUndoCommand, QUndoStack

from steerdesk.engine.presets import Preset
from steerdesk.ui.panel_state import PanelRow, PanelState, vector_row

_STRENGTH_ID = 1001
_RULE_EDIT_ID = 1002


class AddRow(QUndoCommand):
    def __init__(self, state: PanelState, row: PanelRow):
        super().__init__(f"add {row.title()}")
        self.state, self.row = state, row

    def redo(self):
        self.state.insert(-1, self.row)

    def undo(self):
        self.state.remove(self.row.uid)


class RemoveRow(QUndoCommand):
    def __init__(self, state: PanelState, uid: int):
        row = state.row(uid)
        super().__init__(f"remove {row.title() if row else uid}")
        self.state, self.uid, self.saved = state, uid, None

    def redo(self):
        self.saved = self.state.remove(self.uid)

    def undo(self):
        if self.saved:
            pos, row = self.saved
            self.state.insert(pos, row)


class SetField(QUndoCommand):
    """Change one field of one row; strength changes of the same row merge."""

    def __init__(self, state: PanelState, uid: int, name: str, value):
        row = state.row(uid)
        super().__init__(f"set {name} of {row.title() if row else uid}")
        self.state, self.uid, self.name = state, uid, name
        self.old = getattr(row, name) if row else None
        self.new = value
        self.closed = False        # set when a drag ends: the next drag is its own undo step

    def id(self):
        return _STRENGTH_ID if self.name == "strength" else -1

    def mergeWith(self, other):
        if self.closed or not isinstance(other, SetField) or other.uid != self.uid \
                or other.name != self.name:
            return False
        self.new = other.new
        return True

    def redo(self):
        self.state.update(self.uid, **{self.name: self.new})

    def undo(self):
        self.state.update(self.uid, **{self.name: self.old})


class SetRules(QUndoCommand):
    """The rules before and after one edit in the rule editor. Consecutive edits with the
    same `key` (one field of one rule row) merge; None never merges (adding, removing)."""

    def __init__(self, state: PanelState, rules: list, text: str, key=None):
        super().__init__(text)
        self.state, self.key = state, key
        self.old, self.new = list(state.rules), list(rules)

    def id(self):
        return _RULE_EDIT_ID if self.key is not None else -1

    def mergeWith(self, other):
        if not isinstance(other, SetRules) or other.key is None or other.key != self.key:
            return False
        self.new = other.new
        self.setObsolete(self.new == self.old)    # typed and taken back: no step is left
        return True

    def redo(self):
        self.state.set_rules(self.new)

    def undo(self):
        self.state.set_rules(self.old)


class ReplaceAll(QUndoCommand):
    """Loading a preset, clearing, or switching the unit: snapshot before and after."""

    def __init__(self, state: PanelState, text: str, change):
        super().__init__(text)
        self.state, self.change = state, change
        self.before = state.snapshot()
        self.after = None

    def redo(self):
        if self.after is None:
            self.change()
            self.after = self.state.snapshot()
        else:
            self.state.restore(self.after)

    def undo(self):
        self.state.restore(self.before)


class PanelEditor:
    """What the widgets call: every edit goes through the undo stack."""

    def __init__(self, state: PanelState, stack: QUndoStack):
        self.state, self.stack = state, stack
        # a feature's max activation (the catalog's), or None: what converts x max <-> raw
        self.max_of = lambda index: None

    def add(self, index: int, label: str = "", strength: float | None = None,
            mode: str = "add") -> PanelRow:
        if strength is None:
            strength = 4.0 if self.state.unit == "max" else 8.0
        row = PanelRow(index, strength, mode, label)
        self.stack.push(AddRow(self.state, row))
        return row

    def add_vector(self, vector, strength: float = 1.0) -> PanelRow:
        """A steering vector as its own row, at `strength` x typical (one undo step)."""
        row = vector_row(vector, strength)
        self.stack.push(AddRow(self.state, row))
        return row

    def remove(self, uid: int) -> None:
        self.stack.push(RemoveRow(self.state, uid))

    def set_rules(self, rules: list, text: str = "edit the rules", key=None) -> None:
        """The rule editor's rules after one edit (`text` names it in the undo list)."""
        if list(rules) != self.state.rules:
            self.stack.push(SetRules(self.state, rules, text, key))

    def set(self, uid: int, name: str, value) -> None:
        row = self.state.row(uid)
        if row is not None and getattr(row, name) != value:
            self.stack.push(SetField(self.state, uid, name, value))

    def end_drag(self) -> None:
        """A slider was released: later strength changes start a new undo step."""
        last = self.stack.command(self.stack.index() - 1) if self.stack.index() > 0 else None
        if isinstance(last, SetField):
            last.closed = True

    def set_unit(self, unit: str) -> None:
        """Switch the unit and convert each strength, so that it steers as hard as before
        (2x max = 2 * max activation raw); a feature with no known max keeps its number, and
        a steering vector too (its strength is in x typical in either unit)."""
        if unit == self.state.unit:
            return
        rows = []
        for r in self.state.rows:
            m = None if r.is_vector else self.max_of(r.index)
            strength = r.strength
            if m and r.mode != "ablate":
                strength = r.strength * m if unit == "raw" else r.strength / m
            rows.append(replace(r, strength=strength))
        self.stack.push(ReplaceAll(self.state, f"unit {unit}",
                                   lambda: self.state.restore((rows, unit, self.state.name,
                                                               self.state.rules))))

    def load(self, preset: Preset) -> None:
        self.stack.push(ReplaceAll(self.state, f"load preset {preset.name}",
                                   lambda: self.state.apply_preset(preset)))

    def clear(self) -> None:
        """Every feature, steering vector and rule goes, in one undo step."""
        self.stack.push(ReplaceAll(self.state, "clear panel",
                                   lambda: self.state.restore(([], self.state.unit,
                                                               self.state.name, []))))
