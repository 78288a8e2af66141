"""Options every model-using subcommand shares, and opening a session from them.

The flags come from `SessionSpec`'s fields (each carries its flag, help and metavar), so the
session's options are declared once, in the engine, for the CLI and the app alike."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from steerdesk.engine.errors import InputError
from steerdesk.engine.session_spec import HELP_VALUES, SessionSpec

POCKET_DEFAULT = "model and SAE (default: the pocket pack shipped with steerdesk)"


def add_session_args(parser: argparse.ArgumentParser, *, title: str = POCKET_DEFAULT,
                     model_required: bool = False) -> None:
    """One flag per `SessionSpec` field, in a group of its own; `args.<field>` holds each."""
    g = parser.add_argument_group(title)
    for f in SessionSpec.options():
        meta = f.metadata
        if isinstance(f.default, bool):
            action = g.add_argument(meta["flag"], dest=f.name, action="store_true",
                                    help=meta["help"])
        else:
            action = g.add_argument(meta["flag"], dest=f.name, default=f.default,
                                    metavar=meta["metavar"], help=meta["help"],
                                    required=model_required and f.name == "model")
        for key, value in HELP_VALUES.items():   # argparse fills %(key)s from the action
            setattr(action, key, value)


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


def open_session_from_args(args: argparse.Namespace, *, quiet: bool = False):
    spec = spec_from_args(args)
    quiet = quiet or not sys.stderr.isatty()  # a progress line only where someone watches it

    def progress(fraction: float, message: str) -> None:
        if not quiet:
            print(f"\r[{fraction:4.0%}] {message:<60}", end="", file=sys.stderr, flush=True)

    session = spec.open(progress)
    if not quiet:
        print(file=sys.stderr)
    return session
