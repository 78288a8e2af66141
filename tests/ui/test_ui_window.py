"""Window-level things: pack presets in the menu, presentation mode, About."""

import json

from steerdesk.engine.session_spec import SessionSpec
from steerdesk.testing.tiny import make_sae


def test_pack_presets_listed_in_menu(make_window, qtbot, tmp_path, ui_model_dir):
    sae = make_sae(tmp_path / "pack" / "sae", d_in=32, d_sae=64, hook="blocks.0.hook_resid_post")
    presets = tmp_path / "pack" / "presets"
    presets.mkdir()
    (presets / "calm.json").write_text(json.dumps(
        {"name": "calm down", "unit": "raw", "description": "less shouting",
         "features": [{"index": 4, "strength": 2.5, "label": "shouting"}]}))
    w = make_window()
    with qtbot.waitSignal(w.session_ready, timeout=30000):
        w.open_pair(SessionSpec(str(ui_model_dir), str(sae)))
    w.menus.fill_presets()
    actions = {a.text(): a for a in w.menus.presets.actions()}
    assert "calm down" in actions
    actions["calm down"].trigger()
    assert [(r.index, r.strength, r.label) for r in w.c.panel.rows] == [(4, 2.5, "shouting")]
    assert w.panel.name.text() == "calm down"


def test_presentation_mode_toggles(window, qtbot):
    from PySide6.QtWidgets import QApplication

    size = QApplication.font().pointSizeF()
    window.menus.presentation.trigger()
    assert window.menus.presentation.isChecked()
    assert QApplication.font().pointSizeF() > size * 1.3
    assert not window.main_split.widget(0).isVisible()      # the feature list is hidden
    window.menus.presentation.trigger()
    assert QApplication.font().pointSizeF() == size
    assert window.main_split.widget(0).isVisible()
    assert window.settings.presentation is False


def test_about_names_versions(window):
    import torch

    from steerdesk.ui.about import about_text

    text = about_text(window.c.session)
    assert torch.__version__ in text and "cpu" in text


def test_open_dialog_recent_pairs_and_fields(qtbot):
    from PySide6.QtWidgets import QDialogButtonBox

    from steerdesk.ui.open_dialog import OpenDialog

    recent = [SessionSpec("/m/one", "/s/one", None, "cpu", "float32")]
    d = OpenDialog(recent, ["gpt2"], None)
    qtbot.addWidget(d)
    ok = d.buttons.button(QDialogButtonBox.Open)
    assert not ok.isEnabled()                        # nothing chosen yet
    d.recent.setCurrentRow(0)
    r = d.spec()
    assert (r.model, r.sae, r.device, r.dtype) == ("/m/one", "/s/one", "cpu", "float32")
    assert ok.isEnabled()
    d.model.setCurrentText("gpt2")
    d.hook.setText("blocks.3.hook_resid_post")
    assert d.spec().model == "gpt2" and d.spec().hook == "blocks.3.hook_resid_post"


def test_export_menu_actions(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window.panel.add_feature(2)
    window.compare.max_tokens.setValue(4)
    with qtbot.waitSignal(window.generation_finished, timeout=20000):
        window.generate()
    for name in ("c.html", "c.png"):
        monkeypatch.setattr(QFileDialog, "getSaveFileName",
                            staticmethod(lambda *a, n=name, **k: (str(tmp_path / n), "")))
        (window.menus.export_html if name.endswith("html") else window.menus.export_png)()
        assert (tmp_path / name).stat().st_size > 0
    assert "no steering" in (tmp_path / "c.html").read_text()


def test_presentation_mode_twice_puts_everything_back(window, qtbot):
    """Entering and leaving twice leaves the window as it was: its size (2x text must not leave
    it wider than before), its panes and splitters, the menu bar, the font and the style."""
    from PySide6.QtWidgets import QApplication, QSplitter

    app = QApplication.instance()

    def looks():
        return (window.size().toTuple(), window.menuBar().isVisible(),
                [window.main_split.widget(n).isVisible() for n in range(window.main_split.count())],
                [tuple(s.sizes()) for s in window.findChildren(QSplitter)],
                app.font().pointSizeF(), app.styleSheet())

    qtbot.waitExposed(window)
    start = looks()
    for _ in range(2):
        window.set_presentation(True)
        qtbot.wait(50)
        assert not window.menuBar().isVisible()
        assert app.font().pointSizeF() >= 2 * start[4]          # at least twice the size
        window.set_presentation(False)
        qtbot.wait(50)
        assert looks() == start
