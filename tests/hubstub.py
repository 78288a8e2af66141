"""A stand-in Hugging Face Hub on 127.0.0.1, answering the requests huggingface_hub 2.4 and
steerdesk's downloader make (read from huggingface_hub's source):

    GET  /api/models/ORG/NAME/revision/REV           HfApi.repo_info -> {"id", "sha", ...}
    GET  /api/models/ORG/NAME/tree/REV[/PATH]        HfApi.list_repo_tree (?recursive=...)
    HEAD /ORG/NAME/resolve/REV/PATH                  get_hf_file_metadata: ETag, X-Repo-Commit,
                                                     Content-Length (X-Linked-* for LFS files)
    GET  /ORG/NAME/resolve/REV/PATH                  the bytes; Range: bytes=N- answers 206

Errors carry the headers huggingface_hub maps to its exceptions: X-Error-Code GatedRepo (401),
RepoNotFound (401), EntryNotFound (404). Also serves plain files under /files/ (the
Neuronpedia stand-in) with an S3-style ListObjectsV2 answer for `?list-type=2&prefix=`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

LFS_FROM = 1024  # files this big are served as LFS files (sha256 etag), as the hub does


def git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    def __init__(self, files: dict[str, bytes], gated: bool = False):
        self.files = files
        self.gated = gated
        self.sha = hashlib.sha1(json.dumps(sorted((k, git_oid(v)) for k, v in files.items()))
                                .encode()).hexdigest()

    @classmethod
    def from_folder(cls, folder: Path, prefix: str = "", gated: bool = False) -> "Repo":
        folder = Path(folder)
        files = {(prefix + p.relative_to(folder).as_posix()): p.read_bytes()
                 for p in sorted(folder.rglob("*")) if p.is_file()}
        return cls(files, gated)


class StandInHub:
    def __init__(self):
        self.repos: dict[str, Repo] = {}
        self.plain: dict[str, bytes] = {}      # /files/KEY, for the Neuronpedia stand-in
        self.requests: list[tuple[str, str, dict]] = []
        self.authorized_token: str | None = None
        self.slow = 0.0                        # seconds per 16 KB sent: a download to stop
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                hub._answer(self, head=True)

            def do_GET(self):
                hub._answer(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def add(self, repo_id: str, repo: Repo) -> Repo:
        self.repos[repo_id] = repo
        return repo

    # ---- answers ------------------------------------------------------------------------
    def _send(self, h, status: int, body: bytes = b"", headers: dict | None = None, head=False):
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, str(v))
        if "Content-Length" not in (headers or {}):
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head and body:
            try:
                for at in range(0, len(body), 16_384):
                    h.wfile.write(body[at:at + 16_384])
                    if self.slow:
                        time.sleep(self.slow)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading (a cancelled download)

    def _error(self, h, status: int, code: str, head: bool):
        self._send(h, status, json.dumps({"error": code}).encode(),
                   {"X-Error-Code": code, "X-Error-Message": code, "Content-Type": "application/json"},
                   head)

    def _answer(self, h, head: bool):
        url = urlsplit(h.path)
        path = unquote(url.path)
        self.requests.append((h.command, h.path, dict(h.headers)))
        if path.startswith("/files/"):
            return self._plain(h, path[len("/files/"):], head)
        m = re.match(r"^/api/models/([^/]+/[^/]+)/(revision|tree)/([^/]+)/?(.*)$", path)
        if m:
            return self._api(h, m.group(1), m.group(2), m.group(4), parse_qs(url.query), head)
        m = re.match(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", path)
        if m:
            return self._resolve(h, m.group(1), m.group(3), head)
        self._error(h, 404, "NotFound", head)

    def _repo(self, h, repo_id: str, head: bool) -> Repo | None:
        repo = self.repos.get(repo_id)
        if repo is None:
            self._error(h, 401, "RepoNotFound", head)
        return repo

    def _api(self, h, repo_id, kind, sub, query, head):
        repo = self._repo(h, repo_id, head)
        if repo is None:
            return
        if kind == "revision":
            body = {"id": repo_id, "modelId": repo_id, "sha": repo.sha, "private": False,
                    "gated": "manual" if repo.gated else False,
                    "siblings": [{"rfilename": p} for p in repo.files]}
        else:
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            prefix = sub.strip("/") + "/" if sub.strip("/") else ""
            body, dirs = [], set()
            for p, data in sorted(repo.files.items()):
                if not p.startswith(prefix):
                    continue
                rest = p[len(prefix):]
                if "/" in rest and not recursive:
                    dirs.add(prefix + rest.split("/")[0])
                    continue
                entry = {"type": "file", "oid": git_oid(data), "size": len(data), "path": p}
                if len(data) >= LFS_FROM:
                    entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data),
                                    "pointerSize": 134}
                body.append(entry)
            body += [{"type": "directory", "oid": "0" * 40, "size": 0, "path": d} for d in sorted(dirs)]
        self._send(h, 200, json.dumps(body).encode(), {"Content-Type": "application/json"}, head)

    def _resolve(self, h, repo_id, file, head):
        repo = self._repo(h, repo_id, head)
        if repo is None:
            return
        if repo.gated and h.headers.get("Authorization") != f"Bearer {self.authorized_token}":
            return self._error(h, 401, "GatedRepo", head)
        data = repo.files.get(file)
        if data is None:
            return self._error(h, 404, "EntryNotFound", head)
        lfs = len(data) >= LFS_FROM
        etag = hashlib.sha256(data).hexdigest() if lfs else git_oid(data)
        headers = {"ETag": f'"{etag}"', "X-Repo-Commit": repo.sha, "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        if lfs:
            headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": len(data)})
        self._bytes(h, data, headers, head)

    def _bytes(self, h, data: bytes, headers: dict, head: bool):
        m = re.match(r"bytes=(\d+)-$", h.headers.get("Range", ""))
        if m and not head:
            start = int(m.group(1))
            headers = {**headers, "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
            return self._send(h, 206, data[start:], headers)
        self._send(h, 200, data, {**headers, "Content-Length": len(data)} if head else headers, head)

    def _plain(self, h, key, head):
        if key == "":
            return self._s3_list(h, parse_qs(urlsplit(h.path).query), head)
        data = self.plain.get(key)
        if data is None:
            return self._send(h, 404, b"NoSuchKey", {}, head)
        self._bytes(h, data, {"ETag": f'"{hashlib.md5(data).hexdigest()}"',
                              "Accept-Ranges": "bytes"}, head)

    def _s3_list(self, h, query, head):
        prefix = query.get("prefix", [""])[0]
        keys = sorted(k for k in self.plain if k.startswith(prefix))
        items = "".join(f"<Contents><Key>{escape(k)}</Key><Size>{len(self.plain[k])}</Size>"
                        "</Contents>" for k in keys)
        body = ('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.'
                f'amazonaws.com/doc/2006-03-01/"><Prefix>{escape(prefix)}</Prefix>'
                f"<KeyCount>{len(keys)}</KeyCount><IsTruncated>false</IsTruncated>{items}"
                "</ListBucketResult>")
        self._send(h, 200, body.encode(), {"Content-Type": "application/xml"}, head)


def use_stand_in(monkeypatch, tmp_path: Path, hub: StandInHub) -> Path:
    """Point huggingface_hub and steerdesk at `hub`, with a fresh cache; returns HF_HOME."""
    from huggingface_hub import constants

    home = tmp_path / "hf-home"
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    return home
