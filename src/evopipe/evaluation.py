"""Cross-validated evaluation of one genome; failure is a value, never an exception.

:func:`evaluate` is the body of every task, on every backend. It is a top-level function of
picklable arguments with no orchestration in it: the backend decides where and when it runs
and enforces hard limits; this module records what happened.
"""

from __future__ import annotations

import math
import re
import time
import traceback
import warnings
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
from sklearn.utils.validation import has_fit_parameter

from evopipe.cache import PrefixState, process_cache
from evopipe.compile import build, pipeline_steps
from evopipe.genome import Genome
from evopipe.redaction import redact_data_values, vocabulary_of

__all__ = ["EvalContext", "Evaluation", "PruneBars", "Status", "evaluate", "record_text", "take_rows"]

MAX_ERROR_CHARS = 2000


class Status(str, Enum):
    """How an evaluation ended."""

    OK = "OK"
    ERROR = "ERROR"
    TIMEOUT = "TIMEOUT"
    MEMORY = "MEMORY"
    CANCELLED = "CANCELLED"
    PRUNED = "PRUNED"


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
    cache_bytes : int
        Bound of each process's prefix cache (:mod:`evopipe.cache`); 0 disables it.
    keep_predictions : {"", "predict_proba", "predict"}
        Also return each candidate's out-of-fold predictions (for the final ensemble):
        class probabilities or predicted values. "" (default) keeps none.
    screen_fold : tuple of (train_indices, test_indices), optional
        The screening split of successive halving: a subsample of the first fold's training
        rows and that fold's test rows. None when the data is too small for it to pay off.
    """

    X: Any
    y: Any
    folds: tuple
    scorer: Any
    random_state: int | None = None
    sample_weight: Any = None
    data_token: str = ""
    cache_bytes: int = 0
    keep_predictions: str = ""
    screen_fold: tuple | None = None


@dataclass(frozen=True)
class PruneBars:
    """The bars a candidate must clear to go on being evaluated (early pruning).

    Parameters
    ----------
    screen : float or None
        Bar for the score on the context's screening split, which is fitted before any
        fold. None: no screening. NaN: screen (to record the score) but prune nobody.
    folds : tuple of float
        ``folds[k - 1]`` is the bar for the mean score of the first ``k`` folds; NaN or a
        shorter tuple means no bar.
    max_seconds : float or None
        Pace limit: stop (status PRUNED) once the time spent plus the remaining folds, at
        the pace of the folds done (before any: of the screening fit), would pass it. Unlike
        the time limit of :func:`evaluate`, no backend enforces it mid-fold.
    pace_exempt_screen : float or None
        A candidate whose screening score reaches this is exempt from ``max_seconds`` (the
        evolver passes the best screening score so far: the likeliest new leader is worth its
        full evaluation, however slow). None: nobody is exempt.
    """

    screen: float | None = None
    folds: tuple = ()
    max_seconds: float | None = None
    pace_exempt_screen: float | None = None

    def paced(self, screened: _FoldOutcome | None) -> bool:
        """Whether the pace limit applies to a candidate with this screening outcome."""
        if self.max_seconds is None:
            return False
        exempt = self.pace_exempt_screen
        return exempt is None or screened is None or not screened.score >= exempt


@dataclass(frozen=True)
class Evaluation:
    """The outcome of evaluating one genome.

    ``score`` is the mean of ``fold_scores`` when the status is OK, else NaN.
    ``fit_seconds`` is the mean time to fit the pipeline on one fold (used to budget refits).
    ``step_fits`` counts the steps fitted over all folds (front step and final estimator
    included); ``steps_reused`` the fitted steps taken from the prefix cache instead.
    ``screen_score`` is the score on the screening split (NaN when not screened).
    ``extra`` carries side data to the driver that is not part of the record, such as
    ``extra["predictions"]`` (out-of-fold predictions when the context asks for them); its
    reader removes it, so finished records do not pin those arrays in memory.
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
    step_fits: int = 0
    steps_reused: int = 0
    screen_score: float = float("nan")
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


def record_text(text: str, genome: Genome, context: EvalContext, limit: int = MAX_ERROR_CHARS) -> str:
    """``text`` as a record may keep it: data values redacted, then cut to ``limit`` characters.

    Redaction (:mod:`evopipe.redaction`) reads a bounded head of the text, so a huge message
    costs little, and runs before the cut so that no value is left half-shown at the end.
    """
    if not text:
        return text
    try:
        vocabulary = vocabulary_of(context.data_token or f"id-{id(context.X)}-{id(context.y)}",
                                   context.X, context.y, context.sample_weight)
        return redact_data_values(text[: 4 * limit], vocabulary, keep=genome.text())[:limit]
    except Exception as exc:  # recording a failure must not fail; an unchecked text is not kept
        head = text.split(":", 1)[0]
        kind = head if re.fullmatch(r"[\w.]{1,100}", head) else "Error"  # a type name, never data
        return f"{kind} (text withheld: checking it for data values failed with {type(exc).__name__})"


