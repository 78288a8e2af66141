"""Options every model-using subcommand shares, opening a session from them, and the pieces
every command's output shares (warnings, JSON).

The session flags come from `SessionSpec`'s fields (each carries its flag, help and metavar),
so the session's options are declared once, in the engine, for the CLI and the app alike."""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from typing import Any

from steerdesk.cli.parsing import whole
from steerdesk.engine.errors import InputError, one_line
from steerdesk.engine.session_spec import HELP_VALUES, SessionSpec

POCKET_DEFAULT = "model and SAE (default: the pocket pack shipped with steerdesk)"
SCHEMA = 1   # docs/json.md; bumped when a key changes meaning or goes
THREADS_HELP = ("torch CPU threads (default: auto, the cores the load average leaves free, "
                "at least 1; on a busy machine more threads wait on each other)")


# What an empty session option means on the command line (the app's open dialog says its own).
CLI_DEFAULTS = {"model": "the pocket pack's, or the one an SAE named RELEASE:SAE_ID implies",
                "sae": "the pocket pack's", "hook": "the one the SAE's files name"}


def session_flags() -> dict[str, bool]:
    """Every session flag -> whether it takes a value (for options given before a subcommand)."""
    flags = {f.metadata["flag"]: not isinstance(f.default, bool) for f in SessionSpec.options()}
    return {**flags, "--threads": True}


def add_session_args(parser: argparse.ArgumentParser, *, title: str = POCKET_DEFAULT,
                     model_required: bool = False) -> None:
    """One flag per `SessionSpec` field, and --threads, in a group of their own; `args.<field>`
    holds each."""
    g = parser.add_argument_group(title)
    for f in SessionSpec.options():
        meta = f.metadata
        if isinstance(f.default, bool):
            action = g.add_argument(meta["flag"], dest=f.name, action="store_true",
                                    help=meta["help"])
        else:
            shown = meta["help"] + (f" (default: {CLI_DEFAULTS[f.name]})"
                                    if f.name in CLI_DEFAULTS else "")
            action = g.add_argument(meta["flag"], dest=f.name, default=f.default,
                                    metavar=meta["metavar"], help=shown,
                                    required=model_required and f.name == "model")
        for key, value in HELP_VALUES.items():   # argparse fills %(key)s from the action
            setattr(action, key, value)
    g.add_argument("--threads", type=whole(1, 1024), metavar="N", help=THREADS_HELP)


def spec_from_args(args: argparse.Namespace) -> SessionSpec:
    """The session to open: the model and SAE given, an SAE named RELEASE:SAE_ID (its model is
    implied), or neither (then the pocket pack)."""
    spec = SessionSpec(**{f.name: getattr(args, f.name) for f in SessionSpec.options()})
    if spec.model and spec.sae:
        return spec
    if spec.sae and _named_sae(spec.sae):
        return spec
    if spec.model or spec.sae:
        missing = "--sae" if spec.model else "--model"
        raise InputError(f"{missing} is missing: give both --model and --sae, or neither to use "
                         "the pocket pack")
    pocket = SessionSpec.pocket()
    if pocket is None:
        raise InputError("no --model/--sae given and the pocket pack is not installed "
                         "(rebuild it with python -m steerdesk.pocket.build)")
    return replace(spec, model=pocket.model, sae=pocket.sae)


def _named_sae(value: str) -> bool:
    from steerdesk.engine.pulls import looks_like_name

    return looks_like_name(value)


def apply_threads(args: argparse.Namespace) -> int:
    """Set torch's CPU threads from --threads (or the automatic choice); returns the count."""
    import torch

    from steerdesk.engine.device import auto_threads

    n = getattr(args, "threads", None) or auto_threads()
    torch.set_num_threads(n)
    return n


def open_session_from_args(args: argparse.Namespace, *, quiet: bool = False,
                           spec: SessionSpec | None = None):
    """Open the session the flags name (or `spec`), with the threads they ask for. A library's
    error while loading becomes one line naming what was being read; the session's notes (a
    --hook the SAE's files contradict, ...) become warnings."""
    spec = spec or spec_from_args(args)
    args.threads_used = apply_threads(args)
    quiet = quiet or not sys.stderr.isatty()  # a progress line only where someone watches it
    stage = ["opening the model and SAE"]

    def progress(fraction: float, message: str) -> None:
        stage[0] = message
        if not quiet:
            print(f"\r[{fraction:4.0%}] {message:<60}", end="", file=sys.stderr, flush=True)

    try:
        session = spec.open(progress)
    except (InputError, KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - tokenizers, torch, safetensors: say it in a line
        raise InputError(f"{stage[0][0].lower() + stage[0][1:]}: {type(exc).__name__}: "
                         f"{one_line(exc)}") from None
    finally:
        if not quiet:
            print(file=sys.stderr)
    for note in session.notes:
        warn(note)
    return session


def warn(message: str) -> None:
    """One warning line on stderr: something the user asked for that does not do what they
    may think."""
    print(f"steerdesk: warning: {message}", file=sys.stderr)


# ---- JSON -------------------------------------------------------------------------------------

def add_json_args(parser: argparse.ArgumentParser, what: str = "print one JSON object") -> None:
    parser.add_argument("--json", action="store_true",
                        help=f"{what} (docs/json.md), compact on one line")
    parser.add_argument("--indent", type=whole(0, 16), metavar="N",
                        help="indent the JSON by N spaces, for reading (implies --json; "
                             "default: one line)")


def wants_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False) or getattr(args, "indent", None) is not None)


def _finite(obj: Any) -> Any:
    """NaN and infinities as null: JSON has no spelling for them."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def envelope(command: str, **parts: Any) -> dict[str, Any]:
    """The keys every JSON output starts with: the schema, the command, the versions."""
    from steerdesk.engine.provenance import versions

    return {"schema": SCHEMA, "command": command, "versions": versions(), **parts}


def print_json(args: argparse.Namespace, obj: Any) -> None:
    indent = getattr(args, "indent", None)
    print(json.dumps(_finite(obj), ensure_ascii=False, allow_nan=False,
                     indent=indent if indent else None,
                     separators=None if indent else (",", ":")))
