"""Parse fortune(6) data files: plain text, one entry per block, blocks separated by `%` lines.

Old collections are not always UTF-8 (Russian ones were KOI8-R or CP1251, Polish ISO-8859-2,
the rest Latin-1/CP1252), and some English ones use backspace overstriking for bold/underline.
"""

from __future__ import annotations

import re
from pathlib import Path

# Index files written by strfile (`.dat`) and the `.u8` UTF-8 twins Debian ships as symlinks.
INDEX_SUFFIXES = (".dat", ".u8")

_FALLBACK_ENCODINGS = {
    "ru": ("koi8_r", "cp1251"),
    "pl": ("iso8859_2", "cp1250"),
}
_DEFAULT_FALLBACKS = ("cp1252", "latin_1")

_OVERSTRIKE = re.compile(r".\x08")  # "_\bA" or "A\bA": keep only the final glyph
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # everything but \t and \n
_SEPARATOR = re.compile(r"^%%?[ \t]*$", re.MULTILINE)  # `%`; some old files use `%%`
_CYRILLIC_LOWER = re.compile(r"[а-я]")
_CYRILLIC_UPPER = re.compile(r"[А-Я]")


def is_fortune_file(path: Path) -> bool:
    """True for a regular fortune text file (not an index file, not a symlink)."""
    return path.is_file() and not path.is_symlink() and not path.name.endswith(INDEX_SUFFIXES)


def _cyrillic_score(text: str) -> int:
    # KOI8-R read as CP1251 (and the reverse) still yields Cyrillic, but with the case flipped:
    # real Russian prose is mostly lowercase.
    return len(_CYRILLIC_LOWER.findall(text)) - len(_CYRILLIC_UPPER.findall(text))


def decode_fortune_bytes(data: bytes, language: str, source: str = "<bytes>") -> str:
    """Decode a fortune file: UTF-8 if valid, else the best legacy encoding for the language."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    candidates = _FALLBACK_ENCODINGS.get(language, ()) + _DEFAULT_FALLBACKS
    if language == "ru":
        decoded = [data.decode(enc, errors="replace") for enc in _FALLBACK_ENCODINGS["ru"]]
        return max(decoded, key=_cyrillic_score)
    for encoding in candidates:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError(f"{source}: cannot decode as UTF-8 or any of {candidates}")


def clean_entry(entry: str) -> str:
    entry = _OVERSTRIKE.sub("", entry)
    entry = _CONTROL.sub("", entry)
    lines = [line.rstrip() for line in entry.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def split_entries(text: str) -> list[str]:
    """Split decoded fortune text into cleaned, non-empty entries."""
    entries = (clean_entry(block) for block in _SEPARATOR.split(text.replace("\r\n", "\n")))
    return [e for e in entries if len(e.strip()) >= 2]


def read_fortune_file(path: Path, language: str) -> list[str]:
    return split_entries(decode_fortune_bytes(path.read_bytes(), language, str(path)))
