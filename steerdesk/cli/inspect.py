"""`steerdesk inspect --text TEXT`: another name for `steerdesk features text TEXT` (the same
code, options and JSON)."""

from __future__ import annotations

from steerdesk.cli.features import TEXT_DESCRIPTION, TEXT_HELP, add_text_args, text_command


def register(subparsers) -> None:
    p = subparsers.add_parser("inspect", help=f"{TEXT_HELP} (= features text)",
                              description=TEXT_DESCRIPTION)
    p.add_argument("--text", required=True, help="the text to read (required)")
    add_text_args(p)
    p.set_defaults(func=text_command)
