"""Run > Compiled decoding (issue 15): off by default, remembered, greyed out with the reason
where the device cannot compile, and a run with it on decodes through the compiled step and
gives the eager run's tokens. Dynamo's "eager" backend traces without generating C++ (the
engine's own tests compile with inductor)."""

from steerdesk.engine import compiled
from steerdesk.engine.compiled import registry
from steerdesk.engine.generation import GenerationRequest, generate
from steerdesk.ui import settings as settings_mod
from tests.ui.test_ui_compare import run_to_end

PROMPT = "hello world, the"


def test_off_by_default_and_remembered(make_window, qtbot):
    w = make_window()
    assert not w.menus.compiled.isChecked() and not w.c.compiled_decoding
    w.menus.compiled.trigger()                       # what a click in the Run menu does
    assert w.menus.compiled.isChecked() and w.c.compiled_decoding
    assert settings_mod.load_settings().compiled is True
    again = make_window()
    assert again.menus.compiled.isChecked() and again.c.compiled_decoding


def test_greyed_out_with_the_reason(window, qtbot, monkeypatch):
    monkeypatch.setattr(compiled, "unavailable_reason", lambda device: "no C++ compiler found")
    window.menus.compiled.setChecked(True)
    window._offer_compiled_decoding(window.c.session)
    act = window.menus.compiled
    assert not act.isEnabled()
    assert act.text() == "Compiled decoding (unavailable: no C++ compiler found)"
    assert not window.c.compiled_decoding           # the run decodes eagerly, and says nothing odd
    window.compare.prompt.setPlainText(PROMPT)
    window.compare.max_tokens.setValue(4)
    record = run_to_end(window, qtbot)
    assert record.done.decode == "eager" and not record.compile_requested


def test_a_run_with_it_on_is_compiled_and_equals_eager(window, qtbot, ui_session, monkeypatch):
    monkeypatch.setattr(registry.settings, "backend", "eager")
    window._offer_compiled_decoding(ui_session)
    if not window.menus.compiled.isEnabled():        # no C++ compiler on this machine
        assert compiled.unavailable_reason(ui_session.lm.device) is not None
        return
    window.set_compiled_decoding(True)
    messages = []
    window.c.run_progress.connect(lambda f, m: messages.append(m))
    window.compare.prompt.setPlainText(PROMPT)
    window.compare.max_tokens.setValue(6)
    window.compare.temperature.setValue(0.0)
    compiled_before = {id(d) for d in compiled.decoders(ui_session) if d.ready}
    record = run_to_end(window, qtbot, timeout=120000)
    assert record.compile_requested and record.done.decode == "compiled"
    assert "compiled" in window.status.status()
    base = generate(ui_session, GenerationRequest(PROMPT, max_new_tokens=6,
                                                  temperature=window.compare.sampling().temperature,
                                                  seed=window.compare.sampling().seed))
    assert record.rows[0].text == base.rows[0].text
    # a shape compiled for this run said so as progress, in the status bar's words
    if not compiled_before:
        assert any(m.startswith("Compiling the decode step") for m in messages)
