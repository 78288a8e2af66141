"""A new user's first session (pocket pack, Xvfb): the percent view reads the same before a
preset is saved and after it is loaded back, one percent range for every row, a hint where a
search finds nothing, the Guide's sections and fixed undo names, the loading message, the
classifier's wording and tooltips, and where the export dialog starts."""

import pytest

from steerdesk.engine.calibration import parse_sweep

# Feature 5 was measured at 4x max; 7 was not swept (the median of the chosen, 1x, stands in).
SWEEP = {"rule": {"target_share": 0.9, "seeds": list(range(20))},
         "results": [{"index": 5, "strength": s, "share": sh}
                     for s, sh in ((2.0, 0.5), (4.0, 0.95))],
         "chosen": {"a": {"index": 5, "strength": 1.0}}}


def _percent_rows(w):
    return {r.index: r for r in w.panel.rows.values()}


def test_measured_strength_counts_before_a_loaded_presets(catalog_window, tmp_path):
    w = catalog_window
    assert w.c.panel.unit == "max"
    w.c.calibration = parse_sweep(SWEEP)
    w.c.editor.clear()
    w.c.editor.add(5, "", 2.0)
    w.c.editor.add(7, "", 3.0)
    w.panel.percent.setChecked(True)
    rows = _percent_rows(w)
    # 5: 2x of its measured 4x; 7: 3x of the 1x stand-in is 300%, shown at the range's end.
    assert rows[5].slider.value() == pytest.approx(50.0)
    assert rows[7].slider.value() == pytest.approx(200.0)
    w.c.save_preset(tmp_path / "mine.json")
    w.c.editor.clear()
    w.c.load_preset(tmp_path / "mine.json")
    rows = _percent_rows(w)
    # 2x of a feature measured at 4x: still 50%, not 100% ("its strength in the preset").
    assert rows[5].slider.value() == pytest.approx(50.0)
    assert "100% = 4x max" in rows[5].slider.toolTip()
    # Not swept: the preset's own 3x comes before the median stand-in (1x).
    assert rows[7].slider.value() == pytest.approx(100.0)
    assert "100% = 3x max, its strength in the preset loaded" in rows[7].slider.toolTip()


def test_percent_range_is_the_same_for_every_row_with_a_suffix(catalog_window):
    w = catalog_window
    w.c.calibration = parse_sweep(SWEEP)
    w.c.editor.clear()
    w.c.editor.add(5, "", 4.0)          # 100% = 4x
    w.c.editor.add(9, "", 1.0)          # 100% = 1x (median)
    w.panel.percent.setChecked(True)
    rows = _percent_rows(w)
    ranges = {(r.slider.minimum(), r.slider.maximum()) for r in rows.values()}
    assert ranges == {(-200.0, 200.0)}
    assert all(r.slider.value() == pytest.approx(100.0) for r in rows.values())
    assert all(r.slider._label.suffix() == "%" for r in rows.values())
    rows[5].slider.setValue(150.0)
    assert next(r for r in w.c.panel.rows if r.index == 5).strength == pytest.approx(6.0)
    w.panel.percent.setChecked(False)
    rows = _percent_rows(w)
    assert all(r.slider._label.suffix() == "" for r in rows.values())
    assert {(r.slider.minimum(), r.slider.maximum()) for r in rows.values()} == {(-10.0, 10.0)}


def test_a_search_with_no_match_shows_a_hint_in_the_lists_place(catalog_window):
    b = catalog_window.browser
    b.search.setText("friendlyzz")
    b.apply_search()
    assert b.model.rowCount() == 0 and b.count.text() == "0 of 64"
    assert b.table.isHidden() and not b.empty_hint.isHidden()
    assert b.empty_hint.text() == ('No label has "friendlyzz". Try another word, a feature '
                                   'number, or paste text below and press What lights up?')
    b.search.setText("7")
    b.apply_search()
    assert b.model.rowCount() >= 1
    assert not b.table.isHidden() and b.empty_hint.isHidden()


def test_no_catalog_hint_says_search_by_number(window):
    b = window.browser
    b.search.setText("friendly")
    b.apply_search()
    assert b.table.isHidden()
    assert "no labels" in b.empty_hint.text() and "feature number" in b.empty_hint.text()
    b.search.setText("")
    b.apply_search()
    assert b.model.rowCount() == 64 and not b.table.isHidden()


def test_while_a_model_loads_the_middle_says_what_is_opening(make_window, qtbot, ui_model_dir,
                                                             ui_sae_dir, tmp_path):
    from steerdesk.engine.session_spec import SessionSpec

    w = make_window()
    assert "No model is open" in w.compare.empty.text()
    with qtbot.waitSignal(w.session_ready, timeout=30000):
        w.open_pair(SessionSpec(str(ui_model_dir), str(ui_sae_dir)))
        loading = w.compare.empty.text()       # the load runs on the worker: still loading
    assert loading.startswith(f"Opening {ui_model_dir.name} with the SAE {ui_sae_dir.name}…")
    assert "No model is open" not in loading and "Open a model" not in loading
    assert "Generate" in w.compare.empty.text()
    # A load that fails puts back what is true: the open model's note.
    with qtbot.waitSignal(w.c.load_failed, timeout=30000):
        w.open_pair(SessionSpec(str(tmp_path / "nothing"), str(ui_sae_dir)))
    assert "Generate" in w.compare.empty.text()


def test_the_pocket_pack_is_named_as_such_while_it_opens():
    from steerdesk.engine import pack
    from steerdesk.engine.session_spec import SessionSpec
    from steerdesk.ui import wording

    pair = SessionSpec(str(pack.pocket_model()), str(pack.pocket_sae())).pair()
    assert wording.opening_note(pair).startswith("Opening the pocket pack…")
    assert wording.loading_line(pair) == "Loading the pocket pack…"


def test_classifier_feature_line_in_full_for_its_tooltip():
    from types import SimpleNamespace

    from steerdesk.ui import wording
    from steerdesk.ui.classifier_dialog import feature_line

    label = "Spanish text, mostly articles and common verbs in news stories"   # 63 letters
    f = SimpleNamespace(index=1717, label=label, score=1.2, auroc=0.75)
    short, full = feature_line(f, ("es", "en")), feature_line(f, ("es", "en"), width=None)
    assert short.startswith(f"#1717 {label[:40]} — ") and label not in short
    assert full == f"#1717 {label} — more active on “es” than on “en” in 75% of pairs"
    assert wording.accuracy_words(5 / 6, 3, 3).startswith(
        "It puts 5 of the 6 example texts on the correct side (83%).")


def test_export_dialog_starts_in_documents_then_in_the_last_export_folder(
        window, qtbot, monkeypatch, tmp_path):
    import platformdirs
    from PySide6.QtWidgets import QFileDialog

    docs, out = tmp_path / "Documents", tmp_path / "talk"
    docs.mkdir()
    out.mkdir()
    monkeypatch.setattr(platformdirs, "user_documents_dir", lambda: str(docs))
    asked = []

    def answer(parent, title, start, kinds, *a, **k):
        asked.append(start)
        return str(out / ("c.png" if "PNG" in kinds else "c.html")), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(answer))
    window.panel.add_feature(2)
    window.compare.max_tokens.setValue(3)
    with qtbot.waitSignal(window.generation_finished, timeout=20000):
        window.generate()
    window.menus.export_html()
    window.menus.export_png()
    assert asked == [str(docs / "comparison.html"), str(out / "comparison.png")]
    assert (out / "c.html").stat().st_size > 0 and (out / "c.png").stat().st_size > 0
