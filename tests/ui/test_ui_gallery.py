"""The gallery dialog as a user sees it, against a stand-in hub on 127.0.0.1: the rows with
sizes, licence and gated note, Download and open with a progress bar, Cancel, a gated model's
dialog."""

from __future__ import annotations

import os

import pytest
from hubstub import Repo, StandInHub, use_stand_in

from steerdesk.engine import downloads

NAME = "gpt2-small-res-jb:blocks.8.hook_resid_pre"


@pytest.fixture
def hub(monkeypatch, tmp_path):
    with StandInHub() as h:
        use_stand_in(monkeypatch, tmp_path, h)
        monkeypatch.setattr(downloads, "CHUNK", 16_384)
        h.add("openai-community/gpt2", Repo({"config.json": b"{}",
                                             "model.safetensors": os.urandom(400_000)}))
        h.add("jbloom/GPT2-Small-SAEs-Reformatted",
              Repo({"blocks.8.hook_resid_pre/cfg.json": b"{}",
                    "blocks.8.hook_resid_pre/sae_weights.safetensors": os.urandom(3000)}))
        h.add("google/gemma-3-270m-it", Repo({"config.json": b"{}"}, gated=True))
        yield h


def make_dialog(qtbot):
    from steerdesk.ui.gallery_dialog import GalleryDialog

    d = GalleryDialog()
    qtbot.addWidget(d)
    d.show()
    return d


def select(d, name):
    row = next(i for i, r in enumerate(d.rows) if r.name == name)
    d.table.selectRow(row)
    return row


def cell(d, row, col):
    return d.table.item(row, col).text()


def test_rows_say_size_licence_memory_and_gated(qtbot, hub):
    d = make_dialog(qtbot)
    names = [r.name for r in d.rows]
    assert names[:2] == ["gpt2-small", "gemma-3-270m-it"] and len(names) == 6
    r = select(d, "gpt2-small")
    assert "GPT-2 small" in cell(d, r, 0) and "MB" in cell(d, r, 1)
    assert "(bf16)" in cell(d, r, 2) and cell(d, r, 3) == "mit" and cell(d, r, 4) == "—"
    assert d.go_button.text() == "Download and open"
    assert "blocks.8.hook_resid_pre" in d.details.text() and "Neuronpedia" in d.details.text()
    g = select(d, "gemma-3-270m-it")
    assert cell(d, g, 3).startswith("gated")
    assert "accept the licence" in d.details.text() and "hf auth login" in d.details.text()


def test_download_and_open(qtbot, hub):
    d = make_dialog(qtbot)
    r = select(d, "gpt2-small")
    seen = []
    d.bar.valueChanged.connect(seen.append)
    with qtbot.waitSignal(d.open_requested, timeout=20000) as opened:
        d.go_button.click()
        assert d.bar.isVisible() and d.cancel_button.isVisible()
    assert opened.args == [NAME]
    assert seen and seen[-1] == 1000 and sorted(seen) == seen   # the bar filled up
    assert cell(d, r, 4) == "✓ downloaded" and not d.bar.isVisible()
    # Downloaded: the button now opens at once, without asking the hub.
    d.show()
    select(d, "gpt2-small")
    assert d.go_button.text() == "Open"
    hub.requests.clear()
    with qtbot.waitSignal(d.open_requested, timeout=2000) as again:
        d.go_button.click()
    assert again.args == [NAME] and hub.requests == []


def test_cancel_keeps_a_resumable_part_and_nothing_complete(qtbot, hub):
    hub.slow = 0.05
    d = make_dialog(qtbot)
    r = select(d, "gpt2-small")
    d.go_button.click()
    qtbot.waitUntil(lambda: d.bar.value() > 0, timeout=10000)
    d.cancel_button.click()
    qtbot.waitUntil(lambda: d.task is None, timeout=10000)
    assert "Stopped" in d.status.text() and "resumes" in d.status.text()
    assert cell(d, r, 4) != "✓ downloaded" and d.go_button.text() == "Download and open"
    parts = list(downloads.repo_folder("openai-community/gpt2").glob("blobs/*" + downloads.PART))
    assert len(parts) == 1 and 0 < parts[0].stat().st_size < 400_000


def test_gated_model_shows_a_dialog_naming_the_repo(qtbot, hub, dialogs):
    d = make_dialog(qtbot)
    select(d, "gemma-3-270m-it")
    d.go_button.click()
    qtbot.waitUntil(lambda: d.task is None and bool(dialogs), timeout=10000)
    kind, title, text = dialogs[-1]
    assert kind == "warning" and title == "This model is gated"
    assert "google/gemma-3-270m-it" in text and "licence" in text and "hf auth login" in text
