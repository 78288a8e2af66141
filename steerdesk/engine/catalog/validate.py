"""Checks of a catalog's files against their documented layout (docs/catalog.md), so that a
corrupt or hand-edited catalog is one clear line, never an IndexError deep in a widget."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from steerdesk.engine.errors import InputError

_INT_ARRAYS = ("offsets", "token_start", "peak", "doc", "tokens")
MAX_FEATURES = 1 << 26        # 67M: far beyond any published SAE; above it d_sae is corrupt
# stats.safetensors: tensor -> its shape, with "F" for d_sae and None for any length
STAT_SHAPES = {"max_act": ("F",), "density": ("F",), "mean_act": ("F",),
               "hist_counts": ("F", None), "hist_edges": (None,),
               "promoted_ids": ("F", None), "promoted_values": ("F", None),
               "suppressed_ids": ("F", None), "suppressed_values": ("F", None)}



def check_stat_shapes(path: Path, shapes: dict[str, tuple[int, ...]], d_sae: int) -> None:
    """Every documented tensor of stats.safetensors has its documented shape."""
    for key, shape in shapes.items():
        want = STAT_SHAPES.get(key)
        if want is None:
            continue
        ok = len(shape) == len(want) and all(
            w is None or n == (d_sae if w == "F" else w) for n, w in zip(shape, want))
        if not ok:
            expected = tuple("d_sae" if w == "F" else "n" for w in want)
            raise InputError(f"{path}: tensor {key!r} has shape {shape}, expected {expected} "
                             f"with d_sae={d_sae}")


def check_snippet_arrays(folder: Path, a: dict[str, np.ndarray], d_sae: int) -> None:
    """Shapes, dtypes and the offsets that tie the arrays together; values are checked per
    feature when read (a full scan would cost seconds on a large catalog)."""
    for name, arr in a.items():
        if arr.ndim != 1:
            raise InputError(f"{folder / (name + '.npy')}: expected a flat array, found shape "
                             f"{arr.shape}")
        kind = "iu" if name in _INT_ARRAYS else "fiu"
        if arr.dtype.kind not in kind:
            raise InputError(f"{folder / (name + '.npy')}: holds {arr.dtype}, expected "
                             f"{'integers' if kind == 'iu' else 'numbers'}")
    offsets, starts = a["offsets"], a["token_start"]
    n = len(a["peak"])
    if offsets.shape != (d_sae + 1,):
        raise InputError(f"{folder / 'offsets.npy'}: shape {offsets.shape}, expected "
                         f"({d_sae + 1},)")
    if len(a["max"]) != n or len(a["doc"]) != n or len(starts) != n + 1:
        raise InputError(f"{folder}: the snippet arrays disagree on the number of snippets "
                         f"(peak {n}, max {len(a['max'])}, doc {len(a['doc'])}, token_start "
                         f"{len(starts)} - 1)")
    if len(a["tokens"]) != len(a["values"]):
        raise InputError(f"{folder}: tokens.npy and values.npy have different lengths")
    if int(offsets[0]) != 0 or np.any(np.diff(offsets) < 0) or int(offsets[-1]) > n:
        raise InputError(f"{folder / 'offsets.npy'}: offsets must rise from 0 to at most the "
                         f"{n} snippets; the catalog is corrupt")
    if n and (int(starts[0]) < 0 or int(starts[-1]) > len(a["tokens"])):
        raise InputError(f"{folder / 'token_start.npy'}: points past the end of tokens.npy; "
                         "the catalog is corrupt")
