"""`steerdesk` with no subcommand: the desktop app.

With no --model/--sae it opens the last session's pair if it still exists, else the pocket
pack, else the window with the open dialog."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_gui_args(parser: argparse.ArgumentParser) -> None:
    """The session flags (the same as every subcommand's), then the app's own."""
    from steerdesk.cli.common import add_session_args

    add_session_args(parser)
    g = parser.add_argument_group("desktop app (steerdesk with no subcommand)")
    g.add_argument("--screenshot", metavar="OUT.png",
                   help="open offscreen, generate once, save a screenshot of the window, exit")
    g.add_argument("--prompt", help="the prompt to start with")
    g.add_argument("--preset", help="a preset file, or the name of a preset of the pack")
    g.add_argument("--presentation", action="store_true",
                   help="start in presentation mode (full screen, large text)")


def _parser() -> argparse.ArgumentParser:
    from steerdesk.cli.parsing import Parser

    p = Parser(prog="steerdesk", description="Steer a language model by its SAE features, in "
               "a window.")
    add_gui_args(p)
    return p


def main(argv: list[str] | None = None) -> int:
    from steerdesk.cli.parsing import UsageError, parse

    try:
        args = parse(_parser(), list(argv if argv is not None else sys.argv[1:]))
    except UsageError as exc:
        exc.report()
        return 2
    if args.threads:   # the app keeps torch's own choice unless told
        import torch

        torch.set_num_threads(args.threads)
    if bool(args.model) != bool(args.sae):
        print("steerdesk: give both --model and --sae, or neither", file=sys.stderr)
        return 2
    if args.screenshot and "QT_QPA_PLATFORM" not in os.environ:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from steerdesk.cli.x_libraries import check_x_libraries

    owned = not _app_exists()   # main makes the application: it may end the process
    missing = check_x_libraries() if owned else None
    if missing:   # Qt would abort the process while loading its platform plugin
        print(missing, file=sys.stderr)
        return 2

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("steerdesk")
    splash = None if args.screenshot else _splash(app)

    from steerdesk.engine.session_spec import SessionSpec
    from steerdesk.ui.main_window import MainWindow

    window = MainWindow(interactive=not args.screenshot)
    _report_bugs_without_crashing(window)
    if args.prompt is not None:
        window.compare.set_prompt(args.prompt)

    if args.model:
        request = SessionSpec(**{f.name: getattr(args, f.name) for f in SessionSpec.options()})
    else:
        request = default_pair(window.last_pair())

    def apply_preset() -> bool:
        """A preset file, or the name of one of the opened pack's (as the Steering menu)."""
        return not args.preset or window.load_preset(args.preset)

    if args.screenshot:
        if request is None:
            print("steerdesk: --screenshot needs a model: pass --model and --sae (no pocket "
                  "pack is installed)", file=sys.stderr)
            window.c.shutdown()
            return 2
        from steerdesk.ui.screenshot import take_screenshot

        window.resize(1480, 900)
        window.show()
        if args.presentation:   # its look, at the screenshot's size rather than full screen
            window.set_presentation(True)
            window.showNormal()
            window.resize(1480, 900)
        window.open_pair(request)
        code = take_screenshot(window, args.screenshot, apply_preset)
        window.close()
        window.deleteLater()
        return code

    window.show()
    if splash is not None:
        splash.finish(window)
    if args.presentation:
        window.set_presentation(True)
    if request is not None:
        if args.preset:
            _once(window.session_ready, lambda _s: apply_preset())
        window.open_pair(request)
    else:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, window.show_open_dialog)
    code = app.exec()
    return exit_now(code) if owned else code


def exit_now(code: int) -> int:
    """End the process as soon as the window is closed: it has saved everything, and Python's
    own teardown (torch, Qt, a model load that cannot be interrupted) took seconds more."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
    return code   # (only where os._exit is replaced, in tests)


def _app_exists() -> bool:
    """A QApplication made before main (tests, embedding) has its platform already."""
    qt = sys.modules.get("PySide6.QtWidgets")
    return qt is not None and qt.QApplication.instance() is not None


def _splash(app):
    """Something on screen at once: importing torch takes seconds before the window exists."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
    from PySide6.QtWidgets import QSplashScreen

    from steerdesk.engine.pack import RESOURCES

    pixmap = QPixmap(420, 180)
    pixmap.fill(QColor("#fdf6ec"))
    painter = QPainter(pixmap)
    icon = QPixmap(str(RESOURCES / "icons" / "steerdesk-128.png"))
    if not icon.isNull():
        painter.drawPixmap(20, 26, icon)
    font = QFont()
    font.setPointSize(20)
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor("#222222"))
    painter.drawText(pixmap.rect().adjusted(160, 0, 0, -30), Qt.AlignVCenter, "steerdesk")
    painter.end()
    splash = QSplashScreen(pixmap)
    splash.showMessage("Starting…", Qt.AlignBottom | Qt.AlignRight, QColor("#555555"))
    splash.show()
    app.processEvents()
    return splash


def _report_bugs_without_crashing(window) -> None:
    """An exception in a slot is a bug; on stage it must not end the show. Print it for the
    bug report and say so in the status bar, without a modal dialog."""
    import traceback

    def hook(kind, value, tb):
        traceback.print_exception(kind, value, tb)
        try:
            window.statusBar().showMessage(f"Internal error: {value} (details in the terminal)",
                                           10000)
        except RuntimeError:   # the window is already gone
            pass

    sys.excepthook = hook


def default_pair(last):
    """The last session's pair if its files are still there, else the pocket pack, else None
    (the window then opens with the open dialog)."""
    from steerdesk.engine.errors import InputError
    from steerdesk.engine.models import resolve_model_path
    from steerdesk.engine.session_spec import SessionSpec

    if last is not None and Path(last.sae).exists():
        try:
            resolve_model_path(last.model)   # a folder, or a hub id still in the cache
            return last
        except InputError:
            pass
    return SessionSpec.pocket()


def _once(signal, slot) -> None:
    """Connect `slot` for the next emission only."""
    def run(*a):
        signal.disconnect(run)
        slot(*a)
    signal.connect(run)


if __name__ == "__main__":
    sys.exit(main())
