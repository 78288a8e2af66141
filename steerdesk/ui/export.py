"""Exporting a comparison so that it stands alone, for slides and notes:

- HTML: the model and SAE, what the highlight shows, every column's header (its colour, title,
  steering settings and costs: fluency and reach) and text with the tokens tinted as on screen, and the activation plot
  as an embedded PNG;
- PNG: the same document rendered to one picture (every column in full, not the part that is
  scrolled into view);
- JSON (`steerdesk --screenshot OUT.png` writes OUT.json): the prompt and every column's
  steering, text and costs (`metrics`), the prompted column as `"kind": "prompted"`, in the
  CLI's key names (docs/json.md).

`Comparison` is what all three are made from; the window builds it."""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steerdesk.engine.errors import InputError
from steerdesk.engine.presets import write_atomic
from steerdesk.engine.prompted import instructed_prompt
from steerdesk.ui import theme, wording
from steerdesk.ui.run_record import RunRecord

PNG_WIDTH = 1600          # px: a slide's width
PLOT_RESOURCE = "steerdesk-plot.png"
# Where a rule steered, as in the app: a wavy purple underline. Browsers read the shorthand;
# Qt's rich text reads only a plain underline and its colour, and the PNG makes it wavy.
RULE_STYLE = (f"text-decoration: underline wavy {theme.RULE}; "
              f"text-decoration-color: {theme.RULE}")
RULE_LEGEND = ("<span class='rule' style='{style}'>Wavy purple underline</span>: a token a "
               "rule steered (the rule's condition held, so its steering acted there).")


@dataclass
class Comparison:
    record: RunRecord
    model: str = ""
    sae: str = ""
    tint: list[int] = field(default_factory=list)   # the features that tint the tokens
    tint_text: str = ""                # what the highlight shows, in words (plain text)
    plot_png: bytes | None = None      # the activation plot, as on screen

    def tint_of(self, row: int, token: int) -> float:
        """0..1, as the token view computes it: the strongest tint feature, each on the scale
        of its own peak over the run."""
        rec = self.record
        tok = rec.rows[row].tokens[token]
        best = 0.0
        for i in self.tint:
            if i in rec.watch:
                col = rec.watch.index(i)
                if col < len(tok.activations):
                    best = max(best, tok.activations[col] / max(rec.peak(i), 1e-6))
        return best


