"""Parsers of the command line's option values: the ``type=`` of its argparse options, and ``--search-space``.

The argparse types raise :class:`argparse.ArgumentTypeError`, which argparse reports as a usage
error naming the option.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evopipe.cli_errors import CliError, first_line

__all__ = ["duration", "int_at_least", "load_search_space", "n_jobs"]


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type accepting integers of at least ``minimum``.

    Parameters
    ----------
    minimum : int
        The smallest value allowed.

    Returns
    -------
    callable
        ``str -> int``, raising :class:`argparse.ArgumentTypeError` for other text.
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


def n_jobs(text: str) -> int:
    """The argparse type of ``--n-jobs``: a positive integer, or -1 for all cores.

    Parameters
    ----------
    text : str
        The option's value.

    Returns
    -------
    int

    Raises
    ------
    argparse.ArgumentTypeError
        For 0, values below -1 and anything that is not an integer.
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, or -1 for all cores; got {text!r}")
    return value


def duration(option: str, allow_none: bool) -> Callable[[str], float | None]:
    """An argparse type accepting seconds or a duration such as ``90s``, ``10m``, ``2h`` or ``1h30m``.

    Parameters
    ----------
    option : str
        The option's name, for :func:`evopipe.validation.parse_duration`.
    allow_none : bool
        Whether ``none``, ``inf`` or ``unlimited`` are accepted, meaning no limit.

    Returns
    -------
    callable
        ``str -> float or None`` (seconds), raising :class:`argparse.ArgumentTypeError` for
        other text.
    """

    def parse(text: str) -> float | None:
        # Imported here: validation pulls in scikit-learn, which `evopipe --help` should not wait for.
        from evopipe.validation import parse_duration

        if allow_none and text.strip().lower() in ("none", "inf", "unlimited"):
            return None
        try:
            return parse_duration(option, text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(
                f"expected seconds or a duration like 90s, 10m, 2h or 1h30m{', or none' if allow_none else ''}; "
                f"got {text!r}"
            ) from None

    parse.__name__ = "duration"
    return parse


def load_search_space(spec: str) -> Any:
    """The value of ``--search-space``: ``default``, ``light``, or a JSON file holding a TPOT-style dict.

    Parameters
    ----------
    spec : str
        ``"default"``, ``"light"`` or the path of a JSON file such as
        ``{"sklearn.svm.SVC": {"C": [0.1, 1, 10]}}``.

    Returns
    -------
    str or dict
        The name as given, or the dict read from the file.

    Raises
    ------
    CliError
        The file is missing, unreadable, not JSON, or not a non-empty object of objects.
    """
    if spec in ("default", "light"):
        return spec
    path = Path(spec)
    if not path.is_file():
        raise CliError(f"--search-space must be 'default', 'light' or a JSON file; {spec!r} is not a file")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CliError(f"{path}: not valid JSON: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: could not read it: {first_line(exc)}") from None
    if not isinstance(config, dict) or not config or not all(isinstance(v, (dict, type(None))) for v in config.values()):
        raise CliError(
            f'{path}: a search space must be a non-empty JSON object like {{"sklearn.svm.SVC": {{"C": [0.1, 1, 10]}}}}'
        )
    return config
