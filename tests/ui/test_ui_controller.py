"""The controller without a window: loads and runs that fail, runs that are stopped or
replaced, 'what lights up' failing or replaced, and which features are watched and tint."""

import threading

import pytest

from steerdesk.engine.errors import InputError
from steerdesk.engine.generation import GenerationRequest, generate
from steerdesk.engine.session_spec import SessionSpec
from steerdesk.engine.steering import FeatureSteer, SteeringSpec
from steerdesk.ui.controller import Controller
from steerdesk.ui.panel_state import PanelRow
from steerdesk.ui.run_setup import Sampling

WAIT_MS = 20000
PROMPT = "the quick brown"


@pytest.fixture
def controller(qapp, qtbot, ui_session, ui_model_dir, ui_sae_dir):
    c = Controller()
    with qtbot.waitSignal(c.session_opened, timeout=WAIT_MS):
        c.adopt(ui_session, SessionSpec(str(ui_model_dir), str(ui_sae_dir)))
    yield c
    c.shutdown()


def record_signals(c: Controller) -> dict[str, list]:
    seen = {name: [] for name in ("run_finished", "run_failed", "lights_up_done",
                                  "lights_up_failed", "load_failed", "session_opened")}
    for name, calls in seen.items():
        getattr(c, name).connect(lambda *a, calls=calls: calls.append(a))
    return seen


def hold_the_worker(c: Controller):
    """Occupy the model thread until the returned event is set: later tasks queue up."""
    started, release = threading.Event(), threading.Event()
    c.worker.submit(lambda task: (started.set(), release.wait(WAIT_MS / 1000)))
    assert started.wait(WAIT_MS / 1000)
    return release


def test_a_load_failure_surfaces_and_keeps_the_open_session(controller, qtbot, tmp_path,
                                                            ui_sae_dir, ui_session):
    seen = record_signals(controller)
    bad = SessionSpec(str(tmp_path / "no-such-model"), str(ui_sae_dir))
    with qtbot.waitSignal(controller.load_failed, timeout=WAIT_MS) as failed:
        controller.open(bad)
    exc, spec = failed.args
    assert isinstance(exc, InputError) and "no-such-model" in str(exc)
    assert spec is bad
    assert controller.session is ui_session and not controller.is_loading()
    assert seen["session_opened"] == []


def test_a_real_load_reports_progress(qapp, qtbot, ui_model_dir, ui_sae_dir):
    c = Controller()
    progress = []
    c.load_progress.connect(lambda f, m: progress.append((f, m)))
    try:
        with qtbot.waitSignal(c.session_opened, timeout=WAIT_MS) as opened:
            c.open(SessionSpec(str(ui_model_dir), str(ui_sae_dir)))
            assert c.is_loading()
        assert opened.args[0] is c.session and c.features.d_sae == 64
        assert progress and all(0.0 <= f <= 1.0 and isinstance(m, str) for f, m in progress)
        assert not c.is_loading()
    finally:
        c.shutdown()


@pytest.mark.parametrize("break_it", ["max unit without a catalog", "negative temperature"])
def test_a_run_failure_surfaces_as_run_failed(controller, qtbot, break_it):
    seen = record_signals(controller)
    controller.panel.insert(-1, PanelRow(3, 2.0))
    sampling = Sampling(max_new_tokens=4)
    if break_it == "max unit without a catalog":
        controller.panel.set_unit("max")
    else:
        sampling.temperature = -1.0
    with qtbot.waitSignal(controller.run_failed, timeout=WAIT_MS) as failed:
        controller.generate(PROMPT, sampling)
    assert isinstance(failed.args[0], InputError)
    assert not controller.is_generating()
    assert seen["run_finished"] == []


def test_a_stopped_run_stops_and_reports_cancelled(controller, qtbot):
    controller.panel.insert(-1, PanelRow(3, 20.0))
    controller.panel.set_unit("raw")
    record = controller.generate(PROMPT, Sampling(max_new_tokens=4000))
    assert controller.is_generating()
    qtbot.waitUntil(lambda: len(record.rows[1].tokens) >= 2, timeout=WAIT_MS)
    with qtbot.waitSignal(controller.run_finished, timeout=WAIT_MS) as finished:
        controller.stop()
    assert finished.args[0] is record
    assert record.done.reason == "cancelled" and record.done.steps < 4000
    assert len(record.rows[0].tokens) == record.done.steps
    assert not controller.is_generating()


def test_a_run_stopped_while_queued_still_finishes(controller, qtbot):
    release = hold_the_worker(controller)
    record = controller.generate(PROMPT, Sampling(max_new_tokens=4000))
    controller.stop()
    with qtbot.waitSignal(controller.run_finished, timeout=WAIT_MS) as finished:
        release.set()
    assert finished.args[0] is record and record.done.reason == "cancelled"
    assert record.done.steps == 0 and not controller.is_generating()


