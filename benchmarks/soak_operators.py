"""Operators for the soak benchmark (``soak.py``): faults chosen per candidate by a ``seed`` parameter.

:class:`FaultyClassifier` decides what its ``fit`` does from ``np.random.default_rng(seed)``,
so a search over ``seed`` meets faults at fixed rates whatever candidates the evolver breeds,
and the driver can tell from a candidate's seed alone which status it should end with
(:func:`expected_status`):

========  ====  =========================================================  ==================
behaviour  p    what ``fit`` does                                          expected status
========  ====  =========================================================  ==================
raise     0.10  raises ``RuntimeError``                                    ERROR
hang      0.03  blocks in C (``libc sleep(600)``), past any max_eval_time  TIMEOUT
memory    0.02  allocates (and touches) up to 4 GB in 128 MB blocks        MEMORY (*)
exit      0.01  ``os._exit(3)``: the worker process dies                   ERROR (died twice)
ok        0.84  sleeps 0.05-0.3 s, then fits a most-frequent dummy         OK
========  ====  =========================================================  ==================

Every fold of a candidate behaves the same way, so a candidate fails on its first fold.

(*) The nanny kills a worker past 95 % of its memory limit, checking every 100 ms. On a
machine that faults memory in slowly (seen here: 1-2 s per 128 MB block with 4 workers on a
loaded 2-core VM, 0.03 s alone) a hog can still be below the limit at ``max_eval_time`` + 1 s
and be recorded TIMEOUT instead: a race of the environment, not a lost fault.
:class:`TaskCounter` is a scheduler plugin that counts the evaluation tasks the scheduler is
given and the workers that join or leave, independently of evopipe's own bookkeeping.

The Dask workers must import this module: put this directory on ``sys.path`` before the
``LocalCluster`` is created (spawned worker processes copy the parent's ``sys.path``).
"""

from __future__ import annotations

import ctypes
import os
import time

import numpy as np
from distributed.diagnostics.plugin import SchedulerPlugin
from sklearn.dummy import DummyClassifier

__all__ = ["BEHAVIOURS", "FaultyClassifier", "TaskCounter", "behaviour", "expected_status"]

# (behaviour, probability, the status evopipe should record for it)
BEHAVIOURS = (
    ("raise", 0.10, "ERROR"),
    ("hang", 0.03, "TIMEOUT"),
    ("memory", 0.02, "MEMORY"),
    ("exit", 0.01, "ERROR"),
    ("ok", 0.84, "OK"),
)
HOG_GIGABYTES = 4.0


def behaviour(seed: int) -> str:
    """What ``FaultyClassifier(seed=seed).fit`` does (one of the names in :data:`BEHAVIOURS`)."""
    u = np.random.default_rng(seed).random()
    cumulative = 0.0
    for name, p, _ in BEHAVIOURS:
        cumulative += p
        if u < cumulative:
            return name
    return "ok"


def expected_status(seed: int) -> str:
    """The status a correct search records for a candidate ``FaultyClassifier(seed=seed)``."""
    return {name: status for name, _, status in BEHAVIOURS}[behaviour(seed)]


def sleep_seconds(seed: int) -> float:
    """The seconds a well-behaved fit sleeps (0.05 to 0.3)."""
    rng = np.random.default_rng(seed)
    rng.random()  # the draw that chose the behaviour
    return float(rng.uniform(0.05, 0.3))


class FaultyClassifier(DummyClassifier):
    """A most-frequent dummy whose ``fit`` misbehaves as its ``seed`` says (see the module docstring)."""

    def __init__(self, seed: int = 0):
        super().__init__(strategy="most_frequent")
        self.seed = seed

    def fit(self, X, y, sample_weight=None):
        kind = behaviour(self.seed)
        if kind == "raise":
            raise RuntimeError(f"injected failure (seed={self.seed})")
        if kind == "hang":
            ctypes.CDLL(None).sleep(600)
        elif kind == "memory":
            blocks = [np.ones(16 * 1024 * 1024) for _ in range(int(HOG_GIGABYTES * 8))]  # 128 MB each, touched
            del blocks
        elif kind == "exit":
            os._exit(3)
        else:
            time.sleep(sleep_seconds(self.seed))
        return super().fit(X, y)


class TaskCounter(SchedulerPlugin):
    """Counts, on the scheduler, evaluation tasks created and workers added or removed.

    ``tasks`` holds every ``evaluate-*`` key the scheduler was given (re-runs carry an
    ``-<attempt>`` suffix), ``workers_added`` / ``workers_removed`` the worker addresses.
    """

    name = "soak-task-counter"

    def __init__(self) -> None:
        self.scheduler = None
        self.tasks: list[str] = []
        self.workers_added: list[str] = []
        self.workers_removed: list[str] = []
        # (time.time(), what, key or worker, worker or "") for a timeline of the run
        self.log: list[tuple] = []

    async def start(self, scheduler) -> None:
        self.scheduler = scheduler

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if not (isinstance(key, str) and key.startswith("evaluate-")):
            return
        if start == "released" and finish == "waiting":
            self.tasks.append(key)
        worker = ""
        if finish == "processing" and self.scheduler is not None and key in self.scheduler.tasks:
            ts = self.scheduler.tasks[key]
            worker = ts.processing_on.address if ts.processing_on else ""
        self.log.append((time.time(), f"{start}->{finish}", key, worker))

    def add_worker(self, scheduler=None, worker=None) -> None:
        self.workers_added.append(worker)
        self.log.append((time.time(), "add-worker", worker, ""))

    def remove_worker(self, scheduler=None, worker=None, **kwargs) -> None:
        self.workers_removed.append(worker)
        self.log.append((time.time(), "remove-worker", worker, ""))


def counter_state(dask_scheduler=None) -> dict:
    """Run on the scheduler: what :class:`TaskCounter` saw."""
    plugin = dask_scheduler.plugins[TaskCounter.name]
    return {"tasks": list(plugin.tasks), "workers_added": list(plugin.workers_added),
            "workers_removed": list(plugin.workers_removed), "n_tasks_now": len(dask_scheduler.tasks),
            "log": list(plugin.log)}
