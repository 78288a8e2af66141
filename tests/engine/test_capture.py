"""Installing hooks for a block of code, and capturing the activation at a hook point."""

import pytest
import torch

from steerdesk.engine.errors import InputError
from steerdesk.engine.hooks import capture_at, find_module, hooked_width, resolve_hook


def _hook_count(module: torch.nn.Module) -> int:
    return len(module._forward_hooks) + len(module._forward_pre_hooks)


def test_installed_hooks_come_off_even_when_the_body_fails(session):
    point = resolve_hook(session.model, "blocks.1.hook_resid_post")
    before = _hook_count(point.module)
    seen = []
    with pytest.raises(ValueError), point.installed(lambda h: seen.append(h.shape)):
        assert _hook_count(point.module) == before + 1
        with torch.no_grad():
            session.model(input_ids=torch.tensor([[0, 5, 9]]))
        raise ValueError("the body fails")
    assert seen == [torch.Size([1, 3, 32])]
    assert _hook_count(point.module) == before


def test_capture_at_returns_what_the_full_pass_carries_and_stops_there(session):
    model, ids = session.model, torch.tensor([[0, 5, 9, 12], [0, 7, 7, 3]])
    point = resolve_hook(model, "blocks.1.hook_resid_post")
    full = []
    with point.installed(lambda h: full.append(h.clone())), torch.no_grad():
        model(input_ids=ids)
    later_block = resolve_hook(model, "blocks.2.hook_resid_post")
    ran_later = []
    with later_block.installed(lambda h: ran_later.append(1)):
        got = capture_at(model, point, ids)
    assert torch.equal(got, full[0])
    assert ran_later == []                       # the blocks after the hook never ran
    assert _hook_count(point.module) == 0        # and the capture hook is gone
    assert hooked_width(model, point) == 32


def test_capture_at_a_module_the_model_never_runs_is_an_input_error(session):
    unused = torch.nn.Linear(2, 2)
    session.model.add_module("never_called", unused)
    try:
        point = resolve_hook(session.model, "never_called")
        with pytest.raises(InputError, match="never ran through output of never_called"):
            capture_at(session.model, point, torch.tensor([[0, 5]]))
    finally:
        del session.model._modules["never_called"]


def test_find_module_follows_dotted_paths_and_says_none_when_absent(session):
    model = session.model
    assert find_module(model, "model.layers.1") is model.model.layers[1]
    assert find_module(model, "model.norm") is model.model.norm
    assert find_module(model, "model.layers.9") is None
    assert find_module(model, "transformer.h") is None
