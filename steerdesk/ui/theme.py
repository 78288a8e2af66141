"""Colours, fonts and the presentation-mode look, in one place."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QIcon
from PySide6.QtWidgets import QApplication

ACCENT = "#d9730d"            # orange: activation tint and histogram bars
CHIP = "#eceff3"
RULE = "#7b3fc4"              # purple: where a rule steered (token underline, plot band)
# Per panel feature, for plot curves and row swatches: distinguishable, readable on white.
FEATURE_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
                   "#17becf", "#bcbd22", "#ff7f0e", "#7f7f7f"]


def feature_colour(n: int) -> str:
    return FEATURE_COLOURS[n % len(FEATURE_COLOURS)]


DARK = False                  # presentation mode is on

# One colour per output column, the same in its header and in the plots: Okabe & Ito's
# palette, told apart with every common colour-vision deficiency. The baseline is black (white
# on the dark page); yellow, faint on white, comes last.
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#D55E00", "#0072B2", "#CC79A7", "#F0E442"]


def column_colour(n: int, dark: bool | None = None) -> str:
    """Column `n`'s colour: 0 is the baseline."""
    if n == 0:
        return "#ffffff" if (DARK if dark is None else dark) else "#000000"
    return OKABE_ITO[(n - 1) % len(OKABE_ITO)]


def tint(alpha: float, dark: bool = False) -> QColor:
    """Token background for an activation of `alpha` (0..1) of the run's peak: orange blended
    into the page colour, light enough at full strength that black text stays readable."""
    a = max(0.0, min(1.0, alpha))
    base = QColor(255, 170, 60)
    page = (17, 17, 17) if dark else (255, 255, 255)
    return QColor(*(int(p + (c - p) * a) for p, c in zip(page, (base.red(), base.green(),
                                                              base.blue()))))


def tint_text(alpha: float, dark: bool = False) -> QColor:
    """Text over a tint: black once the tint is bright; on a dark page, white below that."""
    # (0.6: where black and white have equal contrast on the dark blend)
    return QColor("#000000") if (not dark or alpha > 0.6) else QColor("#ffffff")


def tint_css(alpha: float) -> str:
    return tint(alpha).name()


PRESENTATION_QSS = """
QWidget { background: #000000; color: #ffffff; }
QTextEdit, QPlainTextEdit, QTextBrowser, QLineEdit, QTableView, QListWidget, QComboBox,
QSpinBox, QDoubleSpinBox { background: #111111; color: #ffffff; border: 1px solid #888; }
QPushButton { background: #222; color: #fff; border: 2px solid #fff; padding: 6px 14px; }
QPushButton:disabled { color: #777; border-color: #555; }
QPushButton#generate { background: #ffcc00; color: #000; }
QHeaderView::section { background: #222; color: #fff; }
QToolTip { background: #ffffe0; color: #000; }
QCheckBox::indicator { width: 18px; height: 18px; border: 2px solid #fff; background: #000; }
QCheckBox::indicator:checked { background: #ffcc00; }
QTabBar::tab:selected { background: #444; }
"""

NORMAL_QSS = """
QPushButton#generate { font-weight: bold; padding: 4px 18px; }
QLabel#hint { color: #555; }
"""


PRESENTATION_SCALE = 2.0       # text twice the normal size, for the back of a room


def apply(presentation: bool, base_point_size: float) -> None:
    """The size goes in the style sheet as well as the app font: widgets with a style sheet
    of their own (the focused panel row) would otherwise keep the old size."""
    global DARK
    DARK = presentation
    app = QApplication.instance()
    size = base_point_size * (PRESENTATION_SCALE if presentation else 1.0)
    font = QFont(app.font())
    font.setPointSizeF(size)
    app.setFont(font)
    qss = PRESENTATION_QSS if presentation else NORMAL_QSS
    app.setStyleSheet(f"* {{ font-size: {size:.1f}pt; }}\n" + qss)


def app_icon() -> QIcon | None:
    """The SVG if there is one, else every PNG size; none at all is fine."""
    from steerdesk.engine.pack import RESOURCES

    icons = RESOURCES / "icons"
    if (icons / "steerdesk.svg").is_file():
        return QIcon(str(icons / "steerdesk.svg"))
    pngs = sorted(icons.glob("steerdesk-*.png")) if icons.is_dir() else []
    if not pngs:
        return None
    icon = QIcon()
    for png in pngs:
        icon.addFile(str(png))
    return icon
