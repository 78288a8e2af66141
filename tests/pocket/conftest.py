"""Fixtures for the pocket pipeline tests: tiny inputs only, no apt-get, no network."""

from __future__ import annotations

import pytest
from pocket_fixtures import tiny_documents


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory):
    from steerdesk.pocket.tokenizer import save_hf_tokenizer, train_bpe

    out = tmp_path_factory.mktemp("tokenizer")
    tokenizer = train_bpe((d.text for d in tiny_documents()), vocab_size=400)
    save_hf_tokenizer(tokenizer, out, model_max_length=32)
    return out
