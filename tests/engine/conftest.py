import pytest

from steerdesk.testing.tiny import make_model, make_sae


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("llama"), "llama", d=32, layers=3)


@pytest.fixture(scope="session")
def relu_sae_dir(tmp_path_factory):
    return make_sae(tmp_path_factory.mktemp("sae"), d_in=32, d_sae=64, arch="relu",
                    hook="blocks.1.hook_resid_post")


@pytest.fixture(scope="session")
def llama_lm(llama_dir):
    from steerdesk.engine.models import load_model

    return load_model(llama_dir)


@pytest.fixture
def session(llama_lm, relu_sae_dir):
    """A fresh session per test over one loaded model: what a test sets on it (max_acts, a
    catalog) cannot leak into the next."""
    from steerdesk.engine.sae import load_sae
    from steerdesk.engine.session import attach_sae

    return attach_sae(llama_lm, load_sae(relu_sae_dir), sae_path=relu_sae_dir)
