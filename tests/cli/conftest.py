"""A tiny model + SAE with a catalog beside it (labels and max activations), and the CLI run in
this process as a user would run it."""

import warnings
from types import SimpleNamespace

import pytest
import torch

from steerdesk.testing.tiny import make_model, make_sae

D_SAE = 48


def write_catalog(sae_dir, max_act: torch.Tensor, labels: dict[int, str] | None = None):
    """A catalog beside `sae_dir` holding `max_act` and hand-written labels."""
    from steerdesk.engine.catalog import create_empty
    from steerdesk.engine.catalog.store import STATS, atomic_save_safetensors

    cat = create_empty(sae_dir / "catalog", D_SAE)
    atomic_save_safetensors(cat.path / STATS, {"max_act": max_act.float().contiguous()})
    if labels:
        cat.write_source_labels("hand", labels, replace=True)
    return cat


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(model folder, SAE folder with a catalog): features 0..47 peak at 0.5 + i / 10."""
    root = tmp_path_factory.mktemp("tiny")
    model = make_model(root / "model", "llama", d=32, layers=2)
    sae = make_sae(root / "sae", d_in=32, d_sae=D_SAE, arch="topk",
                   hook="blocks.1.hook_resid_post")
    write_catalog(sae, 0.5 + torch.arange(D_SAE) / 10, {3: "three things", 5: "fives"})
    return model, sae


@pytest.fixture
def cli(capsys):
    """steerdesk ARGS in this process: (returncode, stdout, stderr); torch's thread count is
    put back afterwards (--threads sets it for the process)."""
    from steerdesk.cli.main import main

    def run(*args):
        before = torch.get_num_threads()
        try:
            with warnings.catch_warnings():   # transformers' past_key_values notice: not ours
                warnings.simplefilter("ignore", FutureWarning)
                code = main([str(a) for a in args])
        finally:
            torch.set_num_threads(before)
        out = capsys.readouterr()
        return SimpleNamespace(code=code, out=out.out, err=out.err,
                               err_lines=[ln for ln in out.err.splitlines() if ln.strip()])
    return run
