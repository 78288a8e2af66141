"""Each column's costs in its header (fluency: perplexity under the unsteered model; reach: the
steered feature's mean activation), and the prompted column ('Compare with prompting')."""

import re
import threading

import pytest
from PySide6.QtCore import Qt

from steerdesk.engine import costs
from steerdesk.engine.generation import GenerationRequest, generate
from steerdesk.engine.presets import Preset, PresetFeature, load_preset, save_preset
from steerdesk.engine.prompt_text import encode_prompt
from steerdesk.engine.prompted import instructed_prompt
from steerdesk.ui import theme, wording
from tests.ui.test_ui_compare import PROMPT, agreeing_prefix, run_to_end

INSTRUCTION = "Answer in German"


def steer(window, index=12, strength=60.0):
    window.panel.add_feature(index)
    next(iter(window.panel.rows.values())).slider.setValue(strength)
    assert window.c.panel.rows[0].strength == strength


def hand_reach(row) -> float:
    """The first watched feature's mean over the generated tokens, worked out here."""
    values = [t.activations[0] for t in row.tokens]
    return sum(values) / len(values)


def test_each_header_shows_its_perplexity_and_reach(window, qtbot, ui_session, monkeypatch):
    threads = []
    scored = costs.token_logprobs

    def spy(*a, **k):
        threads.append(threading.current_thread() is threading.main_thread())
        return scored(*a, **k)

    monkeypatch.setattr(costs, "token_logprobs", spy)
    steer(window)
    window.compare.prompt.setPlainText(PROMPT)
    window.compare.max_tokens.setValue(8)
    record = run_to_end(window, qtbot)
    assert threads and not any(threads)          # scored on the worker, never the GUI thread
    prompt_ids, _ = encode_prompt(ui_session.tokenizer, PROMPT, False)
    cols = window.compare.visible_columns()
    assert len(cols) == len(record.rows) == 2
    for r, col in enumerate(cols):
        ids = [t.token_id for t in record.rows[r].tokens]
        ppl = costs.perplexity(ui_session, prompt_ids, ids)
        assert record.costs[r]["perplexity"] == pytest.approx(ppl, rel=1e-4)
        reach = hand_reach(record.rows[r])
        assert record.reach(r) == pytest.approx(reach, rel=1e-4, abs=1e-6)
        assert not col.costs.isHidden()
        assert col.costs.text() == (f"fluency cost {wording.fluency_words(ppl)} · "
                                    f"reach {reach:.3g}")
        assert "unsteered model" in col.costs.toolTip()
    assert record.reach(1) > 0
    # Steering this hard makes the text less like the model's own.
    assert record.costs[1]["perplexity"] != record.costs[0]["perplexity"]


def test_reach_is_in_x_max_with_a_catalog(catalog_window, qtbot):
    w = catalog_window
    sae = w.c.session.sae
    # A feature that adding its own direction makes fire (random weights: not every one does)
    feature = int(((sae.W_enc.T * sae.W_dec).sum(-1)
                   * (w.c.session.max_acts > 0)).argmax())
    steer(w, feature, 8.0)                        # 8x max: it fires in the steered column
    assert w.c.panel.unit == "max"
    w.compare.max_tokens.setValue(6)
    record = run_to_end(w, qtbot)
    peak = float(w.c.session.max_acts[feature])
    assert peak > 0 and record.reach_max == pytest.approx(peak)
    steered = hand_reach(record.rows[1]) / peak
    assert steered > 0.1
    assert record.reach(1) == pytest.approx(steered, rel=1e-4)
    assert w.compare.visible_columns()[1].costs.text().endswith(f"reach {steered:.2f}× max")


def test_the_prompted_column(window, qtbot, ui_session):
    steer(window)
    window.compare.prompt.setPlainText(PROMPT)
    window.compare.max_tokens.setValue(8)
    window.compare.temperature.setValue(0.9)
    window.compare.seed.setValue(7)
    plain = run_to_end(window, qtbot)
    texts = [r.text for r in plain.rows]

    window.compare.prompting.set(True, INSTRUCTION)
    record = run_to_end(window, qtbot)
    assert record.prompted == INSTRUCTION and record.prompted_row == 2
    # The baseline and steered columns are what they were without it.
    assert [r.text for r in record.rows[:2]] == texts
    cols = window.compare.visible_columns()
    assert len(cols) == 3
    assert cols[2].title_text == f"prompted: {INSTRUCTION}"
    assert cols[2].colour == theme.column_colour(2)
    # Its instruction is shown (greyed, as the prompt) before its text.
    shown = instructed_prompt(INSTRUCTION, PROMPT)
    assert cols[2].view.toPlainText() == shown + record.rows[2].text
    # Its text is a plain engine run of the instructed prompt with the same seed.
    ref = generate(ui_session, GenerationRequest(shown, max_new_tokens=8, temperature=0.9,
                                                 seed=7))
    assert agreeing_prefix(record.rows[2].tokens, ref.rows[0].tokens) == len(ref.rows[0].tokens)
    assert record.rows[2].text == ref.rows[0].text
    # Its fluency is scored with its own (instructed) prompt as the context.
    ids, _ = encode_prompt(ui_session.tokenizer, shown, False)
    ppl = costs.perplexity(ui_session, ids, [t.token_id for t in record.rows[2].tokens])
    assert record.costs[2]["perplexity"] == pytest.approx(ppl, rel=1e-4)
    assert cols[2].costs.text().startswith(f"fluency cost {wording.fluency_words(ppl)}")


def test_an_empty_instruction_is_a_dialog(window, qtbot, dialogs):
    window.compare.prompting.set(True, "  ")
    window.generate()
    assert dialogs and "instruction is empty" in dialogs[-1][2]
    assert window.c.run is None


