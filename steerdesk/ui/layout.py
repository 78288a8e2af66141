"""Small layout helpers: splitters and stacked boxes, built in one call."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget


def splitter(orientation, widgets: list[QWidget], sizes: list[int], stretch: list[int]):
    split = QSplitter(orientation)
    for n, (w, factor) in enumerate(zip(widgets, stretch)):
        split.addWidget(w)
        split.setStretchFactor(n, factor)
    split.setSizes(sizes)
    return split


def boxed(*widgets: QWidget, margins=(0, 0, 0, 0)) -> QWidget:
    """The widgets one above the other; the last one takes the room."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(*margins)
    for w in widgets:
        layout.addWidget(w, 1 if w is widgets[-1] else 0)
    return box


def titled(title: str, widget: QWidget) -> QWidget:
    return boxed(QLabel(f"<b>{title}</b>"), widget)
