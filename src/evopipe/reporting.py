"""Results as a table, and the grouped report of failures."""

from __future__ import annotations

import logging
from collections import Counter

import pandas as pd

from evopipe.evaluation import Status

__all__ = ["Progress", "evaluations_frame", "failure_summary"]

logger = logging.getLogger(__name__)

COLUMNS = [
    "candidate", "pipeline", "key", "status", "score", "fold_scores", "complexity", "error", "seconds",
    "fit_seconds", "worker", "parents", "variation", "n_warnings", "warning", "step_fits", "steps_reused",
    "screen_score", "finished_at",
]


def evaluations_frame(records: list) -> pd.DataFrame:
    """One row per candidate tried, in the order they finished.

    Columns: ``candidate`` (order proposed), ``pipeline`` (text), ``key``, ``status``, ``score``
    (mean CV score, NaN unless OK), ``fold_scores``, ``complexity`` (steps), ``error``,
    ``seconds`` (whole evaluation), ``fit_seconds`` (mean per fold), ``worker``, ``parents``
    (keys), ``variation``, ``n_warnings`` (warnings raised inside the fits), ``warning`` (the
    first of them), ``step_fits`` / ``steps_reused`` (pipeline steps fitted over all folds /
    taken fitted from the prefix cache), ``screen_score`` (score on the successive-halving
    screening subsample, NaN when not screened), ``finished_at`` (seconds since the search started).
    """
    rows = [
        {
            "candidate": r.candidate.index,
            "pipeline": r.candidate.genome.text(),
            "key": r.candidate.genome.key,
            "status": r.evaluation.status.value,
            "score": r.evaluation.score,
            "fold_scores": list(r.evaluation.fold_scores),
            "complexity": r.candidate.genome.complexity,
            "error": r.evaluation.error,
            "seconds": r.evaluation.seconds,
            "fit_seconds": r.evaluation.fit_seconds,
            "worker": r.evaluation.worker,
            "parents": list(r.candidate.parents),
            "variation": r.candidate.variation,
            "n_warnings": r.evaluation.n_warnings,
            "warning": r.evaluation.warning,
            "step_fits": r.evaluation.step_fits,
            "steps_reused": r.evaluation.steps_reused,
            "screen_score": r.evaluation.screen_score,
            "finished_at": r.finished_at,
        }
        for r in records
    ]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    # Plain object strings: with pyarrow installed pandas would store pyarrow-backed strings,
    # and a pickled model could then not be loaded where pyarrow is missing.
    text = ["pipeline", "key", "status", "error", "worker", "variation", "warning"]
    return frame.astype(dict.fromkeys(text, object))


# Statuses that say nothing is wrong with the pipeline: it scored, the search stopped, or it
# was pruned as weak.
_NOT_FAILURES = (Status.OK, Status.CANCELLED, Status.PRUNED)


def failure_summary(records: list, limit: int = 5) -> str:
    """Failed evaluations grouped by error, most frequent first (like scikit-learn's fit-failure report)."""
    failed = [r.evaluation for r in records if r.evaluation.status not in _NOT_FAILURES]
    groups = Counter((e.status.value, e.error.splitlines()[-1] if e.error else "") for e in failed)
    lines = [f"{n} candidate(s) failed with {status}: {error}" for (status, error), n in groups.most_common(limit)]
    if len(groups) > limit:
        lines.append(f"... and {len(groups) - limit} other kinds of failure.")
    return "\n".join(lines)


class Progress:
    """A tqdm progress bar for a search, time-based when there is a time budget.

    Shows evaluations, failures, the best score and how many evaluations are in flight.
    Disabled (and tqdm not imported) when ``verbose`` is 0.

    Parameters
    ----------
    max_time : float, optional
        Budget in seconds; the bar then fills with time.
    max_evals : int, optional
        Evaluations to run; the bar fills with evaluations when there is no time budget.
    verbose : int
    """

    def __init__(self, max_time: float | None, max_evals: int | None, verbose: int):
        self._bar = None
        self.n_done = 0
        self.n_failed = 0
        self.best = float("-inf")
        if verbose <= 0:
            return
        from tqdm.auto import tqdm

        self._by_time = max_time is not None
        total = max_time if self._by_time else max_evals
        unit = "s" if self._by_time else "eval"
        bar_format = "{desc} {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s{postfix}" if self._by_time else None
        self._bar = tqdm(total=total, unit=unit, desc="evopipe", bar_format=bar_format, leave=True)

    def update(self, record) -> None:
        """Account for one finished evaluation."""
        evaluation = record.evaluation
        self.n_done += 1
        if evaluation.ok:
            self.best = max(self.best, evaluation.score)
        elif evaluation.status not in _NOT_FAILURES:
            self.n_failed += 1
        logger.debug("%s %s score=%.5g %.2fs: %s", evaluation.status.value, evaluation.key, evaluation.score,
                     evaluation.seconds, record.candidate.genome.text())
        if self._bar is None:
            return
        self._bar.n = min(record.finished_at, self._bar.total) if self._by_time else self.n_done
        best = f"{self.best:.4f}" if self.best > float("-inf") else "-"
        self._bar.set_postfix_str(
            f"evals={self.n_done} failed={self.n_failed} best={best} in_flight={record.in_flight}", refresh=False
        )
        self._bar.refresh()

    def close(self) -> None:
        """Finish the bar."""
        if self._bar is not None:
            self._bar.close()
