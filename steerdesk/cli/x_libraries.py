"""Before Qt loads its xcb platform plugin: are the X libraries it needs there? Without them Qt
aborts the process (exit 134) with a message about xcb-cursor that names neither the missing
libraries nor their packages. This names both, in one line, before Qt is imported."""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable

# soname -> the Debian/Ubuntu package that has it (the README lists the same packages).
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
}


def _loads(soname: str) -> bool:
    """True when the dynamic loader finds and loads `soname`, as Qt's plugin would."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def uses_xcb(environ=os.environ, platform: str = sys.platform) -> bool:
    """Qt on Linux takes xcb when QT_QPA_PLATFORM is unset, or says so."""
    if not platform.startswith("linux"):
        return False
    wanted = environ.get("QT_QPA_PLATFORM", "").strip()
    return wanted == "" or wanted.split(":")[0].split(";")[0] == "xcb"


def missing_packages(loads: Callable[[str], bool] = _loads) -> list[str]:
    """The packages of the X libraries that cannot be loaded, in the table's order."""
    return [package for soname, package in XCB_LIBRARIES.items() if not loads(soname)]


def missing_line(packages: list[str]) -> str:
    return (f"steerdesk: the window needs system libraries that are missing "
            f"({', '.join(packages)}); install them with: "
            f"sudo apt-get install -y {' '.join(packages)}")


def check_x_libraries(environ=None, loads: Callable[[str], bool] | None = None,
                      platform: str | None = None) -> str | None:
    """The one line to print when Qt's xcb plugin would fail to load, else None."""
    if not uses_xcb(os.environ if environ is None else environ,
                    sys.platform if platform is None else platform):
        return None
    packages = missing_packages(loads or _loads)
    return missing_line(packages) if packages else None
