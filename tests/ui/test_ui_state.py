"""The app's plain-Python state, without Qt: the steering panel, a run's record, the variants
a run is built from, and the words the app uses for them."""

import math
import subprocess
import sys

import pytest

from steerdesk.engine.generation import DoneEvent, PromptEvent, RowToken, StepEvent
from steerdesk.engine.presets import Preset, PresetFeature
from steerdesk.ui import wording
from steerdesk.ui.panel_state import PanelRow, PanelState
from steerdesk.ui.run_record import RunRecord
from steerdesk.ui.run_setup import Sweep, build_variants

QT_FREE = ("panel_state", "run_record", "run_setup", "settings", "wording", "preset_library",
           "feature_source")


def test_state_modules_import_no_qt():
    code = ("import sys\n" + "".join(f"import steerdesk.ui.{m}\n" for m in QT_FREE)
            + "print([m for m in sys.modules if m.split('.')[0] in "
              "('PySide6', 'shiboken6', 'pyqtgraph', 'superqt')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


# -- PanelState ---------------------------------------------------------------------------
def recorder(state: PanelState) -> list:
    seen = []
    state.rows_changed.connect(lambda: seen.append("rows"))
    state.row_changed.connect(lambda uid: seen.append(("row", uid)))
    state.unit_changed.connect(lambda unit: seen.append(("unit", unit)))
    state.name_changed.connect(lambda name: seen.append(("name", name)))
    return seen


def test_panel_edits_notify_and_build_the_spec():
    state = PanelState()
    seen = recorder(state)
    a, b, c = PanelRow(4, 2.5, "add", "German"), PanelRow(9, 3.0, "clamp"), PanelRow(4, 1.0)
    state.insert(-1, a)
    state.insert(-1, b)
    state.insert(0, c)                       # a second row of feature 4, first
    assert [r.uid for r in state.rows] == [c.uid, a.uid, b.uid]
    assert state.indices() == [4, 9]         # each feature once, in panel order
    state.update(b.uid, enabled=False)
    state.update(a.uid, strength=-1.5)
    state.set_unit("raw")
    state.set_unit("raw")                    # no change, no notice
    assert seen == ["rows", "rows", "rows", ("row", b.uid), ("row", a.uid), ("unit", "raw")]

    spec = state.spec()
    assert spec.unit == "raw" and spec.name == "my steering"
    assert [(f.index, f.strength, f.mode, f.label) for f in spec.features] == \
        [(4, 1.0, "add", ""), (4, -1.5, "add", "German")]        # the disabled row is left out
    assert state.mode_of(9) == "clamp" and state.mode_of(4) == "add"
    assert state.mode_of(77, "none") == "none"

    assert state.remove(c.uid) == (0, c)
    assert state.remove(c.uid) is None       # already gone
    state.update(c.uid, strength=5.0)        # a row that is gone: nothing happens
    assert seen[-1] == "rows"


def test_panel_snapshot_restore_and_presets_round_trip():
    state = PanelState()
    state.apply_preset(Preset("calm", "less shouting", "raw",
                              [PresetFeature(3, 2.0, "add", "shouting"),
                               PresetFeature(8, 0.0, "ablate", "", enabled=False)]))
    assert (state.name, state.unit, state.description) == ("calm", "raw", "less shouting")
    snap = state.snapshot()
    state.update(state.rows[0].uid, strength=7.0)
    assert snap[0][0].strength == 2.0        # the snapshot holds copies
    state.restore(snap)
    assert state.rows[0].strength == 2.0
    preset = state.to_preset()
    assert preset.to_json()["features"] == [
        {"index": 3, "label": "shouting", "mode": "add", "strength": 2.0},
        {"index": 8, "label": "", "mode": "ablate", "strength": 0.0, "enabled": False}]


def test_fill_labels_fills_only_missing_labels():
    state = PanelState()
    state.insert(-1, PanelRow(1, label="mine"))
    state.insert(-1, PanelRow(2))
    state.insert(-1, PanelRow(3))
    seen = recorder(state)
    state.fill_labels({1: "catalog one", 2: "catalog two"}.get)
    assert [r.label for r in state.rows] == ["mine", "catalog two", ""]
    assert seen == ["rows"]


# -- variants -----------------------------------------------------------------------------
def panel_with(*rows: PanelRow, unit: str = "max") -> PanelState:
    state = PanelState()
    for r in rows:
        state.insert(-1, r)
    state.set_unit(unit)
    return state


def test_variants_without_a_sweep_are_the_panel():
    state = panel_with(PanelRow(5, 1.5, "clamp", "rain"), PanelRow(6, 2.0, enabled=False))
    state.set_name("wet")
    specs, titles = build_variants(state, None, lambda i: None)
    assert titles == ["wet"]
    assert len(specs) == 1 and specs[0].unit == "max"
    assert [(f.index, f.strength, f.mode) for f in specs[0].features] == [(5, 1.5, "clamp")]


@pytest.mark.parametrize("unit,suffix", [("max", "x max"), ("raw", " raw")])
def test_sweep_variants_vary_one_feature(unit, suffix):
    state = panel_with(PanelRow(5, 1.5, "clamp"), PanelRow(7, 9.0, "add", "keep me"), unit=unit)
    labels = {5: "rain"}
    specs, titles = build_variants(state, Sweep(5, [0.0, 2.0, -4.5]), labels.get)
    assert titles == [f"+0{suffix}", f"+2{suffix}", f"-4.5{suffix}"]
    assert [s.name for s in specs] == [f"rain +0{suffix}", f"rain +2{suffix}",
                                       f"rain -4.5{suffix}"]
    for spec, strength in zip(specs, [0.0, 2.0, -4.5]):
        assert spec.unit == unit
        # The other rows stay as they are; the swept one keeps its mode, at each strength.
        assert [(f.index, f.strength, f.mode) for f in spec.features] == \
            [(7, 9.0, "add"), (5, strength, "clamp")]
        assert spec.features[1].label == "rain"


def test_sweep_of_an_ablated_or_unlabelled_feature():
    state = panel_with(PanelRow(5, 0.0, "ablate"), unit="raw")
    specs, titles = build_variants(state, Sweep(5, [3.0]), lambda i: None)
    assert specs[0].features[0].mode == "add"     # ablating would ignore the strength
    assert specs[0].features[0].label == ""
    assert specs[0].name == "feature 5 +3 raw" and titles == ["+3 raw"]


# -- wording ------------------------------------------------------------------------------
def test_feature_words():
    assert wording.feature_name(12, "German text") == "#12 German text"
    assert wording.feature_name(12, None) == wording.feature_name(12, "") == "#12"
    assert wording.feature_name(3, "a very long label", width=6) == "#3 a very"
    assert wording.feature_words(12, None) == "feature 12"
    assert wording.feature_words(12, "rain") == "rain"
    # one way everywhere: 1/0.025 = 40, 1/2.5e-5 = 40,000, 1/0.1867 = 5.36 -> 5
    assert [wording.density(d) for d in (0.025, 0.000025, 0.1867, 0.0, None)] == [
        "1 in 40 tokens", "1 in 40,000 tokens", "1 in 5 tokens", "never active", "–"]


def test_hook_in_words():
    assert wording.hook_words("blocks.2.hook_resid_post") == "after layer 2"
    assert wording.hook_words("blocks.6.hook_resid_pre") == "before layer 6"
    assert wording.hook_words("blocks.1.attn.hook_z") == "blocks.1.attn.hook_z"   # no words


def test_automatic_labels_read_as_phrases():
    assert (wording.plain_label("German text: 'die' / 'und' / 'der' (\u2192 'ist', 'nicht')")
            == "German text: die, und, der; next often ist, nicht")
    # a token that is itself a quote ends at the quote a separator follows
    assert (wording.plain_label("')' / 'dec' (\u2192 ''', 'ore')")
            == "\u201c)\u201d, dec; next often \u201c'\u201d, ore")
    hand = "quotation attribution: the author's first name after '--' (Mark Twain)"
    assert wording.plain_label(hand) == hand      # not an automatic label: left as it is


def test_column_settings():
    from steerdesk.engine.steering import FeatureSteer, SteeringSpec

    specs = [SteeringSpec([FeatureSteer(3, 4.0, "add"), FeatureSteer(9, 0.0, "ablate")],
                          unit="max"), SteeringSpec([], unit="raw")]
    assert wording.column_settings(specs, True, {3: "German"}.get) == [
        "add #3 German +4.00x max; ablate #9", wording.ALL_SWITCHED_OFF]
    assert wording.column_settings(specs, False, {}.get) == [wording.NO_PANEL_ROWS] * 2


# -- RunRecord ----------------------------------------------------------------------------
def step(*rows):
    """Each row: (text, token id, logprob, activations, top features, finished)."""
    return StepEvent(step=0, rows=[RowToken(token_id=i, text=t, logprob=lp, activations=a,
                                            top_features=top, finished=f)
                                   for t, i, lp, a, top, f in rows])


def test_run_record_collects_tokens_per_row():
    rec = RunRecord("hi", watch=[4, 9], row_settings=["no steering", "add #4"],
                    row_titles=["baseline", "steered"])
    assert [r.name for r in rec.rows] == ["baseline", "steered"]
    v0 = rec.version
    rec.add(PromptEvent([1, 2], ["h", "i"], [[], []], [[], []], ["baseline", "s"], True))
    assert rec.prompt_tokens == ["h", "i"] and rec.chat_template_used and rec.version == v0 + 1
    rec.add(step(("a", 10, math.log(0.5), [1.0, 0.0], [(4, 1.0)], False),
                 ("b", 11, None, [3.0, 2.0], [(9, 2.0)], False)))
    rec.add(step(("", 0, None, [0.0, 0.0], [], True),            # row 0 ends (EOS)
                 ("c", 12, math.log(0.25), [5.0, -1.0], [], False)))
    rec.add(step((None, None, None, [], [], False),              # a finished row sends nothing
                 ("d", 13, None, [0.5, 4.0], [], False)))
    assert rec.rows[0].text == "a" and rec.rows[0].finished
    assert len(rec.rows[0].tokens) == 1      # the end-of-text token is neither text nor plotted
    assert rec.activation_series(0, 4) == [1.0]
    assert rec.rows[1].text == "bcd" and not rec.rows[1].finished
    assert rec.rows[0].tokens[0].prob == pytest.approx(0.5)
    assert rec.rows[1].tokens[0].prob is None
    assert rec.activation_series(1, 4) == [3.0, 5.0, 0.5]
    assert rec.activation_series(1, 9) == [2.0, -1.0, 4.0]
    assert rec.activation_series(0, 7) == []                     # not watched
    assert rec.peak(4) == 5.0 and rec.peak(9) == 4.0 and rec.peak(7) == 0.0
    done = DoneEvent("eos", ["a", "bcd"], 3, 0.5, 0.1)
    rec.add(done)
    assert rec.done is done and rec.version == v0 + 5


def test_a_saved_preset_keeps_the_loaded_description_only_while_the_same_features_steer():
    """A user who adds Spanish to 'speak German' must not save 'came out in German' with it."""
    from steerdesk.ui.panel_state import PanelRow, PanelState

    state = PanelState()
    state.apply_preset(Preset("speak German", "Adds 598: German", "max",
                              [PresetFeature(598, 2.0)], prompt_equivalent="Auf Deutsch:"))
    state.update(state.rows[0].uid, strength=3.0)        # harder, the same feature: still true
    kept = state.to_preset()
    assert (kept.description, kept.prompt_equivalent) == ("Adds 598: German", "Auf Deutsch:")
    assert kept.features[0].strength == 3.0
    state.insert(-1, PanelRow(1717, 2.0))
    changed = state.to_preset()
    assert (changed.description, changed.prompt_equivalent) == ("", "")
    state.remove(state.rows[-1].uid)                      # back to what was loaded
    assert state.to_preset().description == "Adds 598: German"
    state.update(state.rows[0].uid, mode="ablate")        # switched off: no longer German
    assert state.to_preset().prompt_equivalent == ""
