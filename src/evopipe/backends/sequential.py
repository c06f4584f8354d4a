"""In-process reference backend: evaluates one candidate at a time, in submission order."""

from __future__ import annotations

import os
import socket
from collections import deque
from dataclasses import replace

from threadpoolctl import threadpool_limits

from evopipe.backends.base import Backend
from evopipe.evaluation import EvalContext, Evaluation, evaluate
from evopipe.genome import Genome

__all__ = ["SequentialBackend"]


class SequentialBackend(Backend):
    """Run evaluations in the calling process.

    Time limits are soft here (checked between folds): a fold that never returns cannot be
    stopped in-process. Use the Dask backend for hard limits.
    """

    def __init__(self) -> None:
        self._context: EvalContext | None = None
        self._queue: deque = deque()
        self._worker = f"{socket.gethostname()}:{os.getpid()}"

    @property
    def slots(self) -> int:
        """One evaluation at a time."""
        return 1

    def start(self, context: EvalContext) -> None:
        """Keep a reference to the data."""
        self._context = context

    def submit(self, index: int, genome: Genome, time_limit: float | None) -> None:
        """Queue the evaluation; it runs in the next :meth:`wait`."""
        self._queue.append((index, genome, time_limit))

    def wait(self, timeout: float | None) -> list[tuple[int, Evaluation]]:
        """Evaluate the oldest queued candidate (its own soft limit bounds it, not ``timeout``)."""
        if not self._queue:
            return []
        if self._context is None:
            raise RuntimeError("SequentialBackend.start() must be called before wait().")
        index, genome, time_limit = self._queue.popleft()
        # One BLAS/OpenMP thread, like a Dask worker thread: an uncapped OpenMP pool sharing
        # the cores with another process made a 0.3 s HistGradientBoosting fit take 117 s here.
        with threadpool_limits(limits=1):
            evaluation = evaluate(genome, self._context, time_limit)
        return [(index, replace(evaluation, worker=self._worker))]

    def cancel(self) -> list[int]:
        """Drop everything queued."""
        cancelled = [index for index, _, _ in self._queue]
        self._queue.clear()
        return cancelled

    def close(self) -> None:
        """Drop the data reference."""
        self._queue.clear()
        self._context = None
