"""`generate` without --json: each column's text, and, when --watch or --top-features asks for
it, a compact table of the readout at every new token."""

from __future__ import annotations

from typing import TextIO

TOKEN_WIDTH = 14


def _token_cell(text: str) -> str:
    shown = repr(text)
    return shown if len(shown) <= TOKEN_WIDTH else shown[: TOKEN_WIDTH - 2] + "…" + shown[-1]


def readout_table(request, row) -> list[str]:
    """One line per new token: the token, each watched feature's activation, the top features
    ('40:3.1' is feature 40 at 3.1)."""
    head = f"{'token':<{TOKEN_WIDTH}}" + "".join(f"{'#' + str(i):>9}" for i in request.watch)
    if request.top_k_features:
        head += "  top features"
    lines = [head]
    for t in row.tokens:
        line = f"{_token_cell(t.text):<{TOKEN_WIDTH}}" + "".join(
            f"{v:9.3f}" for v in t.activations)
        if request.top_k_features:
            line += "  " + " ".join(f"{i}:{v:.2f}" for i, v in t.top_features)
        lines.append(line.rstrip())
    return lines


def cost_line(metrics: dict, watch) -> str:
    """A column's costs in words: perplexity (engine/costs.py) and, with --watch, reach."""
    ppl = metrics["perplexity"]
    line = ("perplexity under the unsteered model: "
            + (f"{ppl:.2f}" if ppl is not None else "none (no new tokens)"))
    if watch:
        reach = metrics["reach"]
        line += (f"; reach (mean activation of #{watch[0]}): "
                 + (f"{reach:.3f}" if reach is not None else "none"))
    return line


def print_text(session, request, result, *, table: bool, out: TextIO) -> None:
    """Each column: its name, its prompt and text (the prompted column's prompt carries its
    instruction), its costs, and the readout table when asked for."""
    from steerdesk.engine.costs import result_metrics

    metrics = result_metrics(session, result, request.watch)
    for r, row in enumerate(result.rows):
        prompt = request.prompt
        if r == result.prompt.prompted_row:
            from steerdesk.engine.prompted import instructed_prompt

            prompt = instructed_prompt(request.prompted, request.prompt)
        print(f"=== {row.name}", file=out)
        print(prompt + row.text, file=out)
        print(f"  ({cost_line(metrics[r], request.watch)})", file=out)
        if table and row.tokens:
            print(file=out)
            for line in readout_table(request, row):
                print(f"  {line}", file=out)
        print(file=out)
