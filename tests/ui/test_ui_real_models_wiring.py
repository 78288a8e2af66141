"""The gallery and the evidence builder are reachable from the window: File > Get a model…
opens the gallery and its 'open' becomes a session named RELEASE:SAE_ID; a labelled feature
without snippets offers to build evidence, and the link opens the dialog, whose result the
whole window then uses."""

from __future__ import annotations

from PySide6.QtCore import QUrl


def _action(window, text):
    for act in window.menuBar().actions():
        for sub in act.menu().actions():
            if sub.text().replace("&", "") == text:
                return sub
    raise AssertionError(f"no menu action {text!r}")


def test_get_a_model_opens_the_gallery_and_opens_what_it_asks(window, monkeypatch):
    from steerdesk.ui import gallery_dialog

    shown, opened = [], []

    def fake_exec(dialog):
        shown.append(dialog)
        dialog.open_requested.emit("gpt2-small-res-jb:blocks.8.hook_resid_pre")
        return 0

    monkeypatch.setattr(gallery_dialog.GalleryDialog, "exec", fake_exec)
    monkeypatch.setattr(window, "open_pair", lambda spec: opened.append(spec))
    _action(window, "Get a model…").trigger()
    assert len(shown) == 1
    assert opened[0].sae == "gpt2-small-res-jb:blocks.8.hook_resid_pre" and not opened[0].model


def test_a_labelled_feature_without_snippets_offers_evidence(make_window, qtbot, ui_model_dir,
                                                           tmp_path, monkeypatch):
    from steerdesk.engine.catalog import catalog_folder_for, create_empty
    from steerdesk.engine.session_spec import SessionSpec
    from steerdesk.testing.tiny import make_sae
    from steerdesk.ui import evidence_dialog

    sae = make_sae(tmp_path / "sae", d_in=32, d_sae=64, hook="blocks.0.hook_resid_post")
    create_empty(catalog_folder_for(sae), 64).write_source_labels("imported", {5: "months"})
    window = make_window()
    with qtbot.waitSignal(window.session_ready, timeout=30000):
        window.open_pair(SessionSpec(str(ui_model_dir), str(sae)))
    card = window.browser.card
    card.show_feature(5)
    assert "no evidence yet" in card.body.toPlainText() and "months" in card.title.text()
    card.show_feature(6)                     # no label either: nothing to offer evidence for
    assert "no evidence yet" not in card.body.toPlainText()

    built_with = []

    def fake_exec(dialog):
        built_with.append(dialog.session)
        return 0

    monkeypatch.setattr(evidence_dialog.EvidenceDialog, "exec", fake_exec)
    card.body.anchorClicked.emit(QUrl("steerdesk:build-evidence"))
    assert built_with == [window.c.session]


def test_a_catalog_built_in_the_app_reaches_every_view(window, qtbot, ui_model_dir, tmp_path):
    """After the evidence dialog's build, labels, the card and 'x max' come from the new
    catalog, as after opening."""
    from steerdesk.engine.catalog import build_catalog
    from steerdesk.testing.tiny import TEXT

    session = window.c.session
    assert session.catalog is None and not window.c.features.has_catalog
    catalog = build_catalog(session, [TEXT, TEXT.upper()], tmp_path / "cat", context=32,
                            batch_size=2, top_k=3)
    with qtbot.waitSignal(window.session_ready, timeout=10000):
        window.c.catalog_built(catalog)
    assert window.c.features.has_catalog and session.max_acts is not None
    assert window.browser.card.source is window.c.features
