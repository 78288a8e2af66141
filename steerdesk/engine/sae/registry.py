"""The SAE formats steerdesk reads: one module per format, each declaring itself here.

Every `fmt_<name>.py` in this package ends with one declaration,

    FORMAT = SAEFormat(name="saelens", title="SAELens",
                       layout="a folder with cfg.json + sae_weights.safetensors",
                       detect=detect, load=load, priority=10)

and `formats()` finds them all: the list of formats, their titles, the "not a recognised SAE"
message and the CLI's help text are made from these declarations and nowhere else.

Adding a format is adding one module, `fmt_<name>.py`, with
- `detect(path) -> bool`: whether `path` (a file or a folder) has this format's layout; cheap,
  and it never unpickles or runs anything;
- `load(path, *, allow_pickle=False, hook=None) -> SAE`: the tensors in SAELens orientation
  (see base.py) and an `SAEConfig`; every problem an `InputError` naming the file; pickles only
  through `files.read_torch_pickle` (which asks for the user's yes);
- `FORMAT = SAEFormat(...)`. Formats are asked in increasing `priority`, and the first whose
  `detect` says yes loads the path: a layout that could be mistaken for another's goes before
  it, and a loose one (any .pt file) takes a high number;
- and a test, `tests/engine/sae/test_sae_fmt_<name>.py`, that compares its encode with the
  format's own definition written out in the test.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from steerdesk.engine.errors import InputError

if TYPE_CHECKING:
    from steerdesk.engine.sae.base import SAE

PREFIX = "fmt_"


class Detect(Protocol):
    def __call__(self, path: Path) -> bool: ...


class Load(Protocol):
    def __call__(self, path: Path, *, allow_pickle: bool = False,
                 hook: str | None = None) -> SAE: ...


@dataclass(frozen=True)
class SAEFormat:
    name: str          # what `load_sae(fmt=...)` and `SAEConfig.source_format` say
    title: str         # for people: "Gemma Scope"
    layout: str        # what its files look like: "params.npz"
    detect: Detect
    load: Load
    priority: int = 50

    def describe(self) -> str:
        return f"{self.title} ({self.layout})"


@cache
def formats() -> tuple[SAEFormat, ...]:
    """Every format declared by a `fmt_*` module of this package, in the order they are asked."""
    package = sys.modules[__package__]
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith(PREFIX):
            continue
        module = importlib.import_module(f"{__package__}.{info.name}")
        declared = getattr(module, "FORMAT", None)
        if not isinstance(declared, SAEFormat):
            raise TypeError(f"{module.__name__} declares no FORMAT = SAEFormat(...)")
        found.append(declared)
    return tuple(sorted(found, key=lambda f: (f.priority, f.name)))


def names() -> list[str]:
    return [f.name for f in formats()]


def titles() -> str:
    """'SAELens, Llama Scope, Gemma Scope, ...': for help texts."""
    return ", ".join(f.title for f in formats())


def by_name(name: str) -> SAEFormat:
    for f in formats():
        if f.name == name:
            return f
    raise InputError(f"unknown SAE format {name!r}; known: {', '.join(names())}", field="sae")


def detect(path: Path) -> SAEFormat | None:
    """The first format whose layout `path` has, or None."""
    return next((f for f in formats() if f.detect(path)), None)


def not_recognised(path: Path) -> InputError:
    return InputError(f"{path}: not a recognised SAE. steerdesk reads: "
                      + "; ".join(f.describe() for f in formats()), field="sae")
