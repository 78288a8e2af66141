"""Room where it matters (issue 12 point 8): the steering panel is as tall as its rows, the
feature card takes the rest of its column, the label column is the widest, and the splitters
are remembered."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication


def _settle():
    for _ in range(3):
        QApplication.processEvents()


def test_panel_fits_its_rows_and_the_card_gets_the_rest(window):
    w = window
    _settle()
    panel_h, card_h = w.side_split.sizes()
    assert card_h > 2 * panel_h                       # an empty panel takes little room
    for i in (3, 5, 7, 9):
        w.c.add_feature(i)
    _settle()
    assert w.panel.scroll.verticalScrollBar().maximum() == 0   # every row shows, no scrolling
    panel_h2, card_h2 = w.side_split.sizes()
    assert panel_h2 > panel_h and card_h2 > 0
    # The feature list's label column is wider than its numbers.
    header = w.browser.table.horizontalHeader()
    assert header.sectionSize(1) >= max(header.sectionSize(c) for c in (0, 2, 3))


def test_a_rule_added_under_two_rows_leaves_both_rows_in_view(window):
    """A rule takes four lines; the panel grows for it instead of hiding a row behind a
    scrollbar (a new user saw 1.3 of 2 rows)."""
    w = window
    w.resize(1600, 1000)
    for i in (3, 5):
        w.c.add_feature(i)
    _settle()
    w.panel.rules.add_row()
    _settle()
    assert w.c.panel.rules                                     # it made a rule
    assert w.panel.scroll.verticalScrollBar().maximum() == 0   # both rows show


def test_splitters_are_remembered(make_window, window, qtbot):
    window.main_split.setSizes([500, 500, 400])
    window.side_split.setSizes([300, 500])
    _settle()
    main, side = window.main_split.sizes(), window.side_split.sizes()
    window.close()
    again = make_window()
    _settle()
    assert again.main_split.sizes() == main
    assert again.side_split.sizes() == side


def test_presentation_hides_the_card_and_brings_it_back(window):
    w = window
    assert w.browser.card.isVisible()
    w.set_presentation(True)
    assert not w.browser.card.isVisible() and w.panel.isVisible()
    w.set_presentation(False)
    assert w.browser.card.isVisible()


def test_broken_splitter_settings_are_dropped():
    from steerdesk.ui.settings import Settings

    s = Settings.from_json({"splitters": {"main": "not base64!"}})
    assert s.splitters == {} and "splitters" in s.problems
    ok = Settings.from_json({"splitters": {"main": "AAAA"}})
    assert ok.splitters == {"main": "AAAA"} and Settings.from_json(ok.to_json()).splitters == {
        "main": "AAAA"}


def test_presentation_fits_a_1600_pixel_screen(window):
    """At 2x text nothing is clipped on a 1600-pixel-wide screen: the preparing tools (sampling
    details, preset name and unit) are hidden, the steering rows and sliders stay."""
    from PySide6.QtCore import QEvent

    w = window
    w.c.add_feature(3)
    normal_font = QApplication.font().pointSizeF()
    w.set_presentation(True)
    for _ in range(3):
        QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        QApplication.processEvents()
    assert QApplication.font().pointSizeF() >= 2 * normal_font
    assert w.minimumSizeHint().width() <= 1600
    assert not w.compare.seed.isVisible() and not w.panel.unit.isVisible()
    assert w.compare.generate_button.isVisible() and w.compare.temperature.isVisible()
    row = next(iter(w.panel.rows.values()))
    assert row.slider.isVisible()
    texts, plot = w.splitters["center"].sizes()   # the texts get two thirds of the height
    assert texts >= 2 * plot - 2, (texts, plot)
    # F11 leaves wherever the focus went (after Esc stopped a run it had done nothing)
    assert w.menus.presentation.shortcutContext() == Qt.ApplicationShortcut
    box = row.slider._label      # the number beside the slider shows whole at 2x text
    assert box.width() >= box._get_size().width() > 0   # what its font needs now
    w.set_presentation(False)
    assert w.compare.seed.isVisible() and w.panel.unit.isVisible() and w.panel.name.isVisible()


def test_a_wide_sweep_beside_prompting_stays_inside_the_screen(window, qtbot):
    """Six columns (five strengths and the prompted one) with their costs: each costs line
    had kept its one-line width, and the window grew to 2175 px on a 1600 px screen."""
    from PySide6.QtCore import QEvent

    w = window
    w.c.add_feature(3)
    w.compare.max_tokens.setValue(4)
    w.compare.sweep.setChecked(True)
    w.compare.sweep_strengths.setText("0, 1, 2, 4, 8")
    w.compare.prompting.set(True, "Answer in German, please, and only in German")
    with qtbot.waitSignal(w.generation_finished, timeout=60000):
        w.generate()
    for _ in range(3):
        QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        QApplication.processEvents()
    cols = w.compare.visible_columns()
    assert len(cols) == 7 and all(c.costs.text() for c in cols)
    # a column's text wraps; nothing in its header holds it wider than a narrow column
    assert max(c.minimumSizeHint().width() for c in cols) <= 100, [
        (c.costs.text(), c.minimumSizeHint().width()) for c in cols]
    assert w.minimumSizeHint().width() <= 1600
