"""The gallery data file, names, and sae-lens's registry read without importing sae_lens."""

from __future__ import annotations

import sys

import pytest

from steerdesk.engine import saelens_registry
from steerdesk.engine.errors import InputError
from steerdesk.engine.gallery import load_gallery, parse_name

REGISTRY = """
gpt2-small-res-jb:
  conversion_func: null
  model: gpt2-small
  repo_id: jbloom/GPT2-Small-SAEs-Reformatted
  config_overrides:
    model_from_pretrained_kwargs:
      center_writing_weights: true
  saes:
  - {id: blocks.0.hook_resid_pre, path: blocks.0.hook_resid_pre, l0: 10.0}
some-new-release:
  conversion_func: null
  model: org/new-model
  repo_id: org/new-saes
  config_overrides:
    model_from_pretrained_kwargs:
      center_writing_weights: true
  saes:
  - {id: blocks.3.hook_resid_post, path: blocks.3.hook_resid_post, neuronpedia: new-model/3-res}
gemma-scope-2-4b-pt-transcoders-all:
  conversion_func: gemma_3
  model: google/gemma-3-4b-pt
  repo_id: google/gemma-scope-2-4b-pt
  saes:
  - {id: layer_0_width_16k_l0_big, path: transcoder_all/layer_0_width_16k_l0_big, l0: 60}
gemma-scope-2-4b-pt-res:
  conversion_func: gemma_3
  model: google/gemma-3-4b-pt
  repo_id: google/gemma-scope-2-4b-pt
  saes:
  - {id: layer_9_width_16k_l0_small, path: resid_post/layer_9_width_16k_l0_small, l0: 20}
goodfire-llama:
  conversion_func: goodfire
  model: meta-llama/Llama-3.3-70B-Instruct
  repo_id: Goodfire/x
  saes:
  - {id: layer_50, path: x.pth}
"""


@pytest.fixture
def fake_sae_lens(tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "sae_lens"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('steerdesk must not import sae_lens')\n")
    (pkg / "pretrained_saes.yaml").write_text(REGISTRY)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    saelens_registry._read.cache_clear()
    yield pkg
    saelens_registry._read.cache_clear()


def test_curated_entries_are_complete():
    g = load_gallery(with_registry=False)
    names = [e.name for e in g.entries]
    assert {"gpt2-small", "pythia-70m-deduped", "gemma-2-2b", "gemma-3-270m-it", "gemma-3-1b-it",
            "llama-3.1-8b"} <= set(names)
    for e in g.entries:
        rel, sae = g.lookup(e.name)
        model = g.model_of(rel)
        assert rel.pullable and model is not None and model.repo and sae.hook and sae.width
        assert model.weights_bytes("bfloat16") * 2 == model.weights_bytes("float32")
    jb, s8 = g.lookup("gpt2-small-res-jb:blocks.8.hook_resid_pre")
    assert (jb.repo, s8.path, s8.neuronpedia, s8.l0) == (
        "jbloom/GPT2-Small-SAEs-Reformatted", "blocks.8.hook_resid_pre", "8-res-jb", 60.0)
    assert jb.input_centring and g.model_of(jb).repo == "openai-community/gpt2"
    gs, s12 = g.lookup("gemma-scope-2b-pt-res-canonical:layer_12/width_16k/canonical")
    assert s12.path == "layer_12/width_16k/average_l0_82" and len(gs.saes) == 26
    assert g.model_of(g.releases["gemma-scope-2-270m-it-res"]).gated
    assert {"registry", "not_verified", "input_centring"} <= set(g.sources)


def test_names():
    assert parse_name("gpt2-small-res-jb:blocks.8.hook_resid_pre") == (
        "gpt2-small-res-jb", "blocks.8.hook_resid_pre")
    assert parse_name("gemma-scope-2b-pt-res-canonical:layer_12/width_16k/canonical")[1] == \
        "layer_12/width_16k/canonical"
    assert parse_name("C:\\saes\\x") is None and parse_name("./a:b") is None
    g = load_gallery(with_registry=False)
    with pytest.raises(InputError, match="no SAE 'blocks.99"):
        g.lookup("gpt2-small-res-jb:blocks.99.hook_resid_pre")
    with pytest.raises(InputError, match="no such SAE release"):
        g.lookup("nope:x")


def test_registry_is_read_without_importing_sae_lens(fake_sae_lens):
    releases = saelens_registry.registry_releases()
    assert "sae_lens" not in sys.modules
    assert set(releases) == {"gpt2-small-res-jb", "some-new-release",
                             "gemma-scope-2-4b-pt-transcoders-all", "gemma-scope-2-4b-pt-res",
                             "goodfire-llama"}
    new = releases["some-new-release"]
    assert new.pullable and new.input_centring and new.neuronpedia_model == "new-model"
    assert new.saes[0].neuronpedia == "3-res"
    assert not releases["gemma-scope-2-4b-pt-transcoders-all"].pullable
    res = releases["gemma-scope-2-4b-pt-res"]
    assert res.format == "gemmascope2" and res.saes[0].hook == "blocks.9.hook_resid_post"
    assert not releases["goodfire-llama"].pullable and "goodfire" in releases["goodfire-llama"].note
    g = load_gallery()
    assert g.releases["gpt2-small-res-jb"].origin == "gallery"   # curated facts win
    assert g.model_of(new).repo == "org/new-model"
    assert g.lookup("some-new-release:blocks.3.hook_resid_post")[1].id == "blocks.3.hook_resid_post"


def test_no_sae_lens_no_registry(monkeypatch):
    monkeypatch.setattr(saelens_registry, "registry_path", lambda: None)
    assert saelens_registry.registry_releases() == {}
    assert set(load_gallery().releases) == set(load_gallery(with_registry=False).releases)
