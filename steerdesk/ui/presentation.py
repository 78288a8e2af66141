"""Text size and presentation mode: full screen, text twice the size, light on dark, no feature
list (that is for preparing, not for talks). The window asks; this changes the look.

Entering remembers everything it changes (the window's state and docks, every splitter, the
panes it hides, the app's font and style sheet) and leaving puts exactly that back. The mode
itself is not remembered: `Settings.presentation` says whether to *start* in it, and only the
View menu's "Start in presentation mode" sets that."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QByteArray, QEvent, QSize, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QSplitter, QWidget

from steerdesk.ui import theme
from steerdesk.ui.settings import ZOOM_RANGE, Settings

LEAVE_HINT = "Esc or F11: leave presentation mode"


@dataclass
class _Saved:
    """What entering changed, to put back on leaving."""
    window_state: Qt.WindowState
    size: QSize                           # 2x text grows the window's minimum size
    docks: QByteArray                     # QMainWindow.saveState(): docks and toolbars
    splitters: list[tuple[QSplitter, QByteArray]]
    hidden: dict[QWidget, bool]
    menu_bar: bool
    font: QFont
    style_sheet: str
    zoom: float


class Presentation:
    def __init__(self, window: QMainWindow, split: QSplitter, hide: list[QWidget], themed: list,
                 redraw: Callable[[], None], settings: Settings):
        """`split`: the window's panes, the feature list first; `hide`: other widgets that
        are for preparing, not for talks; `themed`: widgets with a `set_dark(bool)`."""
        self.window, self.split, self.themed, self.redraw = window, split, themed, redraw
        self.also_hidden = list(hide)
        self.settings = settings
        self.on = False
        self._saved: _Saved | None = None
        self.base_point_size = QApplication.instance().font().pointSizeF()
        # How to leave, where a speaker looks for it: in the corner of the status bar.
        self.hint = QLabel(LEAVE_HINT)
        self.hint.setObjectName("leaveHint")
        self.hint.setContentsMargins(24, 0, 4, 0)   # apart from the run's status beside it
        self.hint.setToolTip("Presentation mode: View > Presentation mode, or F11")
        window.statusBar().addPermanentWidget(self.hint)
        self.hint.hide()
        if settings.zoom != 1.0:
            theme.apply(False, self.base_point_size * settings.zoom)

    def zoom(self, factor: float | None) -> None:
        """Ctrl+plus / Ctrl+minus, on top of presentation mode; None: back to normal."""
        lo, hi = ZOOM_RANGE
        self.settings.zoom = 1.0 if factor is None else min(hi, max(lo, self.settings.zoom
                                                                    * factor))
        theme.apply(self.on, self.base_point_size * self.settings.zoom)

    def set(self, on: bool) -> None:
        if on == self.on:
            return
        if on:
            self._enter()
        else:
            self._leave()
        for widget in self.themed:
            widget.set_dark(on)
        self.redraw()

    def _enter(self) -> None:
        w, app = self.window, QApplication.instance()
        panes = [self.split.widget(n) for n in range(self.split.count())] + self.also_hidden
        self._saved = _Saved(
            window_state=w.windowState(), size=w.size(), docks=w.saveState(),
            splitters=[(s, s.saveState()) for s in w.findChildren(QSplitter)],
            hidden={p: p.isHidden() for p in panes}, menu_bar=w.menuBar().isVisible(),
            font=QFont(app.font()), style_sheet=app.styleSheet(), zoom=self.settings.zoom)
        self.on = True
        theme.apply(True, self.base_point_size * self.settings.zoom)
        w.menuBar().setVisible(False)
        self.split.widget(0).hide()
        for widget in self.also_hidden:
            widget.hide()
        self.hint.show()
        w.showFullScreen()
        total = sum(self.split.sizes()) or w.width()
        self.split.setSizes([0, int(total * 0.68), int(total * 0.32)])
        center = self.split.widget(1)
        if isinstance(center, QSplitter):   # the texts over the plot: at 2x, texts first
            height = sum(center.sizes())
            center.setSizes([int(height * 0.68), height - int(height * 0.68)])

    def _leave(self) -> None:
        w, app, saved = self.window, QApplication.instance(), self._saved
        self.on = False
        self.hint.hide()
        if saved is None or saved.zoom != self.settings.zoom:   # the size changed meanwhile
            theme.apply(False, self.base_point_size * self.settings.zoom)
        else:
            theme.DARK = False
            app.setFont(saved.font)
            app.setStyleSheet(saved.style_sheet)
        if saved is None:
            w.menuBar().setVisible(True)
            self.split.widget(0).show()
            for widget in self.also_hidden:
                widget.show()
            w.showNormal()
            return
        if saved.window_state & Qt.WindowMaximized:
            w.showMaximized()
        elif not saved.window_state & Qt.WindowFullScreen:
            w.showNormal()
        w.menuBar().setVisible(saved.menu_bar)
        for pane, hidden in saved.hidden.items():
            pane.setHidden(hidden)
        w.restoreState(saved.docks)
        for splitter, state in saved.splitters:
            splitter.restoreState(state)
        if not saved.window_state & (Qt.WindowMaximized | Qt.WindowFullScreen):
            # Not the size the 2x text pushed it to. The layouts must first take their minimum
            # sizes from the normal font (their updates are posted events), or those hold the
            # window wide.
            for _ in range(3):
                QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
            w.resize(saved.size)   # (its place is the platform's: showNormal puts it back)
        self._saved = None
