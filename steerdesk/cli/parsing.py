"""How the CLI reads its arguments, beyond argparse's defaults:

- a bad value is one line (`steerdesk generate: argument --temperature: nan is not a finite
  number`), exit 2;
- an unknown option prints the subcommand's own usage and a "did you mean";
- every help line shows its default;
- old spellings keep working for one release, with a one-line note on stderr;
- session options (--model, --device, ...) may come before the subcommand.
"""

from __future__ import annotations

import argparse
import difflib
import math
import sys
import textwrap
from collections.abc import Callable, Sequence


class UsageError(Exception):
    """A parse problem, raised instead of argparse's print-and-exit so that main() decides
    what the user sees (and tests can catch it)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str, *, usage: bool = True):
        super().__init__(message)
        self.parser, self.message, self.usage = parser, message, usage

    def report(self, stream=None) -> None:
        stream = stream or sys.stderr
        if self.usage:
            stream.write(self.parser.format_usage())
        print(f"{self.parser.prog}: {self.message}", file=stream)


class HelpFormatter(argparse.HelpFormatter):
    """Each option's help ends with its default; a paragraph laid out by hand (several lines)
    in a description or epilog is kept as written, the others are wrapped."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        d = action.default
        if ("default" in text or d is None or d is False or d == "" or d is argparse.SUPPRESS
                or not action.option_strings or isinstance(d, list)):
            return text
        return text + " (default: %(default)s)"

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for para in text.strip("\n").split("\n\n"):
            if "\n" in para:
                paragraphs.append("\n".join(indent + line for line in para.splitlines()))
            else:
                paragraphs.append(textwrap.fill(" ".join(para.split()), width,
                                                initial_indent=indent, subsequent_indent=indent))
        return "\n\n".join(paragraphs)


class Parser(argparse.ArgumentParser):
    """argparse with the behaviour above; subparsers are of this class too."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("allow_abbrev", False)   # --top must never quietly mean --top-k
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        # A value that does not parse is one line; a missing argument shows the usage.
        raise UsageError(self, _with_suggestion(self, message),
                         usage=not message.startswith("argument "))


def _with_suggestion(parser: argparse.ArgumentParser, message: str) -> str:
    """argparse's 'invalid choice' message, plus the closest choice."""
    marker = "invalid choice: '"
    if marker not in message:
        return message
    wrong = message.split(marker, 1)[1].split("'", 1)[0]
    for action in parser._actions:
        if action.choices and wrong not in action.choices:
            close = difflib.get_close_matches(wrong, list(action.choices), n=1, cutoff=0.5)
            if close:
                return f"{message.split(' (choose', 1)[0]}; did you mean {close[0]!r}?"
    return message


# ---- value types: each raises ArgumentTypeError with the sentence the user sees ----------------

def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number")
    return value


def positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be above 0")
    return value


def whole(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """An int type with bounds: `whole(1)` is 'at least 1', `whole(0, 8)` is '0 to 8'."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            want = (f"from {lo} to {hi}" if lo is not None and hi is not None
                    else f"at least {lo}" if lo is not None else f"at most {hi}")
            raise argparse.ArgumentTypeError(f"{text} must be {want}")
        return value
    parse.__name__ = "whole number"
    return parse


# ---- old spellings ------------------------------------------------------------------------------

DEPRECATED_NOTE = "{old} is deprecated and goes in the next release; use {new}"


class _Deprecated(argparse.Action):
    """An old spelling: stores into the new option's dest and says so on stderr."""

    def __init__(self, option_strings, dest, new: str = "", note: str | None = None, **kwargs):
        self.new, self.note = new, note
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        note = self.note or DEPRECATED_NOTE.format(old=option_string, new=self.new)
        print(f"steerdesk: note: {note}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_deprecated(parser: argparse.ArgumentParser, old: str, new: argparse.Action) -> None:
    """Accept `old` as another spelling of the option `new` for one release (hidden from help)."""
    parser.add_argument(old, action=_Deprecated, dest=new.dest, new=new.option_strings[0],
                        type=new.type, metavar=new.metavar, default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS)


# ---- parsing: unknown options, and session options before the subcommand -----------------------

def leaf_parser(parser: argparse.ArgumentParser, args: argparse.Namespace
                ) -> argparse.ArgumentParser:
    """The (sub)subcommand parser that `args` came through: `features text`'s, not the top's."""
    while True:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)),
                   None)
        name = getattr(args, sub.dest, None) if sub is not None else None
        if name is None or name not in sub.choices:
            return parser
        parser = sub.choices[name]


def visible_options(parser: argparse.ArgumentParser) -> list[str]:
    return [s for a in parser._actions if a.help != argparse.SUPPRESS
            for s in a.option_strings]


def parse(parser: argparse.ArgumentParser, argv: Sequence[str], *,
          elsewhere: Callable[[str], str | None] = lambda flag: None) -> argparse.Namespace:
    """parse_args, except that a leftover argument is reported by the subcommand that got it,
    with the nearest option it has (`elsewhere(flag)` may say where an option belongs)."""
    args, extras = parser.parse_known_args(list(argv))
    if not extras:
        return args
    leaf = leaf_parser(parser, args)
    first = extras[0]
    if not first.startswith("-") or first == "-":
        raise UsageError(leaf, f"unexpected argument {first!r}")
    flag = first.split("=", 1)[0]
    where = elsewhere(flag)
    if where and flag not in visible_options(leaf):
        raise UsageError(leaf, f"no {flag} here; {where}", usage=False)
    close = difflib.get_close_matches(flag, visible_options(leaf), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else f"; see {leaf.prog} --help"
    raise UsageError(leaf, f"unknown option {flag}{hint}")


def hoist_options(argv: Sequence[str], commands: Sequence[str], flags: dict[str, bool]
                  ) -> list[str]:
    """`steerdesk --device cpu generate ...` as `steerdesk generate ... --device cpu`: options in
    `flags` (name -> takes a value) given before a subcommand go after it (before any '--'),
    where the subcommand parses them. Anything else in front leaves argv as it is."""
    argv = list(argv)
    i = 0
    while i < len(argv):
        name, has_value = argv[i].split("=", 1)[0], "=" in argv[i]
        if name not in flags:
            break
        i += 2 if flags[name] and not has_value else 1
    if i == 0 or i >= len(argv) or argv[i] not in commands:
        return argv
    moved, rest = argv[:i], argv[i:]
    end = rest.index("--") if "--" in rest else len(rest)
    return rest[:end] + moved + rest[end:]
