"""The final ensemble: greedy ensemble selection over out-of-fold predictions.

Caruana et al. (2004), "Ensemble selection from libraries of models": start from nothing and
repeatedly add (with replacement) the pipeline whose predictions, averaged with those already
chosen, score best; keep the best ensemble seen. Every candidate's predictions are its
out-of-fold predictions from the search's own cross-validation, so no data is held out for
this and no pipeline is fitted again to choose. The driver keeps only the predictions of the
best few evaluations (:class:`PredictionPool`).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.ensemble import VotingClassifier, VotingRegressor

from evopipe.compile import compile_genome
from evopipe.genome import Genome

__all__ = ["Member", "PredictionPool", "build_ensemble", "select_ensemble"]

# Refitting on all rows costs about one fold fit times n / ((k - 1) / k * n), plus margin.
_REFIT_FACTOR = 1.5
_LIKELY_MEMBERS = 5


@dataclass(frozen=True)
class Member:
    """One pipeline the ensemble may use: its genome, CV score, fold fit time and predictions."""

    genome: Genome
    score: float
    fit_seconds: float
    predictions: np.ndarray
    index: int = 0

    @property
    def refit_seconds(self) -> float:
        """Expected time to refit it on all rows."""
        return _REFIT_FACTOR * self.fit_seconds


class PredictionPool:
    """The out-of-fold predictions of the ``size`` best-scoring evaluations seen so far.

    Parameters
    ----------
    size : int
        How many to keep; the driver then holds at most ``size`` prediction arrays.
    """

    def __init__(self, size: int = 20):
        self.size = size
        self._heap: list[tuple] = []  # min-heap on (score, -index): the worst member on top
        self._refit_seconds = 0.0

    def add(self, candidate, evaluation) -> None:
        """Take the predictions out of a finished evaluation (``evaluation.extra``) if it ranks."""
        predictions = evaluation.extra.pop("predictions", None)
        if not evaluation.ok or predictions is None or np.isnan(predictions).any():
            return  # e.g. no predict_proba, or a splitter whose test folds do not cover every row
        member = Member(candidate.genome, evaluation.score, evaluation.fit_seconds, predictions, candidate.index)
        entry = (member.score, -member.index, member)
        if len(self._heap) < self.size:
            heapq.heappush(self._heap, entry)
        elif entry[:2] > self._heap[0][:2]:
            heapq.heapreplace(self._heap, entry)
        else:
            return
        # Ensembles mostly take the top few members; the caller checks the real choice again.
        likely = self.members()[:_LIKELY_MEMBERS]
        self._refit_seconds = 1.0 + sum(m.refit_seconds for m in likely)

    def members(self) -> list[Member]:
        """The pool, best score first (ties: earlier first)."""
        return [m for _, _, m in sorted(self._heap, key=lambda e: e[:2], reverse=True)]

    def refit_seconds(self) -> float:
        """Time to keep for choosing and refitting an ensemble (a rough upper estimate)."""
        return self._refit_seconds


class _Replay(BaseEstimator):
    """Plays back fixed predictions so any scikit-learn scorer can score them.

    ``X`` given to its methods is a column of row numbers into ``predictions``.
    """

    def __init__(self, predictions=None, classes=None):
        self.predictions = predictions
        self.classes = classes

    def _rows(self, X):
        return self.predictions[np.asarray(X, dtype=np.intp).ravel()]

    def predict(self, X):
        rows = self._rows(X)
        if self.classes is None:
            return rows.ravel()
        return self.classes[np.argmax(rows, axis=1)]


class _ReplayClassifier(ClassifierMixin, _Replay):
    @property
    def classes_(self):
        return self.classes

    def predict_proba(self, X):
        return self._rows(X)


class _ReplayRegressor(RegressorMixin, _Replay):
    pass


def select_ensemble(
    members: list[Member], y, scorer, classes=None, sample_weight=None, rounds: int = 25
) -> tuple[list[tuple[Member, int]], float]:
    """Greedy ensemble selection with replacement.

    Parameters
    ----------
    members : list of Member
        Candidates, all with predictions over the same rows (probabilities for classifiers).
    y : array-like
        The true targets of those rows.
    scorer : callable
        A scikit-learn scorer (larger is better).
    classes : array-like, optional
        The class labels, in the order of the probability columns; None for regression.
    sample_weight : array-like, optional
        Passed to the scorer.
    rounds : int, default=25
        How many times a member is added.

    Returns
    -------
    chosen : list of (Member, weight)
        The best ensemble seen, weights are how often each member was added.
    score : float
        Its score on the out-of-fold predictions.
    """
    if not members:
        raise ValueError("select_ensemble needs at least one member.")
    rows = np.arange(len(y)).reshape(-1, 1)
    replay = _ReplayClassifier if classes is not None else _ReplayRegressor
    kw = {} if sample_weight is None else {"sample_weight": sample_weight}
    stacked = np.stack([m.predictions.astype(float) for m in members])

    def score(predictions: np.ndarray) -> float:
        model = replay(predictions, None if classes is None else np.asarray(classes))
        return float(scorer(model, rows, y, **kw))

    counts = np.zeros(len(members), dtype=int)
    total = np.zeros_like(stacked[0])
    best_score, best_counts = -np.inf, counts.copy()
    for step in range(1, rounds + 1):
        trial = [score((total + stacked[i]) / step) for i in range(len(members))]
        pick = int(np.argmax(trial))  # ties: the earlier (better single) member
        counts[pick] += 1
        total += stacked[pick]
        if trial[pick] > best_score:
            best_score, best_counts = trial[pick], counts.copy()
    chosen = [(members[i], int(c)) for i, c in enumerate(best_counts) if c]
    return chosen, best_score


def build_ensemble(chosen: list[tuple[Genome, int]], random_state, classification: bool):
    """An unfitted soft-voting ensemble of the chosen pipelines, weighted by their counts.

    Soft voting averages the members' probabilities (classification) or predictions
    (regression) with these weights: exactly what :func:`select_ensemble` scored.
    """
    estimators = [(f"pipeline{i}", compile_genome(g, random_state)) for i, (g, _) in enumerate(chosen)]
    weights = [w for _, w in chosen]
    if classification:
        return VotingClassifier(estimators, voting="soft", weights=weights)
    return VotingRegressor(estimators, weights=weights)
