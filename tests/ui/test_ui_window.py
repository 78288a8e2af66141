"""Window-level things: pack presets in the menu, presentation mode, About."""

import json

from tiny import make_sae

from steerdesk.ui.controller import OpenRequest


def test_pack_presets_listed_in_menu(make_window, qtbot, tmp_path, ui_model_dir):
    sae = make_sae(tmp_path / "pack" / "sae", d_in=32, d_sae=64, hook="blocks.0.hook_resid_post")
    presets = tmp_path / "pack" / "presets"
    presets.mkdir()
    (presets / "calm.json").write_text(json.dumps(
        {"name": "calm down", "unit": "raw", "description": "less shouting",
         "features": [{"index": 4, "strength": 2.5, "label": "shouting"}]}))
    w = make_window()
    with qtbot.waitSignal(w.session_ready, timeout=30000):
        w.open_pair(OpenRequest(str(ui_model_dir), str(sae)))
    w._fill_presets_menu()
    actions = {a.text(): a for a in w.presets_menu.actions()}
    assert "calm down" in actions
    actions["calm down"].trigger()
    assert [(r.index, r.strength, r.label) for r in w.c.panel.rows] == [(4, 2.5, "shouting")]
    assert w.panel.name.text() == "calm down"


def test_presentation_mode_toggles(window, qtbot):
    from PySide6.QtWidgets import QApplication

    size = QApplication.font().pointSizeF()
    window.presentation_action.trigger()
    assert window.presentation_action.isChecked()
    assert QApplication.font().pointSizeF() > size * 1.3
    assert not window.main_split.widget(0).isVisible()      # the feature list is hidden
    window.presentation_action.trigger()
    assert QApplication.font().pointSizeF() == size
    assert window.main_split.widget(0).isVisible()
    assert window.settings["presentation"] is False


def test_about_names_versions(window):
    import torch

    from steerdesk.ui.about import about_text

    text = about_text(window.c.session)
    assert torch.__version__ in text and "cpu" in text
