"""Importing labels: Neuronpedia JSON / JSONL (gzipped too), the feature API shape, CSV."""

import gzip
import json

import pytest

from steerdesk.engine.catalog import create_empty, import_labels, read_labels
from steerdesk.engine.errors import InputError


def np_entry(index, description, **kw):
    """One explanation as Neuronpedia's export writes it (index as a string)."""
    return {"id": f"x{index}", "modelId": "gpt2-small", "layer": "6-res-jb", "index": str(index),
            "description": description, "typeName": "oai_token-act-pair",
            "explanationModelName": "gpt-4o-mini", **kw}


@pytest.fixture
def catalog(tmp_path):
    return create_empty(tmp_path / "catalog", 100)


def test_neuronpedia_json_list(catalog, tmp_path):
    f = tmp_path / "explanations.json"
    f.write_text(json.dumps([np_entry(0, " time-related phrases"), np_entry(5, "dogs"),
                             np_entry(5, "dogs and cats"), np_entry(500, "out of range")]))
    report = import_labels(catalog, f)
    assert catalog.label(0) == "time-related phrases"      # whitespace normalised
    assert catalog.label(5) == "dogs"                      # the first of two without scores
    assert catalog.label_source(5) == "imported"
    assert report.imported == 2 and report.duplicates == 1 and report.out_of_range == 1
    assert report.warnings


def test_scores_pick_the_best_explanation(catalog, tmp_path):
    f = tmp_path / "e.jsonl"
    lines = [np_entry(7, "weak", score=0.1), np_entry(7, "strong", score=0.9),
             np_entry(8, "by scores list", scores=[{"value": 0.3}]),
             np_entry(8, "better by scores list", scores=[{"value": 0.5}, {"value": 0.1}])]
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    import_labels(catalog, f)
    assert catalog.label(7) == "strong" and catalog.label(8) == "better by scores list"


def test_jsonl_gz_and_api_shape(catalog, tmp_path):
    gz = tmp_path / "e.jsonl.gz"
    gz.write_bytes(gzip.compress(json.dumps(np_entry(3, "three")).encode() + b"\n"))
    import_labels(catalog, gz)
    assert catalog.label(3) == "three"
    api = tmp_path / "feature.json"
    api.write_text(json.dumps({"modelId": "gpt2-small", "layer": "6-res-jb", "index": "9",
                               "explanations": [{"description": "nine", "explanationModelName": "m"}]}))
    import_labels(catalog, api)
    assert catalog.label(9) == "nine" and catalog.label(3) == "three"


def test_a_folder_of_export_batches(catalog, tmp_path):
    folder = tmp_path / "explanations"
    folder.mkdir()
    for n in range(2):
        rows = [np_entry(10 * n + j, f"batch {n} feature {j}") for j in range(3)]
        (folder / f"batch-{n}.jsonl.gz").write_bytes(
            gzip.compress("\n".join(json.dumps(r) for r in rows).encode()))
    (folder / "README.txt").write_text("not labels")
    report = import_labels(catalog, folder)
    assert report.imported == 6 and catalog.label(12) == "batch 1 feature 2"


def test_csv(catalog, tmp_path):
    f = tmp_path / "labels.csv"
    f.write_text('index,label\n1,one\n2,"two, with a comma"\n\n')
    import_labels(catalog, f)
    assert catalog.label(1) == "one" and catalog.label(2) == "two, with a comma"
    bare = tmp_path / "bare.csv"
    bare.write_text("4,four\n")
    import_labels(catalog, bare)
    assert catalog.label(4) == "four"
    bad = tmp_path / "bad.csv"
    bad.write_text("index,label\nx,one\n")
    with pytest.raises(InputError, match=r"line 2: 'x' is not a feature index"):
        import_labels(catalog, bad)


def test_user_labels_survive_imports(catalog, tmp_path):
    catalog.set_user_label(5, "mine")
    f = tmp_path / "e.json"
    f.write_text(json.dumps([np_entry(5, "theirs"), np_entry(6, "six")]))
    report = import_labels(catalog, f)
    assert catalog.label(5) == "mine" and catalog.label_source(5) == "user"
    assert report.shadowed_by_user == 1
    assert catalog.feature(5).labels_by_source == {"user": "mine", "imported": "theirs"}
    import_labels(catalog, f, replace=True)
    assert catalog.label(5) == "mine"


def test_bad_files(catalog, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"index": 1, "description": "x"},')
    with pytest.raises(InputError, match="bad.json: not valid JSON"):
        import_labels(catalog, bad)
    with pytest.raises(InputError, match="missing.json: label file not found"):
        import_labels(catalog, tmp_path / "missing.json")
    empty = tmp_path / "none.json"
    empty.write_text(json.dumps([{"foo": 1}]))
    with pytest.raises(InputError, match="no feature labels found"):
        import_labels(catalog, empty)
    far = tmp_path / "far.json"
    far.write_text(json.dumps([np_entry(1000, "x")]))
    with pytest.raises(InputError, match="another SAE"):
        import_labels(catalog, far)
    badline = tmp_path / "bad.jsonl"
    badline.write_text(json.dumps(np_entry(1, "a")) + "\n{oops\n")
    with pytest.raises(InputError, match="line 2: not valid JSON"):
        import_labels(catalog, badline)


def test_several_saes_need_a_layer(tmp_path):
    f = tmp_path / "e.json"
    f.write_text(json.dumps([np_entry(1, "six"), {**np_entry(1, "seven"), "layer": "7-res-jb"}]))
    with pytest.raises(InputError, match="several SAEs"):
        read_labels(f, 10)
    labels, _ = read_labels(f, 10, layer="7-res-jb")
    assert labels == {1: "seven"}
