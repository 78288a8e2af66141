"""Mutations of a valid artifact (a file, or a folder of files): each one a way a file goes bad
on a user's disk or in a hand edit. `mutants(root, rng)` picks one file under `root` and one
operator that fits its kind, changes the file in place, and says what it did."""

from __future__ import annotations

import io
import json
import math
import os
import random
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

# ---- whole-file operators (any kind of file) --------------------------------------------------


def truncate(path: Path, rng: random.Random) -> str:
    data = path.read_bytes()
    cut = rng.choice([0, 1, len(data) // 2, max(0, len(data) - 1), rng.randrange(len(data) + 1)])
    path.write_bytes(data[:cut])
    return f"truncated to {cut} of {len(data)} bytes"


def flip_bytes(path: Path, rng: random.Random) -> str:
    data = bytearray(path.read_bytes())
    if not data:
        return "flip on an empty file"
    n = rng.choice([1, 2, 8, 64])
    for _ in range(n):
        i = rng.randrange(len(data))
        data[i] = rng.randrange(256)
    path.write_bytes(bytes(data))
    return f"{n} bytes changed"


def to_folder(path: Path, rng: random.Random) -> str:
    path.unlink()
    path.mkdir()
    return "replaced by a folder"


def to_fifo(path: Path, rng: random.Random) -> str:
    path.unlink()
    os.mkfifo(path)
    return "replaced by a FIFO"


def remove(path: Path, rng: random.Random) -> str:
    path.unlink()
    return "removed"


def garbage(path: Path, rng: random.Random) -> str:
    path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.choice([3, 100, 5000]))))
    return "replaced by random bytes"


FILE_OPS: list[Callable] = [truncate, flip_bytes, to_folder, to_fifo, remove, garbage]

# ---- JSON operators ----------------------------------------------------------------------------

ODD_VALUES = ["x", "", [], {}, None, True, False, -1, 0, 1.5, 10 ** 30, -(10 ** 12),
              float("nan"), float("inf"), float("-inf"), 1e308, "9" * 400, [1, 2, 3], {"a": 1}]


