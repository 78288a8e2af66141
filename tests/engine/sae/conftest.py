"""Shared helpers for the SAE format tests: seeded random tensors, inputs, and the checks that
keep a test from passing on all-zero activations."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

D_IN, D_SAE = 16, 48


def _randn(gen: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=gen) * scale


def _inputs(gen: torch.Generator, d_in: int = D_IN) -> torch.Tensor:
    # [batch, seq, d_in] with an offset and a spread of norms, like residual activations
    return torch.randn(3, 5, d_in, generator=gen) * 2.0 + 0.5


def _assert_mixed(acts: torch.Tensor) -> None:
    """Some features on and some off, so that comparing encodes can fail."""
    on = (acts != 0).float().mean().item()
    assert 0.0 < on < 1.0, f"fraction of active features is {on}: the test data is degenerate"


def _assert_close(got: torch.Tensor, want: torch.Tensor, atol: float = 1e-5) -> None:
    assert got.shape == want.shape, (got.shape, want.shape)
    err = (got - want).abs().max().item()
    assert err <= atol * max(1.0, want.abs().max().item()), f"max abs error {err}"


@pytest.fixture
def kit():
    gen = torch.Generator().manual_seed(1234)
    return SimpleNamespace(
        d_in=D_IN, d_sae=D_SAE, gen=gen,
        randn=lambda *shape, scale=1.0: _randn(gen, *shape, scale=scale),
        inputs=lambda d_in=D_IN: _inputs(gen, d_in),
        assert_mixed=_assert_mixed, assert_close=_assert_close)
