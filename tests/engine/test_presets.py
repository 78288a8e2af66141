import json
import os
import stat

import pytest

from steerdesk.engine.errors import InputError
from steerdesk.engine.presets import (
    Preset,
    PresetFeature,
    find_preset,
    list_presets,
    load_preset,
    save_preset,
)


def _preset():
    return Preset("70% friendly", "warm, a bit shorter", "max",
                  [PresetFeature(12, 0.7, "add", "friendly"),
                   PresetFeature(40, 0.0, "ablate", "curt"),
                   PresetFeature(7, 2.5, "clamp", "off for now", enabled=False)])


def test_round_trip_and_spec(tmp_path):
    path = save_preset(_preset(), tmp_path / "friendly.json")
    back = load_preset(path)
    assert back == _preset()
    spec = back.to_spec()
    assert spec.unit == "max" and spec.name == "70% friendly"
    assert [(f.index, f.strength, f.mode) for f in spec.features] == [(12, 0.7, "add"),
                                                                       (40, 0.0, "ablate")]
    data = json.loads(path.read_text())
    assert set(data) >= {"name", "description", "unit", "features"}
    assert data["features"][0] == {"index": 12, "label": "friendly", "mode": "add",
                                   "strength": 0.7}


def test_saved_file_is_readable_by_others_and_replaces_atomically(tmp_path):
    old = os.umask(0o022)
    try:
        path = save_preset(_preset(), tmp_path / "p.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    save_preset(Preset("second"), path)
    assert load_preset(path).name == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]  # no temp file left behind


@pytest.mark.parametrize("data, message", [
    ([], "a preset is a JSON object"),
    ({"unit": "max", "features": []}, "'name' is missing"),
    ({"name": "x", "unit": "percent", "features": []}, "'unit' is 'percent'"),
    ({"name": "x", "features": {}}, "'features' must be a list"),
    ({"name": "x", "features": [{"index": -1}]}, r"features\[0\].index"),
    ({"name": "x", "features": [{"index": 1, "mode": "boost"}]}, r"features\[0\].mode"),
    ({"name": "x", "features": [{"index": 1, "strength": "high"}]}, r"features\[0\].strength"),
])
def test_bad_presets_name_the_file_and_the_field(tmp_path, data, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=message) as err:
        load_preset(path)
    assert str(path) in str(err.value)


def test_not_json(tmp_path):
    (tmp_path / "x.json").write_text("{oops")
    with pytest.raises(InputError, match="not valid JSON"):
        load_preset(tmp_path / "x.json")


def test_find_by_name_skips_broken_files(tmp_path):
    save_preset(Preset("speak German"), tmp_path / "a.json")
    (tmp_path / "b.json").write_text("{broken")
    assert [p.name for p, _ in list_presets(tmp_path)] == ["speak German"]
    assert find_preset("SPEAK german", tmp_path).name == "speak German"
    with pytest.raises(InputError, match="it has 'speak German'"):
        find_preset("speak Klingon", tmp_path)


def test_prompt_equivalent_round_trips_and_old_presets_still_load(tmp_path):
    p = _preset()
    p.prompt_equivalent = "Answer in German:"
    path = save_preset(p, tmp_path / "de.json")
    assert json.loads(path.read_text())["prompt_equivalent"] == "Answer in German:"
    assert load_preset(path) == p
    old = {"name": "old", "unit": "raw", "features": [{"index": 3, "strength": 1.0}]}
    (tmp_path / "old.json").write_text(json.dumps(old))
    back = load_preset(tmp_path / "old.json")
    assert back.prompt_equivalent == "" and back.features[0].index == 3
    assert "prompt_equivalent" not in back.to_json()   # saved again, the file keeps its keys


def test_a_prompt_equivalent_that_is_not_text_names_the_field(tmp_path):
    bad = {"name": "x", "features": [], "prompt_equivalent": 3}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match="bad.json: field 'prompt_equivalent' must be a text"):
        load_preset(tmp_path / "bad.json")
