"""Classifiers that misbehave on purpose, for the Dask failure tests (imported on the workers)."""

from __future__ import annotations

import ctypes
import os
import time

import numpy as np
from sklearn.dummy import DummyClassifier


class _Base(DummyClassifier):
    def __init__(self, seconds: float = 0.0, gigabytes: float = 0.0):
        super().__init__(strategy="most_frequent")
        self.seconds = seconds
        self.gigabytes = gigabytes


class HangInC(_Base):
    """Fit blocks in a C call (libc sleep) that Python cannot interrupt."""

    def fit(self, X, y, sample_weight=None):
        ctypes.CDLL(None).sleep(int(self.seconds))
        return super().fit(X, y)


class SleepThenFit(_Base):
    """Fit sleeps (in Python), then fits like a most-frequent dummy."""

    def fit(self, X, y, sample_weight=None):
        time.sleep(self.seconds)
        return super().fit(X, y)


class MemoryHog(_Base):
    """Fit allocates (and touches) memory in 128 MB blocks up to ``gigabytes``."""

    def fit(self, X, y, sample_weight=None):
        blocks = [np.ones(16 * 1024 * 1024) for _ in range(int(self.gigabytes * 8))]
        return super().fit(X, y) if blocks else self


class ExitProcess(_Base):
    """Fit ends the worker process at once (like a segfault)."""

    def fit(self, X, y, sample_weight=None):
        os._exit(3)


class Raises(_Base):
    """Fit raises."""

    def fit(self, X, y, sample_weight=None):
        raise RuntimeError("injected failure")
