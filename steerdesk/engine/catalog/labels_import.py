"""Importing feature labels: Neuronpedia explanation exports (JSON, JSONL, optionally gzipped)
and plain CSV files of `index,label`.

Neuronpedia exports hold one object per explanation, e.g.
    {"modelId": "gpt2-small", "layer": "6-res-jb", "index": "204",
     "description": "time-related phrases", "typeName": "oai_token-act-pair",
     "explanationModelName": "gpt-4o-mini", ...}
as a JSON list, one per line (JSONL), or under an "explanations" key (the feature API).
A feature may have several explanations: the one with the highest score wins, else the first.
Imported labels go to the "imported" source (or "hand"); the user's own labels are stored
apart and outrank them, so an import never overwrites what the user typed.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steerdesk.engine.errors import InputError
from steerdesk.engine.userfiles import MB, os_problem, read_bytes

MAX_LABEL_FILE = 1024 * MB        # Neuronpedia's largest exports are a few hundred MB unpacked

INDEX_KEYS = ("index", "featureIndex", "feature_index", "feature", "latent", "latent_index", "idx")
TEXT_KEYS = ("description", "explanation", "label", "text")
LAYER_KEYS = ("layer", "saeId", "sae_id", "source")


@dataclass
class ImportReport:
    path: str
    imported: int = 0                 # features that got a label from this file
    explanations: int = 0             # explanations read
    duplicates: int = 0               # extra explanations for a feature already seen
    out_of_range: int = 0
    shadowed_by_user: int = 0         # imported, but the user's own label still shows
    source: str = "imported"
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _open_text(path: Path) -> str:
    raw = read_bytes(path, max_bytes=MAX_LABEL_FILE, what="label file")
    if raw[:2] == b"\x1f\x8b":
        try:   # read at most the cap: a small gzip can unpack to any size
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
                raw = gz.read(MAX_LABEL_FILE + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: a broken gzip file ({exc})") from None
        if len(raw) > MAX_LABEL_FILE:
            raise InputError(f"{path}: unpacks to more than {MAX_LABEL_FILE // MB} MB; "
                             "that is not a label export")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None


def _index(obj: dict) -> int | None:
    for k in INDEX_KEYS:
        v = obj.get(k)
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            return v
        if isinstance(v, str) and v.strip().lstrip("-").isdigit():
            return int(v.strip())
    return None


def _text(obj: dict) -> str | None:
    for k in TEXT_KEYS:
        v = obj.get(k)
        if isinstance(v, str) and v.strip():
            return " ".join(v.split())
    return None


def _score(obj: dict) -> float | None:
    v = obj.get("score")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    scores = obj.get("scores")
    if isinstance(scores, list):
        vals = [s.get("value", s.get("score")) if isinstance(s, dict) else s for s in scores]
        vals = [float(x) for x in vals if isinstance(x, (int, float)) and not isinstance(x, bool)]
        if vals:
            return max(vals)
    return None


def _objects_from_json(data: Any, path: Path) -> Iterator[dict]:
    if isinstance(data, list):
        for item in data:
            if isinstance(item, dict):
                if isinstance(item.get("explanations"), list):
                    yield from _objects_from_json(item, path)
                else:
                    yield item
        return
    if isinstance(data, dict):
        exps = data.get("explanations")
        if isinstance(exps, list):
            parent = _index(data)
            for e in exps:
                if isinstance(e, dict):
                    if _index(e) is None and parent is not None:
                        e = {**e, "index": parent}
                    for key in LAYER_KEYS + ("modelId",):
                        if key in data and key not in e:
                            e = {**e, key: data[key]}
                    yield e
            return
        if data and all(isinstance(k, str) and k.strip().isdigit() for k in data):
            for k, v in data.items():          # {"12": "label", ...}
                if isinstance(v, str):
                    yield {"index": int(k), "description": v}
                elif isinstance(v, dict):
                    yield {"index": int(k), **v}
            return
        if _index(data) is not None:
            yield data
            return
    raise InputError(f"{path}: expected Neuronpedia explanations (a JSON list of objects with "
                     "'index' and 'description', JSONL, or an object with 'explanations')")


LABEL_SUFFIXES = (".json", ".jsonl", ".csv", ".tsv", ".json.gz", ".jsonl.gz", ".csv.gz")


def read_label_objects(path: Path) -> list[dict]:
    """All explanation-like objects of a JSON / JSONL / CSV file, or of every such file in a
    folder (Neuronpedia's bulk exports come as explanations/batch-N.jsonl.gz)."""
    if path.is_dir():
        try:
            files = sorted(p for p in path.rglob("*") if p.is_file()
                           and p.name.lower().endswith(LABEL_SUFFIXES))
        except OSError as exc:
            raise os_problem(path, exc) from None
        if not files:
            raise InputError(f"{path}: this folder holds no .json, .jsonl or .csv label files")
        return [o for f in files for o in read_label_objects(f)]
    text = _open_text(path)
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".csv", ".tsv")):
        return _csv_objects(text, path, "\t" if name.endswith(".tsv") else ",")
    stripped = text.lstrip()
    if not stripped:
        raise InputError(f"{path}: the file is empty")
    if not name.endswith(".jsonl"):
        try:
            return list(_objects_from_json(json.loads(text), path))
        except RecursionError:
            raise InputError(f"{path}: not valid JSON (nested too deeply)") from None
        except json.JSONDecodeError as exc:
            first_line_ok = _is_json(stripped.split("\n", 1)[0])
            if not first_line_ok or "\n" not in stripped.strip():
                raise InputError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}, line {n}: not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise InputError(f"{path}, line {n}: not valid JSON (nested too deeply)") from None
        if isinstance(obj, (dict, list)):
            out.extend(_objects_from_json(obj, path))
    return out


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return False
    return True