def comparison_html(c: Comparison, plot_src: str | None = None) -> str:
    """The document. `plot_src`: where the plot image comes from (default: the PNG, embedded
    as base64, so that the file is one file)."""
    record = c.record
    if plot_src is None and c.plot_png:
        plot_src = "data:image/png;base64," + base64.b64encode(c.plot_png).decode("ascii")
    cells = []
    # Equal columns: Qt's rich text reads the width attribute, not CSS, and without it gave
    # a long steered text all the room and the baseline a sliver.
    width = 100 // max(len(record.rows), 1)
    for r, row in enumerate(record.rows):
        parts = []
        for n, t in enumerate(row.tokens):
            text = html.escape(t.text)
            a = c.tint_of(r, n)
            if a > 0.05:
                text = f"<span style='background-color:{theme.tint_css(a)}'>{text}</span>"
            if t.rules_acting:
                text = f"<span class='rule' style='{RULE_STYLE}'>{text}</span>"
            parts.append(text)
        colour = theme.column_colour(r, dark=False)
        costs = wording.costs_line(record, r)
        costs = (f"<p class='costs' title='{html.escape(wording.COSTS_TIP)}'>"
                 f"{html.escape(costs)}</p>" if costs else "")
        prompt = (instructed_prompt(record.prompted, record.prompt)
                  if r == record.prompted_row else record.prompt)
        cells.append(
            f"<td valign='top' width='{width}%' style='border-top: 6px solid {colour}'>"
            f"<p class='title'><span style='color:{colour}'>&#9632;</span> "
            f"<b>{html.escape(row.name)}</b></p>"
            f"<p class='settings'>{html.escape(row.settings)}</p>{costs}"
            f"<p class='text'><span class='prompt' style='color:#888888'>"
            f"{_lines(prompt)}</span>{_lines(''.join(parts), escaped=True)}</p></td>")
    tint = f"<p>{html.escape(c.tint_text)}</p>" if c.tint_text else ""
    if any(spec.rules for spec in record.specs):      # the legend only where rules ran
        tint += f"<p class='legend'>{RULE_LEGEND.format(style=RULE_STYLE)}</p>"
    if record.costs is not None:    # a page has no tooltips: say what the costs mean
        tint += f"<p class='settings'>{html.escape(wording.COSTS_TIP)}.</p>"
    sampling = (f"<br>Sampling: {html.escape(sampling_words(record.sampling))}"
                if record.sampling is not None else "")
    plot = (f"<h3>Activations of the steered features</h3>"
            f"<p><img src='{plot_src}' alt='activation plot'></p>" if plot_src else "")
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>steerdesk comparison</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; }}
td {{ vertical-align: top; border: 1px solid #cccccc; padding: 0.8em; width: {width}%; }}
.settings {{ color: #555555; font-size: 90%; }}
.text {{ font-size: 110%; line-height: 1.5; }}
img {{ max-width: 100%; }}
</style></head><body>
<h2>steerdesk comparison</h2>
<p>Prompt: <b>{html.escape(record.prompt)}</b><br>
Model: {html.escape(c.model)}<br>SAE: {html.escape(c.sae)}{sampling}</p>
{tint}
<table cellspacing='0' cellpadding='8' width='100%'><tr>{''.join(cells)}</tr></table>
{plot}
</body></html>
"""


def sampling_words(s) -> str:
    """How the columns were sampled, so that a reader can run the comparison again."""
    how = ("greedy (temperature 0)" if s.temperature == 0 else
           f"temperature {s.temperature:g}, seed {s.seed}")
    return (f"{how}, up to {s.max_new_tokens} new tokens, "
            f"{'chat' if s.chat else 'completion'} mode")


def _lines(text: str, escaped: bool = False) -> str:
    """Line breaks that both browsers and Qt's rich text keep."""
    return (text if escaped else html.escape(text)).replace("\n", "<br>")


def comparison_document(c: Comparison, width: int = PNG_WIDTH):
    """The HTML document as Qt lays it out for the PNG, with the rule markers made wavy."""
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QImage, QTextDocument

    doc = QTextDocument()
    doc.setDocumentMargin(24)
    if c.plot_png:
        plot = QImage.fromData(c.plot_png, "PNG")
        if plot.width() > width - 60:
            plot = plot.scaledToWidth(width - 60)
        doc.addResource(QTextDocument.ImageResource, QUrl(PLOT_RESOURCE), plot)
    doc.setHtml(comparison_html(c, plot_src=PLOT_RESOURCE if c.plot_png else None))
    _wave_rule_underlines(doc)
    doc.setTextWidth(width)
    return doc


def fragments(doc):
    """Every run of same-formatted text in a QTextDocument, in order."""
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            yield it.fragment()
            it += 1
        block = block.next()


def _wave_rule_underlines(doc) -> None:
    """Qt's HTML reader knows no wavy underline: the text underlined in the rule colour gets
    it here, so that the PNG marks the tokens as the app does."""
    from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor

    rule = QColor(theme.RULE)
    wave = QTextCharFormat()
    wave.setUnderlineStyle(QTextCharFormat.WaveUnderline)
    spans = [(frag.position(), frag.length()) for frag in fragments(doc)
             if frag.charFormat().fontUnderline() and frag.charFormat().underlineColor() == rule]
    for pos, length in spans:          # after the walk: merging splits the fragments
        cursor = QTextCursor(doc)
        cursor.setPosition(pos)
        cursor.setPosition(pos + length, QTextCursor.KeepAnchor)
        cursor.mergeCharFormat(wave)


def comparison_image(c: Comparison, width: int = PNG_WIDTH):
    """The HTML document rendered to one QImage: headers, every column in full, the plot."""
    from PySide6.QtGui import QColor, QImage, QPainter

    doc = comparison_document(c, width)
    size = doc.size()
    image = QImage(int(width), int(size.height()) + 1, QImage.Format_RGB32)
    image.fill(QColor("#ffffff"))
    painter = QPainter(image)
    doc.drawContents(painter)
    painter.end()
    return image


def comparison_json(record: RunRecord, session=None) -> dict[str, Any]:
    """The comparison as exported, in the CLI's family of JSON objects (docs/json.md): the
    prompt, then one column per output with its steering (null for the baseline) and text."""
    from steerdesk.engine.generation import GenerationRequest
    from steerdesk.engine.provenance import session_record, steering_record, versions

    positions = GenerationRequest.__dataclass_fields__["positions"].default
    specs = [None, *record.specs]
    columns = []
    for r, (row, spec) in enumerate(zip(record.rows,
                                        specs + [None] * (len(record.rows) - len(specs)))):
        steering = None
        if spec is not None and session is not None:
            steering = {**steering_record(spec, session), "positions": positions}
        prompted = r == record.prompted_row
        kind = "prompted" if prompted else "baseline" if spec is None else "steered"
        column = {"name": row.name, "kind": kind, **({"prompted": record.prompted}
                                                     if prompted else {}),
                  "steering": steering, "settings": row.settings, "text": row.text}
        if record.costs is not None:
            column["metrics"] = column_metrics(record, r)
        columns.append(column)
    s = record.sampling
    out: dict[str, Any] = {"schema": 1, "command": "screenshot", "versions": versions()}
    if session is not None:
        out["session"] = session_record(session)
    if s is not None:
        out["sampling"] = {"max_new_tokens": s.max_new_tokens, "temperature": s.temperature,
                           "top_p": s.top_p, "seed": s.seed}
    out["prompt"] = {"text": record.prompt, "chat": record.chat_requested,
                     "chat_template_used": record.chat_template_used}
    out["columns"] = columns
    return out


def column_metrics(record: RunRecord, r: int) -> dict[str, Any]:
    """A column's costs, in the CLI's key names (`perplexity`; `reach`: the raw mean
    activation of the first watched feature), and the reach its header shows."""
    m = record.costs[r]
    out = {"perplexity": m["perplexity"], "reach": m["reach"] if record.watch else None,
           "reach_feature": record.watch[0] if record.watch else None}
    if record.classifier is not None:
        out["classifier_score"] = record.reach(r)
    elif record.reach_max is not None:
        out["reach_x_max"] = record.reach(r)
    out["header"] = wording.costs_line(record, r)
    return out


def save_html(path: str | Path, text: str) -> Path:
    path = Path(path)
    write_atomic(path, text)
    return path


def save_json(path: str | Path, obj: dict[str, Any]) -> Path:
    path = Path(path)
    write_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    return path


def save_png(image, path: str | Path) -> bool:
    """A QImage or a widget (grabbed)."""
    picture = image.grab() if hasattr(image, "grab") else image
    if not picture.save(str(path), "PNG"):
        raise InputError(f"{path}: could not be written (is the folder writable, and is there "
                         "space on the disk?)")
    return True
