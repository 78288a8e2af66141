"""The first minute (issue 12 point 2): a first start opens the pocket pack with a preset ready
and sampling that shows it; a feature added from the list starts at its calibrated strength;
the percent view calls that strength 100%."""

import json

import pytest

from steerdesk.engine import pack
from steerdesk.engine.session_spec import SessionSpec

pytestmark = pytest.mark.skipif(not pack.pocket_available(), reason="no pocket pack")


def _sweep() -> dict:
    return json.loads((pack.pocket_sae() / "steering_sweep.json").read_text())


def _reliable_by_hand(sweep: dict, index: int) -> float | None:
    target = sweep["rule"]["target_share"]
    ok = [r["strength"] for r in sweep["results"]
          if r["index"] == index and r["share"] >= target]
    return min(ok) if ok else None


@pytest.fixture
def first_window(qtbot, config_dir, dialogs):
    """A window as `steerdesk` opens it the very first time: no settings file, the pack."""
    from steerdesk.ui.main_window import MainWindow

    assert not config_dir.exists()
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1400, 860)
    w.show()
    with qtbot.waitSignal(w.session_ready, timeout=60000):
        w.open_pair(SessionSpec.pocket())
    yield w
    w.c.shutdown()


def test_first_start_has_a_preset_and_sampling_that_show_steering(first_window, qtbot):
    w = first_window
    assert [(r.index, r.strength, r.mode) for r in w.c.panel.rows] == [(598, 2.0, "add")]
    assert w.panel.name.text() == "speak German"
    assert w.compare.temperature.value() == pytest.approx(0.85)
    assert w.compare.seed.value() == 1 and w.compare.seed_lock.isChecked()
    assert "speak German" in w.status.status()
    assert "598" in w.browser.card.title.text()        # the card shows the steered feature
    w.compare.max_tokens.setValue(24)
    with qtbot.waitSignal(w.generation_finished, timeout=60000) as blocker:
        w.generate()
    record = blocker.args[0]
    base, steered = (c.text() for c in w.compare.visible_columns())
    assert base == record.rows[0].text and steered == record.rows[1].text
    assert base.strip() and steered.strip() and base != steered
    from steerdesk.pocket.language_judge import judge
    assert judge(steered) == "de" and judge(base) != "de"


def test_second_start_is_not_a_first_start(first_window, qtbot, dialogs):
    from steerdesk.ui.main_window import MainWindow

    first_window.c.editor.clear()
    first_window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    assert not again.first_start
    with qtbot.waitSignal(again.session_ready, timeout=60000):
        again.open_pair(SessionSpec.pocket())
    assert again.c.panel.rows == []     # the user's cleared panel is not refilled
    again.c.shutdown()


def test_added_feature_starts_at_its_calibrated_strength(first_window):
    w = first_window
    sweep = _sweep()
    w.c.editor.clear()
    swept = 1372                      # a German candidate the sweep tried at 0.5-8x
    expected = _reliable_by_hand(sweep, swept)
    assert expected is not None
    w.c.add_feature(swept)
    assert w.c.panel.rows[-1].strength == pytest.approx(expected)
    tried = {r["index"] for r in sweep["results"]}
    other = next(i for i in range(2048) if i not in tried)
    w.c.add_feature(other)
    chosen = sorted(c["strength"] for c in sweep["chosen"].values())
    median = (chosen[len(chosen) // 2] if len(chosen) % 2 else
              (chosen[len(chosen) // 2 - 1] + chosen[len(chosen) // 2]) / 2)
    assert w.c.panel.rows[-1].strength == pytest.approx(median)
    assert median == 2.0 and expected == 4.0   # the pack's figures, not a blanket 4x


def test_percent_view_calls_the_reliable_strength_100(first_window, qtbot):
    w = first_window
    row = next(iter(w.panel.rows.values()))
    assert row.slider.value() == pytest.approx(2.0)      # x max
    w.panel.percent.setChecked(True)
    row = next(iter(w.panel.rows.values()))
    assert row.slider.value() == pytest.approx(100.0)
    assert "100% = 2x max" in row.slider.toolTip()
    row.slider.setValue(70.0)                            # "70% German"
    assert w.c.panel.rows[0].strength == pytest.approx(1.4)
    w.c.undo.undo()
    assert w.c.panel.rows[0].strength == pytest.approx(2.0)
    # In raw units 100% is the same strength: 2x the feature's max activation.
    w.panel.unit.setCurrentIndex(1)
    row = next(iter(w.panel.rows.values()))
    peak = float(w.c.session.max_acts[598])
    assert w.c.panel.rows[0].strength == pytest.approx(2.0 * peak, rel=1e-3)
    assert row.slider.value() == pytest.approx(100.0, abs=0.5)
    w.panel.percent.setChecked(False)
    row = next(iter(w.panel.rows.values()))
    assert row.slider.value() == pytest.approx(2.0 * peak, rel=1e-3)
