"""One output column: the generated text, token by token, each token tinted by how strongly
the tint features fire on it (by default every steered feature, each on the scale of its own
peak over the run); hovering a token shows its probability and top features."""

from __future__ import annotations

import bisect
import html

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QTextEdit, QToolTip

from steerdesk.ui import theme
from steerdesk.ui.run_record import RowRecord


class TokenView(QTextEdit):
    token_clicked = Signal(int)     # double-click: this token's features go to the list

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMouseTracking(True)
        self.setTextInteractionFlags(Qt.TextSelectableByMouse | Qt.TextSelectableByKeyboard)
        self.row: RowRecord | None = None
        self.label_of = lambda i: None
        self.prompt = ""
        self.tint_cols: list[int] = []     # columns in the run's watch list; []: no tint
        self.tint_peaks: list[float] = []  # each one's full tint, with headroom
        self._shown = 0             # tokens already in the document
        self._starts: list[int] = []   # document offset of each token
        self._prompt_len = 0

    def reset(self, row: RowRecord | None, prompt: str) -> None:
        self.row, self.prompt = row, prompt
        self.clear()
        self._shown, self._starts = 0, []
        cursor = self.textCursor()
        fmt = QTextCharFormat()
        fmt.setForeground(QColor("#8a8a8a"))    # the prompt, dimmed in both themes
        cursor.insertText(prompt, fmt)
        self._prompt_len = len(prompt)

    def set_tint(self, cols: list[int], peaks: list[float]) -> None:
        """Re-tint every token when the tint features change or a run's peak outgrows the
        scale. The scale keeps 25% headroom, so a growing peak re-tints a few times per run,
        not at every frame."""
        old = self.tint_peaks
        changed = (cols != self.tint_cols or len(old) != len(peaks)
                   or any(p > o or p < o / 2 for p, o in zip(peaks, old)))
        if not changed:
            return
        self.tint_cols, self.tint_peaks = list(cols), [max(p * 1.25, 1e-6) for p in peaks]
        if self.row is not None:
            shown = self._shown
            self.reset(self.row, self.prompt)
            self._append(self.row.tokens[:shown])

    def invalidate(self) -> None:
        """Re-tint on the next refresh (the theme changed)."""
        self.tint_cols = [-2]

    def tint_of(self, tok) -> float:
        """0..1: the strongest of the tint features on this token, each on its own scale."""
        return max((tok.activations[c] / p for c, p in zip(self.tint_cols, self.tint_peaks)
                    if 0 <= c < len(tok.activations)), default=0.0)

    def refresh(self) -> None:
        """Append the tokens that arrived since the last refresh."""
        if self.row is not None and len(self.row.tokens) > self._shown:
            self._append(self.row.tokens[self._shown:])

    def _append(self, tokens) -> None:
        bar = self.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - 4   # a reader who scrolled up stays put
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.End)
        cursor.beginEditBlock()     # one layout pass for the whole batch, not one per token
        for tok in tokens:
            self._starts.append(cursor.position())
            fmt = QTextCharFormat()
            a = self.tint_of(tok)
            if a > 0.05:
                fmt.setBackground(theme.tint(a, theme.DARK))
                fmt.setForeground(theme.tint_text(a, theme.DARK))
            if getattr(tok, "rules_acting", None):   # a rule steered this token: underlined
                fmt.setUnderlineStyle(QTextCharFormat.WaveUnderline)
                fmt.setUnderlineColor(QColor(theme.RULE))
            cursor.insertText(tok.text, fmt)
            self._shown += 1
        cursor.endEditBlock()
        if follow:
            self.follow_text()

    def follow_text(self) -> None:
        """Scroll so that the last written text is in view, at the bottom: not the blank end
        that a run of newlines leaves, which made a steered column look empty."""
        text = self.document().toPlainText()
        cursor = QTextCursor(self.document())
        cursor.setPosition(len(text.rstrip()))
        rect = self.cursorRect(cursor)
        bar, height = self.verticalScrollBar(), self.viewport().height()
        margin = self.fontMetrics().lineSpacing() // 2
        if rect.bottom() + margin > height or rect.top() < 0:
            bar.setValue(bar.value() + rect.bottom() + margin - height)

    def token_at(self, pos) -> int:
        if not self._starts:
            return -1
        offset = self.cursorForPosition(pos).position()
        if offset < self._starts[0]:
            return -1
        return bisect.bisect_right(self._starts, offset) - 1

    def mouseDoubleClickEvent(self, e):
        super().mouseDoubleClickEvent(e)
        n = self.token_at(e.position().toPoint())
        if self.row is not None and 0 <= n < len(self.row.tokens):
            self.token_clicked.emit(n)

    def event(self, e):
        if e.type() == QEvent.ToolTip and self.row is not None:
            n = self.token_at(self.viewport().mapFromGlobal(e.globalPos()))
            if 0 <= n < len(self.row.tokens):
                QToolTip.showText(e.globalPos(), self.token_tooltip(n), self)
            else:
                QToolTip.hideText()
            return True
        return super().event(e)

    def token_tooltip(self, n: int) -> str:
        tok = self.row.tokens[n]
        prob = "?" if tok.prob is None else f"{tok.prob:.1%}"
        head = (f"<b>{html.escape(repr(tok.text))}</b> &nbsp;·&nbsp; token {n + 1} &nbsp;·&nbsp; "
                f"probability <b>{prob}</b>")
        head += rules_line(tok)
        if not tok.top_features:
            return head
        pad = "style='padding-right:10px'"
        labels = {i: html.escape((self.label_of(i) or "")[:48]) for i, _ in tok.top_features[:6]}
        rows = "".join(f"<tr><td align='right' {pad}>{v:.2f}</td><td {pad}>#{i}</td>"
                       f"<td>{labels[i]}</td></tr>" for i, v in tok.top_features[:6])
        return (f"{head}<br>Top features here (double-click the token to list them):"
                f"<table cellspacing='0' cellpadding='1'>{rows}</table>")


def rules_line(tok) -> str:
    """Which rules held at this token and which steered it (numbered from 1, as in the
    editor), for the token's tooltip; '' when none."""
    held = [n + 1 for n in getattr(tok, "rules_held", [])]
    acting = [n + 1 for n in getattr(tok, "rules_acting", [])]
    parts = []
    if acting:
        parts.append(f"rule {', '.join(map(str, acting))} steered this token (wavy underline)")
    if held:
        parts.append(f"rule {', '.join(map(str, held))}'s condition held here")
    return "<br>" + "; ".join(parts) if parts else ""
