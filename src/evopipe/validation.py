"""Checks of the estimators' parameters and of the training data, run before any work starts.

Every message names the parameter, what is allowed, and the value received.
"""

from __future__ import annotations

import math
import numbers
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import type_of_target

from evopipe.loop import MODES

__all__ = ["Settings", "check_settings", "check_X", "check_y", "parse_duration"]

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$")


def parse_duration(name: str, value: Any) -> float | None:
    """Seconds from a number or a string like ``"90s"``, ``"10m"``, ``"2h"``, ``"1h30m"``.

    Returns None for None. Raises ``ValueError``/``TypeError`` naming ``name``.
    """
    if value is None:
        return None
    hint = f"`{name}` must be a positive number of seconds or a string like '90s', '10m' or '2h'; got {value!r}."
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not value.strip() or not match or not any(match.groups()):
            raise ValueError(hint)
        h, m, s = (float(g) if g else 0.0 for g in match.groups())
        seconds = 3600 * h + 60 * m + s
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise TypeError(hint)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(hint)
    return seconds


def parse_size(name: str, value: Any) -> int:
    """Bytes from an int or a string like ``"256MB"`` / ``"2 GiB"``; None and 0 mean 0."""
    from dask.utils import parse_bytes

    hint = f"`{name}` must be a number of bytes >= 0 or a string like '256MB'; got {value!r}."
    if value is None:
        return 0
    if isinstance(value, str):
        try:
            return int(parse_bytes(value))
        except (ValueError, TypeError):
            raise ValueError(hint) from None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
        raise ValueError(hint)
    return int(value)


def _positive_int(name: str, value: Any, minimum: int = 1) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum} or None; got {value!r}.")
    return int(value)


@dataclass(frozen=True)
class Settings:
    """The estimator's parameters, checked and normalised."""

    max_time: float | None
    max_eval_time: float | None
    max_evals: int | None
    early_stop: int | None
    population_size: int
    mode: str
    n_jobs: int
    verbose: int
    cache_bytes: int
    prune: bool
    ensemble: bool


def check_settings(params: dict) -> Settings:
    """Check the estimator parameters that need no data; return them normalised."""
    population_size = _positive_int("population_size", params["population_size"], minimum=2)
    generations = _positive_int("generations", params["generations"])
    max_evals = _positive_int("max_evals", params["max_evals"])
    if generations is not None:
        by_generations = generations * population_size
        max_evals = by_generations if max_evals is None else min(max_evals, by_generations)
    early_stop = _positive_int("early_stop", params["early_stop"])
    max_time = parse_duration("max_time", params["max_time"])
    if max_time is None and max_evals is None and early_stop is None:
        raise ValueError(
            "The search has no stopping rule: set `max_time` (e.g. '10m'), `max_evals`, `generations` or `early_stop`."
        )
    if params["mode"] not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}; got {params['mode']!r}.")
    n_jobs = params["n_jobs"]
    if n_jobs is None:
        n_jobs = -1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"`n_jobs` must be a positive integer, or -1 for all cores; got {params['n_jobs']!r}.")
    verbose = params["verbose"]
    if isinstance(verbose, bool) or not isinstance(verbose, numbers.Integral) or verbose < 0:
        raise ValueError(f"`verbose` must be an integer >= 0; got {verbose!r}.")
    for name in ("prune", "ensemble"):
        if not isinstance(params[name], (bool, np.bool_)):
            raise TypeError(f"`{name}` must be True or False; got {params[name]!r}.")
    return Settings(
        max_time=max_time,
        max_eval_time=parse_duration("max_eval_time", params["max_eval_time"]),
        max_evals=max_evals,
        early_stop=None if early_stop is None else early_stop * population_size,
        population_size=population_size,
        mode=params["mode"],
        n_jobs=int(n_jobs),
        verbose=int(verbose),
        cache_bytes=parse_size("prefix_cache", params["prefix_cache"]),
        prune=bool(params["prune"]),
        ensemble=bool(params["ensemble"]),
    )


def check_X(X: Any, min_samples: int = 2) -> Any:
    """Return X as a 2-D numeric array or a DataFrame; NaN allowed (imputed), inf not.

    ``min_samples`` is 2 to fit (and 1 to predict).
    """
    if isinstance(X, pd.DataFrame):
        frame = X
    else:
        if hasattr(X, "toarray") or hasattr(X, "tocsr"):
            raise TypeError("Sparse X is not supported; pass a dense array or a pandas DataFrame.")
        array = np.asarray(X)
        if array.ndim != 2:
            raise ValueError(
                f"X must be 2-D (n_samples, n_features); got an array with {array.ndim} dimension(s) and "
                f"shape {array.shape}. Reshape your data, e.g. X.reshape(-1, 1) for a single feature."
            )
        if array.dtype.kind in "biuf":
            frame = None
        elif array.dtype.kind == "c":
            raise ValueError("Complex data not supported; pass real numbers.")
        else:
            array, frame = _object_array(array)
        X = array if frame is None else frame
    _check_shape(np.shape(X), min_samples)
    numeric = X.select_dtypes("number").to_numpy(dtype=float) if frame is not None else np.asarray(X, dtype=float)
    if np.isinf(numeric).any():
        raise ValueError("X contains infinity; replace it (missing values as NaN are fine: they are imputed).")
    return X


def _object_array(array: np.ndarray) -> tuple:
    """An object/string array: numeric if every value is a number, else a frame of categories."""
    try:
        return array.astype(float), None
    except (TypeError, ValueError):
        pass
    bad = next((v for v in array.ravel() if not isinstance(v, (str, numbers.Number, type(None)))), None)
    if bad is not None:
        raise TypeError(f"argument must be a string or a number: X holds a {type(bad).__name__} value.")
    frame = pd.DataFrame(array)
    frame.columns = [f"x{i}" for i in range(array.shape[1])]
    return array, frame


def _check_shape(shape: tuple, min_samples: int) -> None:
    n_samples, n_features = shape
    if n_samples < min_samples:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape={shape}) while a minimum of {min_samples} is required."
        )
    if n_features < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape={shape}) while a minimum of 1 is required.")


def check_y(y: Any, n_samples: int, classification: bool) -> np.ndarray:
    """Return y as a 1-D array matching X; reject NaN/inf, wrong length, and wrong target types."""
    if y is None:
        raise ValueError("This estimator requires y to be passed, but the target y is None.")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; it was ravelled to shape (n_samples,).",
            DataConversionWarning, stacklevel=3,
        )
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (one target per row); got shape {y.shape}.")
    if len(y) != n_samples:
        raise ValueError(f"X and y have different lengths: X has {n_samples} rows, y has {len(y)}.")
    if y.dtype.kind in "fc" and not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinity; drop those rows or fill the target first.")
    if y.dtype.kind == "O" and pd.isna(y).any():
        raise ValueError("y contains missing values; drop those rows or fill the target first.")
    if not classification:
        try:
            return y.astype(float)
        except (TypeError, ValueError):
            raise ValueError(
                f"Unknown label type: EvoRegressor needs a numeric target; got values of dtype {y.dtype}. "
                "Use EvoClassifier for class labels."
            ) from None
    kind = type_of_target(y)
    if kind not in ("binary", "multiclass"):
        raise ValueError(
            f"Unknown label type: EvoClassifier needs class labels but y looks {kind}. "
            "Use EvoRegressor for a continuous target."
        )
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"y has only one class ({classes[0]!r}); a classifier needs at least 2 classes.")
    return y
