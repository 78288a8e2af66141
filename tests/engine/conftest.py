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
def session(llama_dir, relu_sae_dir):
    from steerdesk.engine.session import open_session

    return open_session(llama_dir, relu_sae_dir)
