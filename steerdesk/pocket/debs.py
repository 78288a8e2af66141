"""Fetch Debian packages with `apt-get download` and unpack them with `dpkg-deb -x`.

Neither needs root: apt-get download writes into the current folder, dpkg-deb -x only unpacks.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


class DebError(RuntimeError):
    pass


def find_deb(package: str, deb_dir: Path) -> Path | None:
    matches = sorted(deb_dir.glob(f"{package}_*.deb"))
    return matches[-1] if matches else None


def download_deb(package: str, deb_dir: Path) -> Path:
    """Return the cached .deb for `package`, downloading it first if it is not there yet."""
    deb_dir.mkdir(parents=True, exist_ok=True)
    cached = find_deb(package, deb_dir)
    if cached is not None:
        return cached
    if shutil.which("apt-get") is None:
        raise DebError(f"apt-get not found: cannot download {package!r} into {deb_dir}")
    result = subprocess.run(
        ["apt-get", "download", package], cwd=deb_dir, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise DebError(f"apt-get download {package} failed in {deb_dir}: {result.stderr.strip()}")
    downloaded = find_deb(package, deb_dir)
    if downloaded is None:
        raise DebError(f"apt-get download {package} left no {package}_*.deb in {deb_dir}")
    return downloaded


def extract_deb(deb: Path, dest: Path) -> Path:
    """Unpack `deb` into `dest` (skipped when already unpacked) and return `dest`."""
    marker = dest / ".extracted"
    if marker.is_file():
        return dest
    if shutil.which("dpkg-deb") is None:
        raise DebError(f"dpkg-deb not found: cannot unpack {deb}")
    dest.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], capture_output=True, text=True)
    if result.returncode != 0:
        raise DebError(f"dpkg-deb -x {deb} failed: {result.stderr.strip()}")
    marker.write_text(deb.name)
    return dest
