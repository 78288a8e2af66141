"""Neuronpedia's published explanations for an SAE, fetched (only when asked) and imported
into the SAE's catalog with the existing importer.

Neuronpedia publishes them as S3 dataset exports, per model id and source id:
    {base}/v1/{model}/{source}/explanations/batch-{i}.jsonl.gz
with base https://neuronpedia-datasets.s3.us-east-1.amazonaws.com (the bucket lists its keys
with S3's ListObjectsV2, `?list-type=2&prefix=...`). The base is a setting (STEERDESK_NEURONPEDIA_URL
or the `base` argument), so tests point it at a local stand-in.

Each batch is kept in steerdesk's cache once complete (`batch-i.jsonl.gz`, written as `.part`
first), so a stopped fetch resumes with the batches it has; when every batch is there they are
joined and imported as one file.
"""

from __future__ import annotations

import gzip
import os
import re
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from steerdesk.engine.errors import Cancelled, InputError

DEFAULT_BASE = "https://neuronpedia-datasets.s3.us-east-1.amazonaws.com"
_BATCH = re.compile(r"batch-(\d+)\.jsonl\.gz$")


def base_url(base: str | None = None) -> str:
    return (base or os.environ.get("STEERDESK_NEURONPEDIA_URL") or DEFAULT_BASE).rstrip("/")


def cache_root() -> Path:
    from platformdirs import user_cache_dir

    return Path(os.environ.get("STEERDESK_CACHE") or user_cache_dir("steerdesk")) / "neuronpedia"


@dataclass
class LabelProgress:
    done: int            # bytes (or batches, when sizes are unknown)
    total: int | None
    batch: int
    eta: float | None


def _get(url: str, timeout: float = 60):
    import urllib.error
    import urllib.request

    try:
        return urllib.request.urlopen(urllib.request.Request(url), timeout=timeout)  # noqa: S310
    except urllib.error.HTTPError as exc:
        if exc.code in (403, 404):
            return None
        raise InputError(f"{url}: Neuronpedia's export answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise InputError(f"cannot reach {url.split('/v1/')[0]} ({getattr(exc, 'reason', exc)}); "
                         "check the network connection") from None


def list_batches(model: str, source: str, base: str | None = None) -> list[tuple[str, int | None]]:
    """(url, size) of each explanation batch, from the bucket's listing; when the listing is
    refused, batches are probed in order until one is missing (sizes unknown)."""
    root = base_url(base)
    prefix = f"v1/{model}/{source}/explanations/"
    found: list[tuple[int, str, int | None]] = []
    resp = _get(f"{root}/?list-type=2&prefix={quote(prefix)}")
    if resp is not None:
        with resp:
            tree = ET.fromstring(resp.read())
        for item in tree.iter():
            if item.tag.endswith("Contents"):
                key = next((c.text for c in item if c.tag.endswith("Key")), "") or ""
                size = next((c.text for c in item if c.tag.endswith("Size")), None)
                m = _BATCH.search(key)
                if m:
                    found.append((int(m.group(1)), f"{root}/{key}", int(size) if size else None))
    if not found:
        i = 0
        while (probe := _get(f"{root}/{prefix}batch-{i}.jsonl.gz")) is not None:
            probe.close()
            found.append((i, f"{root}/{prefix}batch-{i}.jsonl.gz", None))
            i += 1
    if not found:
        raise InputError(f"Neuronpedia has no explanation export for {model}/{source} at {root}")
    return [(url, size) for _, url, size in sorted(found)]


def fetch_explanations(model: str, source: str, *, base: str | None = None,
                       progress: Callable[[LabelProgress], None] | None = None,
                       cancel: threading.Event | None = None) -> Path:
    """Download every batch not yet cached and join them; returns the joined .jsonl file."""
    cancel = cancel or threading.Event()
    batches = list_batches(model, source, base)
    folder = cache_root() / model / source
    folder.mkdir(parents=True, exist_ok=True)
    sizes = [s for _, s in batches]
    total = sum(sizes) if all(s is not None for s in sizes) else None
    done, t0, fetched = 0, time.monotonic(), 0

    def tell(i: int) -> None:
        if progress:
            rate = fetched / (time.monotonic() - t0) if fetched else None
            eta = ((total - done) / rate) if (rate and total is not None) else None
            progress(LabelProgress(done if total is not None else i, total if total is not None
                                   else len(batches), i, eta))

    for i, (url, size) in enumerate(batches):
        if cancel.is_set():
            raise Cancelled(f"stopped after {i} of {len(batches)} batches; fetch again to resume")
        target = folder / f"batch-{i}.jsonl.gz"
        if not (target.is_file() and (size is None or target.stat().st_size == size)):
            resp = _get(url)
            if resp is None:
                raise InputError(f"{url}: vanished while fetching; fetch again")
            part = target.with_suffix(".part")
            with resp, part.open("wb") as out:
                while chunk := resp.read(1 << 16):
                    out.write(chunk)
                    fetched += len(chunk)
            os.replace(part, target)
        done += target.stat().st_size
        tell(i + 1)
    joined = folder / "explanations.jsonl"
    part = joined.with_suffix(".part")
    with part.open("wb") as out:
        for i in range(len(batches)):
            with gzip.open(folder / f"batch-{i}.jsonl.gz", "rb") as f:
                for line in f:
                    out.write(line if line.endswith(b"\n") else line + b"\n")
    os.replace(part, joined)
    return joined


def import_neuronpedia(catalog, model: str, source: str, **kw):
    """Fetch and import the explanations into `catalog`; the importer's ImportReport."""
    from steerdesk.engine.catalog.labels_import import import_labels

    path = fetch_explanations(model, source, **kw)
    return import_labels(catalog, path, layer=source)
