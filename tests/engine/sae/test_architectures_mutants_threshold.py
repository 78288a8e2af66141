"""JumpReLU's threshold is strict: a pre-activation exactly at it is off (Gemma Scope's
definition, relu(pre) * (pre > threshold)). Random weights never land on the threshold, so
this test puts them there by hand."""

import torch

from steerdesk.engine.sae.base import SAE, SAEConfig
from steerdesk.testing.tiny import make_sae_tensors


def test_a_pre_activation_exactly_at_the_threshold_is_off():
    d_in, d_sae = 4, 3
    t = make_sae_tensors(d_in, d_sae, "jumprelu", seed=1)
    t["W_enc"] = torch.zeros(d_in, d_sae)
    t["b_dec"] = torch.zeros(d_in)
    t["b_enc"] = torch.tensor([0.5, 0.5, 0.5])        # pre = 0.5 for every feature
    t["threshold"] = torch.tensor([0.5, 0.25, 0.75])  # at, below, above the threshold
    sae = SAE(SAEConfig(architecture="jumprelu", d_in=d_in, d_sae=d_sae), t)
    x = torch.ones(1, d_in)
    want = torch.tensor([[0.0, 0.5, 0.0]])           # only pre > threshold fires
    torch.testing.assert_close(sae.encode(x), want)
    torch.testing.assert_close(sae.encode_subset(x, torch.tensor([0, 1, 2])), want)
