"""Errors that reach a user as one clear line (and an exit code), never as a traceback."""
from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: the CLI prints the message and exits with `exit_code`."""

    exit_code = 2


class StudentCodeError(UserError):
    """A student file that cannot be loaded (syntax error, failing import)."""

    exit_code = 1
