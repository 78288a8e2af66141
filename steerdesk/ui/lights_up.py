"""'What lights up here': the features most active on a piece of text. Runs on the worker."""

from __future__ import annotations

from steerdesk.engine.errors import InputError


def features_on_text(session, text: str, top: int = 20) -> list[tuple[int, float]]:
    """(feature, max activation over the text's tokens), strongest first."""
    if not text.strip():
        raise InputError("select or paste some text first, then ask what lights up on it")
    try:
        from steerdesk.engine.catalog import features_on_text as engine_version
    except ImportError:
        engine_version = None
    if engine_version is not None:
        found = engine_version(session, text, top=top)
        return [(int(i), float(v)) for i, v in ((f[0], f[1]) if isinstance(f, tuple)
                                              else (f.index, f.value) for f in found)]
    return _fallback(session, text, top)


def _fallback(session, text: str, top: int) -> list[tuple[int, float]]:
    """A prompt-only pass through the engine's own reading hook, max-pooled over tokens
    (the start-of-text token is skipped: it lights up everything)."""
    from steerdesk.engine.generation import GenerationRequest, PromptEvent, stream

    request = GenerationRequest(prompt=text, max_new_tokens=0, top_k_features=top)
    best: dict[int, float] = {}
    bos = getattr(session.tokenizer, "bos_token_id", None)
    for event in stream(session, request):
        if not isinstance(event, PromptEvent):
            continue
        for pos, feats in enumerate(event.top_features[0]):
            if pos == 0 and event.token_ids[0] == bos and len(event.token_ids) > 1:
                continue
            for i, v in feats:
                if v > 0 and v > best.get(int(i), 0.0):
                    best[int(i)] = float(v)
    return sorted(best.items(), key=lambda kv: -kv[1])[:top]
