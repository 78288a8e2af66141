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