def _paths(obj, prefix=()):
    """Every (container, key) pair in a JSON value."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield obj, k
            yield from _paths(v)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield obj, i
            yield from _paths(v)


DEEP = "__deeply_nested__"


def _dump(data) -> str:
    # json.dumps writes NaN / Infinity, as a tool that is careless about JSON would
    return json.dumps(data, allow_nan=True)


def json_change(path: Path, rng: random.Random) -> str:
    data = json.loads(path.read_text(encoding="utf-8"))
    places = list(_paths(data))
    if not places:
        path.write_text(_dump(rng.choice(ODD_VALUES)))
        return "top-level value replaced"
    container, key = rng.choice(places)
    action = rng.choice(["type", "type", "type", "delete", "nest"])
    if action == "delete" and isinstance(container, dict):
        del container[key]
        what = f"field {key!r} deleted"
    elif action == "nest":
        container[key] = DEEP
        n = rng.choice([50, 5000])
        path.write_text(_dump(data).replace(f'"{DEEP}"', "[" * n + "]" * n))
        return f"field {key!r} nested {n} deep"
    else:
        value = rng.choice(ODD_VALUES)
        container[key] = value
        what = f"field {key!r} set to {value!r:.30}"
    path.write_text(_dump(data))
    return what


def json_bomb(path: Path, rng: random.Random) -> str:
    n = rng.choice([100_000, 3000])
    path.write_text("[" * n + "]" * n)
    return f"nested {n} deep"


def json_wrong_top(path: Path, rng: random.Random) -> str:
    path.write_text(_dump(rng.choice([[], "text", 3, None, [{"a": 1}]])))
    return "top level of the wrong type"


JSON_OPS = [json_change, json_change, json_change, json_bomb, json_wrong_top]

# ---- tensor operators (safetensors, .pt, .npz) ------------------------------------------------


def _tensor_change(tensors: dict, rng: random.Random) -> str:
    names = [k for k, v in tensors.items() if isinstance(v, torch.Tensor)]
    if not names:
        return "no tensors"
    name = rng.choice(names)
    t = tensors[name]
    action = rng.choice(["nan", "inf", "huge", "shape", "shape", "transpose", "dtype", "delete",
                         "extra", "empty", "zeros"])
    if action in ("nan", "inf", "huge") and t.is_floating_point() and t.numel():
        t = t.clone().float()
        flat = t.view(-1)
        flat[rng.randrange(flat.numel())] = {"nan": math.nan, "inf": math.inf,
                                             "huge": 3e38}[action]
        if action == "huge":
            flat.fill_(3e38 * (1 if rng.random() < 0.5 else -1))
        tensors[name] = t
    elif action == "shape" and t.dim() >= 1:
        shape = list(t.shape)
        dim = rng.randrange(len(shape))
        shape[dim] = max(0, shape[dim] + rng.choice([-1, 1, 5]))
        tensors[name] = torch.zeros(shape, dtype=t.dtype)
    elif action == "transpose" and t.dim() == 2:
        tensors[name] = t.T.contiguous()
    elif action == "dtype":
        tensors[name] = t.to(rng.choice([torch.int64, torch.float16, torch.bool, torch.float64]))
    elif action == "delete":
        del tensors[name]
    elif action == "extra":
        tensors["unexpected_extra"] = torch.zeros(3)
    elif action == "empty":
        tensors[name] = torch.zeros(0)
    else:
        tensors[name] = torch.zeros_like(t)
    return f"tensor {name!r}: {action}"


def safetensors_change(path: Path, rng: random.Random) -> str:
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(path))
    what = _tensor_change(tensors, rng)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
    return what


def pt_change(path: Path, rng: random.Random) -> str:
    sd = torch.load(path, weights_only=True)
    roll = rng.random()
    if roll < 0.15:
        name = rng.choice([k for k, v in sd.items() if isinstance(v, torch.Tensor)])
        sd[name] = sd[name].to_sparse()
        what = f"tensor {name!r} made sparse"
    elif roll < 0.25:
        sd = rng.choice([[1, 2], "text", {"a": "b"}, torch.zeros(2)])
        what = "not a state dict"
    elif roll < 0.35 and "activation_state_dict" in sd:
        sd["activation_state_dict"] = {"k": rng.choice(["x", -1, 0, 10 ** 9, 2.5, None])}
        what = f"k set to {sd['activation_state_dict']['k']!r}"
    else:
        what = _tensor_change(sd, rng)
    torch.save(sd, path)
    return what


def npz_change(path: Path, rng: random.Random) -> str:
    with np.load(path) as data:
        arrays = {k: torch.from_numpy(np.array(data[k])) for k in data.files}
    if rng.random() < 0.25:
        return _npz_huge_header(path, arrays, rng)
    what = _tensor_change(arrays, rng)
    np.savez(path, **{k: v.numpy() for k, v in arrays.items()})
    return what


def _npz_huge_header(path: Path, arrays: dict, rng: random.Random) -> str:
    """An .npy member whose header declares 10^12 elements but holds a few bytes."""
    name = rng.choice(sorted(arrays))
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False,
                                               "shape": (1_000_000, 1_000_000)})
    member = buf.getvalue() + b"\x00" * 64     # the header writer writes the magic too
    with zipfile.ZipFile(path, "w") as z:
        for k, v in arrays.items():
            if k == name:
                z.writestr(f"{k}.npy", member)
            else:
                b = io.BytesIO()
                np.save(b, v.numpy())
                z.writestr(f"{k}.npy", b.getvalue())
    return f"array {name!r} header declares 10^12 elements"


def gzip_change(path: Path, rng: random.Random) -> str:
    import gzip

    if rng.random() < 0.5:
        return truncate(path, rng)
    text = gzip.decompress(path.read_bytes())
    tmp = path.with_suffix(".plain")
    tmp.write_bytes(text)
    what = json_change(tmp, rng)
    path.write_bytes(gzip.compress(tmp.read_bytes()))
    tmp.unlink()
    return "inside the gzip: " + what


def text_change(path: Path, rng: random.Random) -> str:
    data = path.read_bytes()
    inserts = [b"\xff\xfe", b"\x00" * 10, b"\n" * 50, b",,,,\n", b"-5,x\n", b"abc", b"\"\n\"",
               b"99999999999999999999999,big\n", b'{"text": 5}\n', b"[1,2]\n"]
    i = rng.randrange(len(data) + 1)
    path.write_bytes(data[:i] + rng.choice(inserts) + data[i:])
    return "text with odd bytes inserted"


def ops_for(path: Path) -> list[Callable]:
    name = path.name.lower()
    if name.endswith(".json"):
        special = JSON_OPS
    elif name.endswith(".safetensors"):
        special = [safetensors_change] * 4
    elif name.endswith((".pt", ".pth")):
        special = [pt_change] * 4
    elif name.endswith(".npz"):
        special = [npz_change] * 4
    elif name.endswith(".npy"):
        special = [npy_change] * 3
    elif name.endswith(".gz"):
        special = [gzip_change] * 3
    else:
        special = [text_change] * 3
    return special + FILE_OPS


def npy_change(path: Path, rng: random.Random) -> str:
    a = np.load(path)
    action = rng.choice(["2d", "nan", "dtype", "short", "long", "negative"])
    if action == "2d":
        a = a.reshape(1, -1)
    elif action == "nan":
        a = a.astype(np.float32)
        if a.size:
            a[rng.randrange(a.size)] = np.nan
    elif action == "dtype":
        a = a.astype(rng.choice([np.float64, np.int8, np.uint16, np.bool_]))
    elif action == "short":
        a = a[: max(0, len(a) - 1)]
    elif action == "long":
        a = np.concatenate([a, a[:1] * 0 + 10 ** 6]) if a.size else np.array([10 ** 6])
    else:
        a = a.copy()
        if a.size:
            a[rng.randrange(a.size)] = -(10 ** 6) if a.dtype.kind in "iuf" else a[0]
    np.save(path, a)
    return f"{action}"


def files_under(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file())


def mutate(root: Path, rng: random.Random) -> str:
    """Apply one mutation to one file of the artifact at `root`; say which and how."""
    target = rng.choice(files_under(root))
    op = rng.choice(ops_for(target))
    if op is to_fifo and os.name != "posix":
        op = truncate
    what = op(target, rng)
    return f"{target.name}: {op.__name__} ({what})"


def copy_artifact(src: Path, dst: Path) -> Path:
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    return dst
