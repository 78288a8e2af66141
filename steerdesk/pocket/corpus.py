"""The pocket corpus: Debian's fortune collections, tagged by language and collection.

Each document is one fortune entry. The split is deterministic (a hash of the text), so
rebuilding gives the same held-out set, and an exact duplicate can never straddle it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

from .debs import download_deb, extract_deb
from .fortune_format import is_fortune_file, read_fortune_file

# Debian package -> language of every collection in it.
FORTUNE_PACKAGES: dict[str, str] = {
    "fortunes": "en",
    "fortunes-min": "en",
    "fortunes-de": "de",
    "fortunes-es": "es",
    "fortunes-it": "it",
    "fortunes-ru": "ru",
    "fortunes-pl": "pl",
}
LANGUAGES = ("en", "de", "es", "it", "ru", "pl")

# Folders of collections left out of a model we ship: `off/` holds the "offensive" sets
# (the Spanish package has racist and misogynist ones), ASCII art is noise for a small LM.
_SKIP_DIR_NAMES = {"off"}
_SKIP_COLLECTIONS = {"ascii-art", "asciiart"}

VALIDATION_PER_MILLE = 50  # 5 % held out


@dataclass(frozen=True)
class Document:
    text: str
    language: str
    collection: str
    package: str


def collection_name(path: Path) -> str:
    """Collection tag from the file name: `science`, `work`, `love`, `refranes`, ..."""
    name = path.name
    return name[: -len(".fortunes")] if name.endswith(".fortunes") else name


def fortune_files(root: Path) -> Iterator[Path]:
    """Fortune text files under an unpacked package's `usr/share/games` tree."""
    games = root / "usr" / "share" / "games"
    for path in sorted(games.rglob("*")):
        relative_dirs = set(path.relative_to(games).parts[:-1])
        if relative_dirs & _SKIP_DIR_NAMES or collection_name(path) in _SKIP_COLLECTIONS:
            continue
        if is_fortune_file(path):
            yield path


def documents_from_tree(root: Path, package: str, language: str) -> Iterator[Document]:
    for path in fortune_files(root):
        for entry in read_fortune_file(path, language):
            yield Document(entry, language, collection_name(path), package)


def is_validation(doc: Document) -> bool:
    digest = hashlib.sha1(f"{doc.language}\0{doc.text}".encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 1000 < VALIDATION_PER_MILLE


def deduplicate(docs: Iterable[Document]) -> list[Document]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for doc in docs:
        key = (doc.language, doc.text)
        if key not in seen:
            seen.add(key)
            unique.append(doc)
    return unique


def split(docs: Iterable[Document]) -> tuple[list[Document], list[Document]]:
    train, val = [], []
    for doc in docs:
        (val if is_validation(doc) else train).append(doc)
    return train, val


def write_jsonl(docs: Iterable[Document], path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for doc in docs:
            f.write(json.dumps(asdict(doc), ensure_ascii=False) + "\n")
    tmp.replace(path)


def read_jsonl(path: Path) -> list[Document]:
    docs = []
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            try:
                docs.append(Document(**json.loads(line)))
            except (json.JSONDecodeError, TypeError) as exc:
                raise ValueError(f"{path}:{line_no}: not a corpus document: {exc}") from exc
    return docs


def corpus_stats(train: list[Document], val: list[Document]) -> dict:
    def per_language(docs: list[Document]) -> dict:
        counts = Counter(d.language for d in docs)
        chars = Counter()
        for d in docs:
            chars[d.language] += len(d.text)
        return {lang: {"documents": counts[lang], "characters": chars[lang]} for lang in sorted(counts)}

    return {"train": per_language(train), "validation": per_language(val)}


def build_corpus(corpus_dir: Path, deb_dir: Path, unpack_dir: Path) -> dict:
    """Download, unpack and parse every fortune package; write train/val JSONL and stats."""
    docs: list[Document] = []
    for package, language in FORTUNE_PACKAGES.items():
        root = extract_deb(download_deb(package, deb_dir), unpack_dir / package)
        found = list(documents_from_tree(root, package, language))
        if not found:
            raise RuntimeError(f"{root}: package {package} yielded no fortune entries")
        docs.extend(found)
    train, val = split(deduplicate(docs))
    corpus_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(train, corpus_dir / "train.jsonl")
    write_jsonl(val, corpus_dir / "val.jsonl")
    stats = corpus_stats(train, val)
    (corpus_dir / "stats.json").write_text(json.dumps(stats, indent=2))
    return stats
