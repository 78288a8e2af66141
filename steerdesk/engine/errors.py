"""Errors the user can act on.

Every problem caused by the user's input (a file, a flag, a feature index) is raised as
`InputError` with one sentence that names the file or value and what is wrong. The CLI prints
it on one line and exits 2; the GUI shows it in a dialog. Anything else is a bug.
"""

from __future__ import annotations


class InputError(Exception):
    """Bad input from the user: a missing or corrupt file, a wrong flag, an index out of range."""


class PickleRefused(InputError):
    """A file can only be read by unpickling it, and the user has not said yes to that."""


class RemoteCodeRefused(InputError):
    """A model needs code from its repository, and the user has not said yes to running it."""


class Cancelled(Exception):
    """The user stopped a running job."""
