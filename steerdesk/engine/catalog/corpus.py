"""The user's own text, read as a stream of documents: `.txt` and `.jsonl` files, folders of
them, or a Python list of texts (optionally with metadata per text).

- `.txt`: paragraphs (separated by blank lines) are joined into documents of about
  `TXT_DOC_CHARS` characters; a document never splits a paragraph.
- `.jsonl`: one document per line, either a JSON string or an object with a `text` field
  (or `content` / `body`); the object's other short scalar fields become the document's
  metadata (for example {"lang": "de", "collection": "news"}).
- a folder: every `.txt` / `.jsonl` file under it, in sorted path order.
- a list: items are strings, {"text": ..., other keys = metadata}, or (text, metadata) pairs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steerdesk.engine.errors import InputError
from steerdesk.engine.userfiles import check_file, is_regular_file, os_problem

SUFFIXES = (".txt", ".jsonl")
TEXT_KEYS = ("text", "content", "body")
TXT_DOC_CHARS = 2000


@dataclass
class Document:
    text: str
    source: str
    meta: dict[str, Any] = field(default_factory=dict)


def _meta_of(obj: dict, skip: str) -> dict[str, Any]:
    out = {}
    for k, v in obj.items():
        if k == skip or not isinstance(k, str):
            continue
        if isinstance(v, (bool, int, float)) or (isinstance(v, str) and len(v) <= 200):
            out[k] = v
    return out


class Corpus:
    """A re-iterable stream of documents with a fraction-read estimate."""

    def __init__(self, source: str | Path | Sequence[Any]):
        self.items: list[Any] | None = None
        self.files: list[Path] = []
        if isinstance(source, (str, Path)):
            path = Path(source).expanduser()
            if not path.exists():
                raise InputError(f"{path}: no such corpus file or folder")
            if path.is_dir():
                try:   # pipes and devices in the folder are passed over, never opened
                    self.files = sorted(p for p in path.rglob("*")
                                        if p.suffix.lower() in SUFFIXES
                                        and not p.name.startswith(".") and is_regular_file(p))
                except OSError as exc:
                    raise os_problem(path, exc) from None
                if not self.files:
                    raise InputError(f"{path}: this folder holds no .txt or .jsonl files")
            else:
                if path.suffix.lower() not in SUFFIXES:
                    raise InputError(f"{path}: a corpus is a .txt or .jsonl file, or a folder of "
                                     "them")
                self.files = [check_file(path, "corpus file")]
            self.description = str(path)
        else:
            self.items = list(source)
            if not self.items:
                raise InputError("the corpus is empty: give at least one text")
            self.description = f"{len(self.items)} texts"
        self.total_bytes = sum(p.stat().st_size for p in self.files) if self.files else 0

    def fingerprint(self) -> dict[str, Any]:
        if self.items is not None:
            import hashlib

            h = hashlib.sha256()
            for it in self.items:
                h.update(json.dumps(it, sort_keys=True, default=str).encode("utf-8"))
            return {"texts": len(self.items), "sha256": h.hexdigest()}
        return {"files": [[str(p), p.stat().st_size, int(p.stat().st_mtime)] for p in self.files]}

    def __iter__(self) -> Iterator[tuple[Document, float]]:
        """(document, fraction of the corpus read so far)."""
        if self.items is not None:
            n = len(self.items)
            for i, it in enumerate(self.items):
                yield self._item(it, i), (i + 1) / n
            return
        done = 0
        total = max(1, self.total_bytes)
        for path in self.files:
            size = path.stat().st_size
            reader = self._jsonl if path.suffix.lower() == ".jsonl" else self._txt
            for doc, pos in reader(path):
                yield doc, min(1.0, (done + pos) / total)
            done += size

    @staticmethod
    def _item(it: Any, i: int) -> Document:
        if isinstance(it, str):
            return Document(it, f"text {i}")
        if isinstance(it, dict):
            text = next((it[k] for k in TEXT_KEYS if isinstance(it.get(k), str)), None)
            if text is None:
                raise InputError(f"corpus item {i}: a dict needs a 'text' string")
            key = next(k for k in TEXT_KEYS if isinstance(it.get(k), str))
            return Document(text, f"text {i}", _meta_of(it, key))
        if isinstance(it, (tuple, list)) and len(it) == 2 and isinstance(it[0], str):
            meta = it[1] if isinstance(it[1], dict) else {}
            return Document(it[0], f"text {i}", dict(meta))
        raise InputError(f"corpus item {i}: expected a string, a dict with 'text', or "
                         "(text, metadata)")

    @staticmethod
    def _txt(path: Path) -> Iterator[tuple[Document, int]]:
        try:
            fh = open(path, "rb")
        except OSError as exc:
            raise InputError(f"{path}: cannot read this corpus file ({exc.strerror})") from None
        with fh:
            buf: list[str] = []
            size = 0
            for raw in fh:
                line = raw.decode("utf-8", errors="replace")
                if not line.strip():
                    if size >= TXT_DOC_CHARS:
                        yield Document("".join(buf).strip("\n"), path.name), fh.tell()
                        buf, size = [], 0
                    elif buf:
                        buf.append(line)
                    continue
                buf.append(line)
                size += len(line)
            if "".join(buf).strip():
                yield Document("".join(buf).strip("\n"), path.name), fh.tell()

    @staticmethod
    def _jsonl(path: Path) -> Iterator[tuple[Document, int]]:
        try:
            fh = open(path, "rb")
        except OSError as exc:
            raise InputError(f"{path}: cannot read this corpus file ({exc.strerror})") from None
        with fh:
            for n, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    raise InputError(f"{path}, line {n}: not valid JSON ({exc})") from None
                except RecursionError:
                    raise InputError(f"{path}, line {n}: not valid JSON (nested too deeply)"
                                     ) from None
                if isinstance(obj, str):
                    yield Document(obj, path.name), fh.tell()
                    continue
                if not isinstance(obj, dict):
                    raise InputError(f"{path}, line {n}: expected a JSON object with a 'text' "
                                     "field, or a JSON string")
                key = next((k for k in TEXT_KEYS if isinstance(obj.get(k), str)), None)
                if key is None:
                    raise InputError(f"{path}, line {n}: the object has no 'text' string field")
                yield Document(obj[key], path.name, _meta_of(obj, key)), fh.tell()


def read_texts(path: str | Path) -> list[str]:
    """Example texts for contrast and classifiers: a .txt file (one text per non-empty line),
    a .jsonl file (one document per line), or a folder of such files."""
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    if p.suffix.lower() == ".txt" and not p.is_dir():
        check_file(p, "text file")
        try:
            lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            raise InputError(f"{p}: cannot read ({exc.strerror})") from None
        texts = [ln.strip() for ln in lines if ln.strip()]
    else:
        texts = [d.text for d, _ in Corpus(p) if d.text.strip()]
    if not texts:
        raise InputError(f"{p}: holds no texts")
    return texts

