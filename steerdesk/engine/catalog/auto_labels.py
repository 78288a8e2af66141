"""Automatic labels: a short description of a feature from its top activating tokens, the
token before each peak, the metadata of the documents they come from, and the tokens it
promotes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

START = "\x00start"          # stands for a special token (BOS) before a feature's peak

LANGUAGES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
             "nl": "Dutch", "pt": "Portuguese", "ru": "Russian", "pl": "Polish", "sv": "Swedish",
             "da": "Danish", "no": "Norwegian", "nb": "Norwegian", "fi": "Finnish", "cs": "Czech",
             "tr": "Turkish", "el": "Greek", "zh": "Chinese", "ja": "Japanese", "ko": "Korean",
             "ar": "Arabic", "he": "Hebrew", "hi": "Hindi", "uk": "Ukrainian", "hu": "Hungarian",
             "ro": "Romanian", "ca": "Catalan", "eo": "Esperanto", "la": "Latin"}


def _shown(token: str) -> str:
    s = token.strip()
    if s:
        return s
    if "\n" in token:
        return "\\n"
    return "\u2423" if token else ""


def _suffix(tokens: list[str], weights: list[float]) -> str | None:
    words = [(t, w) for t, w in zip(tokens, weights) if len(t) >= 3 and t.isalpha()]
    if len({t for t, _ in words}) < 3:
        return None
    total = sum(weights) or 1.0
    best = None
    for n in (4, 3, 2):
        counts: Counter = Counter()
        for t, w in words:
            counts[t[-n:].lower()] += w
        suf, weight = counts.most_common(1)[0]
        if weight / total >= 0.6 and len({t for t, _ in words if t.lower().endswith(suf)}) >= 3:
            best = suf
            break
    return best


def metadata_tag(metas: list[dict], base_rates: dict[str, dict[Any, float]],
                 keys: Sequence[str] | None = None) -> str | None:
    """A prefix like "German text" when one metadata value dominates a feature's top snippets
    (at least 70% of them, 3 or more) and is not simply what most of the corpus is."""
    if len(metas) < 3:
        return None
    parts = []
    present = {k for m in metas for k in m}
    if keys is not None:
        present &= set(keys)
    keys = sorted(present, key=lambda k: (k not in ("lang", "language"), k))
    for key in keys:
        values = Counter(m.get(key) for m in metas if key in m)
        if not values:
            continue
        value, n = values.most_common(1)[0]
        if n / len(metas) < 0.7 or base_rates.get(key, {}).get(value, 0.0) > 0.5:
            continue
        if key in ("lang", "language"):
            parts.append(f"{LANGUAGES.get(str(value).lower(), str(value))} text")
        else:
            parts.append(str(value))
    if not parts:
        return None
    return parts[0] + (f" ({', '.join(parts[1:])})" if len(parts) > 1 else "")


def automatic_label(peaks: list[str], weights: list[float], before: list[str],
                    promoted: list[str], tag: str | None = None) -> str:
    """A short label from a feature's top activating tokens, their context and the tokens it
    promotes: "'the'", "'and' / 'or'", "words ending in '-ing'", "... after 'of'", "(-> 'x')"."""
    if not peaks:
        return ""
    shown = [_shown(t) for t in peaks]
    total = sum(weights) or 1.0
    counts: Counter = Counter()
    for t, w in zip(shown, weights):
        counts[t] += w
    ranked = counts.most_common()
    top, top_w = ranked[0]
    if top_w / total >= 0.5:
        core = f"'{top}'"
        if len(ranked) > 1 and ranked[1][1] / total >= 0.2:
            core += f" / '{ranked[1][0]}'"
    else:
        suf = _suffix(shown, weights)
        core = (f"words ending in '-{suf}'" if suf
                else " / ".join(f"'{t}'" for t, _ in ranked[:3]))
    prev = Counter(_shown(t) for t in before if t)
    if prev and len(before) >= 3:
        p, n = prev.most_common(1)[0]
        if n / len(before) >= 0.6 and p:
            core += " at the start of a text" if p == START else f" after '{p}'"
    if promoted:
        core += " (\u2192 " + ", ".join(f"'{_shown(t)}'" for t in promoted[:2]) + ")"
    return f"{tag}: {core}" if tag else core

