"""About: versions and the device, for bug reports."""

from __future__ import annotations

import platform

from PySide6.QtWidgets import QMessageBox


def about_text(session=None) -> str:
    import PySide6
    import torch

    cuda = torch.version.cuda or "none"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA GPU"
    device = str(session.lm.device) if session is not None else "no model open"
    return (f"<h3>steerdesk {_version()}</h3>"
            "<p>Steer local language models by their sparse-autoencoder features.</p>"
            f"<p>torch {torch.__version__} · CUDA {cuda} ({gpu})<br>"
            f"PySide6 {PySide6.__version__} · Python {platform.python_version()}<br>"
            f"model device: {device}</p>")


def _version() -> str:
    from steerdesk import __version__

    return __version__


def show_about(parent, session=None) -> None:
    QMessageBox.about(parent, "About steerdesk", about_text(session))
