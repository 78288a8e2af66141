"""With a catalog: labels in the list, ranked word search, the feature card, 'x max' strengths."""

import re

import pytest

from PySide6.QtCore import Qt


def test_catalog_labels_search_and_card(catalog_window, qtbot):
    w = catalog_window
    b, src = w.browser, w.c.features
    assert src.has_catalog
    label = src.label(5)
    assert label    # a catalog labels every feature that fired
    assert b.model.data(b.model.index(5, 1)) == label
    assert b.model.data(b.model.index(5, 2)) not in ("–", None)      # max activation shown

    # a word of letters: shown labels may start with a quoted punctuation token, which
    # QTest cannot type
    word = re.findall(r"[^\W\d_]{2,}", label)[0]
    qtbot.keyClicks(b.search, word)
    qtbot.waitUntil(lambda: 0 < b.model.rowCount() < 64 or b.search.text() == word
                    and b.model.rowCount() > 0, timeout=3000)
    assert any(word.lower() in src.label(b.model.feature_at(r)).lower()
               for r in range(b.model.rowCount()))

    b.reveal(5)
    assert b.card.index == 5
    html = b.card.body.toHtml()
    assert "Where it fires" in html
    assert b.card.hist.isVisibleTo(b.card)
    qtbot.mouseClick(b.card.add_button, Qt.LeftButton)
    assert w.c.panel.indices() == [5]
    row = next(iter(w.panel.rows.values()))
    assert row._title == (5, label)
    assert w.c.panel.rows[0].label == label     # saved into presets with the row


def test_max_unit_generation(catalog_window, qtbot):
    w = catalog_window
    assert w.c.panel.unit == "max"
    w.panel.add_feature(5)
    w.c.editor.set(w.c.panel.rows[0].uid, "strength", 8.0)
    w.compare.max_tokens.setValue(6)
    with qtbot.waitSignal(w.generation_finished, timeout=20000) as blocker:
        w.generate()
    record = blocker.args[0]
    assert record.done.reason in ("length", "eos")
    assert "x max" in record.rows[1].settings
    assert record.peak(5) > 0


def test_rename_feature_shows_everywhere(catalog_window):
    w = catalog_window
    w.panel.add_feature(9)
    w.c.panel.rows[0].label = ""              # as a preset without labels would leave it
    assert w.browser.rename(9, "my favourite feature")
    assert w.c.features.label(9) == "my favourite feature"
    assert w.c.session.catalog.label(9) == "my favourite feature"
    assert w.browser.model.data(w.browser.model.index(9, 1)) == "my favourite feature"
    row = next(iter(w.panel.rows.values()))
    assert row._title == (9, "my favourite feature")


def test_switching_the_unit_converts_the_strengths(catalog_window, qtbot):
    """2x max becomes 2 * max activation raw, and back; ablate keeps its number; undo puts the
    unit and the numbers back. The user switches with the panel's Unit box."""
    w = catalog_window
    m5 = float(w.c.session.max_acts[5])
    assert m5 > 0
    w.panel.add_feature(5)
    w.panel.add_feature(9)
    rows = w.c.panel.rows
    w.c.editor.set(rows[0].uid, "strength", 2.0)
    w.c.editor.set(rows[1].uid, "mode", "ablate")
    w.c.editor.set(rows[1].uid, "strength", 1.5)
    w.panel.unit.setCurrentIndex(w.panel.unit.findData("raw"))
    rows = w.c.panel.rows
    assert w.c.panel.unit == "raw"
    assert rows[0].strength == pytest.approx(2.0 * m5)
    assert rows[1].strength == 1.5                       # ablate: the number is not used
    shown = next(iter(w.panel.rows.values())).slider.value()
    assert shown == pytest.approx(2.0 * m5, abs=0.01)    # the slider was not cut at its range
    w.panel.unit.setCurrentIndex(w.panel.unit.findData("max"))
    assert w.c.panel.rows[0].strength == pytest.approx(2.0)
    w.c.undo.undo()
    assert w.c.panel.unit == "raw" and w.c.panel.rows[0].strength == pytest.approx(2.0 * m5)
    w.c.undo.undo()
    assert w.c.panel.unit == "max" and w.c.panel.rows[0].strength == pytest.approx(2.0)
