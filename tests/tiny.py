"""Kept so that tests written against `from tiny import ...` still run; the builders live in
`steerdesk.testing.tiny`, which new tests import."""

from steerdesk.testing.tiny import (  # noqa: F401
    FAMILIES,
    TEXT,
    make_config,
    make_model,
    make_sae,
    make_sae_tensors,
    make_tokenizer,
)
