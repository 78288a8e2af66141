"""The catalog on disk: round trip through a build, lazy reading, user labels."""

import json

import numpy as np
import pytest
import torch
from catalog_texts import TEXTS

from steerdesk.engine.catalog import (
    Catalog,
    build_catalog,
    catalog_folder_for,
    create_empty,
    open_catalog_for,
    store,
)
from steerdesk.engine.errors import Cancelled, InputError
from steerdesk.engine.hooks import capture_at


def direct_encode(session, ids):
    hidden = capture_at(session.model, session.hook, torch.tensor([ids]))
    with torch.inference_mode():
        return session.sae.encode(hidden)[0].float()


def test_round_trip(built):
    session, folder = built
    cat = Catalog(folder)
    again = Catalog(folder)
    assert cat.d_sae == 64 and cat.labels() == again.labels()
    assert torch.equal(cat.max_activations(), again.max_activations())
    assert cat.max_activations().dtype == torch.float32 and cat.max_activations().shape == (64,)
    dens = cat.densities()
    assert dens.shape == (64,) and float(dens.min()) >= 0 and float(dens.max()) <= 1
    assert any(cat.labels()) and cat.manifest["special_tokens"] == "excluded"
    live = [i for i in range(64) if cat.max_activations()[i] > 0]
    assert live
    specials = set(session.tokenizer.all_special_ids)
    checked = 0
    for i in live[:12]:
        rec = cat.feature(i)
        assert rec.index == i and rec.label == cat.label(i)
        assert rec.label_source == "automatic"
        assert rec.snippets and rec.max_activation == pytest.approx(rec.snippets[0].max_value)
        assert [s.max_value for s in rec.snippets] == sorted((s.max_value for s in rec.snippets),
                                                             reverse=True)
        assert rec.histogram is not None and sum(rec.histogram[1]) > 0
        assert len(rec.histogram[0]) == len(rec.histogram[1]) + 1
        assert len(rec.promoted) == 10 and len(rec.suppressed) == 10
        assert rec.promoted[0][1] >= rec.promoted[-1][1] >= rec.suppressed[-1][1]
        for snip in rec.snippets:
            assert len(snip.tokens) == len(snip.values) == len(snip.token_ids)
            assert snip.values[snip.peak] == pytest.approx(snip.max_value)
            assert snip.document["meta"]["lang"] in ("en", "de", "es")
            # the window is the whole chunk (short texts, wide window): re-encode it directly
            assert snip.token_ids[0] == session.tokenizer.bos_token_id
            acts = direct_encode(session, snip.token_ids)[:, i]
            for pos, (tid, value) in enumerate(zip(snip.token_ids, snip.values)):
                if tid in specials:
                    assert value == 0.0         # special tokens are never evidence
                else:
                    assert value == pytest.approx(float(acts[pos]), rel=1e-4, abs=1e-5)
            checked += 1
    assert checked


def test_max_and_density_match_a_direct_pass(built):
    session, folder = built
    cat = Catalog(folder)
    tok = session.tokenizer
    specials = set(tok.all_special_ids)
    on = torch.zeros(64)
    n = 0
    mx = torch.zeros(64)
    for item in TEXTS:
        ids = tok(item["text"])["input_ids"]
        acts = direct_encode(session, ids)
        keep = torch.tensor([t not in specials for t in ids])
        mx = torch.maximum(mx, acts[keep].max(0).values)
        on += (acts[keep] > 0).sum(0)
        n += int(keep.sum())
    assert torch.allclose(cat.max_activations(), mx, rtol=1e-4, atol=1e-6)
    assert torch.allclose(cat.densities(), on / n, atol=1e-6)
    assert cat.manifest["tokens"] == n
    for i in range(0, 64, 5):
        hist = cat.histogram(i)
        assert sum(hist[1]) == int(on[i])             # every active token is in one bin
        if on[i]:
            assert hist[0][0] <= float(mx[i]) <= hist[0][-1]   # the max lies in the span


class Recorder:
    """Wraps a memory-mapped array and records the slices read from it."""

    def __init__(self, name, array, log):
        self.name, self.array, self.log = name, array, log
        self.shape = array.shape

    def __getitem__(self, key):
        self.log.append((self.name, key))
        return self.array[key]


def test_lazy_open_reads_no_snippets(built, monkeypatch):
    _, folder = built
    loads = []
    real_load = np.load

    def spy(path, *a, **kw):
        loads.append(str(path))
        return real_load(path, *a, **kw)

    monkeypatch.setattr(store.np, "load", spy)
    cat = Catalog(folder)
    cat.labels()
    cat.max_activations()
    cat.densities()
    assert loads == [] and cat._snip is None and cat._vocab is None
    i = int(torch.argmax(cat.max_activations()))
    rec = cat.feature(i)
    assert rec.snippets
    # every snippet array was memory-mapped, not read
    assert sorted(p.rsplit("/", 1)[1] for p in loads) == sorted(f"{n}.npy" for n in store.SNIPPET_ARRAYS)
    # reading feature i touches only feature i's slices
    log = []
    arrays = {n: Recorder(n, a, log) for n, a in cat._snip.items()}
    cat._snip = arrays
    off = arrays["offsets"].array
    lo, hi = int(off[i]), int(off[i + 1])
    starts = arrays["token_start"].array
    t0, t1 = int(starts[lo]), int(starts[hi])
    cat.snippets(i)
    for name, key in log:
        if name == "offsets":
            assert key in (i, i + 1)
        elif name == "token_start":
            assert key == slice(lo, hi + 1)
        elif name in ("tokens", "values"):
            assert key == slice(t0, t1)
        else:
            assert key == slice(lo, hi)
    assert {n for n, _ in log} == set(store.SNIPPET_ARRAYS)


