"""Issue 13's leftovers: rule edits are steps on the panel's undo stack, Clear and presets take
the rules too, and the exports mark where a rule steered as the app does."""

from __future__ import annotations

import html
import re

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCharFormat

from steerdesk.engine.presets import Preset, PresetFeature
from steerdesk.engine.rules import FeatureCondition, Rule, parse_rule
from steerdesk.engine.steering import FeatureSteer, SteeringSpec
from steerdesk.ui import export
from steerdesk.ui.panel_state import PanelRow
from steerdesk.ui.run_record import RowRecord, RunRecord, TokenInfo
from tests.ui.test_ui_rules import make_feature_rule

WAIT_MS = 60000
RULE = Rule(FeatureCondition(9, ">", 0.1), (FeatureSteer(40, 4.0, "add"),))


def _shown(editor):
    """What the editor's rows say, read back from the pickers."""
    return [row.rule() for row in editor.rows]


def test_adding_editing_removing_a_rule_are_one_undo_step_each(window, qtbot):
    c, editor = window.c, window.panel.rules
    c.panel.set_unit("raw")
    row = editor.add_row()
    first = row.rule()
    assert c.panel.rules == [first] and c.undo.undoText() == "add a rule"
    for v in (2.0, 2.5, 3.0):               # typing a number: one step for the one box
        row.value.setValue(v)
    edited = Rule(FeatureCondition(first.condition.index, ">", 3.0), first.action)
    assert c.panel.rules == [edited] and c.undo.undoText() == "edit rule 1"
    _pick_action(row, "ablate")             # another field: its own step
    ablated = Rule(edited.condition, (FeatureSteer(first.action[0].index, 0.0, "ablate"),))
    assert c.panel.rules == [ablated]
    row.remove.click()
    assert c.panel.rules == [] and c.undo.undoText() == "remove rule 1"
    steps = c.undo.index()

    c.undo.undo()                           # the remove
    assert c.panel.rules == [ablated] and _shown(editor) == [ablated]
    c.undo.undo()                           # the ablate
    assert c.panel.rules == [edited] and _shown(editor) == [edited]
    c.undo.undo()                           # the whole 2 -> 3 typing
    assert c.panel.rules == [first] and _shown(editor) == [first]
    c.undo.undo()                           # the add
    assert c.panel.rules == [] and editor.rows == [] and c.panel.spec().rules == []
    c.undo.redo()
    assert c.panel.rules == [first] and _shown(editor) == [first]
    for _ in range(3):
        c.undo.redo()
    assert c.undo.index() == steps and c.panel.rules == [] and editor.rows == []
    # Ctrl+Z / Ctrl+Shift+Z do it too, with the focus in the rule editor
    window.activateWindow()
    editor.add_button.setFocus()
    qtbot.keyClick(editor.add_button, Qt.Key_Z, Qt.ControlModifier)
    assert c.panel.rules == [ablated] and _shown(editor) == [ablated]
    qtbot.keyClick(editor.add_button, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert c.panel.rules == [] and editor.rows == []


def _pick_action(row, key):
    row.action.setCurrentIndex(row.action.findData(key))


def test_clear_takes_features_vectors_and_rules_in_one_step(window):
    c = window.c
    c.panel.set_unit("raw")
    c.editor.add(7, strength=3.0)
    make_feature_rule(window.panel.rules.add_row(), 9, ">", 0.1, "add", 40, 4.0)
    assert c.panel.rules == [RULE]
    from steerdesk.engine.diffmean import SteeringVector

    vec = SteeringVector("calm", (1.0,) * 32, 1.0)
    c.editor.add_vector(vec, 2.0)
    before = c.undo.index()
    assert "rule" in window.panel.clear_button.toolTip()
    window.panel.clear_button.click()
    spec = c.panel.spec()
    assert (spec.features, spec.vectors, spec.rules) == ([], [], [])
    assert window.panel.rules.rows == [] and c.undo.index() == before + 1
    c.undo.undo()
    spec = c.panel.spec()
    assert [(f.index, f.strength) for f in spec.features] == [(7, 3.0)]
    assert [(v.vector.name, v.strength) for v in spec.vectors] == [("calm", 2.0)]
    assert spec.rules == [RULE] and _shown(window.panel.rules) == [RULE]
    c.undo.redo()
    assert c.panel.spec().rules == [] and window.panel.rules.rows == []


def test_a_preset_replaces_the_rules_and_its_undo_brings_them_back(window):
    c = window.c
    c.panel.set_unit("raw")
    make_feature_rule(window.panel.rules.add_row(), 9, ">", 0.1, "add", 40, 4.0)
    theirs = parse_rule("when 3<0.5 then 7=clamp:2 for 3")
    c.editor.load(Preset("p", unit="raw", features=[PresetFeature(5, 1.0)], rules=[theirs]))
    assert c.panel.rules == [theirs] and _shown(window.panel.rules) == [theirs]
    c.editor.load(Preset("none", unit="raw", features=[PresetFeature(5, 1.0)]))
    assert c.panel.rules == [] and window.panel.rules.rows == []    # replaced, not kept
    c.undo.undo()
    assert c.panel.rules == [theirs] and _shown(window.panel.rules) == [theirs]
    c.undo.undo()
    assert c.panel.rules == [RULE] and _shown(window.panel.rules) == [RULE]
    assert [r.index for r in c.panel.rows] == []


def _cells(text):
    return text.split("<td")[1:]


def _marked(cell):
    """The token texts inside the rule marker's spans, in order."""
    out = []
    for inner in re.findall(r"<span class='rule' style='[^']+'>(.*?)</span>(?:</span>)?",
                            cell):
        out.append(html.unescape(re.sub(r"<[^>]+>", "", inner)))
    return out


def test_exports_mark_the_tokens_a_rule_steered(window, qtbot):
    c = window.c
    c.panel.set_unit("raw")
    c.panel.insert(-1, PanelRow(40, 0.0))
    make_feature_rule(window.panel.rules.add_row(), 9, ">", 0.1, "add", 40, 4.0)
    window.compare.set_prompt("the quick brown")
    window.compare.max_tokens.setValue(16)
    with qtbot.waitSignal(window.generation_finished, timeout=WAIT_MS) as done:
        window.generate()
    record = done.args[0]
    window.redraw()
    steered = record.rows[1].tokens
    acting = [t.text for t in steered if t.rules_acting]
    assert 0 < len(acting) < len(steered)            # it steered some tokens, not all
    text = window.comparison_html()
    base, cell = _cells(text)
    assert _marked(cell) == acting and _marked(base) == []
    assert text.count("Wavy purple underline</span>: a token a rule steered") == 1
    # the PNG: Qt's layout of the same document, the marked tokens wavy-underlined
    doc = export.comparison_document(window.comparison())
    wavy = _wavy_text(doc)
    assert wavy == "Wavy purple underline" + "".join(acting)
    assert window.comparison_image().width() == export.PNG_WIDTH


def _wavy_text(doc):
    return "".join(f.text() for f in export.fragments(doc)
                   if f.charFormat().underlineStyle() == QTextCharFormat.WaveUnderline)


def test_no_rules_no_marker_and_no_legend():
    record = RunRecord("p", [], ["no steering", "x"], ["baseline", "steered"],
                       specs=[SteeringSpec([FeatureSteer(3, 1.0)])])
    record.rows = [RowRecord("baseline", "no steering"), RowRecord("steered", "x")]
    for row in record.rows:
        row.tokens = [TokenInfo(w, 1, None, [], []) for w in (" a", " b")]
    text = export.comparison_html(export.Comparison(record))
    assert "class='rule'" not in text and "Wavy" not in text and "wavy" not in text
    assert _wavy_text(export.comparison_document(export.Comparison(record))) == ""
    # a rule that ran but never acted: the legend says what the marker would mean, no marker
    record.specs = [SteeringSpec([], rules=[RULE])]
    text = export.comparison_html(export.Comparison(record))
    assert "Wavy purple underline" in text and _marked(_cells(text)[1]) == []


def test_ctrl_z_in_a_rules_number_box_reaches_the_panel_once_its_typing_is_undone(window,
                                                                                  qtbot):
    """A number box took Ctrl+Z for itself even with nothing of its own left to undo, so the
    panel's undo never came while the focus was in a rule (or a slider's number)."""
    c, editor = window.c, window.panel.rules
    window.activateWindow()
    c.panel.set_unit("raw")
    row = editor.add_row()
    added = c.panel.rules[0]
    _pick_action(row, "ablate")                         # one panel step
    row.value.setFocus()
    row.value.selectAll()
    qtbot.keyClicks(row.value.lineEdit(), "7")          # typed: the box's own history
    assert c.panel.rules[0].condition.value == 7.0
    qtbot.keyClick(row.value, Qt.Key_Z, Qt.ControlModifier)
    assert c.panel.rules[0].condition.value == 1.0      # the typing, by the box itself
    qtbot.keyClick(row.value, Qt.Key_Z, Qt.ControlModifier)
    assert c.panel.rules == [added]                     # then the panel: the ablate
    assert editor.rows == [row] and row.action.currentData() == "add"   # shown in place
    assert window.focusWidget() is row.value
