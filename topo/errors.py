"""Errors that reach the user as one line, with an exit code."""

from __future__ import annotations


class TopoError(Exception):
    """A user-facing failure: ``str(e)`` is the whole message, ``code`` the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
