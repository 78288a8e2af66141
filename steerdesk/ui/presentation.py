"""Text size and presentation mode: full screen, large text, light on dark, no feature list
(that is for preparing, not for talks). The window asks; this changes the look."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QApplication, QMainWindow, QSplitter

from steerdesk.ui import theme
from steerdesk.ui.settings import ZOOM_RANGE, Settings


class Presentation:
    def __init__(self, window: QMainWindow, split: QSplitter, themed: list,
                 redraw: Callable[[], None], settings: Settings):
        """`split`: the window's panes, the feature list first; `themed`: widgets with a
        `set_dark(bool)`."""
        self.window, self.split, self.themed, self.redraw = window, split, themed, redraw
        self.settings = settings
        self.on = False
        self.base_point_size = QApplication.instance().font().pointSizeF()
        if settings.zoom != 1.0:
            theme.apply(False, self.base_point_size * settings.zoom)

    def zoom(self, factor: float | None) -> None:
        """Ctrl+plus / Ctrl+minus, on top of presentation mode; None: back to normal."""
        lo, hi = ZOOM_RANGE
        self.settings.zoom = 1.0 if factor is None else min(hi, max(lo, self.settings.zoom
                                                                    * factor))
        theme.apply(self.on, self.base_point_size * self.settings.zoom)

    def set(self, on: bool) -> None:
        self.on = on
        theme.apply(on, self.base_point_size * self.settings.zoom)
        self.window.menuBar().setVisible(not on)
        self.settings.presentation = on
        if on:
            self.split.widget(0).hide()
            self.window.showFullScreen()
        else:
            self.split.widget(0).show()
            self.window.showNormal()
        for widget in self.themed:
            widget.set_dark(on)
        if on:
            total = sum(self.split.sizes())
            self.split.setSizes([0, int(total * 0.68), int(total * 0.32)])
        self.redraw()
