"""The one error a check raises for a file it cannot read; its message is one line for the user."""

from __future__ import annotations


class WorkbookError(ValueError):
    """The file cannot be read as a workbook; the message says why, in one line."""


def one_line(error: Exception, limit: int) -> str:
    """An exception's message on one line, at most `limit` characters (its type's name if empty)."""
    return " ".join(str(error).split())[:limit] or type(error).__name__
