"""Downloads from the Hugging Face Hub into the standard Hugging Face cache, only when asked.

`plan_pull(requests)` asks the hub what a pull needs (the commit, each file's size, whether it
is cached) and checks access and free disk before one byte is fetched; `run_pull(plan)` then
fetches what is missing, reporting bytes and an ETA, and stops when `cancel` is set.

The bytes go straight into the cache's own layout (`models--ORG--NAME/blobs/<etag>`), first as
`<etag>.steerdesk-part`, resumed with an HTTP Range request on the next pull, renamed to the blob
only when its size (and sha256, for LFS files) is right; `hf_hub_download` then links the blob
into the snapshot and writes `refs/`. A cancelled pull therefore leaves only `.steerdesk-part`
files, which nothing reads as a finished download. (huggingface_hub 2.4 deletes its own partial
file on any error, so its downloads cannot resume mid-file.)

HF_ENDPOINT, HF_HOME / HF_HUB_CACHE and HF_HUB_OFFLINE are read at each call, HF_TOKEN or the
saved login by huggingface_hub itself; steerdesk never stores a token.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from steerdesk.engine.errors import Cancelled, InputError

PART = ".steerdesk-part"
CHUNK = 1 << 20
DISK_MARGIN = 1.05          # room for the cache's own bookkeeping
LAST = ("config.json", "cfg.json", "hyperparams.json")  # fetched last: they mark a folder usable
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class DownloadError(InputError):
    """A pull that cannot go on; `kind` is gated, not_found, network, offline or disk."""

    def __init__(self, message: str, kind: str, cli_hint: str | None = None):
        super().__init__(message, field="download", cli_hint=cli_hint)
        self.kind = kind


# ---- where: read from the environment at each call, as huggingface_hub documents it ----------
def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in ("1", "ON", "YES", "TRUE")


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache")),
        "huggingface")
    return Path(home).expanduser() / "hub"


def offline() -> bool:
    from huggingface_hub import constants

    return (_truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(os.environ.get("TRANSFORMERS_OFFLINE"))
            or bool(constants.HF_HUB_OFFLINE))


def repo_folder(repo_id: str) -> Path:
    return cache_dir() / ("models--" + repo_id.replace("/", "--"))


# ---- what -----------------------------------------------------------------------------------
@dataclass
class RepoRequest:
    """Files wanted from one repo: `patterns` (fnmatch, as allow_patterns) under `folder`;
    `required` names (relative to `folder`) must exist."""

    repo_id: str
    patterns: tuple[str, ...]
    folder: str = ""
    required: tuple[str, ...] = ()
    recursive: bool = True
    revision: str = "main"
    what: str = ""            # "the model" / "the SAE", for messages


@dataclass
class PlannedFile:
    repo_id: str
    path: str                 # in the repo
    size: int
    revision: str
    cached: bool
    etag: str | None = None
    url: str | None = None
    partial: int = 0          # bytes already in the .steerdesk-part file

    @property
    def remaining(self) -> int:
        return 0 if self.cached else max(self.size - self.partial, 0)


@dataclass
class Plan:
    files: list[PlannedFile]
    commits: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def remaining(self) -> int:
        return sum(f.remaining for f in self.files)

    @property
    def complete(self) -> bool:
        return all(f.cached for f in self.files)


@dataclass
class PullProgress:
    done: int                 # bytes of this pull on disk (cached + fetched)
    total: int
    file: str
    rate: float | None        # bytes per second during this run
    eta: float | None         # seconds

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


ProgressFn = Callable[[PullProgress], None]


# ---- errors in words ------------------------------------------------------------------------
def _explain(exc: BaseException, repo_id: str, path: str | None = None) -> DownloadError:
    from huggingface_hub.errors import (EntryNotFoundError, GatedRepoError, HfHubHTTPError,
                                        OfflineModeIsEnabled, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    page = f"https://huggingface.co/{repo_id}"
    login = "log in with `hf auth login` or set HF_TOKEN"
    if isinstance(exc, OfflineModeIsEnabled):
        return _offline_error()
    if isinstance(exc, GatedRepoError):
        return DownloadError(f"{repo_id} is gated: accept its licence on {page} (signed in to "
                             f"Hugging Face), then {login}", "gated")
    if isinstance(exc, RepositoryNotFoundError):
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status == 403:
            return DownloadError(f"{repo_id}: your login has no access (HTTP 403); accept its "
                                 f"licence on {page} with that account", "gated")
        # The hub answers 401 for a repo that does not exist and for a private or gated one
        # asked without a login: say both.
        return DownloadError(f"{repo_id}: no such repository on {endpoint()}, or it is private "
                             f"or gated and you are not logged in ({login})", "not_found")
    if isinstance(exc, RevisionNotFoundError):
        return DownloadError(f"{repo_id}: no such revision", "not_found")
    if isinstance(exc, EntryNotFoundError):
        return DownloadError(f"{repo_id}: has no file {path!r}", "not_found")
    if isinstance(exc, HfHubHTTPError):
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        return DownloadError(f"{repo_id}: the hub answered HTTP {status} for {path or 'the repo'}",
                             "network")
    return DownloadError(f"cannot reach {endpoint()} ({type(exc).__name__}: {exc}); check the "
                         "network connection", "network")


def _network_errors() -> tuple[type[BaseException], ...]:
    import importlib

    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
    from huggingface_hub.utils import get_session

    # huggingface_hub 2.x talks through httpx2 (1.x through httpx): take the client's own package
    http = importlib.import_module(type(get_session()).__module__.split(".")[0])
    return (http.HTTPError, HfHubHTTPError, OfflineModeIsEnabled, OSError)


def _offline_error() -> DownloadError:
    return DownloadError("offline mode is on (HF_HUB_OFFLINE=1), so nothing can be downloaded; "
                         "unset HF_HUB_OFFLINE to pull", "offline")


# ---- planning -------------------------------------------------------------------------------
def _blob(repo_id: str, etag: str) -> Path:
    return repo_folder(repo_id) / "blobs" / etag


def _listing(api, req: RepoRequest, commit: str) -> dict[str, int]:
    from huggingface_hub.hf_api import RepoFile

    return {f.path: int(f.size) for f in api.list_repo_tree(
        req.repo_id, path_in_repo=req.folder or None, recursive=req.recursive, revision=commit)
        if isinstance(f, RepoFile)}


def _wanted(req: RepoRequest, listing: dict[str, int]) -> list[str]:
    from huggingface_hub.utils import filter_repo_objects

    prefix = f"{req.folder.strip('/')}/" if req.folder else ""
    rel = {p[len(prefix):]: p for p in listing if p.startswith(prefix)}
    missing = [r for r in req.required if r not in rel]
    if missing:
        raise DownloadError(f"{req.repo_id}: has no file {prefix}{missing[0]}"
                            + (f" ({req.what} is not where the gallery says)" if req.what else ""),
                            "not_found")
    picked = list(filter_repo_objects(list(rel), allow_patterns=list(req.patterns)))
    # Small marker files last: a folder with its config is one steerdesk reads as complete.
    return [rel[r] for r in sorted(picked, key=lambda r: (Path(r).name in LAST, r))]


def plan_pull(requests: list[RepoRequest]) -> Plan:
    """What a pull of `requests` will fetch; raises DownloadError for no access, a missing repo
    or file, no network, offline mode or too little disk."""
    if offline():
        raise _offline_error()
    from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_url, try_to_load_from_cache

    api = HfApi(endpoint=endpoint())
    plan = Plan(files=[])
    for req in requests:
        try:
            commit = api.repo_info(req.repo_id, revision=req.revision).sha
            plan.commits[req.repo_id] = commit
            listing = _listing(api, req, commit)
        except _network_errors() as exc:
            raise _explain(exc, req.repo_id) from None
        for path in _wanted(req, listing):
            hit = try_to_load_from_cache(req.repo_id, path, cache_dir=cache_dir(), revision=commit)
            pf = PlannedFile(req.repo_id, path, listing[path], req.revision, isinstance(hit, str))
            if not pf.cached:
                url = hf_hub_url(req.repo_id, path, revision=commit, endpoint=endpoint())
                try:
                    meta = get_hf_file_metadata(url)
                except _network_errors() as exc:
                    raise _explain(exc, req.repo_id, path) from None
                pf.etag, pf.url = meta.etag, meta.location
                pf.size = meta.size if meta.size is not None else pf.size
                part = _blob(req.repo_id, pf.etag).with_name(pf.etag + PART)
                pf.partial = min(part.stat().st_size, pf.size) if part.is_file() else 0
            plan.files.append(pf)
    check_disk(plan.remaining)
    return plan


def check_disk(needed: int) -> None:
    where = cache_dir()
    probe = where
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed * DISK_MARGIN > free:
        raise DownloadError(f"not enough free disk: this pull needs {human_bytes(needed)} and "
                            f"{where} has {human_bytes(free)} free", "disk",
                            cli_hint="free some space, or point HF_HOME at a bigger disk")


# ---- fetching -------------------------------------------------------------------------------
class _Meter:
    def __init__(self, plan: Plan, progress: ProgressFn | None):
        self.total = plan.total
        self.done = plan.total - plan.remaining
        self.start_done = self.done
        self.t0 = time.monotonic()
        self.progress = progress

    def add(self, n: int, file: str) -> None:
        self.done += n
        if self.progress:
            elapsed = time.monotonic() - self.t0
            got = self.done - self.start_done
            rate = got / elapsed if elapsed > 0 and got else None
            eta = (self.total - self.done) / rate if rate else None
            self.progress(PullProgress(self.done, self.total, file, rate, eta))


def _auth_headers(url: str) -> dict[str, str]:
    from huggingface_hub.utils import build_hf_headers

    headers = build_hf_headers()
    if urlsplit(url).netloc != urlsplit(endpoint()).netloc:
        headers.pop("authorization", None)  # the token is for the hub, not a CDN
    return headers


def _fetch(pf: PlannedFile, meter: _Meter, cancel: threading.Event) -> None:
    from huggingface_hub.utils import get_session, hf_raise_for_status

    blob = _blob(pf.repo_id, pf.etag)
    part = blob.with_name(pf.etag + PART)
    blob.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.is_file() else 0
    if have > pf.size:
        have = 0
    check = hashlib.sha256() if _SHA256.match(pf.etag or "") else None
    if check and have:
        with part.open("rb") as f:
            for block in iter(lambda: f.read(CHUNK), b""):
                check.update(block)
    headers = _auth_headers(pf.url)
    headers["Accept-Encoding"] = "identity"
    if have:
        headers["Range"] = f"bytes={have}-"
    with get_session().stream("GET", pf.url, headers=headers, follow_redirects=True,
                              timeout=60) as response:
        hf_raise_for_status(response)
        if have and response.status_code != 206:   # the server ignored the Range: start over
            meter.add(-have, pf.path)
            have, check = 0, (hashlib.sha256() if check else None)
        with part.open("ab" if have else "wb") as out:
            for chunk in response.iter_bytes(CHUNK):
                if cancel.is_set():
                    raise Cancelled(f"stopped in {pf.path}; the next pull resumes from "
                                    f"{human_bytes(have)}")
                out.write(chunk)
                have += len(chunk)
                if check:
                    check.update(chunk)
                meter.add(len(chunk), pf.path)
    if have != pf.size or (check and check.hexdigest() != pf.etag):
        part.unlink(missing_ok=True)
        raise DownloadError(f"{pf.repo_id}/{pf.path}: the download came out wrong ({have} of "
                            f"{pf.size} bytes{', bad checksum' if check else ''}); pull again",
                            "network")
    os.replace(part, blob)


def run_pull(plan: Plan, progress: ProgressFn | None = None,
             cancel: threading.Event | None = None) -> Plan:
    """Fetch every file of `plan` that is not cached. Raises Cancelled when `cancel` is set
    (what was fetched stays and the next pull resumes), DownloadError when the hub says no."""
    from huggingface_hub import hf_hub_download

    cancel = cancel or threading.Event()
    meter = _Meter(plan, progress)
    meter.add(0, "")
    for pf in plan.files:
        if pf.cached:
            continue
        try:
            if not _blob(pf.repo_id, pf.etag).is_file():
                _fetch(pf, meter, cancel)
            # The blob is there: hf_hub_download only links it into the snapshot and refs/.
            hf_hub_download(pf.repo_id, pf.path, revision=pf.revision, cache_dir=cache_dir(),
                            endpoint=endpoint())
        except (Cancelled, DownloadError):
            raise
        except _network_errors() as exc:
            raise _explain(exc, pf.repo_id, pf.path) from None
        pf.cached = True
    return plan


def human_bytes(n: float | None) -> str:
    if n is None:
        return "unknown size"
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def human_seconds(s: float | None) -> str:
    if s is None:
        return "--:--"
    s = int(s)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
