"""Plant named one-line bugs (tools/mutations.py) in a copy of the tree, one at a time, and run
the tests meant to notice each: a mutation is killed when they fail, survives when they pass,
and is stale when its snippet is no longer in the file (or not unique there).

    .venv/bin/python tools/mutation_check.py                 # every mutation (~12 min on 2 cores)
    .venv/bin/python tools/mutation_check.py --list
    .venv/bin/python tools/mutation_check.py --only sae- steer-add-sign
    .venv/bin/python tools/mutation_check.py --group sampling --json out.json

The working tree is never touched: the copy lives in a temporary folder (tracked and
untracked, not ignored, files) and is put on PYTHONPATH ahead of the editable install.
Exit status: 0 when the score (killed / (killed + survived)) reaches --min-score and nothing
is stale, 1 otherwise. docs/testing.md has the last score and the survivors.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from mutations import MUTATIONS, Mutation  # noqa: E402


@dataclass
class Outcome:
    mutation: Mutation
    status: str            # killed, survived, stale, timeout, error
    seconds: float = 0.0
    detail: str = ""


def copy_tree(dest: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        rel = Path(raw.decode())
        src = ROOT / rel
        if not src.is_file():
            continue          # deleted in the working tree but still in the index
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)


def test_env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONPATH=str(tree), QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def check_imports_from(tree: Path) -> None:
    out = subprocess.run([sys.executable, "-c", "import steerdesk; print(steerdesk.__file__)"],
                         cwd=tree, env=test_env(tree), capture_output=True, text=True, check=True)
    where = Path(out.stdout.strip()).resolve()
    if tree.resolve() not in where.parents:
        raise SystemExit(f"the copy does not import its own steerdesk (got {where}); "
                         "mutations would test the working tree")


def existing(tree: Path, tests: tuple[str, ...]) -> list[str]:
    return [t for t in tests if (tree / t.split("::")[0]).exists()]


def run_tests(tree: Path, tests: list[str], timeout: float) -> tuple[str, str]:
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:warnings",
           "-p", "no:cacheprovider", *tests]
    try:
        proc = subprocess.run(cmd, cwd=tree, env=test_env(tree), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", f"no result in {timeout:.0f} s"
    tail = (proc.stdout.strip().splitlines() or [""])[-1]
    if proc.returncode == 0:
        return "survived", tail
    if proc.returncode == 1:
        return "killed", tail
    if proc.returncode < 0 and re.search(r"\b\d+ failed\b", proc.stdout):
        # pytest had reported a failing test before the process died (Qt aborts at exit when
        # the mutation leaves a worker thread running): the tests noticed, so it is killed.
        return "killed", f"{tail} (then exit {proc.returncode})"
    return "error", f"pytest exit {proc.returncode}: {tail}"


def apply(tree: Path, m: Mutation) -> str | None:
    """Plant `m`; the file's original text, or None when the snippet is stale."""
    path = tree / m.file
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    if text.count(m.find) != 1:
        return None
    path.write_text(text.replace(m.find, m.replace), encoding="utf-8")
    return text


def check(tree: Path, m: Mutation, timeout: float) -> Outcome:
    tests = existing(tree, m.tests)
    if not tests:
        return Outcome(m, "stale", detail="none of its tests exist")
    original = apply(tree, m)
    if original is None:
        path = tree / m.file
        found = path.read_text(encoding="utf-8").count(m.find) if path.is_file() else 0
        return Outcome(m, "stale", detail=f"snippet found {found} times in {m.file}")
    t0 = time.perf_counter()
    try:
        status, detail = run_tests(tree, tests, timeout)
    finally:
        (tree / m.file).write_text(original, encoding="utf-8")
    return Outcome(m, status, time.perf_counter() - t0, detail)


def select(args) -> list[Mutation]:
    chosen = MUTATIONS
    if args.group:
        chosen = [m for m in chosen if m.group in args.group]
    if args.only:
        chosen = [m for m in chosen if any(m.name.startswith(p) for p in args.only)]
    return chosen


def score(outcomes: list[Outcome]) -> tuple[int, int, float]:
    killed = sum(o.status in ("killed", "timeout") for o in outcomes)
    survived = sum(o.status == "survived" for o in outcomes)
    return killed, survived, killed / max(1, killed + survived)


def report(outcomes: list[Outcome]) -> None:
    for group in dict.fromkeys(o.mutation.group for o in outcomes):
        part = [o for o in outcomes if o.mutation.group == group]
        k, s, sc = score(part)
        print(f"  {group:<10} {k}/{k + s} killed ({sc:.0%})")
    k, s, sc = score(outcomes)
    stale = [o for o in outcomes if o.status == "stale"]
    errors = [o for o in outcomes if o.status == "error"]
    print(f"score: {k}/{k + s} killed = {sc:.1%}; {len(stale)} stale, {len(errors)} errors")
    for o in outcomes:
        if o.status in ("survived", "stale", "error"):
            owner = f" [{o.mutation.owner}]" if o.mutation.owner else ""
            print(f"  {o.status.upper()}: {o.mutation.name}{owner}: {o.mutation.what} ({o.detail})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", metavar="PREFIX", help="mutations whose name starts so")
    p.add_argument("--group", nargs="+", help="steering, sae, sampling, stopping, prefill, "
                   "catalog, cli, compiled, files, worker")
    p.add_argument("--list", action="store_true", help="list the mutations and exit")
    p.add_argument("--timeout", type=float, default=300, help="seconds per mutation (300)")
    p.add_argument("--min-score", type=float, default=0.9)
    p.add_argument("--no-baseline", action="store_true",
                   help="skip running the selected tests on the unmutated copy first")
    p.add_argument("--json", metavar="FILE", help="write the outcomes as JSON")
    args = p.parse_args(argv)
    chosen = select(args)
    if args.list:
        for m in chosen:
            print(f"{m.name:<42} {m.group:<9} {m.file}  [{', '.join(m.tests)}]")
        print(f"{len(chosen)} mutations")
        return 0
    names = [m.name for m in MUTATIONS]
    if len(set(names)) != len(names):
        raise SystemExit("two mutations share a name")
    with tempfile.TemporaryDirectory(prefix="steerdesk-mutants-") as tmp:
        tree = Path(tmp) / "tree"
        copy_tree(tree)
        check_imports_from(tree)
        if not args.no_baseline:
            tests = sorted({t for m in chosen for t in existing(tree, m.tests)})
            status, detail = run_tests(tree, tests, args.timeout * 4)
            if status != "survived":
                print(f"the unmutated tests do not pass ({status}: {detail}); fix that first")
                return 1
            print(f"baseline: {detail}")
        outcomes = []
        for n, m in enumerate(chosen, 1):
            o = check(tree, m, args.timeout)
            outcomes.append(o)
            print(f"[{n:>2}/{len(chosen)}] {o.status:<8} {o.seconds:6.1f}s  {m.name}", flush=True)
    report(outcomes)
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{"name": o.mutation.name, "group": o.mutation.group, "file": o.mutation.file,
              "status": o.status, "seconds": round(o.seconds, 1), "detail": o.detail,
              "owner": o.mutation.owner} for o in outcomes], indent=1) + "\n")
    _, _, sc = score(outcomes)
    stale = any(o.status == "stale" for o in outcomes)
    return 0 if sc >= args.min_score and not stale else 1


if __name__ == "__main__":
    sys.exit(main())
