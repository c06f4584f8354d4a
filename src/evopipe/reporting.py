"""Results as a table, and the grouped report of failures."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from evopipe.evaluation import Status

__all__ = ["evaluations_frame", "failure_summary"]

COLUMNS = [
    "candidate", "pipeline", "key", "status", "score", "fold_scores", "complexity", "error", "seconds",
    "fit_seconds", "worker", "parents", "variation", "n_warnings", "warning", "finished_at",
]


def evaluations_frame(records: list) -> pd.DataFrame:
    """One row per candidate tried, in the order they finished.

    Columns: ``candidate`` (order proposed), ``pipeline`` (text), ``key``, ``status``, ``score``
    (mean CV score, NaN unless OK), ``fold_scores``, ``complexity`` (steps), ``error``,
    ``seconds`` (whole evaluation), ``fit_seconds`` (mean per fold), ``worker``, ``parents``
    (keys), ``variation``, ``n_warnings`` (warnings raised inside the fits), ``warning`` (the
    first of them), ``finished_at`` (seconds since the search started).
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
            "finished_at": r.finished_at,
        }
        for r in records
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def failure_summary(records: list, limit: int = 5) -> str:
    """Failed evaluations grouped by error, most frequent first (like scikit-learn's fit-failure report)."""
    failed = [r.evaluation for r in records if r.evaluation.status not in (Status.OK, Status.CANCELLED)]
    groups = Counter((e.status.value, e.error.splitlines()[-1] if e.error else "") for e in failed)
    lines = [f"{n} candidate(s) failed with {status}: {error}" for (status, error), n in groups.most_common(limit)]
    if len(groups) > limit:
        lines.append(f"... and {len(groups) - limit} other kinds of failure.")
    return "\n".join(lines)
