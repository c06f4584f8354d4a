"""Build the evaluation context of a search: folds, scorer, data fingerprint."""

from __future__ import annotations

import hashlib
import numbers
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import get_scorer
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold, check_cv, train_test_split

from evopipe.evaluation import EvalContext

__all__ = ["build_context", "data_fingerprint", "make_folds", "make_scorer", "make_screen_fold"]

# Successive halving screens candidates on a quarter of the first fold's training rows, once
# that quarter has at least this many rows: on smaller data a fold is already cheap, and a
# screening score from fewer rows ranks pipelines too unreliably to prune on.
SCREEN_FRACTION = 0.25
SCREEN_MIN_ROWS = 1000


def make_folds(cv: Any, X: Any, y: np.ndarray, groups: Any, classification: bool, seed: int) -> tuple:
    """Cross-validation folds as a tuple of (train, test) index arrays.

    An integer ``cv`` gives shuffled (stratified for classification) K-fold, or group K-fold
    when ``groups`` is given; with fewer members in the smallest class than ``cv``, the number
    of folds drops to that size (with a warning). Any scikit-learn splitter or iterable of
    splits is used as is.
    """
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"`cv` must be an integer >= 2, a scikit-learn splitter or an iterable of splits; got {cv}.")
        n_splits = int(cv)
        if groups is not None:
            splitter = GroupKFold(n_splits=min(n_splits, len(np.unique(groups))))
        elif classification:
            smallest = int(np.unique(y, return_counts=True)[1].min())
            if smallest < n_splits:
                warnings.warn(
                    f"The smallest class has {smallest} member(s), fewer than cv={n_splits}; using "
                    f"{max(2, smallest)} folds.", UserWarning, stacklevel=3,
                )
                n_splits = max(2, smallest)
            splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        else:
            splitter = KFold(n_splits=min(n_splits, len(y)), shuffle=True, random_state=seed)
    else:
        try:
            splitter = check_cv(cv, y, classifier=classification)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"`cv` must be an integer >= 2, a scikit-learn splitter or an iterable of splits; {exc}") from None
    folds = tuple((np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(X, y, groups))
    if not folds:
        raise ValueError("`cv` produced no folds.")
    return folds


def make_screen_fold(folds: tuple, y: np.ndarray, classification: bool, seed: int) -> tuple | None:
    """The screening split: a random ``SCREEN_FRACTION`` of the first fold's training rows
    (stratified for classification when every class allows it) and that fold's test rows.

    None when the subsample would have fewer than ``SCREEN_MIN_ROWS`` rows.
    """
    train, test = folds[0]
    size = int(len(train) * SCREEN_FRACTION)
    if size < SCREEN_MIN_ROWS:
        return None
    stratify = np.asarray(y)[train] if classification else None
    try:
        subset, _ = train_test_split(train, train_size=size, stratify=stratify, random_state=seed)
    except ValueError:  # a class too small to stratify on
        subset, _ = train_test_split(train, train_size=size, random_state=seed)
    return np.sort(subset), test


def make_scorer(scoring: Any, classification: bool):
    """A scikit-learn scorer: accuracy / r2 by default, a name, or a callable scorer."""
    if scoring is None:
        return get_scorer("accuracy" if classification else "r2")
    if isinstance(scoring, str):
        try:
            return get_scorer(scoring)
        except ValueError:
            raise ValueError(
                f"`scoring` {scoring!r} is not a scikit-learn scorer name; see sklearn.metrics.get_scorer_names()."
            ) from None
    if callable(scoring):
        return scoring
    raise TypeError(f"`scoring` must be None, a scorer name or a callable scorer; got {type(scoring).__name__}.")


def data_fingerprint(X: Any, y: np.ndarray, folds: tuple) -> str:
    """Content hash of the data and the folds (same data, same splits -> same token)."""
    digest = hashlib.sha256()
    if isinstance(X, pd.DataFrame):
        digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
        digest.update(repr(list(X.columns)).encode())
    else:
        digest.update(np.ascontiguousarray(X).tobytes())
    digest.update(pd.util.hash_pandas_object(pd.Series(y), index=False).to_numpy().tobytes())
    for train, test in folds:
        digest.update(train.tobytes())
        digest.update(test.tobytes())
    return digest.hexdigest()[:16]


def build_context(
    X, y, cv, scoring, groups, sample_weight, classification: bool, seed: int, cache_bytes: int = 0
) -> EvalContext:
    """Everything a worker needs to evaluate candidates of this search."""
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=float)
        if sample_weight.shape != (len(y),):
            raise ValueError(f"sample_weight must have one weight per row ({len(y)}); got shape {sample_weight.shape}.")
    if groups is not None and len(groups) != len(y):
        raise ValueError(f"groups must have one entry per row ({len(y)}); got {len(groups)}.")
    folds = make_folds(cv, X, y, groups, classification, seed)
    return EvalContext(
        X=X,
        y=y,
        folds=folds,
        scorer=make_scorer(scoring, classification),
        random_state=seed,
        sample_weight=sample_weight,
        data_token=data_fingerprint(X, y, folds),
        cache_bytes=cache_bytes,
        screen_fold=make_screen_fold(folds, y, classification, seed),
    )
