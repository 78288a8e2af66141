"""Architectures as objects: each encodes as its definition says, a subset equals the same
columns of the full encode, and the SAE declares what it knows about its features."""

import pytest
import torch

from steerdesk.engine.errors import InputError
from steerdesk.engine.sae.architectures import ARCHITECTURES, architecture
from steerdesk.engine.sae.base import SAE, SAEConfig
from steerdesk.testing.tiny import make_sae_tensors

D_IN, D_SAE, K = 16, 40, 5


def _reference(arch: str, t: dict, x: torch.Tensor) -> torch.Tensor:
    """The encodes of base.py's docstring, written out here (b_dec taken off the input)."""
    xs = x - t["b_dec"]
    if arch == "gated":
        gate = (xs @ t["W_enc"] + t["b_gate"]) > 0
        return gate.float() * torch.relu(xs @ (t["W_enc"] * t["r_mag"].exp()) + t["b_mag"])
    pre = xs @ t["W_enc"] + t["b_enc"]
    if arch == "relu":
        return torch.relu(pre)
    if arch == "jumprelu":
        return torch.where(pre > t["threshold"], torch.relu(pre), torch.zeros_like(pre))
    keep = pre >= pre.topk(K, dim=-1).values[..., -1:]
    return torch.where(keep, torch.relu(pre), torch.zeros_like(pre))


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_encode_matches_the_definition_and_a_subset_matches_its_columns(arch):
    t = make_sae_tensors(D_IN, D_SAE, arch, seed=3)
    sae = SAE(SAEConfig(architecture=arch, d_in=D_IN, d_sae=D_SAE, k=K), t)
    x = torch.randn(2, 7, D_IN, generator=torch.Generator().manual_seed(0)) * 2
    full = sae.encode(x)
    torch.testing.assert_close(full, _reference(arch, t, x))
    assert (full > 0).any() and (full == 0).any()         # the test sees both sides
    idx = torch.tensor([3, 0, 39, 17, 3])
    torch.testing.assert_close(sae.encode_subset(x, idx), full[..., idx])
    every = torch.arange(D_SAE)   # holds each position's k-th feature, where >= must keep it
    torch.testing.assert_close(sae.encode_subset(x, every), full)
    assert sae.arch is ARCHITECTURES[arch] and sae.cfg.architecture == arch
    assert sae.arch.needs_full_encode == (arch == "topk")


def test_other_tools_names_and_what_each_needs():
    assert architecture("standard", "x").name == "relu"
    assert architecture("BatchTopK", "x").name == "topk"
    with pytest.raises(InputError, match="f.json: unknown SAE architecture 'sparse'"):
        architecture("sparse", "f.json")
    with pytest.raises(InputError, match="a TopK SAE needs k"):
        SAE(SAEConfig(architecture="topk", d_in=D_IN, d_sae=D_SAE),
            make_sae_tensors(D_IN, D_SAE, "topk"))
    t = make_sae_tensors(D_IN, D_SAE, "jumprelu")
    del t["threshold"]
    with pytest.raises(InputError, match="'threshold' is missing"):
        SAE(SAEConfig(architecture="jumprelu", d_in=D_IN, d_sae=D_SAE), t)


def test_feature_density_is_declared_and_none_until_a_file_gives_it():
    sae = SAE(SAEConfig(architecture="relu", d_in=D_IN, d_sae=D_SAE),
              make_sae_tensors(D_IN, D_SAE))
    assert sae.feature_density is None
