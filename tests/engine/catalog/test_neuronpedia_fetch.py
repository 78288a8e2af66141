"""Neuronpedia's explanation export, fetched from a stand-in of its S3 bucket on 127.0.0.1
(listing with ListObjectsV2, batch-N.jsonl.gz files), with progress, stop and resume, then
imported into an SAE's catalog with the existing importer."""

from __future__ import annotations

import gzip
import json
import threading

import pytest
from hubstub import StandInHub

from steerdesk.engine.catalog import create_empty
from steerdesk.engine.errors import Cancelled, InputError
from steerdesk.engine.neuronpedia import fetch_explanations, import_neuronpedia

PREFIX = "v1/gpt2-small/8-res-jb/explanations/"


def batch(rows):
    return gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())


@pytest.fixture
def bucket(monkeypatch, tmp_path):
    monkeypatch.setenv("STEERDESK_CACHE", str(tmp_path / "cache"))
    with StandInHub() as hub:
        hub.plain[PREFIX + "batch-0.jsonl.gz"] = batch(
            [{"modelId": "gpt2-small", "layer": "8-res-jb", "index": str(i),
              "description": f"feature {i} words"} for i in range(0, 5)])
        hub.plain[PREFIX + "batch-1.jsonl.gz"] = batch(
            [{"modelId": "gpt2-small", "layer": "8-res-jb", "index": "7",
              "description": "months of the year", "typeName": "oai_token-act-pair"}])
        hub.plain["v1/gpt2-small/9-res-jb/explanations/batch-0.jsonl.gz"] = batch([])
        yield hub, f"{hub.url}/files"


def test_fetch_stop_resume_and_import(bucket, tmp_path):
    hub, base = bucket
    stop = threading.Event()
    seen = []

    def stop_after_first(p):
        seen.append(p)
        stop.set()

    with pytest.raises(Cancelled, match="1 of 2 batches"):
        fetch_explanations("gpt2-small", "8-res-jb", base=base, progress=stop_after_first,
                           cancel=stop)
    assert seen[-1].total == sum(len(hub.plain[PREFIX + f"batch-{i}.jsonl.gz"]) for i in (0, 1))
    hub.requests.clear()
    events = []
    catalog = create_empty(tmp_path / "sae" / "catalog", d_sae=16)
    report = import_neuronpedia(catalog, "gpt2-small", "8-res-jb", base=base,
                                progress=events.append)
    fetched = [r[1] for r in hub.requests if "batch-" in r[1]]
    assert fetched == [f"/files/{PREFIX}batch-1.jsonl.gz"]   # batch 0 was kept: resumed
    assert events[-1].done == events[-1].total
    assert report.imported == 6
    assert catalog.label(7) == "months of the year" and catalog.label(3) == "feature 3 words"


def test_no_export_for_that_sae(bucket):
    _, base = bucket
    with pytest.raises(InputError, match="no explanation export for gpt2-small/3-res-jb"):
        fetch_explanations("gpt2-small", "3-res-jb", base=base)


def test_server_down(monkeypatch, tmp_path):
    monkeypatch.setenv("STEERDESK_CACHE", str(tmp_path))
    with StandInHub() as hub:
        base = f"{hub.url}/files"
    with pytest.raises(InputError, match="cannot reach"):
        fetch_explanations("gpt2-small", "8-res-jb", base=base)