def test_user_labels_saved_at_once_and_win(built, tmp_path):
    import shutil

    _, folder = built
    copy = tmp_path / "catalog"
    shutil.copytree(folder, copy)
    cat = Catalog(copy)
    auto = cat.label(3)
    cat.set_user_label(3, "  my own label ")
    assert cat.label(3) == "my own label" and cat.label_source(3) == "user"
    assert json.loads((copy / "user_labels.json").read_text()) == {"3": "my own label"}
    fresh = Catalog(copy)
    assert fresh.label(3) == "my own label" and fresh.labels()[3] == "my own label"
    assert fresh.feature(3).labels_by_source["automatic"] == auto
    fresh.write_source_labels("hand", {3: "hand label", 4: "hand four"})
    assert fresh.label(3) == "my own label" and fresh.label(4) == "hand four"
    assert fresh.label_source(4) == "hand"
    fresh.set_user_label(3, "")
    assert fresh.label(3) == "hand label" and fresh.label_source(3) == "hand"
    with pytest.raises(InputError, match="out of range"):
        fresh.set_user_label(64, "x")


def test_rebuild_keeps_imported_and_user_labels(cat_session, tmp_path):
    out = tmp_path / "cat"
    cat = create_empty(out, 64)
    cat.write_source_labels("imported", {1: "imported one"})
    cat.set_user_label(2, "user two")
    cat = build_catalog(cat_session, TEXTS[:4], out, context=64, batch_size=4, top_k=3)
    assert cat.label(1) == "imported one" and cat.label(2) == "user two"
    assert cat.max_activations() is not None


def test_open_catalog_for(cat_sae_dir, tmp_path):
    assert open_catalog_for(None, 64) is None
    assert open_catalog_for(tmp_path / "nothing", 64) is None
    assert catalog_folder_for(cat_sae_dir) == cat_sae_dir / "catalog"
    single = tmp_path / "sae.pt"
    single.write_bytes(b"")
    assert catalog_folder_for(single) == tmp_path / "sae.pt.catalog"
    sae = tmp_path / "sae"
    sae.mkdir()
    create_empty(sae / "catalog", 10)
    cat = open_catalog_for(sae, 10)
    assert cat is not None and cat.max_activations() is None and cat.labels() == [""] * 10
    with pytest.raises(InputError, match="belongs to another SAE"):
        open_catalog_for(sae, 11)


def test_session_attaches_catalog(built, cat_model_dir, cat_sae_dir):
    import shutil

    from steerdesk.engine.session import open_session

    _, folder = built
    target = cat_sae_dir / "catalog"
    shutil.copytree(folder, target)
    try:
        s = open_session(cat_model_dir, cat_sae_dir, device="cpu", dtype="float32")
        assert s.catalog is not None and torch.equal(s.max_acts, Catalog(folder).max_activations())
    finally:
        shutil.rmtree(target)


def test_build_resumes_after_cancel(cat_session, tmp_path):
    texts = TEXTS * 2
    kw = {"context": 64, "batch_size": 4, "top_k": 4, "window": (8, 4)}
    whole = build_catalog(cat_session, texts, tmp_path / "whole", **kw)
    with pytest.raises(Cancelled):
        build_catalog(cat_session, texts, tmp_path / "parts", _stop_after_batches=2, **kw)
    assert (tmp_path / "parts" / ".build-state.pt").is_file()
    with pytest.raises(InputError, match="other settings"):
        build_catalog(cat_session, texts, tmp_path / "parts", **{**kw, "top_k": 5})
    calls = []
    parts = build_catalog(cat_session, texts, tmp_path / "parts",
                          progress=lambda f, m: calls.append((f, m)), **kw)
    assert any("Resuming" in m for _, m in calls) and calls[-1][0] == 1.0
    assert not (tmp_path / "parts" / ".build-state.pt").exists()
    assert torch.equal(whole.max_activations(), parts.max_activations())
    assert torch.equal(whole.densities(), parts.densities())
    assert whole.labels() == parts.labels()
    for i in range(0, 64, 7):
        a, b = whole.feature(i), parts.feature(i)
        assert [s.token_ids for s in a.snippets] == [s.token_ids for s in b.snippets]
        assert a.histogram == b.histogram


def test_cancel_callable(cat_session, tmp_path):
    with pytest.raises(Cancelled):
        build_catalog(cat_session, TEXTS, tmp_path / "c", context=64, batch_size=2,
                      cancelled=lambda: True)


def test_derived_values_are_kept_until_the_labels_change(tmp_path):
    cat = create_empty(tmp_path / "c", 3)
    builds = []

    def build():
        builds.append(list(cat.labels()))
        return len(builds)

    assert cat.derived("n", build) == 1 and cat.derived("n", build) == 1
    cat.set_user_label(2, "dogs")
    assert cat.derived("n", build) == 2 and builds[-1] == ["", "", "dogs"]
    assert cat.derived("other", build) == 3      # keys are kept apart
