"""center_writing_weights: SAEs trained on TransformerLens's centred GPT-2 read a residual
stream that is the Hugging Face model's minus its mean over d_model. Checked against a centred
copy of a tiny GPT-2 built by hand, as TransformerLens builds it (weight_processing.py,
center_writing_weights: W_E, W_pos, W_O, b_O, W_out, b_out each minus its d_model mean)."""

from __future__ import annotations

import copy

import torch

from steerdesk.engine.hooks import resolve_hook
from steerdesk.engine.models import load_model
from steerdesk.engine.sae import load_sae
from steerdesk.engine.session import apply_input_centring
from steerdesk.testing.tiny import make_model, make_sae


def centred_copy(model):
    m = copy.deepcopy(model)
    t = m.transformer
    with torch.no_grad():
        t.wte.weight -= t.wte.weight.mean(-1, keepdim=True)   # rows are d_model vectors
        t.wpe.weight -= t.wpe.weight.mean(-1, keepdim=True)
        for block in t.h:                                       # Conv1D weight: [in, d_model]
            for proj in (block.attn.c_proj, block.mlp.c_proj):
                proj.weight -= proj.weight.mean(-1, keepdim=True)
                proj.bias -= proj.bias.mean()
    return m


def residual(model, ids, hook):
    seen = []
    handle = resolve_hook(model, hook).register(lambda h: seen.append(h.detach().clone()))
    try:
        with torch.no_grad():
            model(input_ids=ids, use_cache=False)
    finally:
        handle.remove()
    return seen[0]


def test_centred_model_residual_is_the_hf_residual_minus_its_mean(tmp_path):
    lm = load_model(make_model(tmp_path / "gpt2", "gpt2", d=32, layers=3), device="cpu")
    centred = centred_copy(lm.model)
    ids = torch.tensor([lm.tokenizer("the quick brown fox jumps")["input_ids"]])
    for hook in ("blocks.0.hook_resid_pre", "blocks.2.hook_resid_pre", "blocks.2.hook_resid_post"):
        x, y = residual(lm.model, ids, hook), residual(centred, ids, hook)
        assert (x.mean(-1).abs() > 1e-2).any()      # the HF stream is not centred itself
        torch.testing.assert_close(y, x - x.mean(-1, keepdim=True), atol=1e-4, rtol=1e-4)

    # An SAE told to centre its input encodes the HF stream as the plain SAE encodes the
    # centred model's stream, and decodes back into the HF stream's own offset.
    sae_dir = make_sae(tmp_path / "sae", d_in=32, d_sae=64, hook="blocks.2.hook_resid_pre")
    plain, centring = load_sae(sae_dir), load_sae(sae_dir)
    apply_input_centring(centring, "test")
    x = residual(lm.model, ids, "blocks.2.hook_resid_pre")
    y = residual(centred, ids, "blocks.2.hook_resid_pre")
    torch.testing.assert_close(centring.encode(x), plain.encode(y), atol=1e-4, rtol=1e-4)
    assert (plain.encode(y) > 0).any() and not torch.allclose(plain.encode(x), plain.encode(y))
    torch.testing.assert_close(centring.reconstruct(x) - x.mean(-1, keepdim=True),
                               plain.reconstruct(y), atol=1e-4, rtol=1e-4)