def test_a_presets_prompt_equivalent_fills_the_field_and_survives_save(window, tmp_path):
    path = save_preset(Preset("german", "", "raw", [PresetFeature(4, 3.0)],
                              prompt_equivalent="Auf Deutsch:"), tmp_path / "german.json")
    assert window.compare.prompting.text() == ""
    assert window.load_preset(path)
    assert window.compare.prompting.text() == "Auf Deutsch:"
    assert not window.compare.prompting.is_on()    # offered, not switched on
    again = window.c.save_preset(tmp_path / "again.json")
    assert load_preset(again).prompt_equivalent == "Auf Deutsch:"
    # A preset without one leaves what the user typed.
    window.compare.prompting.set(False, "Be brief")
    assert window.load_preset(save_preset(Preset("plain", "", "raw", [PresetFeature(4, 1.0)]),
                                          tmp_path / "plain.json"))
    assert window.compare.prompting.text() == "Be brief"
    assert load_preset(window.c.save_preset(tmp_path / "p2.json")).prompt_equivalent == ""


def test_the_option_is_remembered_and_presentation_hides_the_field(window):
    from steerdesk.ui.settings import load_settings

    window.compare.prompting.set(True, INSTRUCTION)
    window.save_settings()
    last = load_settings().last.sampling
    assert (last.prompted, last.instruction) == (True, INSTRUCTION)
    window.set_presentation(True)
    assert window.compare.prompting.instruction.isHidden()
    assert not window.compare.prompting.check.isHidden()
    window.set_presentation(False)
    assert not window.compare.prompting.instruction.isHidden()


def test_a_sweep_fills_the_reach_vs_fluency_plot(window, qtbot):
    import pyqtgraph as pg

    window.panel.add_feature(12)
    window.compare.sweep.setChecked(True)
    window.compare.sweep_strengths.setText("0, 30, 90")
    window.compare.prompting.set(True, INSTRUCTION)
    window.compare.max_tokens.setValue(6)
    record = run_to_end(window, qtbot)
    plot = window.plots.costs
    assert window.plots.tabText(window.plots.indexOf(plot)) == "Reach vs fluency"
    names = ["baseline", "+0 raw", "+30 raw", "+90 raw", f"prompted: {INSTRUCTION}"]
    assert [r.name for r in record.rows] == names
    # one point per column, at its fluency and reach, labelled with its strength
    assert [(p.row, p.kind, p.label) for p in plot.points] == \
        [(0, "baseline", names[0]), (1, "steered", "+0 raw"), (2, "steered", "+30 raw"),
         (3, "steered", "+90 raw"), (4, "prompted", "prompted")]
    for p in plot.points:
        assert (p.fluency, p.reach) == (record.costs[p.row]["perplexity"], record.reach(p.row))
        assert p.reach == pytest.approx(hand_reach(record.rows[p.row]), rel=1e-4, abs=1e-6)
    items = plot.plot.getPlotItem().items
    labels = [i.toPlainText() for i in items if isinstance(i, pg.TextItem)]
    assert labels == names[:4] + ["prompted"]
    marks = [i for i in plot.plot.getPlotItem().listDataItems() if i.opts["symbol"]]
    assert [m.opts["symbol"] for m in marks] == ["s", "o", "o", "o", "t"]
    assert [tuple(m.getData()[0]) for m in marks] == [(p.fluency,) for p in plot.points]
    # a new run starts the plot over
    window.compare.sweep.setChecked(False)
    window.compare.max_tokens.setValue(4000)
    qtbot.mouseClick(window.compare.generate_button, Qt.LeftButton)
    assert plot.points == []
    window.c.stop()
    qtbot.waitUntil(lambda: not window.c.is_generating(), timeout=60000)


def test_the_exports_carry_the_costs_and_the_prompted_column(window, qtbot, ui_session):
    import html

    from steerdesk.ui.export import comparison_json

    steer(window)
    window.compare.prompt.setPlainText(PROMPT)
    window.compare.max_tokens.setValue(6)
    window.compare.prompting.set(True, INSTRUCTION)
    record = run_to_end(window, qtbot)
    window.redraw()
    page = window.comparison_html()
    cells = page.split("<td")[1:]
    assert len(cells) == 3
    prompt_ids, _ = encode_prompt(ui_session.tokenizer, PROMPT, False)
    for r, cell in enumerate(cells):
        ppl = costs.perplexity(ui_session, prompt_ids if r < 2 else encode_prompt(
            ui_session.tokenizer, instructed_prompt(INSTRUCTION, PROMPT), False)[0],
            [t.token_id for t in record.rows[r].tokens])
        line = html.unescape(re.search(r"<p class='costs'[^>]*>(.*?)</p>", cell).group(1))
        assert line == f"fluency cost {wording.fluency_words(ppl)} · " \
                       f"reach {hand_reach(record.rows[r]):.3g}"
    assert html.escape(instructed_prompt(INSTRUCTION, PROMPT)).replace("\n", "<br>") in cells[2]
    assert "perplexity of this text under the unsteered model" in page
    data = comparison_json(record, ui_session)
    assert [c["kind"] for c in data["columns"]] == ["baseline", "steered", "prompted"]
    assert data["columns"][2]["prompted"] == INSTRUCTION
    for r, column in enumerate(data["columns"]):
        assert column["metrics"]["perplexity"] == record.costs[r]["perplexity"]
        assert column["metrics"]["reach"] == pytest.approx(hand_reach(record.rows[r]), rel=1e-4,
                                                           abs=1e-6)
        assert column["metrics"]["reach_feature"] == 12
        assert column["text"] == record.rows[r].text
