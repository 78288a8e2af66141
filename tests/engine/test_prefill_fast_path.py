"""The shared prompt pass (generation._prefill) is really used: the blocks before the hook run
with one row, for every family and hook side; and where it cannot be used, the fallback is
logged and counted, never silent. (test_shared_prefill.py checks that both passes give the
same tokens.)"""

import logging

import pytest
import torch
from hooking import module_hook

from steerdesk.engine import generation
from steerdesk.engine.generation import PREFILL, GenerationRequest, generate
from steerdesk.engine.hooks import find_blocks
from steerdesk.engine.models import load_model
from steerdesk.engine.sae import load_sae
from steerdesk.engine.session import attach_sae
from steerdesk.engine.steering import FeatureSteer, SteeringSpec
from steerdesk.testing.tiny import FAMILIES, make_model, make_sae

HOOKS = ("blocks.1.hook_resid_post", "blocks.1.hook_mlp_out", "blocks.1.hook_resid_pre",
         "blocks.1.hook_attn_out")
# Every family at a block's output and its MLP's output (the GPT-2 case that used to fall
# back); the input side and the attention output on two families.
CASES = ([(f, h) for f in FAMILIES for h in HOOKS[:2]]
         + [(f, h) for f in ("gpt2", "llama") for h in HOOKS[2:]])
VARIANTS = [SteeringSpec([FeatureSteer(3, 5.0)]),
            SteeringSpec([FeatureSteer(4, 2.0, "clamp"), FeatureSteer(6, -3.0)])]
ROWS = 1 + len(VARIANTS)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    made = {}

    def get(family):
        if family not in made:
            folder = make_model(tmp_path_factory.mktemp(family), family, d=32, layers=3)
            made[family] = load_model(folder, device="cpu")
        return made[family]
    return get


def _session(models, tmp_path, family, hook):
    return attach_sae(models(family), load_sae(make_sae(tmp_path / "sae", d_in=32, d_sae=48,
                                                        hook=hook)))


def _batch_sizes(session, request):
    """The batch size each block sees in the prompt's pass (the first call of each)."""
    _, blocks = find_blocks(session.model)
    seen: dict[int, int] = {}

    def recorder(n):
        def pre(module, args, kwargs):
            h = args[0] if args else kwargs["hidden_states"]
            seen.setdefault(n, int(h.shape[0]))
        return pre

    hooks = [module_hook(b, recorder(n), pre=True, with_kwargs=True) for n, b in enumerate(blocks)]
    for h in hooks:
        h.__enter__()
    try:
        result = generate(session, request)
    finally:
        for h in reversed(hooks):
            h.__exit__(None, None, None)
    return [seen[n] for n in range(len(blocks))], result


@pytest.mark.parametrize("family, hook", CASES)
def test_the_blocks_before_the_hook_run_one_row(models, tmp_path, family, hook):
    session = _session(models, tmp_path, family, hook)
    for positions, last in (("all", ROWS), ("generated", 1)):
        shared, fallbacks = PREFILL.shared, PREFILL.fallbacks
        sizes, _ = _batch_sizes(session, GenerationRequest(
            "the quick brown", VARIANTS, max_new_tokens=2, positions=positions))
        assert PREFILL.fallbacks == fallbacks, PREFILL.last_fallback
        assert PREFILL.shared == shared + 1
        # Block 0 comes before the hook point (block 1): one row. The last block comes after
        # it: every row where the prompt is steered, one where it is not.
        assert sizes[0] == 1
        assert sizes[-1] == last


def test_one_row_needs_no_shared_pass(models, tmp_path):
    session = _session(models, tmp_path, "llama", HOOKS[0])
    shared, fallbacks = PREFILL.shared, PREFILL.fallbacks
    sizes, _ = _batch_sizes(session, GenerationRequest("the quick", [], max_new_tokens=1,
                                                       watch=[3]))
    assert sizes == [1, 1, 1]
    assert (PREFILL.shared, PREFILL.fallbacks) == (shared, fallbacks)


def _tokens(result):
    return [[t.token_id for t in r.tokens] for r in result.rows]


@pytest.mark.parametrize("how", ["cache", "error"])
def test_a_forced_fallback_is_logged_counted_and_still_right(models, tmp_path, monkeypatch,
                                                             caplog, how):
    session = _session(models, tmp_path, "gpt2", "blocks.1.hook_mlp_out")
    request = GenerationRequest("the quick brown", VARIANTS, max_new_tokens=4, watch=[3, 4])
    reference = generate(session, request)
    monkeypatch.setattr(generation, "_WARNED", set())
    if how == "cache":
        monkeypatch.setattr(generation, "_widen_cache", lambda past, rows: False)
        expected = "cannot be widened"
    else:
        expected = "RuntimeError: one row refused"
    _, blocks = find_blocks(session.model)

    def refuse_one_row(module, args, kwargs):
        h = args[0] if args else kwargs["hidden_states"]
        if how == "error" and h.shape[0] == 1:
            raise RuntimeError("one row refused")

    fallbacks = PREFILL.fallbacks
    with caplog.at_level(logging.DEBUG, logger="steerdesk.engine.generation"), \
            module_hook(blocks[0], refuse_one_row, pre=True, with_kwargs=True):
        sizes, result = _batch_sizes(session, request)
    assert PREFILL.fallbacks == fallbacks + 1 and expected in PREFILL.last_fallback
    warned = [r for r in caplog.records if r.levelno == logging.WARNING
              and r.name == "steerdesk.engine.generation"]
    assert len(warned) == 1 and expected in warned[0].getMessage()
    assert "GPT2LMHeadModel" in warned[0].getMessage()
    # The one-row pass was tried (where it raised, block 0 refused it before the recorder
    # saw it), then the plain pass ran with every row, and the text is right.
    assert sizes[0] == (1 if how == "cache" else ROWS)
    assert _tokens(result) == _tokens(reference)
    for a, b in zip(result.rows, reference.rows):
        assert [t.logprob for t in a.tokens] == pytest.approx([t.logprob for t in b.tokens],
                                                              abs=1e-4)
    # The same fallback again is not warned about twice.
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="steerdesk.engine.generation"), \
            module_hook(blocks[0], refuse_one_row, pre=True, with_kwargs=True):
        generate(session, request)
    assert PREFILL.fallbacks == fallbacks + 2
    assert [r.levelno for r in caplog.records if r.name == "steerdesk.engine.generation"] == [
        logging.DEBUG]


def test_the_widened_input_is_a_real_tensor_not_a_stride_0_view():
    seen = []
    module = torch.nn.Linear(4, 4)
    handle = generation._widen_input(module, 3)
    try:
        with module_hook(module, lambda m, args: seen.append(args[0]), pre=True):
            module(torch.randn(1, 2, 4))
    finally:
        handle.remove()
    assert seen[0].shape == (3, 2, 4) and seen[0].is_contiguous()
    seen[0].view(-1, 4)    # what GPT-2's Conv1D does with its input


def test_the_prompt_pass_computes_logits_for_its_last_position_only(models, tmp_path):
    session = _session(models, tmp_path, "llama", HOOKS[0])
    widths = []
    head = session.model.get_output_embeddings()
    with module_hook(head, lambda m, args: widths.append(args[0].shape[1]), pre=True):
        generate(session, GenerationRequest("the quick brown fox", VARIANTS, max_new_tokens=2))
    assert widths and all(w == 1 for w in widths)