def _error_text(exc: BaseException, genome: Genome, context: EvalContext) -> str:
    return record_text("".join(traceback.format_exception_only(type(exc), exc)).strip(), genome, context)


def _fit_params(estimator, sample_weight) -> dict:
    if sample_weight is None:
        return {}
    if not has_fit_parameter(estimator, "sample_weight"):
        raise TypeError(f"{type(estimator).__name__} does not accept sample_weight, which this search passes to fit.")
    return {"sample_weight": sample_weight}


@dataclass
class _FoldOutcome:
    score: float
    fit_seconds: float
    step_fits: int
    steps_reused: int
    predictions: np.ndarray | None = None


def _fold_predictions(estimator, X_test, method: str, y: Any) -> np.ndarray | None:
    """The fitted final estimator's predictions on a test fold, as a float32 (rows, columns) array.

    Probabilities get one column per class of the whole ``y`` (a class missing from this fold's
    training rows gets zeros), so the folds line up. None if the estimator cannot predict that way.
    """
    if not hasattr(estimator, method):
        return None
    predicted = np.asarray(getattr(estimator, method)(X_test), dtype=np.float32)
    if method != "predict_proba":
        return predicted.reshape(len(predicted), -1)
    classes = np.unique(np.asarray(y))
    out = np.zeros((predicted.shape[0], classes.size), dtype=np.float32)
    out[:, np.searchsorted(classes, estimator.classes_)] = predicted
    return out


def _fit_prefix(steps: list, context: EvalContext, fold: int, X_train, y_train, X_test) -> tuple:
    """Fit the steps before the estimator, starting from the longest cached prefix.

    Returns the transformed train and test matrices and how many steps were fitted / reused.
    ``Pipeline.fit`` fits intermediate steps with ``fit_transform(X, y)`` too, so the result is
    the same as fitting the whole pipeline.
    """
    cache = process_cache(context.cache_bytes)
    keys = {n: f"{context.data_token}:{fold}:{Genome(tuple(s for _, s in steps[:n])).key}" for n in range(1, len(steps) + 1)}
    reused, fitted = 0, ()
    for n in range(len(steps), 0, -1):
        state = cache.get(keys[n]) if cache is not None else None
        if state is not None:
            reused, fitted, X_train, X_test = n, state.steps, state.X_train, state.X_test
            break
    for n in range(reused, len(steps)):
        transformer = build(steps[n][1])
        X_train = transformer.fit_transform(X_train, y_train)
        X_test = transformer.transform(X_test)
        fitted = (*fitted, transformer)
        if cache is not None:
            cache.put(keys[n + 1], PrefixState(fitted, X_train, X_test))
    return X_train, X_test, len(steps) - reused, reused


def _score_fold(genome: Genome, context: EvalContext, fold: int | str, train: np.ndarray, test: np.ndarray) -> _FoldOutcome:
    steps = pipeline_steps(genome, context.random_state)
    y_train, y_test = take_rows(context.y, train), take_rows(context.y, test)
    started = time.perf_counter()
    X_train, X_test, fits, reused = _fit_prefix(
        steps[:-1], context, fold, take_rows(context.X, train), y_train, take_rows(context.X, test)
    )
    estimator = build(steps[-1][1])
    estimator.fit(X_train, y_train, **_fit_params(estimator, take_rows(context.sample_weight, train)))
    fit_seconds = time.perf_counter() - started
    score_kw = {} if context.sample_weight is None else {"sample_weight": take_rows(context.sample_weight, test)}
    score = float(context.scorer(estimator, X_test, y_test, **score_kw))
    if not math.isfinite(score):
        raise ValueError(f"The scorer returned a non-finite score ({score}).")
    predictions = None
    if context.keep_predictions:
        predictions = _fold_predictions(estimator, X_test, context.keep_predictions, context.y)
    return _FoldOutcome(score, fit_seconds, fits + 1, reused, predictions)


def _out_of_fold(outcomes: list[_FoldOutcome], folds: tuple, n_rows: int) -> np.ndarray | None:
    """Assemble the folds' predictions into one array over all rows (NaN where no fold tested a row)."""
    if not outcomes or any(o.predictions is None for o in outcomes):
        return None
    out = np.full((n_rows, outcomes[0].predictions.shape[1]), np.nan, dtype=np.float32)
    for outcome, (_, test) in zip(outcomes, folds, strict=False):
        out[test] = outcome.predictions
    return out


def _pruned(scores: list[float], bars: tuple) -> bool:
    """Whether the mean of the folds so far is below the bar for that many folds."""
    k = len(scores)
    return 0 < k <= len(bars) and float(np.mean(scores)) < bars[k - 1]


