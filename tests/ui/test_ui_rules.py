"""The rule editor under the steering panel: sentences of pickers make engine Rules, the
steered column runs with them, and where a rule steered shows as a wavy underline in the text
and a shaded band on the activation plot."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtGui import QTextCharFormat, QTextCursor

from steerdesk.engine.rules import (
    ClassifierCondition,
    FeatureCondition,
    Rule,
    TextCondition,
    parse_rule,
)
from steerdesk.engine.steering import FeatureSteer
from steerdesk.ui.panel_state import PanelRow
from steerdesk.ui.run_record import RunRecord, TokenInfo

WAIT_MS = 60000


def _pick(box, key):
    box.setCurrentIndex(box.findData(key))
    assert box.currentData() == key


def make_feature_rule(row, cond_index, op, value, act, target, strength=0.0, unit="raw",
                      tokens=None):
    _pick(row.kind, "feature")
    row.feature.set_index(cond_index)
    _pick(row.op, op)
    row.value.setValue(value)
    _pick(row.value_unit, unit)
    _pick(row.action, act)
    row.target.set_index(target)
    row.strength.setValue(strength)
    _pick(row.strength_unit, "raw")
    _pick(row.span, "held" if tokens is None else "n")
    if tokens is not None:
        row.tokens.setValue(tokens)


def test_editor_rows_make_rules_and_show_them_back(qtbot):
    from steerdesk.ui.rule_editor import RuleEditor

    ed = RuleEditor(lambda i: {12: "German text"}.get(i), d_sae=64)
    qtbot.addWidget(ed)
    seen = []
    ed.rules_changed.connect(lambda rules, words, key: seen.append(rules))
    r1 = ed.add_row()
    make_feature_rule(r1, 12, ">", 3.5, "add", 40, 8.0, tokens=5)
    assert r1.feature.name.text() == "German text"
    r2 = ed.add_row()
    _pick(r2.kind, "text")
    r2.word.setText("bridge")
    _pick(r2.action, "stop")
    assert not r2.target.isVisibleTo(ed) and not r2.tokens.isVisibleTo(ed)
    r3 = ed.add_row()
    _pick(r3.kind, "classifier")
    r3.classifier.setText("/tmp/spam.json")
    _pick(r3.clf_op, "<")
    r3.chance.setValue(30)
    make_feature_rule(r3, 0, ">", 0, "ablate", 9)
    _pick(r3.kind, "classifier")                   # the helper switched it: back
    want = [Rule(FeatureCondition(12, ">", 3.5), (FeatureSteer(40, 8.0, "add"),), "raw", 5),
            Rule(TextCondition("bridge"), "stop"),
            Rule(ClassifierCondition("/tmp/spam.json", 0.3, "<"),
                 (FeatureSteer(9, 0.0, "ablate"),))]
    assert ed.rules() == want and seen[-1] == want
    # the same as the grammar's text, so presets and the CLI read what the editor made
    assert [r.to_text() for r in want] == ["when 12>3.5 then 40=8 for 5",
                                          'when text "bridge" then stop',
                                          "when classifier /tmp/spam.json<0.3 then 9=ablate"]
    assert [parse_rule(r.to_text()) for r in want] == want
    # a row that is not a rule yet is left out and says why
    r2.word.setText("")
    assert ed.rules() == [want[0], want[2]]
    assert "Rule 2 is not used yet" in r2.problem.text() and "empty" in r2.problem.text()
    r2.remove.click()
    assert ed.rules() == [want[0], want[2]] and len(ed.rows) == 2 and r2.problem.text()
    # rules from elsewhere (a preset) become rows that make the same rules
    other = RuleEditor(d_sae=64)
    qtbot.addWidget(other)
    other.set_rules(want)
    assert other.rules() == want and len(other.rows) == 3


def test_acting_spans_are_the_runs_of_steered_tokens():
    record = RunRecord("p", [], ["no steering", "x"], ["baseline", "steered"])
    acting = [[], [0], [0], [], [1], [], [0, 1]]
    record.rows[1].tokens = [TokenInfo("t", 1, None, [], [], [], a) for a in acting]
    assert record.acting_spans(1) == [(1, 3), (4, 5), (6, 7)]
    assert record.acting_spans(0) == []


def test_a_rule_built_in_the_editor_runs_and_shows_where_it_steered(window, qtbot):
    c = window.c
    c.panel.set_unit("raw")
    c.panel.insert(-1, PanelRow(40, 0.0))           # watched and plotted; the rule steers it
    editor = window.panel.rules
    make_feature_rule(editor.add_row(), 9, ">", 0.1, "add", 40, 4.0)
    rule = Rule(FeatureCondition(9, ">", 0.1), (FeatureSteer(40, 4.0, "add"),))
    assert c.panel.rules == [rule]
    assert c.panel.to_preset().rules == [rule]
    window.compare.set_prompt("the quick brown")
    window.compare.max_tokens.setValue(16)
    with qtbot.waitSignal(window.generation_finished, timeout=WAIT_MS) as done:
        window.generate()
    record = done.args[0]
    assert record.specs[0].rules == [rule]
    window._force_redraw()
    steered = record.rows[1].tokens
    acting = [bool(t.rules_acting) for t in steered]
    assert 0 < sum(acting) < len(acting)            # it fired at some tokens, not all
    assert not any(t.rules_acting or t.rules_held for t in record.rows[0].tokens)  # baseline
    # 'for as long as it holds': a token is steered exactly when the rule held at the one
    # before it (the first token's depends on the prompt's last, not in the record)
    assert acting[1:] == [bool(t.rules_held) for t in steered[:-1]]
    # the marker: a wavy underline on exactly the steered tokens
    view = window.compare.columns[1].view
    for n, tok in enumerate(steered):
        if not tok.text:
            continue
        cursor = QTextCursor(view.document())
        cursor.setPosition(view._starts[n] + 1)         # the format of the token's first char
        wavy = cursor.charFormat().underlineStyle() == QTextCharFormat.WaveUnderline
        assert wavy == acting[n], n
    assert "rule 1 steered this token" in view.token_tooltip(acting.index(True))
    # the band: one per run of steered tokens, over exactly those positions
    runs, start = [], None
    for n, a in enumerate(acting + [False]):
        if a and start is None:
            start = n
        elif not a and start is not None:
            runs.append((start, n))
            start = None
    plot = window.plots.activations
    bands = [i for i in plot.plot.getPlotItem().items if isinstance(i, pg.LinearRegionItem)]
    regions = sorted(tuple(b.getRegion()) for b in bands)
    flat = [x for region in regions for x in region]   # approx takes no nested lists
    assert flat == pytest.approx([x for s, e in runs for x in (s - 0.5, e - 0.5)])
    assert plot.bands.get(0, []) == []              # the baseline has none


def test_a_presets_rules_fill_the_editor_and_its_edits_go_back(window):
    from steerdesk.engine.presets import Preset

    rule = parse_rule("when 3<0.5 then 7=clamp:2 for 3")
    window.c.panel.apply_preset(Preset("p", unit="raw", rules=[rule]))
    editor = window.panel.rules
    assert editor.rules() == [rule] and len(editor.rows) == 1
    row = editor.rows[0]
    assert (row.feature.index(), row.op.currentData(), row.target.index(),
            row.action.currentData(), row.tokens.value()) == (3, "<", 7, "clamp", 3)
    row.tokens.setValue(4)
    assert window.c.panel.rules == [parse_rule("when 3<0.5 then 7=clamp:2 for 4")]
    row.remove.click()
    assert window.c.panel.rules == [] and window.c.panel.spec().rules == []


def test_a_classifier_rule_names_the_sides_or_the_problem(qtbot, tmp_path):
    from steerdesk.engine.catalog import Classifier
    from steerdesk.ui.rule_editor import RuleEditor

    Classifier(["spam", "ham"], [1], [1.0], [0.0], [1.0], 0.0).save(tmp_path / "c.json")
    (tmp_path / "bad.json").write_text("{")
    ed = RuleEditor(d_sae=64)
    qtbot.addWidget(ed)
    row = ed.add_row()
    _pick(row.kind, "classifier")
    row.classifier.setText(str(tmp_path / "c.json"))
    row.read_classifier()
    assert row.clf_names.text() == "(first side: “spam”, other: “ham”)"
    row.classifier.setText(str(tmp_path / "bad.json"))
    row.read_classifier()
    assert row.clf_names.text() == "" and "bad.json" in row.problem.text()


def test_a_new_rule_starts_on_the_feature_in_view_and_the_one_steered(window):
    c, editor = window.c, window.panel.rules
    row = editor.add_row()                       # nothing in view, nothing steered: #0
    assert (row.feature.index(), row.target.index()) == (0, 0)
    c.panel.insert(-1, PanelRow(40, 1.0))
    c.set_focus(9)
    row = editor.add_row()
    assert (row.feature.index(), row.target.index()) == (9, 40)
    c.set_focus(-1)
    row = editor.add_row()                       # only a steered one: it stands for both
    assert (row.feature.index(), row.target.index()) == (40, 40)


@pytest.mark.parametrize("kind", ["feature", "classifier", "text"])
def test_the_rule_editor_fits_the_steering_column(window, kind):
    """Side by side its pickers made the panel 614 pixels wide, and the splitter took it from
    the feature list; in four short lines it fits the column it starts in (400 pixels)."""
    row = window.panel.rules.add_row()
    _pick(row.kind, kind)
    assert window.panel.rules.minimumSizeHint().width() <= 380
    assert window.panel.minimumSizeHint().width() <= 400


def test_a_panel_of_rules_alone_says_so_instead_of_no_steering_yet(window):
    from steerdesk.engine.rules import parse_rule
    from steerdesk.ui.steering_panel import EMPTY, RULES_ONLY

    panel = window.panel
    assert panel.empty.text() == EMPTY
    window.c.panel.set_rules([parse_rule("when 3>1 then 5=2")])
    assert panel.empty.text() == RULES_ONLY and not panel.empty.isHidden()
    window.c.panel.set_rules([])
    assert panel.empty.text() == EMPTY
