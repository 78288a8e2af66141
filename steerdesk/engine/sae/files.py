"""Reading the files SAEs come in, with errors that name the file and the problem.

Every tensor reader checks sizes against the file before it allocates: a header may declare
any shape, and believing it would ask for terabytes."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import torch

from steerdesk.engine.errors import InputError, PickleRefused
from steerdesk.engine.userfiles import (
    check_file,
    one_line,
    os_problem,
    read_json_object,
    read_json_value,
)

__all__ = ["read_json", "read_json_value", "read_safetensors", "read_npz", "read_torch_pickle"]


def read_json(path: Path) -> dict[str, Any]:
    """An SAE config: a JSON object."""
    return read_json_object(path, what="config file")


def _dense(path: Path, tensors: dict[str, Any]) -> dict[str, torch.Tensor]:
    out = {}
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise InputError(f"{path}: entry {name!r} is not a tensor")
        if t.layout != torch.strided:
            t = t.to_dense()   # sparse tensors from torch.save: same values, dense layout
        out[name] = t
    return out


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """safetensors checks its own header (offsets within the file, a size cap)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = check_file(path, "safetensors file")
    try:
        return load_file(str(path))
    except OSError as exc:
        raise os_problem(path, exc) from None
    except (SafetensorError, ValueError, RuntimeError, TypeError) as exc:
        raise InputError(f"{path}: not a readable safetensors file ({one_line(exc)})") from None


def _npz_member_fits(path: Path, archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """The array an .npy member declares must fit in the bytes the member holds."""
    import numpy as np

    with archive.open(member) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    if dtype.hasobject:
        raise InputError(f"{path}: array {member.filename!r} holds Python objects (pickle); "
                         "steerdesk reads only numeric arrays")
    count = 1
    for n in shape:
        count *= int(n)
    if count * dtype.itemsize > member.file_size:
        raise InputError(f"{path}: array {member.filename!r} declares shape {tuple(shape)}, "
                         f"more than its {member.file_size:,} bytes hold; the file is corrupt")


def read_npz(path: Path) -> dict[str, torch.Tensor]:
    import numpy as np

    path = check_file(path, ".npz file")
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if member.filename.endswith(".npy"):
                    _npz_member_fits(path, archive, member)
        # allow_pickle=False: an .npz that needs pickle is refused, never executed
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):  # a bare .npy array under an .npz name
            raise InputError(f"{path}: not an .npz archive of named arrays")
        with data:
            return {k: torch.from_numpy(np.array(data[k], dtype=np.float32)) for k in data.files}
    except OSError as exc:
        if isinstance(exc, (PermissionError, FileNotFoundError)):
            raise os_problem(path, exc) from None
        raise InputError(f"{path}: not a readable .npz file ({one_line(exc)})") from None
    except (ValueError, EOFError, zipfile.BadZipFile, KeyError, TypeError, RuntimeError) as exc:
        # RuntimeError: zipfile's word for an entry flagged as encrypted
        raise InputError(f"{path}: not a readable .npz file ({one_line(exc)})") from None


def read_torch_pickle(path: Path, allow_pickle: bool) -> dict[str, Any]:
    """A `.pt`/`.pth` state dict. Only with the user's yes, and only with weights_only=True,
    which refuses to build arbitrary objects."""
    path = check_file(path, ".pt file")
    if not allow_pickle:
        raise PickleRefused(
            f"{path}: is a pickle file (.pt/.pth); reading it can run code hidden in it")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise os_problem(path, exc) from None
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
        # torch's refusal explains weights_only over several lines; its first says enough.
        raise InputError(f"{path}: could not be read as a weights-only torch file "
                         f"({one_line(exc)})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a state dict (a mapping of names to tensors)")
    return _dense(path, {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}) | {
        k: v for k, v in data.items() if not isinstance(v, torch.Tensor)}