def _optimistic_folds_seconds(screened: _FoldOutcome | None, context: EvalContext) -> float:
    """A low estimate of the cross-validation's time from the screening fit (0 without one).

    A fold fits on more rows than the screening subsample, so it takes at least as long, even
    for models whose cost grows far less than linearly with rows (boosting's per-iteration work).
    """
    if screened is None:
        return 0.0
    return screened.fit_seconds * len(context.folds)


def evaluate(
    genome: Genome, context: EvalContext, time_limit: float | None = None, prune_below: PruneBars | None = None
) -> Evaluation:
    """Cross-validate ``genome`` on the context's folds.

    Parameters
    ----------
    genome : Genome
    context : EvalContext
    time_limit : float, optional
        Soft limit in seconds, checked between folds: no fold is started once the time spent,
        or the time spent plus the remaining folds at the pace of the folds done, passes it
        (status TIMEOUT).
    prune_below : PruneBars, optional
        Early pruning (successive halving). With a ``screen`` bar and a context that has a
        screening split, the pipeline is first fitted on that subsample; below the bar it
        stops there. Then after each fold, a mean below that fold's bar stops it. A stopped
        candidate gets status PRUNED with the folds done (and the screening score) kept; so
        does one on course to pass ``max_seconds`` (unless its screening score makes it exempt).

    Returns
    -------
    Evaluation
        Never raises for a candidate's failure: errors become ``Status.ERROR`` with the text,
        ``MemoryError`` becomes ``Status.MEMORY``.
    """
    started_wall, started = time.time(), time.perf_counter()
    bars = prune_below or PruneBars()
    scores: list[float] = []
    outcomes: list[_FoldOutcome] = []
    screened: _FoldOutcome | None = None
    status, error = Status.OK, ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if bars.screen is not None and context.screen_fold is not None:
                screened = _score_fold(genome, context, "screen", *context.screen_fold)
                if screened.score < bars.screen:
                    status, error = Status.PRUNED, (
                        f"Pruned on the screening subsample ({len(context.screen_fold[0])} training rows): "
                        f"score {screened.score:.5g} < {bars.screen:.5g}."
                    )
            # Import every step's module now, so that the pace of the first fold (which sets the
            # pace limit's projection) is not a fresh worker's one-off import time.
            for _, step in pipeline_steps(genome, context.random_state):
                build(step)
            folds_started = time.perf_counter()
            for fold, (train, test) in enumerate(context.folds if status is Status.OK else ()):
                now = time.perf_counter()
                # The folds to go, at the pace of those done: a candidate stops as soon as they
                # cannot all fit, since one that runs out of time scores nothing.
                if scores:
                    to_go = (now - folds_started) / len(scores) * (len(context.folds) - len(scores))
                else:
                    to_go = _optimistic_folds_seconds(screened, context)
                if time_limit is not None and now - started + to_go > time_limit:
                    status, error = Status.TIMEOUT, (
                        f"Stopped after {len(scores)} of {len(context.folds)} folds: at this pace the rest "
                        f"would pass the time limit of {time_limit:.3g} s."
                    )
                    break
                if bars.paced(screened) and now - started + to_go > bars.max_seconds:
                    status, error = Status.PRUNED, (
                        f"Pruned after {len(scores)} of {len(context.folds)} folds: at this pace the rest "
                        f"would pass the pace limit of {bars.max_seconds:.3g} s."
                    )
                    break
                outcome = _score_fold(genome, context, fold, train, test)
                scores.append(outcome.score)
                outcomes.append(outcome)
                if len(scores) < len(context.folds) and _pruned(scores, bars.folds):
                    status, error = Status.PRUNED, (
                        f"Pruned after {len(scores)} of {len(context.folds)} folds: mean {np.mean(scores):.5g} "
                        f"< {bars.folds[len(scores) - 1]:.5g}."
                    )
                    break
        except MemoryError as exc:
            status, error = Status.MEMORY, _error_text(exc, genome, context)
        except Exception as exc:  # a candidate's failure is data, whatever it is
            status, error = Status.ERROR, _error_text(exc, genome, context)
    fitted = outcomes + ([screened] if screened is not None else [])
    first_warning = record_text(f"{caught[0].category.__name__}: {caught[0].message}", genome, context, 300) if caught else ""
    predictions = _out_of_fold(outcomes, context.folds, len(context.y)) if status is Status.OK else None
    return Evaluation(
        key=genome.key,
        status=status,
        fold_scores=tuple(scores),
        score=float(np.mean(scores)) if status is Status.OK else float("nan"),
        error=error,
        seconds=time.perf_counter() - started,
        fit_seconds=float(np.mean([o.fit_seconds for o in outcomes])) if outcomes else 0.0,
        n_warnings=len(caught),
        warning=first_warning,
        started=started_wall,
        step_fits=sum(o.step_fits for o in fitted),
        steps_reused=sum(o.steps_reused for o in fitted),
        screen_score=screened.score if screened is not None else float("nan"),
        extra={} if predictions is None else {"predictions": predictions},
    )
