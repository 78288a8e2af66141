"""`steerdesk bench --compile`: modes (a)-(d) again with the compiled decode step, beside the
eager ones, and what compiling cost.

Each compiled mode's step is compiled once before the timings (`engine.compiled.prepare`,
timed as "g compile time"); the timed runs then reuse it. After the runs the harness reports
how many graphs each decoder compiled in all: 1 means that no run retraced.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

COMPILED_MODES = ("a+", "b+", "c+", "d+")
FIRST_TOKEN_ROWS = (("b+", "e+ compiled time to first token, (b)"),   # made by the harness's (e)
                    ("a+", "e+ compiled time to first token, (a)"))
TARGET_B = 1.0     # the issue: compiled side by side at most plain generate's single stream,
TARGET_MODEL = "pocket"   # on the pocket pack (other models are matmul-bound on a CPU)


def compile_modes(session, prompt: str, n: int, request_for: Callable,
                  log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """Compile the step of every compiled mode; per mode the compile seconds and shape."""
    from steerdesk.engine import compiled

    out: dict[str, dict[str, Any]] = {}
    for mode in COMPILED_MODES:
        request = request_for(mode, prompt, n)
        t0 = time.perf_counter()
        report = compiled.prepare(session, request, progress=lambda f, m: log(f"  {m}"))
        seconds = time.perf_counter() - t0
        if not report.compiled:
            raise RuntimeError(f"bench --compile: the decode step did not compile: {report.reason}")
        out[mode] = {"seconds": round(seconds, 2),
                     "compile_seconds": round(report.seconds, 2) if report.seconds else None,
                     "shape": report.shape.describe()}
    return out


def compile_counts(session) -> dict[str, int]:
    from steerdesk.engine import compiled

    return {d.shape.describe(): d.compiles for d in compiled.decoders(session)}


def compiled_rows(model: str, runs: dict[str, list], compile_info: dict[str, dict[str, Any]],
                  counts: dict[str, int], median: Callable, spread: Callable,
                  timing: Callable) -> list[dict[str, Any]]:
    """Rows (a)-(d) for the compiled modes (ratios to plain generate of the same repetition,
    and to the eager mode), then the compile time of each mode's step."""
    plain = runs["plain"]

    def tok_s(r) -> float:
        return r.tokens * r.rows / r.seconds

    def ratios(mode: str, f) -> list[float]:
        return [f(m, p) for m, p in zip(runs[mode], plain)]

    def vs_eager(mode: str) -> float:
        return round(median([e.seconds / c.seconds for c, e in zip(runs[mode], runs[mode[0]])]), 3)

    rows: list[dict[str, Any]] = []
    base = {"model": model, "compiled": True}
    labels = {"a+": "a+ compiled baseline-only", "b+": "b+ compiled baseline + 1 steered variant",
              "c+": "c+ compiled baseline + 4 steered variants (strength sweep)",
              "d+": "d+ compiled (b) + live readout"}
    for mode in COMPILED_MODES:
        wall = mode in ("b+",)
        r = ratios(mode, (lambda m, p: m.seconds / p.seconds) if wall
                   else (lambda m, p: tok_s(m) / tok_s(p)))
        row = {"name": labels[mode], **base,
               "measure": "wall time / plain" if wall else "throughput / plain",
               "ratio_to_plain": round(median(r), 3), "ratio_range": spread(r),
               "speedup_over_eager": vs_eager(mode), **timing(mode)}
        if mode == "b+" and model == TARGET_MODEL:
            row.update(target=TARGET_B, target_kind="at most",
                       meets_target=bool(median(r) <= TARGET_B))
        rows.append(row)
    for mode, info in compile_info.items():
        rows.append({"name": f"g compile time, {mode} ({info['shape']})", **base,
                     "measure": "seconds", "compile_seconds": info["compile_seconds"],
                     "prepare_seconds": info["seconds"],
                     "compiles_after_all_runs": counts.get(info["shape"])})
    return rows
