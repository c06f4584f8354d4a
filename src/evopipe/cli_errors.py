"""The command line's user errors, and how any error is shown: as one line, without a traceback."""

from __future__ import annotations

__all__ = ["CliError", "error_lines", "first_line"]


class CliError(Exception):
    """A user error: printed as one line, without a traceback."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name when it has none.

    Parameters
    ----------
    exc : BaseException
        Typically raised by a library (pandas, joblib...) whose messages can run to many lines.

    Returns
    -------
    str
    """
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def error_lines(exc: BaseException) -> str:
    """The text ``evopipe`` prints on stderr for an error that ends a command.

    Parameters
    ----------
    exc : BaseException
        The error. A :class:`CliError` and the usual user-input errors (``ValueError``,
        ``OSError``...) are shown as their message; anything else is named as unexpected.

    Returns
    -------
    str
        ``evopipe: error: ...``, then the message's further lines, indented.
    """
    lines = [line for line in str(exc).strip().splitlines() if line.strip()] or [type(exc).__name__]
    head = lines[0] if isinstance(exc, (CliError, ValueError, TypeError, OSError, ImportError, AttributeError)) else (
        f"unexpected {type(exc).__name__}: {lines[0]} (run with --debug for the traceback)"
    )
    return "\n".join([f"evopipe: error: {head}", *("  " + line for line in lines[1:])])