def test_a_replaced_run_reports_nothing_more(controller, qtbot):
    seen = record_signals(controller)
    first = controller.generate(PROMPT, Sampling(max_new_tokens=4000))
    qtbot.waitUntil(lambda: len(first.rows[0].tokens) >= 2, timeout=WAIT_MS)
    second = controller.generate(PROMPT, Sampling(max_new_tokens=5))
    frozen = first.version
    with qtbot.waitSignal(controller.run_finished, timeout=WAIT_MS) as finished:
        pass
    assert finished.args[0] is second and second.done.reason in ("length", "eos")
    # Whatever the first run still sent after it was replaced was dropped.
    assert first.version == frozen and first.done is None
    assert [a[0] for a in seen["run_finished"]] == [second]


def test_lights_up_failure_surfaces(controller, qtbot):
    with qtbot.waitSignal(controller.lights_up_failed, timeout=WAIT_MS) as failed:
        controller.lights_up("   ")
    assert isinstance(failed.args[0], InputError) and "select or paste" in str(failed.args[0])


def test_only_the_latest_lights_up_reports(controller, qtbot):
    seen = record_signals(controller)
    release = hold_the_worker(controller)
    controller.lights_up("hello there")
    controller.lights_up("the weather today")
    with qtbot.waitSignal(controller.lights_up_done, timeout=WAIT_MS) as done:
        release.set()
    text, found = done.args
    assert text == "the weather today" and found
    assert all(isinstance(i, int) and v > 0 for i, v in found)
    last = controller.worker.submit(lambda task: None)   # after it: the first would be done
    with qtbot.waitSignal(last.done, timeout=WAIT_MS):
        pass
    assert [a[0] for a in seen["lights_up_done"]] == ["the weather today"]


def test_a_run_and_lights_up_do_not_replace_each_other(controller, qtbot):
    release = hold_the_worker(controller)
    record = controller.generate(PROMPT, Sampling(max_new_tokens=4))
    controller.lights_up("hello there")
    with qtbot.waitSignals([controller.run_finished, controller.lights_up_done],
                           timeout=WAIT_MS):
        release.set()
    assert record.done.reason in ("length", "eos")


def test_only_steered_features_are_watched_and_they_tint(controller, qtbot, ui_session):
    c = controller
    c.panel.set_unit("raw")
    c.panel.insert(-1, PanelRow(3, 20.0))
    c.panel.insert(-1, PanelRow(5, 10.0))
    c.set_focus(7)                           # pointed at, not steered: no line, no tint
    assert c.watch_list() == [3, 5]
    with qtbot.waitSignal(c.run_finished, timeout=WAIT_MS) as finished:
        c.generate(PROMPT, Sampling(max_new_tokens=6))
    record = finished.args[0]
    assert record.watch == [3, 5]
    assert c.tint_features() == [3, 5]       # by default every steered feature tints
    spec = SteeringSpec([FeatureSteer(3, 20.0, "add"), FeatureSteer(5, 10.0, "add")],
                        unit="raw")
    ref = generate(ui_session, GenerationRequest(PROMPT, variants=[spec], max_new_tokens=6,
                                                 watch=[3, 5], top_k_features=8))
    for r in (0, 1):
        toks = [t for t in ref.rows[r].tokens if not t.finished]
        assert record.activation_series(r, 5) == pytest.approx(
            [t.activations[1] for t in toks], rel=1e-4, abs=1e-5)

    c.set_focus(5)                           # picked in the panel: that one alone
    assert c.tint_features() == [5]
    c.set_focus(-1)
    assert c.tint_features() == [3, 5]


def test_presets_resolve_by_file_and_are_checked(controller, tmp_path):
    from steerdesk.engine.presets import Preset, PresetFeature, save_preset

    good = save_preset(Preset("ok", "", "raw", [PresetFeature(5, 1.0)]), tmp_path / "ok.json")
    controller.load_preset(good)
    assert [(r.index, r.strength) for r in controller.panel.rows] == [(5, 1.0)]
    too_big = save_preset(Preset("big", "", "raw", [PresetFeature(64, 1.0)]),
                          tmp_path / "big.json")
    with pytest.raises(InputError, match="feature 64 does not exist"):
        controller.load_preset(too_big)
    needs_catalog = save_preset(Preset("mx", "", "max", [PresetFeature(1, 1.0)]),
                                tmp_path / "mx.json")
    with pytest.raises(InputError, match="catalog"):
        controller.load_preset(needs_catalog)
    with pytest.raises(InputError, match="not a preset of this pack"):
        controller.load_preset("no such preset")
    assert [(r.index, r.strength) for r in controller.panel.rows] == [(5, 1.0)]


def test_the_features_a_rule_steers_are_watched_after_the_rows(controller):
    """A panel of rules alone plots and tints what they steer (not nothing); a stop rule and
    a condition's feature add no line."""
    from steerdesk.engine.rules import parse_rule

    c = controller
    c.panel.set_unit("raw")
    c.panel.insert(-1, PanelRow(3, 20.0))
    c.panel.set_rules([parse_rule("when 9>1 then 5=4,3=2 for 2"),
                       parse_rule("when 11>0 then stop"), parse_rule("when 12>1 then 8=ablate")])
    assert c.watch_list() == [3, 5, 8]
    c.panel.remove(c.panel.rows[0].uid)
    assert c.watch_list() == [5, 3, 8]
