"""Reading the files SAEs come in, with errors that name the file and the problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from steerdesk.engine.errors import InputError, PickleRefused


def read_json_value(path: Path) -> Any:
    """Any JSON value; a missing or unparsable file is an InputError naming it."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None


def read_json(path: Path) -> dict[str, Any]:
    data = read_json_value(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object at the top level")
    return data


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise InputError(f"{path}: not a readable safetensors file ({exc})") from None


def read_npz(path: Path) -> dict[str, torch.Tensor]:
    import zipfile

    import numpy as np

    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        # allow_pickle=False: an .npz that needs pickle is refused, never executed
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):  # a bare .npy array under an .npz name
            raise InputError(f"{path}: not an .npz archive of named arrays")
        with data:
            return {k: torch.from_numpy(np.array(data[k], dtype=np.float32)) for k in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:  # a cut or corrupt zip
        raise InputError(f"{path}: not a readable .npz file ({exc})") from None


def read_torch_pickle(path: Path, allow_pickle: bool) -> dict[str, Any]:
    """A `.pt`/`.pth` state dict. Only with the user's yes, and only with weights_only=True,
    which refuses to build arbitrary objects."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if not allow_pickle:
        raise PickleRefused(
            f"{path}: is a pickle file (.pt/.pth); reading it can run code hidden in it")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise InputError(f"{path}: could not be read as a weights-only torch file ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a state dict (a mapping of names to tensors)")
    return data
