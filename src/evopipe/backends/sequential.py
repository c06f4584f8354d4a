"""In-process reference backend: evaluates one candidate at a time, in submission order."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from threadpoolctl import threadpool_limits

from evopipe.backends.base import Backend
from evopipe.evaluation import EvalContext, Evaluation, PruneBars, Status, evaluate
from evopipe.genome import Genome

__all__ = ["SequentialBackend"]

_ALARM_GRACE = 0.5


class _Overtime(BaseException):
    """Raised by the alarm in a candidate that ran past its limit.

    A BaseException, so that ``except Exception`` blocks inside estimators do not swallow it.
    """


@contextmanager
def _alarm(seconds: float | None) -> Iterator[None]:
    """Raise :class:`_Overtime` after ``seconds`` (main thread only; else a no-op).

    The exception arrives when the interpreter next runs Python code: between trees, boosting
    stages or epochs for most estimators, never inside one long C call (the Dask backend kills
    the worker process for those).
    """
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def overtime(signum, frame):
        raise _Overtime

    previous = signal.signal(signal.SIGALRM, overtime)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class SequentialBackend(Backend):
    """Run evaluations in the calling process, one at a time.

    Time limits are checked between folds and, when ``fit`` runs on the main thread, enforced
    by an alarm that stops the candidate when it next runs Python code (``_ALARM_GRACE`` seconds
    after its limit). A single C call that never returns cannot be stopped in-process: use the
    Dask backend (``n_jobs >= 2`` or a client) for hard limits.
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

    def submit(self, index: int, genome: Genome, time_limit: float | None, prune_below: PruneBars | None = None) -> None:
        """Queue the evaluation; it runs in the next :meth:`wait`."""
        self._queue.append((index, genome, time_limit, prune_below))

    def wait(self, timeout: float | None) -> list[tuple[int, Evaluation]]:
        """Evaluate the oldest queued candidate (its own soft limit bounds it, not ``timeout``)."""
        if not self._queue:
            return []
        if self._context is None:
            raise RuntimeError("SequentialBackend.start() must be called before wait().")
        index, genome, time_limit, prune_below = self._queue.popleft()
        # One BLAS/OpenMP thread, like a Dask worker thread: an uncapped OpenMP pool sharing
        # the cores with another process made a 0.3 s HistGradientBoosting fit take 117 s here.
        started = time.perf_counter()
        try:
            with threadpool_limits(limits=1), _alarm(None if time_limit is None else time_limit + _ALARM_GRACE):
                evaluation = evaluate(genome, self._context, time_limit, prune_below)
        except _Overtime:
            evaluation = Evaluation(
                genome.key, Status.TIMEOUT, seconds=time.perf_counter() - started,
                error=f"Stopped in the middle of a fold: time limit {time_limit:.3g} s.",
            )
        return [(index, replace(evaluation, worker=self._worker))]

    def cancel(self) -> list[int]:
        """Drop everything queued."""
        cancelled = [index for index, *_ in self._queue]
        self._queue.clear()
        return cancelled

    def close(self) -> None:
        """Drop the data reference."""
        self._queue.clear()
        self._context = None
