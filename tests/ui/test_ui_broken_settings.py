"""Settings are advisory: the window starts over every kind of broken settings file, keeps
what still reads, says in one line what it dropped, and can then open a model and generate.
An unreadable file is kept aside (settings.json.broken), never silently overwritten."""

from __future__ import annotations

import json
import os

import pytest

GOOD_PANEL = {"name": "mine", "unit": "raw",
              "features": [{"index": 3, "mode": "add", "strength": 2.0}]}

BROKEN = {
    "zoom-not-a-number": ('{"zoom": "abc", "presentation": false}', ["zoom"]),
    "recent-not-a-list": ('{"recent": 5}', ["recent"]),
    "pair-of-numbers": ('{"last": {"pair": {"model": 5, "sae": 6}}}', ["last.pair"]),
    "nested-deeply": ("[" * 100_000 + "]" * 100_000, ["nested too deeply"]),
    "panel-index-99999": (json.dumps({"last": {"panel": {
        "name": "x", "unit": "raw",
        "features": [{"index": 99999, "strength": 1.0, "mode": "add"},
                     {"index": 3, "strength": 2.0, "mode": "add"}]}}}), []),
    "not-json": ("{zoom: 1.2,", ["not valid JSON"]),
    "binary": (bytes(range(256)).decode("latin-1"), ["not valid JSON"]),
    "empty": ("", ["not valid JSON"]),
    "nan-zoom": ('{"zoom": NaN}', ["not valid JSON"]),
    "huge-zoom": ('{"zoom": 1e308}', ["zoom"]),
    "geometry-not-base64": ('{"geometry": "!!!"}', ["geometry"]),
    "sampling-of-the-wrong-kind": ('{"last": {"sampling": {"max_new_tokens": -5, '
                                   '"temperature": "hot", "seed": 1.5}}}', []),
    "panel-features-not-a-list": ('{"last": {"panel": {"features": "x"}}}', ["last.panel"]),
    "prompt-a-number": ('{"last": {"prompt": 12}}', ["last.prompt"]),
    "a-list": ("[]", ["list"]),
    "presentation-yes": ('{"presentation": "yes"}', ["presentation"]),
    "compiled-a-number": ('{"compiled": 1}', ["compiled"]),
    "recent-with-junk": ('{"recent": [{"model": "a"}, 7, null, {"model": "m", "sae": "s"}]}', []),
    "last-a-string": ('{"last": "yesterday"}', ["last"]),
    "strength-overflow": (json.dumps({"last": {"panel": {**GOOD_PANEL, "features": [
        {"index": 3, "mode": "add", "strength": 1e308}]}}}), []),
}


def _write(config_dir, text):
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "settings.json").write_text(text, encoding="utf-8", errors="surrogateescape")


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_the_window_starts_over_a_broken_settings_file(kind, make_window, qtbot, config_dir,
                                                       ui_session, ui_model_dir, ui_sae_dir):
    from steerdesk.engine.session_spec import SessionSpec

    text, dropped = BROKEN[kind]
    _write(config_dir, text)
    w = make_window()
    for part in dropped:
        assert part in w.status.status(), (kind, w.status.status())
    assert "\n" not in w.status.status()
    with qtbot.waitSignal(w.session_ready, timeout=20000):
        w.c.adopt(ui_session, SessionSpec(str(ui_model_dir), str(ui_sae_dir)))
    assert all(0 <= r.index < ui_session.sae.d_sae for r in w.c.panel.rows)
    with qtbot.waitSignal(w.generation_finished, timeout=60000):
        w.compare.set_prompt("hello")
        w.compare.max_tokens.setValue(2)
        w.generate()
    w.close()
    # what is saved on close reads back cleanly
    from steerdesk.ui.settings import load_settings

    assert load_settings().problems == []


def test_a_feature_the_sae_lacks_is_dropped_with_a_notice(make_window, qtbot, config_dir,
                                                          ui_session, ui_model_dir, ui_sae_dir):
    from steerdesk.engine.session_spec import SessionSpec

    _write(config_dir, BROKEN["panel-index-99999"][0])
    w = make_window()
    with qtbot.waitSignal(w.session_ready, timeout=20000):
        w.c.adopt(ui_session, SessionSpec(str(ui_model_dir), str(ui_sae_dir)))
    qtbot.waitUntil(lambda: "99999" in w.status.status(), timeout=5000)
    assert [r.index for r in w.c.panel.rows] == [3]


def test_good_parts_are_kept_beside_bad_ones(config_dir):
    from steerdesk.ui.settings import load_settings

    _write(config_dir, json.dumps({"zoom": "abc", "presentation": True,
                                   "last": {"prompt": "keep me", "panel": GOOD_PANEL}}))
    s = load_settings()
    assert s.problems == ["zoom"] and s.presentation and s.last.prompt == "keep me"
    assert [f.index for f in s.last.panel.features] == [3]


def test_an_unreadable_file_is_kept_aside_not_overwritten(config_dir):
    from steerdesk.ui.settings import load_settings, save_settings

    _write(config_dir, '{"zoom": 1.3, oops')
    s = load_settings()
    assert s.unreadable and "not valid JSON" in s.problems[0]
    save_settings(s)
    assert (config_dir / "settings.json.broken").read_text() == '{"zoom": 1.3, oops'
    assert load_settings().problems == []


@pytest.mark.parametrize("special", ["folder", "fifo"])
def test_a_folder_or_pipe_in_place_of_the_file(special, config_dir):
    from steerdesk.ui.settings import load_settings, save_settings

    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "settings.json"
    path.mkdir() if special == "folder" else os.mkfifo(path)
    s = load_settings()     # never blocks on the pipe
    assert s.problems and ("folder" in s.problems[0] or "regular file" in s.problems[0])
    save_settings(s)        # cannot replace it: the session goes on without saving


def test_saving_a_preset_to_a_full_disk_is_a_dialog(window, dialogs, monkeypatch, tmp_path):
    import errno

    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(tmp_path / "p.json"), "")))

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    window.menus.save_preset_dialog()
    assert dialogs and "the disk is full" in dialogs[-1][2]
    assert not list(tmp_path.glob("*.tmp"))
