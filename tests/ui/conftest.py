"""Fixtures for driving the window: a tiny random model + SAE (no pocket pack needed), a
fresh config folder per test, and a window with that pair open."""

import pytest

from steerdesk.testing.tiny import make_model, make_sae


@pytest.fixture(scope="session")
def ui_model_dir(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("ui_llama"), "llama", d=32, layers=2)


@pytest.fixture(scope="session")
def ui_sae_dir(tmp_path_factory):
    return make_sae(tmp_path_factory.mktemp("ui_sae"), d_in=32, d_sae=64, arch="relu",
                    hook="blocks.0.hook_resid_post")


@pytest.fixture(scope="session")
def ui_session(ui_model_dir, ui_sae_dir):
    from steerdesk.engine.session import open_session

    return open_session(ui_model_dir, ui_sae_dir)


@pytest.fixture(autouse=True)
def config_dir(tmp_path, monkeypatch):
    folder = tmp_path / "config"
    monkeypatch.setenv("STEERDESK_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def dialogs(monkeypatch):
    """Message boxes answer at once and are recorded, instead of blocking the test."""
    from PySide6.QtWidgets import QMessageBox

    seen = []

    def record(kind, answer=None):
        def fn(parent, title, text, *a, **k):
            seen.append((kind, title, text))
            return answer
        return fn

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(record("warning")))
    monkeypatch.setattr(QMessageBox, "critical", staticmethod(record("critical")))
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(record("question", QMessageBox.Yes)))
    return seen


@pytest.fixture
def make_window(qtbot, dialogs):
    from steerdesk.ui.main_window import MainWindow

    made = []

    def make():
        w = MainWindow()
        qtbot.addWidget(w)
        # Greedy, as the engine's GenerationRequest defaults: most tests compare the window's
        # columns with engine runs. The app's own first-start sampling is tested on its own.
        if w.settings.last.sampling is None:
            w.compare.temperature.setValue(0.0)
        w.resize(1400, 860)
        w.show()
        made.append(w)
        return w

    yield make
    for w in made:
        w.c.shutdown()


@pytest.fixture
def window(make_window, qtbot, ui_session, ui_model_dir, ui_sae_dir):
    from steerdesk.engine.session_spec import SessionSpec

    w = make_window()
    with qtbot.waitSignal(w.session_ready, timeout=10000):
        w.c.adopt(ui_session, SessionSpec(str(ui_model_dir), str(ui_sae_dir)))
    return w


@pytest.fixture(scope="session")
def ui_catalog_sae_dir(tmp_path_factory, ui_model_dir):
    """The same kind of SAE with a catalog built beside it from a few sentences."""
    from steerdesk.engine.catalog import build_catalog
    from steerdesk.engine.session import open_session
    from steerdesk.testing.tiny import TEXT

    folder = make_sae(tmp_path_factory.mktemp("ui_cat_sae"), d_in=32, d_sae=64, arch="relu",
                      hook="blocks.0.hook_resid_post")
    session = open_session(ui_model_dir, folder)
    texts = [TEXT[i:i + 60] for i in range(0, len(TEXT) - 20, 9)]
    build_catalog(session, texts, context=32, batch_size=8, top_k=4)
    return folder


@pytest.fixture
def catalog_window(make_window, qtbot, ui_model_dir, ui_catalog_sae_dir):
    from steerdesk.engine.session_spec import SessionSpec

    w = make_window()
    with qtbot.waitSignal(w.session_ready, timeout=30000):
        w.open_pair(SessionSpec(str(ui_model_dir), str(ui_catalog_sae_dir)))
    return w
