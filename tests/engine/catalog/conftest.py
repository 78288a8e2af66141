"""Tiny models, SAEs and catalogs for the catalog tests (built once per test session)."""

import pytest
from catalog_texts import TEXTS
from threads import torch_threads

from steerdesk.testing.tiny import make_model, make_sae


@pytest.fixture(autouse=True)
def one_thread():
    """The test machine is shared: one thread makes tiny models ~10x faster, not slower."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def cat_model_dir(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("catmodel"), "llama", d=32, layers=2)


@pytest.fixture(scope="session")
def cat_sae_dir(tmp_path_factory):
    return make_sae(tmp_path_factory.mktemp("catsae") / "sae", d_in=32, d_sae=64, arch="relu",
                    hook="blocks.0.hook_resid_post")


@pytest.fixture(scope="session")
def cat_session(cat_model_dir, cat_sae_dir):
    from steerdesk.engine.session import open_session

    with torch_threads(1):
        return open_session(cat_model_dir, cat_sae_dir, device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def built(cat_session, tmp_path_factory):
    """A catalog built from TEXTS into a folder of its own: (session, catalog folder)."""
    from steerdesk.engine.catalog import build_catalog

    out = tmp_path_factory.mktemp("built") / "catalog"
    with torch_threads(1):
        build_catalog(cat_session, TEXTS, out, context=64, batch_size=4, top_k=5,
                      window=(32, 32))
    return cat_session, out
