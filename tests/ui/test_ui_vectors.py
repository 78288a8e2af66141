"""Steering vector from examples in the app: the dialog builds on the worker, the vector is a
row of the panel with an 'x typical' slider, a run steers with it, presets keep it."""

import json

import pytest
import torch
from PySide6.QtCore import Qt

from steerdesk.engine.diffmean import build_vector, save_vector
from steerdesk.engine.generation import GenerationRequest, generate
from steerdesk.engine.presets import load_preset
from steerdesk.engine.steering import SteeringSpec, VectorSteer
from steerdesk.ui.vector_dialog import VectorDialog
from steerdesk.ui.vector_row import VectorRow

A = ["the cat sat on the mat", "a cat and a dog"]
B = ["numbers one two three", "seven eight"]
PROMPT = "the cat"


def _run(window, qtbot):
    with qtbot.waitSignal(window.generation_finished, timeout=60000) as blocker:
        qtbot.mouseClick(window.compare.generate_button, Qt.LeftButton)
    return blocker.args[0]


def _build_in_dialog(window, qtbot, name="cats"):
    dialog = VectorDialog(window.c, window)
    qtbot.addWidget(dialog)
    dialog.sets.a.edit.setPlainText("\n".join(A))
    dialog.sets.b.edit.setPlainText("\n".join(B))
    dialog.name.setText(name)
    with qtbot.waitSignal(window.c.panel.rows_changed, timeout=30000):
        qtbot.mouseClick(dialog.build_button, Qt.LeftButton)
    return dialog


def test_build_in_dialog_steer_save_and_reload(window, qtbot, ui_session, tmp_path):
    c = window.c
    dialog = _build_in_dialog(window, qtbot)
    want = build_vector(ui_session, A, B, name="cats")
    [row] = c.panel.rows
    assert row.is_vector and row.strength == 1.0
    assert torch.allclose(torch.tensor(row.vector.direction), torch.tensor(want.direction),
                          atol=1e-5)
    assert row.vector.typical == pytest.approx(want.typical, rel=1e-5)
    assert dialog.save_button.isEnabled()
    widget = window.panel.rows[row.uid]
    assert isinstance(widget, VectorRow)
    assert widget.unit.text() == "× typical" and "1.0 adds one typical" in widget.slider.toolTip()

    widget.slider.setValue(40.0)
    assert c.panel.rows[0].strength == 40.0
    window.compare.prompt.setPlainText(PROMPT)
    window.compare.max_tokens.setValue(8)
    record = _run(window, qtbot)
    assert record.rows[1].text != record.rows[0].text          # it steers
    # ...as the engine steers with that vector at that strength
    ref = generate(ui_session, GenerationRequest(
        PROMPT, [SteeringSpec(vectors=[VectorSteer(row.vector, 40.0)])], max_new_tokens=8))
    assert [t.token_id for t in record.rows[1].tokens][:3] == \
        [t.token_id for t in ref.rows[1].tokens][:3]
    assert "vector cats +40.00x typical" in record.row_settings[1]

    path = c.save_preset(tmp_path / "cats.json")
    saved = json.loads(path.read_text())
    assert saved["vectors"][0]["strength"] == 40.0 and saved["vectors"][0]["d_model"] == 32
    c.editor.clear()
    assert c.panel.rows == []
    assert window.load_preset(path)
    [back] = c.panel.rows
    assert back.vector == row.vector and back.strength == 40.0
    assert load_preset(path).to_spec().vectors[0].vector == row.vector


def test_vector_edits_are_undoable_and_the_unit_leaves_them(window, qtbot):
    c = window.c
    _build_in_dialog(window, qtbot)
    c.add_feature(4)
    uid = c.panel.rows[0].uid
    window.panel.rows[uid].slider.setValue(3.0)
    window.panel.rows[uid].enabled.setChecked(False)
    assert not c.panel.spec().vectors
    c.editor.set_unit("max" if c.panel.unit == "raw" else "raw")
    assert c.panel.rows[0].strength == 3.0      # x typical in either unit
    c.undo.undo()                              # the unit
    c.undo.undo()                              # the toggle
    assert c.panel.spec().vectors[0].strength == 3.0
    c.undo.undo()                              # the add of feature 4
    c.undo.undo()                              # the slide
    assert c.panel.rows[0].strength == 1.0
    c.undo.undo()                              # the vector's add
    assert c.panel.rows == []
    c.undo.redo()
    assert c.panel.rows[0].is_vector


def test_bad_inputs_show_one_line(window, qtbot, dialogs, tmp_path):
    dialog = VectorDialog(window.c, window)
    qtbot.addWidget(dialog)
    dialog.build()
    assert "has no texts" in dialog.status.text() and window.c.panel.rows == []
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "steerdesk-vector", "name": "x", "direction": [1, 2],
                               "typical": 1.0, "d_model": 2}))
    assert not dialog.load(str(bad))
    assert "d_model 2" in dialogs[-1][2] and "\n" not in dialogs[-1][2]
    preset = tmp_path / "p.json"
    preset.write_text(json.dumps({"name": "p", "unit": "raw", "features": [], "vectors": [
        {"name": "x", "direction": [1, 2], "typical": 1.0, "d_model": 2, "strength": 1}]}))
    assert not window.load_preset(preset)
    assert "d_model 2" in dialogs[-1][2] and window.c.panel.rows == []


def test_load_vector_file_adds_a_row(window, qtbot, ui_session, tmp_path):
    v = build_vector(ui_session, A, B, name="from file")
    dialog = VectorDialog(window.c, window)
    qtbot.addWidget(dialog)
    assert dialog.load(str(save_vector(v, tmp_path / "v.json")))
    assert window.c.panel.rows[0].vector == v


def test_the_last_session_keeps_vectors_and_drops_only_a_bad_one(config_dir, ui_session):
    from steerdesk.engine.presets import Preset, PresetFeature, PresetVector
    from steerdesk.ui.config import settings_path
    from steerdesk.ui.settings import LastSession, Settings, load_settings, save_settings

    v = build_vector(ui_session, A, B, name="cats")
    panel = Preset("p", "", "raw", [PresetFeature(2, 1.0)],
                   vectors=[PresetVector(v, 3.0), PresetVector(v, -1.0, enabled=False)])
    save_settings(Settings(last=LastSession(panel=panel)))
    assert load_settings().last.panel == panel
    data = json.loads(settings_path().read_text())
    data["last"]["panel"]["vectors"][1]["d_model"] = 7     # hand-damaged: that one goes
    settings_path().write_text(json.dumps(data))
    back = load_settings().last.panel
    assert back.vectors == [PresetVector(v, 3.0)] and back.features == panel.features


def test_the_menus_open_the_dialog(window, monkeypatch):
    opened = []
    monkeypatch.setattr(VectorDialog, "exec", lambda self: opened.append(self) or 0)
    tools = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Tools")
    next(a for a in tools.actions() if "vector" in a.text()).trigger()
    window.menus.fill_presets()
    next(a for a in window.menus.presets.actions() if "vector" in a.text()).trigger()
    assert len(opened) == 2 and opened[0].c is window.c
