"""The benchmark's result as a Markdown table (what docs/benchmarks.md holds) or as JSON."""

from __future__ import annotations

import json
from typing import Any


def to_json(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2)


def _ratio(row: dict[str, Any]) -> str:
    r = row.get("ratio_to_plain")
    text = f"{r:.2f}x" if isinstance(r, (int, float)) else "-"
    rng = row.get("ratio_range")
    if rng and rng[0] != rng[1]:
        text += f" ({rng[0]:.2f}-{rng[1]:.2f})"
    return text


def _target(row: dict[str, Any]) -> str:
    if "target" not in row:
        return ""
    sign = ">=" if row.get("target_kind") == "at least" else "<="
    what = {"d": " of (b)", "h": " of no rules"}.get(row["name"][0], "")
    mark = "met" if row["meets_target"] else "**missed**"
    return f"{sign} {row['target']:g}{what}: {mark}"


def _detail(row: dict[str, Any]) -> str:
    name = row["name"]
    if name.startswith("g"):
        how = (f"compiled in {row['compile_seconds']:.1f} s" if row.get("compile_seconds")
               else "already compiled")
        return (f"{how} (prepare {row['prepare_seconds']:.1f} s); graphs compiled after all "
                f"runs: {row.get('compiles_after_all_runs')}")
    if name.startswith("f"):
        return (f"{row['peak_mib']:.0f} MiB vs plain {row['plain_peak_mib']:.0f} MiB "
                f"(working memory {row['working_mib']:.0f} vs {row['plain_working_mib']:.0f} MiB, "
                f"SAE {row['sae_mib']:.0f} MiB)")
    if name.startswith("e"):
        return (f"{row['first_token_seconds'] * 1000:.0f} ms vs plain "
                f"{row['plain_first_token_seconds'] * 1000:.0f} ms")
    rows = f"{row['rows']} row" + ("s" if row["rows"] != 1 else "")
    parts = [f"{row['tok_s']:.1f} tok/s ({rows}) vs plain {row['plain_tok_s']:.1f} tok/s",
             f"{row['seconds_median']:.2f} s vs {row['plain_seconds_median']:.2f} s"]
    if "ratio_to_no_rules" in row:
        parts.append(f"{row['ratio_to_no_rules']:.3f}x the same steering without rules "
                     f"({row['ratio_to_no_rules_range'][0]:.3f}-"
                     f"{row['ratio_to_no_rules_range'][1]:.3f})")
    if "ratio_to_b" in row:
        parts.append(f"{row['ratio_to_b']:.2f}x of (b)'s throughput")
    if "speedup_over_eager" in row:
        parts.append(f"{row['speedup_over_eager']:.2f}x as fast as eager")
    if "bandwidth_bound_steps_s" in row:
        parts.append(f"{row['steps_s']:.1f} tok/s per column, bandwidth bound "
                     f"{row['bandwidth_bound_steps_s']:.0f} ({row['fraction_of_bound']:.0%}; "
                     f"plain {row['plain_fraction_of_bound']:.0%})")
    return "; ".join(parts)


def to_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"Date: {result['date']}; command: `{result.get('command') or 'steerdesk bench'}`; "
        f"took {result['seconds']:.0f} s.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m.get('memory_gib')} GiB; {m['os']}; "
        f"Python {m['python']}, torch {m['torch']}, transformers {m['transformers']}; "
        f"device {result['device']} ({result['dtype']}), torch threads {m['torch_threads']}"
        + (f"; GPU {m['gpu']}" if m.get("gpu") else "")
        + f"; load average at start {m.get('load_average_at_start')}, "
          f"at end {m.get('load_average_at_end')}.",
        "",
    ]
    for model in result["models"]:
        lines.append(f"- **{model['model']}**: {model['model_source']}; weights "
                     f"{model['weights_mib']:.0f} MiB, SAE {model['sae_mib']:.0f} MiB; prompt "
                     f"{model['prompt_tokens']} tokens, {model['new_tokens']} new tokens, "
                     f"{model['repeats']} repetitions.")
    lines += ["", "| model | figure | ratio to plain (range) | target | details |",
              "|---|---|---|---|---|"]
    for row in result["rows"]:
        lines.append(f"| {row.get('model', '')} | {row['name']} | {_ratio(row)} | {_target(row)} "
                     f"| {_detail(row)} |")
    return "\n".join(lines) + "\n"
