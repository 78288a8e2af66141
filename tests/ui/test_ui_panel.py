"""The steering panel: undo/redo, presets, and the settings restored on the next start."""

import json

import pytest

from steerdesk.engine.presets import load_preset


def test_undo_redo_add_slide_mode_remove(window):
    c = window.c
    window.panel.add_feature(4)
    window.panel.add_feature(9)
    uid = c.panel.rows[0].uid
    row = window.panel.rows[uid]
    for v in (10.0, 20.0, 30.0):       # one drag: merges into one undo step
        row.slider.setValue(v)
    row.mode.setCurrentText("clamp")
    row.enabled.setChecked(False)
    window.panel.rows[c.panel.rows[1].uid].remove.click()
    assert c.panel.indices() == [4]
    assert (c.panel.rows[0].strength, c.panel.rows[0].mode, c.panel.rows[0].enabled) == \
        (30.0, "clamp", False)

    c.undo.undo()                       # the remove
    assert c.panel.indices() == [4, 9]
    c.undo.undo()                       # the toggle
    c.undo.undo()                       # the mode
    assert (c.panel.rows[0].mode, c.panel.rows[0].enabled) == ("add", True)
    c.undo.undo()                       # the whole drag
    assert c.panel.rows[0].strength == 8.0
    c.undo.redo()
    row.drag_finished.emit()            # released: the next drag is a step of its own
    row.slider.setValue(40.0)
    c.undo.undo()
    assert c.panel.rows[0].strength == 30.0
    c.undo.undo()
    assert c.panel.rows[0].strength == 8.0
    # The widgets show the state after undo.
    assert window.panel.rows[uid].slider.value() == pytest.approx(8.0)
    c.undo.redo()
    assert c.panel.rows[0].strength == 30.0
    assert window.panel.rows[uid].slider.value() == pytest.approx(30.0)
    for _ in range(10):
        c.undo.undo()
    assert c.panel.rows == []
    assert window.panel.empty.isVisibleTo(window.panel)


def test_preset_round_trip(window, tmp_path):
    c = window.c
    window.panel.add_feature(2)
    window.panel.add_feature(11)
    c.editor.set(c.panel.rows[0].uid, "strength", -3.5)
    c.editor.set(c.panel.rows[1].uid, "mode", "ablate")
    c.editor.set(c.panel.rows[1].uid, "enabled", False)
    c.panel.set_name("calm")
    path = window.c.save_preset(tmp_path / "calm.json")
    saved = json.loads(path.read_text())
    assert saved["name"] == "calm" and saved["unit"] == "raw"
    assert [f["index"] for f in saved["features"]] == [2, 11]

    c.editor.clear()
    assert c.panel.rows == []
    assert window.load_preset(path)
    assert [(r.index, r.strength, r.mode, r.enabled) for r in c.panel.rows] == \
        [(2, -3.5, "add", True), (11, 8.0, "ablate", False)]
    assert window.panel.name.text() == "calm"
    assert load_preset(path).to_spec().features[0].strength == -3.5
    c.undo.undo()                       # loading a preset is one undo step
    assert c.panel.rows == []


def test_bad_preset_shows_a_dialog(window, tmp_path, dialogs):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "unit": "raw",
                               "features": [{"index": 999, "strength": 1}]}))
    assert not window.load_preset(bad)
    assert dialogs and "999" in dialogs[-1][2]
    assert window.c.panel.rows == []


def test_settings_restored_on_next_start(make_window, window, qtbot, config_dir,
                                         ui_model_dir, ui_sae_dir):
    window.compare.prompt.setPlainText("hello there")
    window.compare.max_tokens.setValue(17)
    window.compare.temperature.setValue(0.7)
    window.compare.seed.setValue(1234)
    window.panel.add_feature(6)
    window.close()
    assert (config_dir / "settings.json").is_file()

    again = make_window()
    assert again.compare.prompt.toPlainText() == "hello there"
    assert again.compare.max_tokens.value() == 17
    assert again.compare.temperature.value() == pytest.approx(0.7)
    assert again.compare.seed.value() == 1234
    assert again.c.panel.indices() == [6]
    pair = again.last_pair()
    assert pair.model == str(ui_model_dir) and pair.sae == str(ui_sae_dir)
    assert again.settings.recent[0].sae == str(ui_sae_dir)


def test_damaged_settings_file_is_ignored(make_window, config_dir):
    config_dir.mkdir(parents=True)
    (config_dir / "settings.json").write_text("{not json")
    w = make_window()
    assert w.c.panel.rows == []