def _csv_objects(text: str, path: Path, delimiter: str) -> list[dict]:
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc})") from None
    out = []
    start, col_i, col_t = 0, 0, 1
    if rows and rows[0] and not rows[0][0].strip().lstrip("-").isdigit():
        header = [h.strip().lower() for h in rows[0]]
        col_i = next((header.index(k.lower()) for k in INDEX_KEYS if k.lower() in header), 0)
        col_t = next((header.index(k) for k in TEXT_KEYS if k in header), 1 if col_i != 1 else 0)
        start = 1
    for n, row in enumerate(rows[start:], start + 1):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) <= max(col_i, col_t):
            raise InputError(f"{path}, line {n}: expected two columns, index and label")
        cell = row[col_i].strip()
        if not cell.lstrip("-").isdigit():
            raise InputError(f"{path}, line {n}: {cell!r} is not a feature index")
        out.append({"index": int(cell), "description": row[col_t]})
    if not out:
        raise InputError(f"{path}: no index,label rows found")
    return out


def read_labels(path: str | Path, d_sae: int, *, layer: str | None = None
                ) -> tuple[dict[int, str], ImportReport]:
    """Parse a label file into {feature index: label}."""
    path = Path(path).expanduser()
    objs = read_label_objects(path)
    report = ImportReport(str(path))
    groups = {str(next((o[k] for k in LAYER_KEYS if k in o), "")) for o in objs}
    if layer is not None:
        objs = [o for o in objs if str(next((o[k] for k in LAYER_KEYS if k in o), "")) == layer]
        if not objs:
            raise InputError(f"{path}: no explanations for layer/SAE {layer!r} "
                             f"(the file has {', '.join(sorted(g for g in groups if g)) or 'none'})")
    elif len(groups - {""}) > 1:
        raise InputError(f"{path}: the file holds explanations for several SAEs "
                         f"({', '.join(sorted(groups - {''}))}); choose one layer/SAE id",
                         field="layer", cli_hint="choose one with --layer ID")
    best: dict[int, tuple[float, int, str]] = {}
    usable = 0
    for order, o in enumerate(objs):
        i, t = _index(o), _text(o)
        if i is None or t is None:
            continue
        usable += 1
        if not 0 <= i < d_sae:
            report.out_of_range += 1
            continue
        s = _score(o)
        key = (s if s is not None else float("-inf"), -order, t)
        if i in best:
            report.duplicates += 1
            if key[:2] > best[i][:2]:
                best[i] = key
        else:
            best[i] = key
    report.explanations = usable
    if usable == 0:
        raise InputError(f"{path}: no feature labels found (expected entries with an 'index' and a "
                         "'description' or 'explanation', or CSV rows index,label)")
    if not best:
        raise InputError(f"{path}: all {report.out_of_range} labels are for feature indices outside "
                         f"0..{d_sae - 1}; is this file for another SAE?")
    if report.out_of_range:
        report.warnings.append(f"{report.out_of_range} labels were for features outside "
                               f"0..{d_sae - 1} and were skipped")
    return {i: v[2] for i, v in best.items()}, report


def import_labels(catalog, path: str | Path, *, source: str = "imported",
                  layer: str | None = None, replace: bool = False) -> ImportReport:
    """Import a label file into `catalog` (a Catalog). Saves at once. User labels stay."""
    if source not in ("imported", "hand"):
        raise InputError(f"label source {source!r}: imports go to 'imported' or 'hand'")
    labels, report = read_labels(path, catalog.d_sae, layer=layer)
    catalog.write_source_labels(source, labels, replace=replace)
    user = catalog.source_labels("user")
    report.imported = len(labels)
    report.source = source
    report.shadowed_by_user = sum(1 for i in labels if i in user)
    return report
