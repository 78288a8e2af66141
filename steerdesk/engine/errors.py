"""Errors the user can act on.

Every problem caused by the user's input (a file, a flag, a feature index) is raised as
`InputError` with one sentence that names the file or value and what is wrong. The sentence
never names a command-line flag: the CLI and the app say "what to do about it" in their own
words. The CLI appends `cli_hint` (e.g. "pass --hook NAME"); the app turns the error's type
(PickleRefused, RemoteCodeRefused) or its `field` into a dialog or a highlighted control.
"""

from __future__ import annotations


class InputError(Exception):
    """Bad input from the user: a missing or corrupt file, a wrong value, an index out of range.

    `field`: the option or request field the error is about ("hook", "device", "steer", ...),
    when there is one. `cli_hint`: what the CLI adds after the sentence, naming its flags."""

    def __init__(self, message: str, *, field: str | None = None, cli_hint: str | None = None):
        super().__init__(message)
        self.field = field
        self.cli_hint = cli_hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def for_cli(self) -> str:
        """The one line the CLI prints: the sentence, then its flag hint (a message that quotes
        a library's several lines is folded into one)."""
        text = f"{self.message}; {self.cli_hint}" if self.cli_hint else self.message
        return " ".join(text.split())


def one_line(exc: BaseException, limit: int = 300) -> str:
    """A library's exception as one short line for a user: its first non-empty line (libraries
    such as tokenizers and torch.load explain over several), or its type when it says nothing."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class PickleRefused(InputError):
    """A file can only be read by unpickling it, and the user has not said yes to that."""

    def __init__(self, message: str):
        super().__init__(message, field="allow_pickle",
                         cli_hint="if you trust where it came from, say yes with --allow-pickle "
                                  "(it is then read with torch.load(weights_only=True))")


class RemoteCodeRefused(InputError):
    """A model needs code from its repository, and the user has not said yes to running it."""

    def __init__(self, message: str):
        super().__init__(message, field="trust_remote_code",
                         cli_hint="if you trust it, say yes with --trust-remote-code")


class Cancelled(Exception):
    """The user stopped a running job."""
