"""Cross-validated evaluation of one genome; failure is a value, never an exception.

:func:`evaluate` is the body of every task, on every backend. It is a top-level function of
picklable arguments with no orchestration in it: the backend decides where and when it runs
and enforces hard limits; this module records what happened.
"""

from __future__ import annotations

import math
import time
import traceback
import warnings
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
from sklearn.utils.validation import has_fit_parameter

from evopipe.compile import compile_genome
from evopipe.genome import Genome

__all__ = ["EvalContext", "Evaluation", "Status", "evaluate", "take_rows"]

MAX_ERROR_CHARS = 2000


class Status(str, Enum):
    """How an evaluation ended."""

    OK = "OK"
    ERROR = "ERROR"
    TIMEOUT = "TIMEOUT"
    MEMORY = "MEMORY"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class EvalContext:
    """Everything an evaluation needs besides the genome; sent to each worker once per run.

    Parameters
    ----------
    X, y : array-like or DataFrame
        The training data.
    folds : tuple of (train_indices, test_indices)
        Precomputed by the driver, so every backend and every candidate uses the same splits.
    scorer : callable
        A scikit-learn scorer ``scorer(estimator, X, y, **kw)``; larger is better.
    random_state : int or None
        Set on every step that takes one.
    sample_weight : array-like, optional
        Passed to the final estimator's ``fit`` and to the scorer.
    data_token : str
        Content hash of the data and folds (for caches and the journal).
    """

    X: Any
    y: Any
    folds: tuple
    scorer: Any
    random_state: int | None = None
    sample_weight: Any = None
    data_token: str = ""


@dataclass(frozen=True)
class Evaluation:
    """The outcome of evaluating one genome.

    ``score`` is the mean of ``fold_scores`` when the status is OK, else NaN.
    ``fit_seconds`` is the mean time to fit the pipeline on one fold (used to budget refits).
    """

    key: str
    status: Status
    fold_scores: tuple = ()
    score: float = float("nan")
    error: str = ""
    seconds: float = 0.0
    fit_seconds: float = 0.0
    n_warnings: int = 0
    warning: str = ""
    worker: str = ""
    started: float = 0.0
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        """Whether the evaluation completed with a finite score."""
        return self.status is Status.OK


def take_rows(data: Any, indices: np.ndarray) -> Any:
    """Rows of an array, DataFrame or Series by position."""
    if data is None:
        return None
    if hasattr(data, "iloc"):
        return data.iloc[indices]
    return data[indices]


def _error_text(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text[:MAX_ERROR_CHARS]


def _fit_params(pipeline, sample_weight) -> dict:
    if sample_weight is None:
        return {}
    name, final = pipeline.steps[-1]
    if not has_fit_parameter(final, "sample_weight"):
        raise TypeError(f"{type(final).__name__} does not accept sample_weight, which this search passes to fit.")
    return {f"{name}__sample_weight": sample_weight}


def _score_fold(genome: Genome, context: EvalContext, train: np.ndarray, test: np.ndarray) -> tuple[float, float]:
    pipeline = compile_genome(genome, context.random_state)
    w_train = take_rows(context.sample_weight, train)
    started = time.perf_counter()
    pipeline.fit(take_rows(context.X, train), take_rows(context.y, train), **_fit_params(pipeline, w_train))
    fit_seconds = time.perf_counter() - started
    score_kw = {} if context.sample_weight is None else {"sample_weight": take_rows(context.sample_weight, test)}
    score = float(context.scorer(pipeline, take_rows(context.X, test), take_rows(context.y, test), **score_kw))
    if not math.isfinite(score):
        raise ValueError(f"The scorer returned a non-finite score ({score}).")
    return score, fit_seconds


def evaluate(genome: Genome, context: EvalContext, time_limit: float | None = None) -> Evaluation:
    """Cross-validate ``genome`` on the context's folds.

    Parameters
    ----------
    genome : Genome
    context : EvalContext
    time_limit : float, optional
        Soft limit in seconds, checked between folds: a fold is not started when the time
        already spent, or the expected time of one more fold, would pass it (status TIMEOUT).

    Returns
    -------
    Evaluation
        Never raises for a candidate's failure: errors become ``Status.ERROR`` with the text,
        ``MemoryError`` becomes ``Status.MEMORY``.
    """
    started_wall, started = time.time(), time.perf_counter()
    scores: list[float] = []
    fit_times: list[float] = []
    status, error = Status.OK, ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for train, test in context.folds:
                elapsed = time.perf_counter() - started
                per_fold = elapsed / len(scores) if scores else 0.0
                if time_limit is not None and elapsed + per_fold > time_limit:
                    status, error = Status.TIMEOUT, f"Stopped after {len(scores)} folds: time limit {time_limit:.3g} s."
                    break
                score, fit_seconds = _score_fold(genome, context, train, test)
                scores.append(score)
                fit_times.append(fit_seconds)
        except MemoryError as exc:
            status, error = Status.MEMORY, _error_text(exc)
        except Exception as exc:  # a candidate's failure is data, whatever it is
            status, error = Status.ERROR, _error_text(exc)
    first_warning = f"{caught[0].category.__name__}: {caught[0].message}"[:300] if caught else ""
    return Evaluation(
        key=genome.key,
        status=status,
        fold_scores=tuple(scores),
        score=float(np.mean(scores)) if status is Status.OK else float("nan"),
        error=error,
        seconds=time.perf_counter() - started,
        fit_seconds=float(np.mean(fit_times)) if fit_times else 0.0,
        n_warnings=len(caught),
        warning=first_warning,
        started=started_wall,
    )
