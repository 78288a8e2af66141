"""The engine must import no Qt: the CLI and the benchmarks run without a display."""

import ast
import subprocess
import sys
from pathlib import Path

import steerdesk

ENGINE = Path(steerdesk.__file__).parent / "engine"
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "qtpy", "superqt", "pyqtgraph", "steerdesk.ui")


def test_no_engine_file_imports_qt():
    offenders = []
    for file in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{file.name}: {n}" for n in names if n.split(".")[0] in QT
                          or n.startswith("steerdesk.ui")]
    assert not offenders


def test_importing_the_whole_engine_loads_no_qt():
    code = ("import sys, pkgutil, importlib, steerdesk.engine as e\n"
            "for m in pkgutil.walk_packages(e.__path__, 'steerdesk.engine.'):\n"
            "    importlib.import_module(m.name)\n"
            f"bad = [m for m in sys.modules if m.split('.')[0] in {QT[:-1]!r}]\n"
            "print(bad); sys.exit(1 if bad else 0)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_import_linter_contract_holds():
    """pyproject.toml's import-linter contracts (no Qt in the engine; the layers), as
    `lint-imports` checks them."""
    import shutil

    import pytest

    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    root = Path(steerdesk.__file__).parent.parent
    run = subprocess.run([exe], cwd=root, capture_output=True, text=True)
    assert run.returncode == 0 and "2 kept, 0 broken" in run.stdout, run.stdout + run.stderr
