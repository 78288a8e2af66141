"""`steerdesk`: with a subcommand, a command-line tool; without one, the desktop app."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from steerdesk import __version__
from steerdesk.engine.errors import InputError

# Each module has register(subparsers), which adds its subparser with set_defaults(func=run).
SUBCOMMANDS = ("generate", "inspect", "features", "catalog", "models", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="steerdesk",
        description="Steer a local language model by its sparse-autoencoder features. "
                    "Run without a subcommand to open the desktop app.",
        epilog="Run 'steerdesk SUBCOMMAND --help' for a subcommand's options.")
    parser.add_argument("--version", action="version",
                        version=f"steerdesk {__version__}")
    subparsers = parser.add_subparsers(title="subcommands", dest="command", metavar="SUBCOMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"steerdesk.cli.{name}").register(subparsers)
    try:
        from steerdesk.cli import gui
    except ImportError:  # the app's module is optional for a CLI-only install
        gui = None
    if gui is not None:
        gui.add_gui_args(parser)  # listed in --help; the app parses them itself
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    opens_app = not argv or (argv[0].startswith("-") and argv[0] not in
                             ("-h", "--help", "--version"))
    try:
        if opens_app:
            from steerdesk.cli import gui

            return gui.main(argv)
        args = build_parser().parse_args(argv)
        if not getattr(args, "func", None):
            build_parser().print_help()
            return 0
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"steerdesk: {exc.for_cli()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("steerdesk: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
