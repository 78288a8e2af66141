"""Exports that stand alone (issue 12 point 7): the HTML holds every column's highlighted text,
its settings, the sampling and the plot; the PNG is the whole comparison at a slide's width,
with equal columns."""

import base64
import re

from PySide6.QtGui import QImage

from steerdesk.ui import export


def _run(window, qtbot):
    window.c.add_feature(7)
    window.c.editor.set(window.c.panel.rows[0].uid, "strength", 40.0)
    window.compare.max_tokens.setValue(12)
    window.compare.temperature.setValue(0.8)
    window.compare.seed.setValue(5)
    with qtbot.waitSignal(window.generation_finished, timeout=20000) as blocker:
        window.generate()
    window.redraw()
    return blocker.args[0]


def test_html_holds_texts_highlights_settings_sampling_and_plot(window, qtbot):
    record = _run(window, qtbot)
    text = window.comparison_html()
    comp = window.comparison()
    for r, row in enumerate(record.rows):
        assert row.settings in text and row.name in text
        # each token where the tint is on is one highlighted span, in order
        lit = [t.text for n, t in enumerate(row.tokens) if comp.tint_of(r, n) > 0.05]
        cell = text.split("<td")[r + 1]
        spans = re.findall(r"<span style='background-color:[^']+'>(.*?)</span>", cell)
        import html as h
        assert [h.unescape(s) for s in spans] == lit
    assert any(comp.tint_of(1, n) > 0.05 for n in range(len(record.rows[1].tokens)))
    assert "temperature 0.8, seed 5, up to 12 new tokens, completion mode" in text
    png = re.search(r"src='data:image/png;base64,([^']+)'", text)
    assert png and QImage.fromData(base64.b64decode(png.group(1)), "PNG").width() > 100
    assert text.count("width='50%'") == 2            # equal columns


def test_png_is_the_whole_comparison(window, qtbot, tmp_path):
    _run(window, qtbot)
    image = window.comparison_image()
    assert image.width() == export.PNG_WIDTH
    plot = QImage.fromData(window.comparison().plot_png, "PNG")
    assert image.height() > plot.height() + 200       # headers and texts above the plot
    assert export.save_png(image, tmp_path / "c.png")
    again = QImage(str(tmp_path / "c.png"))
    assert (again.width(), again.height()) == (image.width(), image.height())
