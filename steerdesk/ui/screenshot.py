"""`steerdesk --screenshot out.png`: open, generate once, save a picture of the window and,
beside it, out.json (the comparison as exported: the prompt, each column's steering and text),
exit."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer

from steerdesk.engine.errors import InputError
from steerdesk.ui.export import comparison_json, save_json
from steerdesk.ui.main_window import MainWindow

TIMEOUT_S = 600


def take_screenshot(window: MainWindow, out: str, after_load=None) -> int:
    """Run one generation once the session is open, then grab the window. 0 on success."""
    loop = QEventLoop()
    result = {"code": 1}

    def on_error(text: str) -> None:
        print(f"steerdesk: screenshot failed: {text}", file=sys.stderr)
        loop.exit(1)

    def on_session(_session) -> None:
        if after_load is not None and not after_load():
            loop.exit(1)
            return
        window.generate()
        if not window.c.is_generating():
            loop.exit(1)

    def on_finished(_record) -> None:
        window.redraw()
        tint = window.c.tint_features()
        if tint:   # show the steered feature's card too
            window.browser.reveal(tint[0])
        # Two rounds of events: the plots lay out, then paint.
        QTimer.singleShot(300, lambda: save())

    def save() -> None:
        ok = window.grab().save(out, "PNG")
        if ok:
            beside = Path(out).with_suffix(".json")
            try:
                save_json(beside, comparison_json(window.c.run, window.c.session))
            except (InputError, OSError) as exc:
                print(f"steerdesk: could not write {beside}: {exc}", file=sys.stderr)
                loop.exit(1)
                return
            print(f"steerdesk: saved {out} and {beside}")
            result["code"] = 0
        else:
            print(f"steerdesk: could not write {out}", file=sys.stderr)
        loop.exit(result["code"])

    window.session_ready.connect(on_session)
    window.generation_finished.connect(on_finished)
    window.error_shown.connect(on_error)
    QTimer.singleShot(TIMEOUT_S * 1000, lambda: (print("steerdesk: screenshot timed out",
                                                       file=sys.stderr), loop.exit(1)))
    if window.c.session is not None:
        QTimer.singleShot(0, lambda: on_session(window.c.session))
    code = loop.exec()
    return code
