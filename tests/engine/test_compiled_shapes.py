"""The compiled path's capacities, buffers and machine checks (nothing is compiled here)."""

import pytest
import torch

from steerdesk.engine.compiled import registry, support
from steerdesk.engine.compiled.buffers import CapacityError, Slots, SteeringBuffers
from steerdesk.engine.compiled.static_kv import length_for
from steerdesk.engine.steering import FeatureSteer, SteeringHook, SteeringSpec


def _hook(session, variants, **kw):
    return SteeringHook(session.sae, variants, **kw)


def test_rows_round_up_to_buckets_and_strength_zero_keeps_the_hook(session):
    one = [SteeringSpec([FeatureSteer(3, 2.0)])]
    zero = [SteeringSpec([FeatureSteer(3, 0.0)])]
    assert registry.shape_for(_hook(session, []), 20).slots.rows == 1
    assert not registry.shape_for(_hook(session, []), 20).hooked
    assert registry.shape_for(_hook(session, one), 20) == registry.shape_for(_hook(session, zero), 20)
    assert registry.shape_for(_hook(session, one * 2), 20).slots.rows == 5
    assert registry.shape_for(_hook(session, one * 4), 20).slots.rows == 5
    assert registry.shape_for(_hook(session, one * 5), 20).slots.rows == 8
    assert registry.row_capacity(100) == 128


def test_a_fixed_row_capacity_serves_every_row_count_with_one_hooked_step(session, monkeypatch):
    monkeypatch.setattr(registry.settings, "rows", 5)
    shapes = {registry.shape_for(_hook(session, [SteeringSpec([FeatureSteer(1, 1.0)])] * n), 30)
              for n in range(5)}
    assert len(shapes) == 1 and next(iter(shapes)).hooked
    assert registry.shape_for(_hook(session, [SteeringSpec()] * 6), 30).slots.rows == 8


def test_slots_and_cache_length(session):
    clamp = [SteeringSpec([FeatureSteer(i, 1.0, "clamp") for i in range(9)])]
    shape = registry.shape_for(_hook(session, clamp, watch=range(17), top_k=5), 300)
    assert shape.slots == Slots(rows=2, clamp=16, watch=32, top_k=5) and shape.length == 512
    assert registry.shape_for(_hook(session, []), 200, window=64).length == 256  # window < tokens
    assert registry.shape_for(_hook(session, []), 60, window=64).length == 64
    assert [length_for(n) for n in (1, 256, 257, 1500)] == [256, 256, 512, 2048]


def test_buffers_hold_the_hooks_tensors_padded_with_zeros(session):
    variants = [SteeringSpec([FeatureSteer(4, 2.0), FeatureSteer(9, 1.5, "clamp")]),
                SteeringSpec([FeatureSteer(9, 0.0, "ablate")])]
    hook = _hook(session, variants, watch=[9, 4])
    buf = SteeringBuffers(session.sae, Slots(rows=5, clamp=8, watch=16, top_k=0))
    buf.load(hook)
    assert buf.row_on.flatten().tolist() == [1, 1, 1, 0, 0]
    assert torch.equal(buf.add[:3], hook.add_vec) and not buf.add[3:].any()
    assert buf.clamp_index.tolist() == [9] + [0] * 7
    assert buf.clamp_mask[:, 0].tolist() == [0, 1, 1, 0, 0] and not buf.clamp_mask[:, 1:].any()
    assert buf.clamp_target[1, 0] == 1.5 and buf.clamp_target[2, 0] == 0.0
    assert buf.watch_index[:2].tolist() == [9, 4]
    # A smaller generation afterwards leaves nothing of the bigger one behind.
    buf.load(_hook(session, [SteeringSpec([FeatureSteer(2, 1.0)])]))
    assert buf.row_on.flatten().tolist() == [1, 1, 0, 0, 0] and not buf.clamp_mask.any()
    assert not buf.add[2:].any() and not buf.watch_index.any()


def test_steer_and_read_match_the_eager_hook_on_one_position(session):
    """The fixed-shape math itself, on a random activation: steered hidden state, watched and
    top-k activations (clamped ones pinned) equal the eager hook's."""
    variants = [SteeringSpec([FeatureSteer(4, 2.0), FeatureSteer(9, 1.5, "clamp")]),
                SteeringSpec([FeatureSteer(9, 0.0, "ablate"), FeatureSteer(0, 3.0, "clamp")])]
    for top_k in (0, 6):
        hook = _hook(session, variants, watch=[9, 4, 0], top_k=top_k)
        hook.in_prefill = False
        buf = SteeringBuffers(session.sae, Slots(rows=5, clamp=8, watch=16, top_k=top_k))
        buf.load(hook)
        h = torch.randn(3, 1, 32, generator=torch.Generator().manual_seed(top_k))
        expected = hook(h)
        padded = torch.cat([h, h[:1].expand(2, -1, -1)])
        steered = buf.steer(padded)
        assert torch.allclose(steered[:3], expected, atol=1e-6)
        assert torch.equal(steered[3:], padded[3:])      # spare rows are left alone
        out = buf.read(steered)
        assert torch.allclose(out[0][:3, :, :3], hook.last_watch, atol=1e-6)
        assert out[0][1, 0, 0] == 1.5 and out[0][2, 0, 0] == 0.0 and out[0][2, 0, 2] == 3.0
        if top_k:
            assert torch.equal(out[2][:3], hook.last_top[1])
            assert torch.allclose(out[1][:3], hook.last_top[0], atol=1e-6)


def test_loading_more_than_the_buffers_hold_is_refused(session):
    buf = SteeringBuffers(session.sae, Slots(rows=2, clamp=8, watch=16, top_k=0))
    with pytest.raises(CapacityError, match="3 rows"):
        buf.load(_hook(session, [SteeringSpec()] * 2))


def test_inductor_cache_goes_under_the_user_cache_unless_set(monkeypatch, tmp_path):
    monkeypatch.delenv(support.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert support.inductor_cache_dir() == tmp_path / "steerdesk" / "torch-inductor"
    monkeypatch.setenv(support.CACHE_ENV, str(tmp_path / "mine"))
    assert support.inductor_cache_dir() == tmp_path / "mine"
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    monkeypatch.setenv(support.CACHE_ENV, default_cache_dir())   # what torch itself writes there
    assert support.inductor_cache_dir() == tmp_path / "steerdesk" / "torch-inductor"


def test_unavailable_without_a_cpp_compiler_or_on_other_devices(monkeypatch):
    monkeypatch.setattr(support, "_cpp_compiler", lambda: None)
    assert "C++ compiler" in support.unavailable_reason("cpu")
    assert "mps" in support.unavailable_reason("mps")
    assert support.on_by_default("cpu")[0] is False
