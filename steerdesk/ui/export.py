"""Exporting a comparison for slides and notes: HTML (texts with their steering settings,
tokens tinted as on screen) and PNG (a picture of the compare view)."""

from __future__ import annotations

import html
from pathlib import Path

from steerdesk.engine.errors import InputError
from steerdesk.engine.presets import write_atomic
from steerdesk.ui import theme
from steerdesk.ui.run_record import RunRecord


def comparison_html(record: RunRecord, model: str = "", sae: str = "",
                    tint_feature: int = -1, tint_label: str = "") -> str:
    col = record.watch.index(tint_feature) if tint_feature in record.watch else -1
    peak = max(record.peak(tint_feature), 1e-6) if col >= 0 else 1.0
    cells = []
    for row in record.rows:
        parts = []
        for t in row.tokens:
            text = html.escape(t.text)
            a = t.activations[col] / peak if 0 <= col < len(t.activations) else 0.0
            parts.append(f"<span style='background:{theme.tint_css(a)}'>{text}</span>"
                         if a > 0.02 else text)
        cells.append(f"<td><h3>{html.escape(row.name)}</h3>"
                     f"<p class='settings'>{html.escape(row.settings)}</p>"
                     f"<div class='text'><span class='prompt'>{html.escape(record.prompt)}</span>"
                     f"{''.join(parts)}</div></td>")
    width = 100 // max(len(record.rows), 1)
    tint = (f"<p>Highlight: activation of {html.escape(tint_label)} (#{tint_feature})</p>"
            if col >= 0 else "")
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>steerdesk comparison</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; }}
td {{ vertical-align: top; border: 1px solid #ccc; padding: 1em; width: {width}%; }}
.settings {{ color: #555; font-size: 90%; }}
.text {{ white-space: pre-wrap; font-size: 110%; line-height: 1.5; }}
.prompt {{ color: #888; }}
</style></head><body>
<h2>steerdesk comparison</h2>
<p>Model: {html.escape(model)}<br>SAE: {html.escape(sae)}</p>
{tint}
<table><tr>{''.join(cells)}</tr></table>
</body></html>
"""


def save_html(path: str | Path, text: str) -> Path:
    path = Path(path)
    write_atomic(path, text)
    return path


def save_png(widget, path: str | Path) -> bool:
    if not widget.grab().save(str(path), "PNG"):
        raise InputError(f"{path}: could not be written (is the folder writable, and is there "
                         "space on the disk?)")
    return True
