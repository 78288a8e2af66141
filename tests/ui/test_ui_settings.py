"""Settings: a round trip, and a damaged file losing only its damaged parts. No Qt."""

import json

import pytest

from steerdesk.engine.presets import Preset, PresetFeature
from steerdesk.engine.session_spec import SessionSpec
from steerdesk.ui.run_setup import Sampling
from steerdesk.ui.settings import (
    MAX_RECENT,
    LastSession,
    Settings,
    load_settings,
    save_settings,
)

GOOD = {
    "zoom": 1.3225,
    "presentation": True,
    "geometry": "AdnQywADAAA=",
    "recent": [{"model": "/m/a", "sae": "/s/a", "hook": None, "device": "cpu",
                "dtype": "float32"},
               {"model": "/m/b", "sae": "/s/b", "hook": "layers.3", "device": "auto",
                "dtype": "auto"}],
    "last": {"prompt": "hello", "sampling": {"max_new_tokens": 17, "temperature": 0.7,
                                             "top_p": 0.9, "seed": 1234, "chat": True,
                                             "prompted": True,
                                             "instruction": "Answer in German"},
             "panel": {"name": "calm", "unit": "raw", "features": [
                 {"index": 4, "strength": 2.5, "mode": "clamp", "label": "shouting"}]},
             "pair": {"model": "/m/a", "sae": "/s/a"}},
}


def test_good_settings_read_in_full_and_round_trip(config_dir):
    s = Settings.from_json(GOOD)
    assert (s.zoom, s.presentation, s.geometry) == (1.3225, True, "AdnQywADAAA=")
    assert [(r.model, r.sae, r.hook, r.device) for r in s.recent] == \
        [("/m/a", "/s/a", None, "cpu"), ("/m/b", "/s/b", "layers.3", "auto")]
    assert s.last.prompt == "hello"
    assert s.last.sampling == Sampling(17, 0.7, 0.9, 1234, True, True, "Answer in German")
    assert [(f.index, f.strength, f.mode) for f in s.last.panel.features] == [(4, 2.5, "clamp")]
    assert (s.last.pair.model, s.last.pair.sae) == ("/m/a", "/s/a")
    save_settings(s)
    again = load_settings()
    assert again == s
    assert json.loads((config_dir / "settings.json").read_text())["last"]["pair"]["model"] \
        == "/m/a"


def damaged(path, value):
    """GOOD with the value at `path` (a tuple of keys) replaced."""
    data = json.loads(json.dumps(GOOD))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize("path,value", [
    (("zoom",), "big"), (("zoom",), 50.0), (("zoom",), float("nan")), (("zoom",), True),
    (("presentation",), "yes"), (("geometry",), 42), (("geometry",), "not base64 !"),
    (("recent",), "none"), (("last",), []), (("last", "prompt"), 7),
    (("last", "sampling"), "fast"), (("last", "panel"), {"unit": 5}),
    (("last", "pair"), {"model": "/m/a"}), (("last", "pair"), ["/m/a", "/s/a"]),
])
def test_a_bad_part_is_dropped_and_the_rest_kept(path, value):
    good, bad = Settings.from_json(GOOD), Settings.from_json(damaged(path, value))
    default = Settings()
    names = ("zoom", "presentation", "geometry", "recent")
    top = path[0]
    for name in names:
        expected = getattr(default if name == top else good, name)
        assert getattr(bad, name) == expected, name
    for name in ("prompt", "sampling", "panel", "pair"):
        broken = top == "last" and (len(path) == 1 or path[1] == name)
        expected = getattr(LastSession() if broken else good.last, name)
        assert getattr(bad.last, name) == expected, name


def test_bad_sampling_fields_are_defaulted_one_by_one():
    s = Settings.from_json(damaged(("last", "sampling"), {
        "max_new_tokens": 0, "temperature": 0.4, "top_p": 0.0, "seed": -1, "chat": 1,
        "prompted": "yes", "instruction": 7}))
    assert s.last.sampling == Sampling(max_new_tokens=64, temperature=0.4, top_p=1.0,
                                       seed=Sampling().seed, chat=False, prompted=False,
                                       instruction="")


def test_bad_recent_pairs_and_panel_features_are_dropped_one_by_one():
    recent = [{"model": "/m/ok", "sae": "/s/ok"}, {"model": 3, "sae": "/s/x"}, "junk",
              {"sae": "/s/y"}] + [{"model": f"/m/{n}", "sae": "/s"} for n in range(20)]
    panel = {"name": "", "unit": "inches", "features": [
        {"index": 4, "strength": 2.5}, {"index": -1, "strength": 1}, "junk",
        {"index": 6, "strength": "strong"}, {"index": 7, "mode": "ablate"}]}
    s = Settings.from_json({"recent": recent, "last": {"panel": panel}})
    assert [r.model for r in s.recent][:2] == ["/m/ok", "/m/0"]
    assert len(s.recent) == MAX_RECENT
    assert [(f.index, f.mode) for f in s.last.panel.features] == [(4, "add"), (7, "ablate")]
    assert s.last.panel.name == "my steering" and s.last.panel.unit == "max"


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "null", '"settings"', ""])
def test_an_unreadable_file_reads_as_defaults(config_dir, text):
    config_dir.mkdir(parents=True)
    (config_dir / "settings.json").write_text(text)
    s = load_settings()
    assert s.problems and "\n" not in " ".join(s.problems)       # said, in one line
    s.problems, s.unreadable = [], False
    assert s == Settings()


def test_unknown_keys_are_kept_and_consents_never_remembered(config_dir):
    s = Settings.from_json({**GOOD, "from_a_newer_version": {"x": 1}})
    s.remember(SessionSpec("/m/new", "/s/new", allow_pickle=True, trust_remote_code=True))
    assert not s.recent[0].allow_pickle and not s.recent[0].trust_remote_code  # in memory too
    s.remember(SessionSpec("/m/b", "/s/b", device="cpu"))
    s.last.pair = SessionSpec("/m/new", "/s/new", allow_pickle=True)
    save_settings(s)
    data = json.loads((config_dir / "settings.json").read_text())
    assert data["from_a_newer_version"] == {"x": 1}
    assert [(p["model"], p["device"]) for p in data["recent"]] == \
        [("/m/b", "cpu"), ("/m/new", "auto"), ("/m/a", "cpu")]
    text = json.dumps(data)
    assert "allow_pickle" not in text and "trust_remote_code" not in text
    assert not load_settings().recent[1].allow_pickle


def test_the_panel_round_trips_through_a_file(config_dir):
    s = Settings(last=LastSession(panel=Preset("p", "", "max", [
        PresetFeature(2, -3.5, "add", "x", enabled=False)])))
    save_settings(s)
    assert load_settings().last.panel == s.last.panel
