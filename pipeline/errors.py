"""User-facing errors.

An expected failure (bad file, bad metrics, unreachable endpoint) raises `ShuzhiError` with a
message in Chinese that names the file, the line or cell, what was expected and what to do. The
CLI prints it on one line and exits with `exit_code`; a traceback appears only with SHUZHI_DEBUG=1.
"""

from __future__ import annotations


class ShuzhiError(Exception):
    exit_code = 1

    def __init__(self, message: str, *, path: str | None = None, location: str | None = None):
        self.message = message
        self.path = path
        self.location = location
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = str(self.path)
            if self.location:
                where += f" {self.location}"
            where += ": "
        return where + self.message


class InputError(ShuzhiError):
    """A file the user gave cannot be read or is not what it should be."""


class UsageError(ShuzhiError):
    """Wrong arguments: exit code 2, like argparse/typer usage errors."""

    exit_code = 2


class IndexLockedError(ShuzhiError):
    """Another process holds the index lock."""


class EngineError(ShuzhiError):
    """An engine cannot be loaded or reached."""


class OutputError(ShuzhiError):
    """A result cannot be written (read-only, disk full, not a folder, no permission)."""


class InputWarning(UserWarning):
    """Something in an input was changed or ignored (invisible characters removed). The CLI shows
    it as one line `提示：…` on stderr; the web shows it beside the result."""
