"""Opening pairs: progress, failures that leave the app usable, the pickle question, and the
screenshot command."""

import pytest

from steerdesk.engine.errors import PickleRefused, RemoteCodeRefused
from steerdesk.engine.session_spec import SessionSpec


def test_load_failure_dialog_then_app_still_works(make_window, qtbot, dialogs, tmp_path,
                                                  ui_model_dir, ui_sae_dir):
    w = make_window()
    with qtbot.waitSignal(w.error_shown, timeout=10000):
        w.open_pair(SessionSpec(str(tmp_path / "no-such-model"), str(ui_sae_dir)))
    assert dialogs[-1][0] == "warning"
    assert "no-such-model" in dialogs[-1][2]
    assert not w.status.progress.isVisible()
    # Still usable: a good pair opens and generates.
    with qtbot.waitSignal(w.session_ready, timeout=30000):
        w.open_pair(SessionSpec(str(ui_model_dir), str(ui_sae_dir)))
    assert w.browser.model.rowCount() == 64
    w.compare.max_tokens.setValue(3)
    with qtbot.waitSignal(w.generation_finished, timeout=10000):
        w.generate()
    assert w.c.run.done.reason in ("length", "eos")


def test_generate_without_model_explains(make_window, dialogs):
    w = make_window()
    w.generate()
    assert "open a model" in dialogs[-1][2]


@pytest.mark.parametrize("refusal,consent", [(PickleRefused, "allow_pickle"),
                                              (RemoteCodeRefused, "trust_remote_code")])
def test_consent_question_then_retry(make_window, qtbot, dialogs, monkeypatch, ui_session,
                                     ui_model_dir, ui_sae_dir, refusal, consent):
    import steerdesk.engine.session as session_mod

    calls = []

    def fake_open(model, sae, **kw):
        calls.append(kw[consent])
        if not kw[consent]:
            raise refusal(f"{sae}: needs a yes")
        return ui_session

    monkeypatch.setattr(session_mod, "open_session", fake_open)
    w = make_window()
    with qtbot.waitSignal(w.session_ready, timeout=10000):
        w.open_pair(SessionSpec(str(ui_model_dir), str(ui_sae_dir)))
    assert calls == [False, True]
    kind, _title, text = dialogs[-1]
    assert kind == "question" and text.startswith(f"{ui_sae_dir}: needs a yes")
    # The yes holds for this opening only: the recent list does not remember it.
    assert not getattr(w.settings.recent[0], consent)


def test_screenshot_command(tmp_path, ui_model_dir, ui_sae_dir, qapp):
    from steerdesk.cli.gui import main

    out = tmp_path / "shot.png"
    code = main(["--model", str(ui_model_dir), "--sae", str(ui_sae_dir),
                 "--screenshot", str(out), "--prompt", "hello"])
    assert code == 0
    assert out.is_file() and out.stat().st_size > 10000


def test_screenshot_command_fails_cleanly(tmp_path, ui_sae_dir, qapp, capsys):
    from steerdesk.cli.gui import main

    code = main(["--model", str(tmp_path / "nothing"), "--sae", str(ui_sae_dir),
                 "--screenshot", str(tmp_path / "x.png")])
    assert code != 0
    assert not (tmp_path / "x.png").exists()
    assert "nothing" in capsys.readouterr().err


def test_gui_args_listed_in_help():
    import argparse

    from steerdesk.cli.gui import add_gui_args

    p = argparse.ArgumentParser()
    add_gui_args(p)
    text = p.format_help()
    for flag in ("--model", "--sae", "--screenshot", "--preset", "--presentation"):
        assert flag in text


@pytest.mark.skipif(not __import__("steerdesk.engine.pack", fromlist=["x"]).pocket_available(),
                    reason="the pocket pack is not built")
def test_pocket_pack_opens_and_generates(make_window, qtbot):
    from steerdesk.engine import pack

    w = make_window()
    with qtbot.waitSignal(w.session_ready, timeout=120000):
        w.open_pair(SessionSpec(str(pack.pocket_model()), str(pack.pocket_sae())))
    w.compare.max_tokens.setValue(8)
    with qtbot.waitSignal(w.generation_finished, timeout=60000):
        w.generate()
    assert w.c.run.rows[0].tokens


def test_default_pair_is_the_last_one_while_it_exists(tmp_path, ui_model_dir, ui_sae_dir,
                                                      monkeypatch):
    from steerdesk.cli import gui
    from steerdesk.engine import pack

    monkeypatch.setattr(pack, "pocket_available", lambda: False)
    last = SessionSpec(str(ui_model_dir), str(ui_sae_dir))
    assert gui.default_pair(last) == last
    gone = SessionSpec(str(tmp_path / "deleted"), str(ui_sae_dir))
    assert gui.default_pair(gone) is None
    assert gui.default_pair(None) is None
    monkeypatch.setattr(pack, "pocket_available", lambda: True)
    assert gui.default_pair(gone).model == str(pack.pocket_model())


def test_app_with_no_arguments_and_nothing_to_open(qapp, qtbot, monkeypatch):
    """`steerdesk` alone, with no last session and no pocket pack: the window opens with the
    open dialog (stubbed here). The event loop is stood in for by a short wait: quitting the
    real one would end the whole test session's application."""
    from steerdesk.cli import gui
    from steerdesk.engine import pack
    from steerdesk.ui.main_window import MainWindow

    monkeypatch.setattr(pack, "pocket_available", lambda: False)
    asked = []
    monkeypatch.setattr(MainWindow, "show_open_dialog",
                        lambda self: asked.append((self, self.isVisible())))
    monkeypatch.setattr(type(qapp), "exec", lambda self: qtbot.wait(300) or 0)
    assert gui.main([]) == 0
    assert len(asked) == 1
    window, visible = asked[0]
    assert visible and window.c.session is None
    window.close()
