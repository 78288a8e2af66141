"""One feature up close: label, numbers, top snippets with the activating token highlighted,
the tokens it promotes, and its activation histogram (where the catalog has them)."""

from __future__ import annotations

import html

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from steerdesk.ui import theme, wording
from steerdesk.ui.evidence_dialog import LABELS_WITHOUT_SNIPPETS, needs_evidence
from steerdesk.ui.feature_source import FeatureSource
from steerdesk.ui.plots import style_plot

BUILD_LINK = "steerdesk:build-evidence"
NO_CATALOG = ("<b>No catalog for this SAE</b>: feature labels, snippets and histograms are "
              "unavailable. Features are listed by number and can still be steered. "
              f"<a href='{BUILD_LINK}'>Build a catalog from your own text…</a>")


class FeatureCard(QWidget):
    add_requested = Signal(int)
    rename_requested = Signal(int)
    evidence_requested = Signal()          # build a catalog of evidence from the user's text

    def __init__(self, parent=None):
        super().__init__(parent)
        self.index = -1
        self.source: FeatureSource | None = None
        self.title = QLabel("Select a feature to see what it does.")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.title.setTextFormat(Qt.PlainText)
        f = self.title.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.title.setFont(f)
        self.numbers = QLabel("")
        self.numbers.setWordWrap(True)      # never clipped by the buttons beside it
        self.numbers.setToolTip("Max activation: the largest value seen on the catalog's text. "
                                "Density: the share of tokens on which the feature is active.")
        self.add_button = QPushButton("Add to steering")
        self.add_button.setToolTip("Add this feature as a row of the steering panel")
        self.add_button.clicked.connect(lambda: self.index >= 0 and
                                        self.add_requested.emit(self.index))
        self.add_button.setEnabled(False)
        self.rename_button = QPushButton("Rename…")
        self.rename_button.setToolTip("Give this feature your own label (kept in the catalog, "
                                      "shown everywhere)")
        self.rename_button.clicked.connect(lambda: self.index >= 0 and
                                           self.rename_requested.emit(self.index))
        self.rename_button.setEnabled(False)
        self.body = QTextBrowser()
        self.body.setOpenLinks(False)
        self.body.anchorClicked.connect(lambda url: url.toString() == BUILD_LINK
                                        and self.evidence_requested.emit())
        self.hist = pg.PlotWidget()
        self.hist.setBackground(None)
        self.hist.setMaximumHeight(110)
        self.hist.setMinimumHeight(80)
        self.hist.setMouseEnabled(False, False)
        self.hist.hideButtons()
        self.hist.getPlotItem().setLabel("bottom", "activation")
        self.hist.getAxis("bottom").enableAutoSIPrefix(False)
        self.hist.setToolTip("How often the feature reaches each activation value "
                             "(on the catalog's text, active tokens only)")
        self.hist.hide()

        top = QHBoxLayout()
        top.addWidget(self.numbers, 1)
        top.addWidget(self.rename_button)
        top.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(top)
        layout.addWidget(self.body, 1)
        layout.addWidget(self.hist)

    def set_dark(self, dark: bool) -> None:
        style_plot(self.hist, dark)

    def set_source(self, source: FeatureSource | None) -> None:
        self.source = source
        self.show_feature(-1)

    def show_feature(self, index: int) -> None:
        self.index = index
        src = self.source
        self.add_button.setEnabled(index >= 0 and src is not None)
        self.rename_button.setEnabled(index >= 0 and src is not None and src.has_catalog)
        self.hist.hide()
        if src is None or index < 0:
            self.title.setText("Select a feature to see what it does.")
            self.numbers.setText("")
            self.body.setHtml(NO_CATALOG if src is not None and not src.has_catalog else
                              "<p style='color:gray'>Click a feature in the list to see where "
                              "it fires, which next tokens it promotes, and how often it is "
                              "active.</p>" if src is not None else "")
            return
        self.title.setText(wording.feature_name(index, src.label(index)))
        parts = []
        if src.max_act(index) is not None:
            parts.append(f"max act {src.max_act(index):.2f}")
        if src.density(index) is not None:
            parts.append(f"density {wording.density(src.density(index))}")
        self.numbers.setText(" · ".join(parts))
        record = src.card(index)
        if record is None:
            self.body.setHtml(NO_CATALOG if not src.has_catalog else
                              "<i>The catalog has no snippets for this feature.</i>")
            return
        offer = LABELS_WITHOUT_SNIPPETS if needs_evidence(src, index) else ""
        self.body.setHtml(offer + card_html(record))
        hist = getattr(record, "histogram", None)
        if hist is not None:
            edges, counts = hist
            edges, counts = list(edges), list(counts)
            if len(counts) and len(edges) == len(counts) + 1:
                self.hist.clear()
                self.hist.addItem(pg.BarGraphItem(x0=edges[:-1], x1=edges[1:], height=counts,
                                                  brush=theme.ACCENT, pen=pg.mkPen("w")))
                self.hist.show()


def card_html(record) -> str:
    out = []
    snippets = list(getattr(record, "snippets", []) or [])
    if snippets:
        out.append("<p><b>Where it fires</b> <span style='color:gray'>(highlight = activation)"
                   "</span></p>")
        for snip in snippets[:8]:
            out.append(f"<p style='margin:2px 0 6px 0'>{snippet_html(snip)}</p>")
    for title, key, what in (("Promotes", "promoted", "more"),
                             ("Suppresses", "suppressed", "less")):
        toks = list(getattr(record, key, []) or [])[:12]
        if toks:
            chips = " ".join(f"<code style='background:{theme.CHIP}'>&nbsp;"
                             f"{html.escape(_visible(str(t)))}&nbsp;</code>" for t, _ in toks)
            out.append(f"<p><b>{title}</b> <span style='color:gray'>(next tokens it makes "
                       f"{what} likely)</span>: {chips}</p>")
    return "".join(out) or "<i>The catalog has no snippets for this feature.</i>"


def snippet_html(snip) -> str:
    tokens = list(getattr(snip, "tokens", []))
    values = list(getattr(snip, "values", [])) or [0.0] * len(tokens)
    peak = max([abs(v) for v in values] + [getattr(snip, "max_value", 0.0) or 0.0, 1e-9])
    peak_pos = getattr(snip, "peak", -1)
    parts = []
    for n, (tok, v) in enumerate(zip(tokens, values)):
        text = html.escape(str(tok)).replace("\n", "⏎")
        alpha = max(0.0, min(1.0, v / peak))
        if alpha > 0.02:
            style = f"background: {theme.tint_css(alpha)};"
            if n == peak_pos:
                style += " font-weight: bold; text-decoration: underline;"
            parts.append(f"<span style='{style}'>{text}</span>")
        else:
            parts.append(text)
    return "".join(parts)


def _visible(token: str) -> str:
    """Spaces and newlines in a token chip, made visible."""
    return token.replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥")
