"""Building from files, token limits, automatic labels and metadata tags."""

import json

import pytest

from steerdesk.engine.catalog import automatic_label, build_catalog
from steerdesk.engine.catalog.accumulator import TopKAccumulator
from steerdesk.engine.catalog.auto_labels import START, metadata_tag
from steerdesk.engine.catalog.corpus import Corpus, read_texts
from steerdesk.engine.errors import InputError


def test_corpus_files_and_folders(tmp_path):
    folder = tmp_path / "c"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("first paragraph\nstill first\n\nsecond paragraph\n")
    (folder / "sub" / "b.jsonl").write_text(
        json.dumps({"text": "hallo welt", "lang": "de", "nested": {"x": 1}}) + "\n\n"
        + json.dumps("a bare string") + "\n")
    (folder / "ignored.md").write_text("not a corpus file")
    docs = [d for d, _ in Corpus(folder)]
    assert [d.text for d in docs] == ["first paragraph\nstill first\n\nsecond paragraph",
                                      "hallo welt", "a bare string"]
    assert docs[1].meta == {"lang": "de"} and docs[1].source == "b.jsonl"
    fractions = [f for _, f in Corpus(folder)]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    with pytest.raises(InputError, match="no such corpus"):
        Corpus(tmp_path / "nope.txt")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"oops"\n')
    with pytest.raises(InputError, match=r"bad.jsonl, line 2: not valid JSON"):
        list(Corpus(bad))
    notext = tmp_path / "n.jsonl"
    notext.write_text('{"body2": "x"}\n')
    with pytest.raises(InputError, match="no 'text' string"):
        list(Corpus(notext))
    with pytest.raises(InputError, match="a .txt or .jsonl file"):
        (tmp_path / "x.csv").write_text("a"), Corpus(tmp_path / "x.csv")
    with pytest.raises(InputError, match="no .txt or .jsonl"):
        (tmp_path / "empty").mkdir(), Corpus(tmp_path / "empty")
    lines = tmp_path / "l.txt"
    lines.write_text("one\n\ntwo\n")
    assert read_texts(lines) == ["one", "two"]


def test_build_from_a_folder_with_a_token_limit(cat_session, tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "a.txt").write_text("the quick brown fox jumps over the lazy dog.\n" * 30)
    (folder / "b.jsonl").write_text(json.dumps({"text": "hello world " * 50}) + "\n")
    cat = build_catalog(cat_session, folder, tmp_path / "out", tokens=300, context=32)
    assert cat.manifest["tokens"] == 300 and cat.manifest["corpus"] == str(folder)
    with pytest.raises(InputError, match="must be a positive"):
        build_catalog(cat_session, folder, tmp_path / "o2", tokens=0)
    empty = tmp_path / "e.txt"
    empty.write_text("\n\n")
    with pytest.raises(InputError, match="holds no text tokens"):
        build_catalog(cat_session, empty, tmp_path / "o3")


def test_automatic_labels():
    assert automatic_label([" the", "the", " the", " a"], [3, 2, 2, 1], [], []) == "'the'"
    assert automatic_label([" and", " or", " and", " or"], [1, 1, 1, 1], [], []) == "'and' / 'or'"
    assert (automatic_label(["running", "jumping", "eating", "singing", "walk"], [1] * 5, [], [])
            == "words ending in '-ing'")
    assert automatic_label([" s", "s", " s"], [1, 1, 1], ["it", "it", "it"], [" is"]) \
        == "'s' after 'it' (\u2192 'is')"
    assert automatic_label(["x"], [1.0], [], [], tag="German text") == "German text: 'x'"
    assert (automatic_label(["If", "If", "When"], [1, 1, 1], [START] * 3, [])
            == "'If' / 'When' at the start of a text")
    assert automatic_label([], [], [], []) == ""
    assert automatic_label(["\n", "\n"], [1, 1], [], []) == "'\\n'"


def test_metadata_tag():
    base = {"lang": {"en": 0.8, "de": 0.2}, "collection": {"news": 0.3, "wiki": 0.7}}
    de = [{"lang": "de", "collection": "news"}] * 4 + [{"lang": "en", "collection": "wiki"}]
    assert metadata_tag(de, base) == "German text (news)"
    assert metadata_tag(de, base, keys=["lang"]) == "German text"
    en = [{"lang": "en"}] * 5
    assert metadata_tag(en, base) is None                  # most of the corpus is English
    assert metadata_tag(de[:2], base) is None             # too few snippets
    mixed = [{"lang": "de"}, {"lang": "en"}, {"lang": "de"}, {"lang": "en"}]
    assert metadata_tag(mixed, base) is None


def test_metadata_tags_reach_labels(cat_session, tmp_path):
    # German documents are a third of this corpus; features whose top snippets all come from
    # them get the tag
    texts = ([{"text": "Der schnelle braune Fuchs springt über den Hund.", "lang": "de"}] * 4
             + [{"text": "the quick brown fox jumps over the lazy dog.", "lang": "en"}] * 4
             + [{"text": "hello world, steering models is fun!", "lang": "en"}] * 4)
    cat = build_catalog(cat_session, texts, tmp_path / "m", context=64, top_k=4)
    tagged = [i for i, lbl in enumerate(cat.labels()) if lbl.startswith("German text: ")]
    assert tagged
    for i in tagged:
        docs = [s.document for s in cat.feature(i).snippets]
        assert sum(d["meta"]["lang"] == "de" for d in docs) >= 0.7 * len(docs)
    assert not any(lbl.startswith("English text") for lbl in cat.labels())


def test_accumulator_matches_a_brute_force_top_k():
    import torch

    g = torch.Generator().manual_seed(0)
    F, k = 7, 3
    acc = TopKAccumulator(F, k, before=2, after=1, device=torch.device("cpu"))
    seqs = []
    for batch in range(4):
        acts = torch.relu(torch.randn(5, 6, F, generator=g))
        ids = torch.randint(1, 50, (5, 6), generator=g)
        real = torch.ones(5, 6, dtype=torch.bool)
        real[0, 4:] = False
        acts = acts * real.unsqueeze(-1)
        docs = torch.arange(5) + 5 * batch
        acc.add(acts, ids, real, docs)
        seqs.extend(zip(acts, ids, docs))
    for f in range(F):
        maxes = sorted(((float(a[:, f].max()), int(d)) for a, _, d in seqs), reverse=True)[:k]
        got = [(float(v), int(d)) for v, d in zip(acc.top_vals[f], acc.top_doc[f])]
        assert [m for m, _ in got] == pytest.approx([m for m, _ in maxes])
        assert [d for _, d in got] == [d for _, d in maxes]
        for slot, (_, d) in enumerate(got):
            a, ids, _ = seqs[d]
            pos = int(a[:, f].argmax())
            window = acc.top_tok[f, slot].tolist()
            assert window[2] == int(ids[pos])                       # the peak sits at `before`
            assert float(acc.top_act[f, slot, 2]) == pytest.approx(float(a[pos, f]))


def test_special_ids():
    from types import SimpleNamespace

    from steerdesk.engine.reading import special_ids

    # one token for BOS, EOS, pad and unk (the pocket tokenizer): it stays special
    same = SimpleNamespace(all_special_ids=[0], bos_token_id=0, eos_token_id=0, pad_token_id=0,
                           unk_token_id=0)
    assert special_ids(same) == {0}
    # a separate unk token stands for real (unknown) text: not special
    apart = SimpleNamespace(all_special_ids=[0, 5, 7], bos_token_id=0, eos_token_id=7,
                            pad_token_id=None, unk_token_id=5)
    assert special_ids(apart) == {0, 7}
