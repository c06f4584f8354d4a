"""Which evaluated pipeline a search returns: the simplest one the folds cannot tell from the top.

With many candidates the top cross-validation score is optimistic (the winner's curse): on a
few hundred rows, a lead of a few hundredths is noise that selection turns into a loss on new
data. Breiman's one-standard-error rule returns instead the simplest pipeline whose mean score
is within one standard error of the top one; here "simplest" is fewest steps. On large data
the error is small and the top pipeline is kept.

``benchmarks/selection_rules.py`` compares this rule, paired on the same searches, with taking
the top score and with wider errors and other notions of "simplest".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from evopipe.genome import Genome

__all__ = ["fewest_steps", "simplest_within_error", "standard_error", "top_index"]


def fewest_steps(genome: Genome) -> tuple:
    """Sort key for "simplest" as the number of steps.

    Parameters
    ----------
    genome : Genome

    Returns
    -------
    tuple
        ``(number of steps,)``; smaller is simpler.
    """
    return (genome.complexity,)


def standard_error(fold_scores: Sequence[float]) -> float:
    """Standard error of the mean of the fold scores.

    Parameters
    ----------
    fold_scores : sequence of float
        At least two (with one, the standard deviation is undefined and the result NaN).

    Returns
    -------
    float
        ``std(fold_scores, ddof=1) / sqrt(K)``.
    """
    folds = np.asarray(fold_scores, dtype=float)
    return float(folds.std(ddof=1) / np.sqrt(len(folds)))


def top_index(entries: Sequence[tuple]) -> int:
    """Index of the top entry: the highest mean score; ties go to fewer steps, then the earlier.

    Parameters
    ----------
    entries : sequence of (Genome, float, sequence of float)
        As for :func:`simplest_within_error`. Non-empty.

    Returns
    -------
    int
    """
    return max(range(len(entries)), key=lambda i: (float(entries[i][1]), -entries[i][0].complexity, -i))


def simplest_within_error(
    entries: Sequence[tuple],
    error: Callable[[Sequence[float]], float] = standard_error,
    simplicity: Callable[[Genome], tuple] = fewest_steps,
) -> int:
    """Index of the simplest entry whose score is within one error of the top score.

    Parameters
    ----------
    entries : sequence of (Genome, float, sequence of float)
        Successful evaluations: genome, mean cross-validation score, fold scores. Non-empty.
    error : callable, default=standard_error
        The error of the top entry's fold scores that sets the floor.
    simplicity : callable, default=fewest_steps
        A genome's sort key; smaller is simpler.

    Returns
    -------
    int
        Among the entries scoring at least ``top - error(top's folds)``, the simplest; ties go
        to the higher score, then the earlier entry. The top entry is :func:`top_index`'s.
        With fewer than two fold scores on the top entry, or an error that is not a finite
        number, the top entry.

    Raises
    ------
    ValueError
        If ``entries`` is empty.
    """
    if not entries:
        raise ValueError("simplest_within_error needs at least one evaluation to choose from.")
    scores = [float(score) for _, score, _ in entries]
    top = top_index(entries)
    folds = entries[top][2]
    width = error(folds) if len(folds) >= 2 else float("nan")
    if not np.isfinite(width):
        return top
    close = [i for i in range(len(entries)) if scores[i] >= scores[top] - width]
    return min(close, key=lambda i: (simplicity(entries[i][0]), -scores[i], i), default=top)
