"""The TopK SAE trainer: activations from a tiny random model, a short run, save and reload."""

from __future__ import annotations

import torch

from steerdesk.engine.models import load_model
from steerdesk.engine.sae import load_sae
from steerdesk.engine.sae.fmt_saelens import save_saelens
from steerdesk.engine.sae_trainer import (
    TopKTrainConfig,
    collect_activations,
    evaluate_sae,
    geometric_median,
    train_topk_sae,
)

HOOK = "blocks.0.hook_resid_post"


def _acts(llama_dir, tokens=3000):
    lm = load_model(llama_dir, device="cpu", dtype="float32")
    g = torch.Generator().manual_seed(0)
    vocab = lm.model.config.vocab_size
    batches = (torch.randint(1, vocab, (8, 32), generator=g) for _ in range(100))
    return lm, collect_activations(lm.model, HOOK, batches, max_tokens=tokens, skip_ids=[0])


def test_collect_skips_first_position_and_separators(llama_dir):
    lm = load_model(llama_dir, device="cpu", dtype="float32")
    ids = torch.tensor([[0, 5, 6, 0, 7, 8]])
    acts, kept = collect_activations(lm.model, HOOK, [ids], skip_ids=[0], return_ids=True)
    assert kept.tolist() == [5, 6, 7, 8]
    assert acts.shape == (4, lm.model.config.hidden_size)
    # the captured rows are the hook's output at those positions
    from hooking import installed

    from steerdesk.engine.hooks import resolve_hook
    seen = []
    with installed(resolve_hook(lm.model, HOOK), lambda h: seen.append(h.detach())), \
            torch.inference_mode():
        lm.model(input_ids=ids)
    assert torch.allclose(acts, seen[0][0, [1, 2, 4, 5]].float(), atol=1e-6)


def test_geometric_median_resists_outliers():
    x = torch.zeros(101, 3)
    x[:5] = 1000.0
    assert geometric_median(x).abs().max() < 1.0


def test_short_training_lowers_fvu_and_saved_folder_encodes_identically(llama_dir, tmp_path):
    _, acts = _acts(llama_dir)
    cfg = TopKTrainConfig(d_sae=64, k=4, batch_size=256, minutes=None, max_steps=150,
                          warmup_steps=5, lr=3e-3, dead_tokens=2000, log_every=25)
    untrained = train_topk_sae(acts, TopKTrainConfig(**{**cfg.__dict__, "max_steps": 1, "lr": 0.0}))
    result = train_topk_sae(acts, cfg, hook_name=HOOK, model_name="tiny-llama", context_size=32)
    before = evaluate_sae(untrained.sae, acts)["fvu"]
    after = evaluate_sae(result.sae, acts)
    assert after["fvu"] < 0.8 * before
    assert after["l0"] <= 4 + 1e-6
    assert result.steps == 150 and result.density.shape == (64,)
    assert torch.allclose(result.sae.W_dec.norm(dim=-1), torch.ones(64), atol=1e-4)

    folder = save_saelens(result.sae, tmp_path / "sae", density=result.density)
    loaded = load_sae(folder)
    assert loaded.cfg.architecture == "topk" and loaded.cfg.k == 4
    assert loaded.cfg.hook_name == HOOK and loaded.cfg.model_name == "tiny-llama"
    assert (folder / "sparsity.safetensors").is_file()
    x = acts[:200]
    assert torch.equal(loaded.encode(x), result.sae.encode(x))
    assert torch.allclose(loaded.reconstruct(x), result.sae.reconstruct(x))
