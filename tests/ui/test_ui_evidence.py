"""Evidence from your own text for an SAE that has labels but no snippets: the card's test,
and the dialog building a catalog on the model worker, stopped and resumed."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from steerdesk.testing.tiny import TEXT, make_model, make_sae


@pytest.fixture
def labelled_session(tmp_path):
    from steerdesk.engine.catalog import catalog_folder_for, create_empty
    from steerdesk.engine.session import open_session

    model = make_model(tmp_path / "m", "llama", d=32, layers=2)
    sae = make_sae(tmp_path / "sae", d_in=32, d_sae=64, hook="blocks.0.hook_resid_post")
    cat = create_empty(catalog_folder_for(sae), 64)
    cat.write_source_labels("imported", {3: "months of the year"})
    return open_session(model, sae, device="cpu")


@pytest.fixture
def worker(qtbot):
    from steerdesk.ui.worker import EngineWorker

    w = EngineWorker()
    w.start()
    yield w
    w.stop()


def test_labels_without_snippets_offer_evidence_and_the_dialog_builds_it(qtbot, worker,
                                                                         labelled_session):
    from steerdesk.engine.catalog.build import STATE
    from steerdesk.ui.evidence_dialog import EvidenceDialog, needs_evidence
    from steerdesk.ui.feature_source import FeatureSource

    s = labelled_session
    src = FeatureSource(64, s.catalog)
    assert needs_evidence(src, 3) and not needs_evidence(src, 4)    # 4 has no label at all
    d = EvidenceDialog(s, worker)
    qtbot.addWidget(d)
    d.show()
    d.text.setPlainText("\n\n".join([TEXT] * 120))
    d.tokens.setValue(8_000)
    # Stop after the first batch: asked from the worker thread itself, so it is exact.
    def stop_at_first_progress(task, what, args):
        if what == "progress":
            task.stop()

    worker._report.connect(stop_at_first_progress, Qt.DirectConnection)
    d.build_button.click()
    qtbot.waitUntil(lambda: d.task is None, timeout=60000)
    assert "Stopped" in d.status.text() and (d.folder / STATE).is_file()
    worker._report.disconnect(stop_at_first_progress)
    messages = []
    with qtbot.waitSignal(d.built, timeout=120000) as built:
        d.build_button.click()
        d.task.progress.connect(lambda f, m: messages.append(m))
    assert any(m.startswith("Resuming after") for m in messages)
    assert any("ETA" in m for m in messages) and d.bar.value() == 1000
    catalog = built.args[0]
    assert not (d.folder / STATE).is_file() and (d.folder / "your-text.txt").is_file()
    after = FeatureSource(64, catalog)
    assert after.label(3) == "months of the year"                  # the import is kept
    fired = [i for i in range(64) if after.card(i) is not None]
    assert fired and all(not needs_evidence(after, i) for i in fired)
    assert s.catalog is catalog


def test_empty_text_says_what_to_do(qtbot, worker, labelled_session):
    from steerdesk.ui.evidence_dialog import EvidenceDialog

    d = EvidenceDialog(labelled_session, worker)
    qtbot.addWidget(d)
    d.build_button.click()
    assert d.task is None and "paste some text" in d.status.text()
