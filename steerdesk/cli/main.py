"""`steerdesk`: with a subcommand, a command-line tool; without one, the desktop app."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from steerdesk import __version__
from steerdesk.cli.parsing import Parser, UsageError, hoist_options, parse
from steerdesk.engine.errors import InputError, one_line

# Each module has register(subparsers), which adds its subparser with set_defaults(func=run).
SUBCOMMANDS = ("generate", "evaluate", "inspect", "features", "vectors", "catalog", "models",
               "bench")
# Where the session options go, for the one line that says so.
MODEL_COMMANDS = ("generate, evaluate, inspect, features text/contrast/classify, vectors build and "
                  "catalog build; "
                  "features search/show and catalog info/import take --sae")
# Set to see the traceback of an unexpected error.
TRACEBACK_ENV = "STEERDESK_TRACEBACK"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="steerdesk",
        description="Steer a local language model by its sparse-autoencoder features. "
                    "Run without a subcommand to open the desktop app.",
        epilog="Run 'steerdesk SUBCOMMAND --help' for a subcommand's options. Options that say "
               "what to open (--model, --sae, --device, --threads, ...) may come before or after "
               "the subcommand.")
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


def _where_session_options_go(flag: str) -> str | None:
    from steerdesk.cli.common import session_flags

    return f"{flag} goes with {MODEL_COMMANDS}" if flag in session_flags() else None


def main(argv: list[str] | None = None) -> int:
    from steerdesk.cli.common import session_flags

    argv = hoist_options(list(sys.argv[1:] if argv is None else argv), SUBCOMMANDS,
                         session_flags())
    opens_app = not argv or (argv[0].startswith("-") and argv[0] not in
                             ("-h", "--help", "--version"))
    try:
        if opens_app:
            from steerdesk.cli import gui

            return gui.main(argv)
        parser = build_parser()
        args = parse(parser, argv, elsewhere=_where_session_options_go)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except UsageError as exc:
        exc.report()
        return 2
    except InputError as exc:
        print(f"steerdesk: {exc.for_cli()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("steerdesk: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback on request
        if os.environ.get(TRACEBACK_ENV):
            raise
        print(f"steerdesk: unexpected error ({type(exc).__name__}: {one_line(exc)}); this is a "
              f"bug in steerdesk: rerun with {TRACEBACK_ENV}=1 to see where", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
