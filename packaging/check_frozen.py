"""Helpers for packaging/build.sh, run with the build's Python (not the frozen app).

    python packaging/check_frozen.py tiny OUT_DIR         make tiny models + SAEs per family
    python packaging/check_frozen.py png FILE.png         check a screenshot is a real picture
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FAMILIES = ("llama", "gpt2", "gpt_neox", "qwen2", "gemma2", "mistral")


def make_tiny(out: Path) -> int:
    sys.path[:0] = [str(REPO)]  # steerdesk from this tree
    from steerdesk.testing.tiny import make_model, make_sae

    for family in FAMILIES:
        make_model(out / family / "model", family=family)
        make_sae(out / family / "sae", d_in=32)
        print(out / family)
    return 0


def check_png(path: Path, min_w: int = 800, min_h: int = 500) -> int:
    """Exists, is a PNG Qt can read, is window-sized, and is not blank: many colours and
    real contrast over a grid of sampled pixels."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a checker: never needs a display
    from PySide6.QtGui import QGuiApplication, QImage

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841
    if not path.is_file() or path.stat().st_size < 10_000:
        print(f"check_png: {path}: missing or too small", file=sys.stderr)
        return 1
    if path.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        print(f"check_png: {path}: not a PNG", file=sys.stderr)
        return 1
    img = QImage(str(path))
    if img.isNull() or img.width() < min_w or img.height() < min_h:
        print(f"check_png: {path}: unreadable or too small ({img.width()}x{img.height()})",
              file=sys.stderr)
        return 1
    colours, lum = set(), []
    step = 4
    for y in range(0, img.height(), step):
        for x in range(0, img.width(), step):
            rgb = img.pixel(x, y) & 0xFFFFFF
            colours.add(rgb)
            r, g, b = rgb >> 16, (rgb >> 8) & 255, rgb & 255
            lum.append(0.299 * r + 0.587 * g + 0.114 * b)
    mean = sum(lum) / len(lum)
    std = (sum((v - mean) ** 2 for v in lum) / len(lum)) ** 0.5
    print(f"check_png: {path}: {img.width()}x{img.height()}, {path.stat().st_size} bytes, "
          f"{len(colours)} colours, luminance mean {mean:.0f} std {std:.1f}")
    if len(colours) < 30 or std < 8:
        print(f"check_png: {path}: looks blank", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "tiny":
        return make_tiny(Path(argv[1]))
    if len(argv) == 2 and argv[0] == "png":
        return check_png(Path(argv[1]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
