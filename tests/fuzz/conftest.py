import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="module")
def fuzz_catalog(tmp_path_factory):
    """A real catalog, built by the real builder on a tiny model, to mutate."""
    from steerdesk.engine.catalog import build_catalog
    from steerdesk.engine.session import open_session
    from steerdesk.testing.tiny import TEXT, make_model, make_sae

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tmp = tmp_path_factory.mktemp("fuzzcat")
        model = make_model(tmp / "model", "llama", d=32, layers=1)
        sae = make_sae(tmp / "sae", d_in=32, d_sae=24, arch="relu", hook="blocks.0.hook_resid_post")
        session = open_session(model, sae, device="cpu", dtype="float32")
        out = tmp / "catalog"
        build_catalog(session, [TEXT, TEXT.upper(), TEXT[::-1]], out, context=32, batch_size=2,
                      top_k=3, window=(8, 8))
    finally:
        torch.set_num_threads(before)
    return out
