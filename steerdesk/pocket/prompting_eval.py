"""Steering against prompting on the pocket pack: `python -m steerdesk.pocket.prompting_eval`.

Runs `steerdesk evaluate --preset NAME --prompts eval_prompts.txt --json` (the CLI itself, as
a process of its own: the pocket tools sit below the CLI) for every pocket preset and keeps each run's table, one example text per column,
the command, the date and the machine in `sae/prompting_eval.json`; `report.py` renders it in
docs/pocket-pack.md. The prompts (eval_prompts.txt) are not the ones the preset strengths or
the prompt equivalents were picked on (steer_eval.PROMPTS).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from . import paths

SEEDS = 3
OUT = "prompting_eval.json"


def _machine() -> str:
    import torch

    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores (shared), "
            f"torch {torch.__version__}")


def run_one(preset: str, prompts: Path, seeds: int = SEEDS) -> dict:
    """One `steerdesk evaluate` run's JSON, its samples cut to one example per column."""
    argv = ["evaluate", "--preset", preset, "--prompts", str(prompts), "--seeds", str(seeds),
            "--json"]
    done = subprocess.run([sys.executable, "-m", "steerdesk.cli.main", *argv],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"steerdesk {' '.join(argv)} exited {done.returncode}: "
                         f"{done.stderr.strip()}")
    record = json.loads(done.stdout)
    samples = record.pop("samples")
    record["examples"] = {c["column"]: next(s for s in samples if s["column"] == c["column"])
                          for c in record["columns"]}
    rel = prompts.relative_to(paths._REPO_ROOT) if prompts.is_relative_to(paths._REPO_ROOT) \
        else prompts
    record["command"] = (f"steerdesk evaluate --preset {json.dumps(preset)} --prompts {rel} "
                         f"--seeds {seeds} --json")
    return record


def main(argv: list[str] | None = None) -> int:
    from steerdesk.engine.presets import list_presets

    pack = paths.resources_dir()
    prompts = pack / "eval_prompts.txt"
    start = time.monotonic()
    runs = [run_one(p.name, prompts) for p, _ in list_presets(pack / "presets")]
    data = {"date": time.strftime("%Y-%m-%d", time.gmtime()), "machine": _machine(),
            "minutes": round((time.monotonic() - start) / 60, 1), "runs": runs}
    out = pack / "sae" / OUT
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
