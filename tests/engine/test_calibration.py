"""The calibration a new feature starts at (engine/calibration.py), against the sweep's rule
computed by hand."""

import json

from steerdesk.engine.calibration import DEFAULT_X_MAX, load_calibration, parse_sweep, preset_references
from steerdesk.engine.presets import Preset, PresetFeature

SWEEP = {"rule": {"target_share": 0.9, "seeds": list(range(20))},
         "results": [{"index": 7, "strength": s, "share": sh}
                     for s, sh in ((0.5, 0.1), (1.0, 0.95), (2.0, 0.9), (4.0, 1.0))]
         + [{"index": 9, "strength": s, "share": 0.5} for s in (1.0, 2.0)],
         "chosen": {"a": {"index": 7, "strength": 1.0}, "b": {"index": 3, "strength": 3.0},
                    "c": {"index": 4, "strength": 4.0}}}


def test_reliable_is_the_smallest_strength_that_reaches_the_target():
    cal = parse_sweep(SWEEP)
    assert cal.strength(7) == 1.0          # 0.95 >= 0.9 at 1.0; 0.1 at 0.5 is not enough
    assert cal.strength(9) == 3.0          # never reached: the median of the chosen (1, 3, 4)
    assert cal.strength(1234) == 3.0
    assert "reliably steered" in cal.explain(7) and "not swept" in cal.explain(9)
    assert "20 sampled" in cal.source
    # Only a feature the sweep reached its target with is measured; 9 and 1234 stand in.
    assert cal.measured(7) and not cal.measured(9) and not cal.measured(1234)


def test_no_or_damaged_sweep_gives_the_default(tmp_path):
    assert load_calibration(None).strength(5) == DEFAULT_X_MAX
    assert load_calibration(tmp_path).strength(5) == DEFAULT_X_MAX
    (tmp_path / "steering_sweep.json").write_text("{not json")
    assert load_calibration(tmp_path).strength(5) == DEFAULT_X_MAX
    (tmp_path / "steering_sweep.json").write_text(json.dumps({"results": "x", "chosen": [1]}))
    assert load_calibration(tmp_path / "cfg.json").strength(5) == DEFAULT_X_MAX
    (tmp_path / "steering_sweep.json").write_text(json.dumps(SWEEP))
    assert load_calibration(tmp_path / "cfg.json").strength(7) == 1.0


def test_preset_references_in_x_max():
    p = Preset("p", "", "raw", [PresetFeature(1, 30.0), PresetFeature(2, 5.0, "ablate"),
                                PresetFeature(3, -12.0), PresetFeature(4, 6.0)])
    peaks = {1: 15.0, 3: 6.0}
    assert preset_references(p, peaks.get) == {1: 2.0, 3: 2.0}
    q = Preset("q", "", "max", [PresetFeature(1, 1.5), PresetFeature(2, 0.0)])
    assert preset_references(q, peaks.get) == {1: 1.5}
