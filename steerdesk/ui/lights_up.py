"""'What lights up here': the features most active on a piece of text. Runs on the worker."""

from __future__ import annotations

from steerdesk.engine.catalog import features_on_text as _engine_features_on_text
from steerdesk.engine.errors import InputError


def features_on_text(session, text: str, top: int = 20) -> list[tuple[int, float]]:
    """(feature, max activation over the text's tokens), strongest first."""
    if not text.strip():
        raise InputError("select or paste some text first, then ask what lights up on it")
    return _engine_features_on_text(session, text, top=top)
