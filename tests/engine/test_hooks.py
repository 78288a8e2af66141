from contextlib import ExitStack

import pytest
import torch
from hooking import installed

from steerdesk.engine.errors import InputError
from steerdesk.engine.hooks import resolve_hook


def _capture(model, names, ids):
    seen = {}
    with ExitStack() as stack:
        for name in names:
            stack.enter_context(installed(resolve_hook(model, name),
                                          lambda h, name=name: seen.__setitem__(name, h.clone())))
        with torch.no_grad():
            model(input_ids=ids)
    return seen


def test_resid_pre_of_a_block_is_resid_post_of_the_one_before(session):
    ids = torch.tensor([[0, 5, 9, 12]])
    seen = _capture(session.model, ["blocks.1.hook_resid_pre", "blocks.0.hook_resid_post",
                                    "layers.0"], ids)
    assert torch.equal(seen["blocks.1.hook_resid_pre"], seen["blocks.0.hook_resid_post"])
    assert torch.equal(seen["layers.0"], seen["blocks.0.hook_resid_post"])


def test_resid_pre_of_block_0_is_the_embedding(session):
    ids = torch.tensor([[0, 5, 9]])
    seen = _capture(session.model, ["blocks.0.hook_resid_pre"], ids)
    emb = session.model.get_input_embeddings()(ids)
    assert torch.allclose(seen["blocks.0.hook_resid_pre"], emb)


def test_a_hook_that_returns_a_tensor_changes_what_the_model_carries(session):
    ids = torch.tensor([[0, 5, 9]])
    with torch.no_grad():
        plain = session.model(input_ids=ids).logits
    with installed(resolve_hook(session.model, "blocks.1.hook_resid_pre"), lambda h: h * 0), \
            torch.no_grad():
        zeroed = session.model(input_ids=ids).logits
    assert not torch.allclose(plain, zeroed)


@pytest.mark.parametrize("name, message", [
    ("blocks.9.hook_resid_post", "layer 9 does not exist; this model has 3 layers"),
    ("blocks.1.hook_resid_mid", "no module boundary"),
    ("nonsense.hook", "not a TransformerLens hook name"),
    ("", "does not say which activation it reads"),
])
def test_bad_hook_names(session, name, message):
    with pytest.raises(InputError, match=message) as err:
        resolve_hook(session.model, name)
    assert err.value.field == "hook" and "--" not in err.value.message


def test_a_missing_hook_is_told_in_words_and_the_cli_adds_its_flag(session):
    with pytest.raises(InputError) as err:
        resolve_hook(session.model, "")
    assert "--hook" not in err.value.message
    assert err.value.for_cli().endswith("; pass --hook NAME")


@pytest.mark.parametrize("name", ["model", "lm_head"])
def test_a_module_whose_output_is_not_one_activation_per_token_is_refused(session, name):
    """`--hook model` named the whole decoder stack, whose output is a ModelOutput; lm_head's is
    [batch, seq, vocab] and passes here (it then fails the SAE's width check)."""
    from steerdesk.engine.hooks import hooked_width

    point = resolve_hook(session.model, name)
    if name == "lm_head":
        assert hooked_width(session.model, point) == session.model.config.vocab_size
        return
    with pytest.raises(InputError, match="is a BaseModelOutputWithPast, not one activation per "
                                         "token") as err:
        hooked_width(session.model, point)
    assert err.value.field == "hook" and "\n" not in err.value.for_cli()


def test_a_hook_that_contradicts_the_sae_files_is_noted(llama_dir, relu_sae_dir):
    from steerdesk.engine.session import open_session

    assert open_session(llama_dir, relu_sae_dir).notes == []
    same_place = open_session(llama_dir, relu_sae_dir, hook="layers.1")   # = resid_post of 1
    assert same_place.notes == []
    other = open_session(llama_dir, relu_sae_dir, hook="blocks.0.hook_resid_post")
    assert other.notes == [f"{relu_sae_dir}: its files say it reads blocks.1.hook_resid_post; it "
                           "reads blocks.0.hook_resid_post (output of model.layers[0]), as asked"]
