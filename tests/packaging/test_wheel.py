"""`pip install .` ships the resources: build a wheel from a copy of the source tree, install
it into a folder, and read the pocket pack paths and the icons from it in a fresh interpreter
that cannot see the source tree."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RESOURCES = REPO / "steerdesk" / "resources"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)

# Run inside the installed copy: where things are, and what is under resources/.
PROBE = r"""
import hashlib, json, sys
from pathlib import Path
import steerdesk
from steerdesk.engine import pack

files = {}
for f in sorted(pack.RESOURCES.rglob("*")):
    if f.is_file() and "__pycache__" not in f.parts:
        files[f.relative_to(pack.RESOURCES).as_posix()] = hashlib.sha256(f.read_bytes()).hexdigest()
print(json.dumps({
    "steerdesk": steerdesk.__file__, "version": steerdesk.__version__,
    "resources": str(pack.RESOURCES), "pocket": str(pack.POCKET),
    "pocket_model": str(pack.pocket_model()), "pocket_sae": str(pack.pocket_sae()),
    "pocket_presets": str(pack.pocket_presets()), "pocket_available": pack.pocket_available(),
    "files": files,
}))
"""


def _shipped(path: Path) -> bool:
    """What `resources/**/*` in package-data takes: files, but no dotfiles (glob skips them)."""
    rel = path.relative_to(RESOURCES)
    return path.is_file() and "__pycache__" not in rel.parts and not any(
        p.startswith(".") for p in rel.parts) and path.suffix != ".pyc"


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert proc.returncode == 0, f"{cmd}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    return proc


@pytest.mark.slow
def test_wheel_installs_the_resources(tmp_path):
    # A copy, so the build's egg-info and build/ folders land in tmp, not in the work tree.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "steerdesk", src / "steerdesk",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))

    env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
          "-q", "-w", str(wheels)], env=env, cwd=tmp_path)
    (wheel,) = wheels.glob("steerdesk-*.whl")
    target = tmp_path / "target"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
          str(wheel)], env=env, cwd=tmp_path)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe_env = dict(env, PYTHONPATH=str(target))
    out = _run([sys.executable, "-s", "-c", PROBE], env=probe_env, cwd=elsewhere).stdout
    got = json.loads(out.strip().splitlines()[-1])

    # It is the installed copy that was imported, not the source tree (nor an editable install).
    installed = target / "steerdesk"
    assert Path(got["steerdesk"]).resolve() == (installed / "__init__.py").resolve()
    assert Path(got["resources"]).resolve() == (installed / "resources").resolve()
    assert Path(got["pocket"]) == Path(got["resources"]) / "pocket"
    for key, name in (("pocket_model", "model"), ("pocket_sae", "sae"),
                      ("pocket_presets", "presets")):
        assert Path(got[key]) == Path(got["pocket"]) / name

    # Every resource of the source tree is there, byte for byte, and nothing else.
    expected = {f.relative_to(RESOURCES).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
                for f in sorted(RESOURCES.rglob("*")) if _shipped(f)}
    assert got["files"] == expected

    # The icons.
    for name in ["steerdesk.svg"] + [f"steerdesk-{s}.png" for s in ICON_SIZES]:
        assert f"icons/{name}" in got["files"], name
        assert (installed / "resources" / "icons" / name).is_file()
    assert (installed / "resources" / "icons" / "steerdesk-256.png").read_bytes()[:8] == \
        b"\x89PNG\r\n\x1a\n"

    # The pocket pack, once it is in the source tree, is usable from the install.
    source_has_pocket = ((RESOURCES / "pocket" / "model" / "config.json").is_file()
                         and (RESOURCES / "pocket" / "sae" / "cfg.json").is_file())
    assert got["pocket_available"] == source_has_pocket
    if source_has_pocket:
        for rel in ("pocket/model/config.json", "pocket/sae/cfg.json"):
            assert rel in got["files"]

    # The console script works from the install.
    script = target / "bin" / "steerdesk"
    assert script.is_file()
    version = _run([sys.executable, "-s", str(script), "--version"], env=probe_env,
                   cwd=elsewhere).stdout
    assert version.strip() == f"steerdesk {got['version']}"
