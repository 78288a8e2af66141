"""Catalog values against hand computations: promoted and suppressed tokens through the final
norm and the unembedding, and max / mean pooling of activations over a text."""

import pytest
import torch
from hooking import installed

from steerdesk.engine.catalog import Catalog, contrast, features_on_text
from steerdesk.engine.catalog.logit_lens import logit_effects
from steerdesk.engine.models import load_model
from steerdesk.engine.sae import load_sae
from steerdesk.engine.session import attach_sae
from steerdesk.testing.tiny import make_model, make_sae

N = 5


def _final_norm_by_hand(model, family, r):
    """The model's final norm applied to decoder rows as if each were the whole residual,
    minus the norm of a zero residual (so a bias does not count as the feature's)."""
    if family == "gpt2":
        ln = model.transformer.ln_f
        mu = r.mean(-1, keepdim=True)
        var = ((r - mu) ** 2).mean(-1, keepdim=True)
        return (r - mu) / torch.sqrt(var + ln.eps) * ln.weight + ln.bias - ln.bias
    norm = model.model.norm
    eps = model.config.rms_norm_eps
    return r * torch.rsqrt((r * r).mean(-1, keepdim=True) + eps) * norm.weight


def _by_hand(session, family, vocab):
    W_U = session.model.lm_head.weight.detach()[:vocab]
    rows = session.sae.W_dec.detach()
    logits = _final_norm_by_hand(session.model, family, rows) @ W_U.t()
    return logits.topk(N, dim=1), logits.topk(N, dim=1, largest=False)


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_promoted_and_suppressed_tokens_go_through_the_final_norm(tmp_path, family):
    lm = load_model(make_model(tmp_path / "m", family, d=32, layers=2), device="cpu")
    # A final norm with a gain (and a bias) of its own, so that leaving it out shows.
    norm = lm.model.transformer.ln_f if family == "gpt2" else lm.model.model.norm
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():
        norm.weight.copy_(torch.rand(norm.weight.shape, generator=g) * 2 - 0.5)
        if getattr(norm, "bias", None) is not None:
            norm.bias.copy_(torch.randn(norm.bias.shape, generator=g))
    session = attach_sae(lm, load_sae(make_sae(tmp_path / "s", d_in=32, d_sae=24,
                                               hook="blocks.1.hook_resid_post")))
    vocab = len(lm.tokenizer)
    effects = logit_effects(session, N, vocab_size=vocab)
    assert logit_effects.method == "final_norm"
    top, bottom = _by_hand(session, family, vocab)
    assert effects[0].long().tolist() == top.indices.tolist()
    assert effects[1].flatten().tolist() == pytest.approx(top.values.flatten().tolist(),
                                                          rel=1e-4, abs=1e-4)
    assert effects[2].long().tolist() == bottom.indices.tolist()
    assert effects[3].flatten().tolist() == pytest.approx(bottom.values.flatten().tolist(),
                                                          rel=1e-4, abs=1e-4)
    # The norm changes the ranking, not only the scale: the raw rows would rank otherwise.
    raw = (session.sae.W_dec @ lm.model.lm_head.weight[:vocab].t()).topk(N, dim=1).indices
    assert raw.tolist() != top.indices.tolist()


def test_the_built_catalog_stores_those_tokens(built):
    session, folder = built
    cat = Catalog(folder)
    top, bottom = _by_hand(session, "llama", len(session.tokenizer))
    for i in (0, 7, 31):
        promoted, suppressed = cat.promoted(i), cat.suppressed(i)
        assert [t for t, _ in promoted[:N]] == [cat.token_text(int(t)) for t in top.indices[i]]
        assert [v for _, v in promoted[:N]] == pytest.approx(top.values[i].tolist(), rel=1e-4)
        assert [t for t, _ in suppressed[:N]] == [cat.token_text(int(t))
                                                  for t in bottom.indices[i]]
        assert [v for _, v in suppressed[:N]] == pytest.approx(bottom.values[i].tolist(),
                                                               rel=1e-4)


# ---- pooling over a text ----------------------------------------------------------------
def _acts_by_hand(session, text):
    """ReLU SAE activations [n, d_sae] at the hook, and which tokens are not special."""
    t = {n: b.detach() for n, b in session.sae.named_buffers()}
    ids = session.tokenizer(text)["input_ids"]
    seen = []
    with installed(session.hook, lambda h: seen.append(h.detach().clone())), torch.no_grad():
        session.model(input_ids=torch.tensor([ids]))
    cfg = session.sae.cfg
    assert cfg.architecture == "relu" and cfg.normalize_activations == "none"
    acts = torch.relu((seen[0][0] - t["b_dec"]) @ t["W_enc"] + t["b_enc"])
    keep = torch.tensor([i not in session.tokenizer.all_special_ids for i in ids])
    return acts, keep


TEXT_A = ["the quick brown fox jumps over the lazy dog", "hello world, steering is fun"]
TEXT_B = ["Der schnelle braune Fuchs springt.", "El zorro marron salta sobre el perro."]


@pytest.mark.parametrize("by", ["max", "mean"])
def test_features_on_text_pools_by_max_or_mean(cat_session, by):
    acts, keep = _acts_by_hand(cat_session, TEXT_A[0])
    assert not keep.all()                               # BOS is there, and left out
    pooled = acts[keep].max(0).values if by == "max" else acts[keep].mean(0)
    want = pooled.topk(8)
    got = features_on_text(cat_session, TEXT_A[0], top=8, by=by)
    assert [i for i, _ in got] == want.indices.tolist()
    assert [v for _, v in got] == pytest.approx(want.values.tolist(), rel=1e-4, abs=1e-6)
    other = acts[keep].mean(0) if by == "max" else acts[keep].max(0).values
    assert not torch.allclose(other.topk(8).values, want.values)   # max and mean differ here


@pytest.mark.parametrize("pool", ["max", "mean"])
def test_contrast_means_are_means_of_the_pooled_values(cat_session, pool):
    def pooled(text):
        acts, keep = _acts_by_hand(cat_session, text)
        return acts[keep].max(0).values if pool == "max" else acts[keep].mean(0)

    xa = torch.stack([pooled(t) for t in TEXT_A])
    xb = torch.stack([pooled(t) for t in TEXT_B])
    result = contrast(cat_session, TEXT_A, TEXT_B, top=6, pool=pool, classifier_features=2)
    assert result.classifier.pool == pool
    for f in result.features:
        assert f.mean_a == pytest.approx(float(xa[:, f.index].mean()), rel=1e-4, abs=1e-6)
        assert f.mean_b == pytest.approx(float(xb[:, f.index].mean()), rel=1e-4, abs=1e-6)


def test_the_catalogs_mean_is_over_the_tokens_where_a_feature_fires(built):
    from catalog_texts import TEXTS
    from safetensors.torch import load_file

    session, folder = built
    stats = load_file(str(folder / "stats.safetensors"))
    total, on = torch.zeros(session.sae.d_sae), torch.zeros(session.sae.d_sae)
    for item in TEXTS:
        acts, keep = _acts_by_hand(session, item["text"])
        a = acts[keep]
        total += a.sum(0)
        on += (a > 0).sum(0)
    assert on.min() < on.max()        # features fire on different numbers of tokens
    want = total / on.clamp_min(1)
    assert stats["mean_act"].tolist() == pytest.approx(want.tolist(), rel=1e-4, abs=1e-6)
