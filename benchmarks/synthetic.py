"""A synthetic operator for the scaling benchmark: its fit sleeps, so many "slots" fit on few cores.

:class:`SleepyClassifier` stands in for a real model. Its cost and its quality are both fixed
by its ``seed`` parameter, so a search over ``seed`` has a heavy-tailed cost distribution and
something for selection to climb:

- **Cost.** ``fit`` sleeps ``lognormal(mean=0, sigma=1) / n_folds`` seconds, the draw coming
  from ``np.random.default_rng(seed)``. Every fold of one candidate makes the same draw, so a
  candidate cross-validated on ``n_folds`` folds costs about one lognormal draw in all
  (median 1 s, mean e**0.5 ~ 1.65 s, 1 % of draws above 10 s). Sleeping releases the GIL, so
  64 threads of one worker process sleep side by side on a single core.
- **Quality.** ``q = seed / 10**9`` in [0, 1]. ``predict`` answers the true label for the
  first ``round(q * n)`` rows it is given and the training majority class for the rest, so the
  accuracy is a deterministic, increasing function of ``seed`` (about ``0.5 + q / 2`` on the
  balanced data of :func:`make_data`). The "true label" is read from column 0 of ``X``, where
  :func:`make_data` puts it; on other data the classifier is a most-frequent dummy with a
  column-0 cheat, nothing more. The cost draw does not depend on ``q``: the search cannot buy
  quality with time.

The module must be importable by the Dask workers: put this directory on ``sys.path`` before
the ``LocalCluster`` is created (spawned worker processes copy the parent's ``sys.path``).
"""

from __future__ import annotations

import threading
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

__all__ = ["SEED_HIGH", "SleepyClassifier", "fit_starts", "make_data"]

SEED_HIGH = 10**9
# Per process: when each candidate (by seed) started its first fit, for :func:`fit_starts`.
_FIRST_FIT: dict[int, float] = {}
_LOCK = threading.Lock()


class SleepyClassifier(ClassifierMixin, BaseEstimator):
    """A classifier whose fit sleeps a lognormal time and whose accuracy grows with ``seed``.

    Parameters
    ----------
    seed : int, default=0
        Fixes both the sleep (``default_rng(seed).lognormal(0, 1) / n_folds`` seconds per fit)
        and the quality ``seed / 10**9``.
    n_folds : int, default=2
        The number of cross-validation folds each candidate is fitted on, so the sleeps of one
        candidate add up to one lognormal draw.
    """

    def __init__(self, seed: int = 0, n_folds: int = 2):
        self.seed = seed
        self.n_folds = n_folds

    def sleep_seconds(self) -> float:
        """The seconds one ``fit`` sleeps."""
        return float(np.random.default_rng(self.seed).lognormal(mean=0.0, sigma=1.0)) / self.n_folds

    def fit(self, X, y):
        """Sleep, then remember the classes and the majority class."""
        with _LOCK:
            _FIRST_FIT.setdefault(self.seed, time.time())
        time.sleep(self.sleep_seconds())
        y = np.asarray(y)
        self.classes_, counts = np.unique(y, return_counts=True)
        self.majority_ = self.classes_[int(np.argmax(counts))]
        self.n_features_in_ = np.shape(X)[1]
        return self

    def predict(self, X):
        """True label (column 0 of ``X``) for the first ``round(q * n)`` rows, the majority class after."""
        X = np.asarray(X)
        n = len(X)
        pred = np.full(n, self.majority_, dtype=self.classes_.dtype)
        k = int(round(min(1.0, max(0.0, self.seed / SEED_HIGH)) * n))
        pred[:k] = X[:k, 0].astype(self.classes_.dtype)
        return pred


def make_data(n_rows: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tiny balanced binary data: column 0 is the label, column 1 noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n_rows) % 2
    rng.shuffle(y)
    X = np.column_stack([y.astype(float), rng.normal(size=n_rows)])
    return X, y


def fit_starts() -> dict[int, float]:
    """Run on a worker: ``{seed: time.time() of that candidate's first fit}`` in this process.

    Lets a benchmark count the busy time of candidates the search cancelled while they ran
    (their evaluations never come back, so they carry no ``Evaluation.started`` stamp): look up
    the seeds of the cancelled candidates. Seeds of candidates that did come back must be
    ignored (an entry stays after the candidate's last fold).
    """
    with _LOCK:
        return dict(_FIRST_FIT)
