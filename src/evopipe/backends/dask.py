"""Run evaluations on a Dask cluster. With :mod:`~evopipe.backends.dask_cluster`,
:mod:`~evopipe.backends.dask_blame` and :mod:`~evopipe.backends.dask_tasks`, the only modules
of evopipe that import ``distributed``.

How failures are told apart (the scheduler runs with ``allowed-failures = 0`` during a search,
so a task whose worker dies fails at once with ``KilledWorker`` instead of killing up to four
workers in turn):

- TIMEOUT: each task notes its start on its worker; the driver polls the running tasks'
  elapsed times and restarts the worker of a task past ``max_eval_time`` + grace. That works
  for C code that never returns to Python, which a thread-based timeout cannot stop.
- MEMORY: the nanny that kills a worker over its memory limit logs a ``worker-restart-memory``
  event naming the worker; a ``KilledWorker`` from that worker is recorded MEMORY.
- Any other death (``os._exit``, a segfault, a worker killed from outside) re-runs the
  candidate once; only a candidate that kills a second worker is recorded ERROR. Tasks that
  shared a worker restarted for a timeout, or whose worker's nanny was closed (by the cluster,
  below, or scaling down), are re-run without counting against them.

Workers that do not come back: a ``LocalCluster`` (any ``SpecCluster``) closes a nanny for good
when, ``distributed.deploy.lost-worker-timeout`` (15 s) after one of its workers died, no worker
of that name is registered; on a cluster whose workers die every few seconds that catches every
nanny sooner or later, with the worker it had just restarted. When the cluster object lives in
this process the backend starts such nannies again (:mod:`~evopipe.backends.dask_cluster`); a
remote cluster must bring its workers back by itself, and re-scattering the data fails with a
clear error if none is up for a minute. The same storms of deaths can strand an erred task
inside ``as_completed``; the backend collects those itself (:meth:`DaskBackend._collect_undelivered`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from typing import Any

import dask
from distributed import Client, LocalCluster, as_completed

from evopipe.backends.base import Backend
from evopipe.backends.dask_blame import closed_by_its_nanny, memory_killed, unstarted_deaths
from evopipe.backends.dask_cluster import (
    active_client,
    close_cluster_fast,
    kill_worker,
    revive_lost_nannies,
    start_local_cluster,
    warn_if_insecure,
)
from evopipe.backends.dask_tasks import run_evaluation_task, swap_allowed_failures
from evopipe.evaluation import EvalContext, Evaluation, PruneBars, Status, record_text
from evopipe.genome import Genome

__all__ = ["DaskBackend"]

logger = logging.getLogger(__name__)

_GRACE_SECONDS = 1.0
# How often wait() wakes up to check time limits while no result arrives.
_POLL_SECONDS = 0.5
# Only a safety net against endless re-runs: a candidate is recorded ERROR after two deaths of
# its own (strikes). Re-runs for other tasks' deaths do not count against it, and under a storm
# of deaths an innocent task was seen losing its worker four times in a row (soak, 1 in 1000).
_MAX_ATTEMPTS = 8
_SCATTER_PATIENCE = 60.0
# How often wait() checks that the in-process cluster still has all its nannies, and looks for
# erred tasks as_completed did not deliver; such a task is collected after this long.
_HOUSEKEEPING_SECONDS = 2.0
_STARTED_TOPIC = "evopipe-task-started"


class DaskBackend(Backend):
    """Evaluate candidates on a Dask cluster.

    Parameters
    ----------
    client : distributed.Client or str, optional
        A client, or a scheduler address to connect to. Default: the active default client,
        else an embedded ``LocalCluster`` (closed again by :meth:`close`).
    n_jobs : int, default=-1
        Workers of the embedded cluster; -1 for all cores.
    max_eval_time : float, optional
        Seconds after which a candidate's worker is restarted (hard limit).
    memory_limit : str or int, default="auto"
        Memory limit per worker of the embedded cluster.
    threads_per_worker : int, default=1
        Threads per worker of the embedded cluster.
    dashboard : bool, default=False
        Serve the dashboard of the embedded cluster (on a free loopback port).
    """

    def __init__(self, client: Any = None, n_jobs: int = -1, max_eval_time: float | None = None,
                 memory_limit: Any = "auto", threads_per_worker: int = 1, dashboard: bool = False):
        self._client_arg = client
        self.n_jobs = n_jobs
        self.max_eval_time = max_eval_time
        self.memory_limit = memory_limit
        self.threads_per_worker = threads_per_worker
        self.dashboard = dashboard
        self.client: Client | None = None
        self._cluster: LocalCluster | None = None
        self._owns_client = False
        self._old_allowed_failures: int | None = None
        self._context: EvalContext | None = None
        self._context_future = None
        self._completed = None
        self._tasks: dict[str, dict] = {}
        self._strikes: dict[str, int] = {}
        self._restarted_workers: set[str] = set()
        # Task key -> (worker, driver monotonic time its start event arrived).
        self._started: dict[str, tuple[str, float]] = {}
        # Worker -> the task found running there when it died.
        self._culprits: dict[str, str] = {}
        self._slots: tuple[float, int] | None = None
        self._ready: list[tuple[int, Evaluation]] = []
        # Two searches on one cluster must not share task keys.
        self._run_token = uuid.uuid4().hex[:6]
        self._topic = f"{_STARTED_TOPIC}-{self._run_token}"
        self._restarts = 0
        self._submitted = 0  # tasks submitted so far: each task's submission order
        self._housekept_at = 0.0
        # Task key -> when wait() first saw its future erred but not yet delivered.
        self._undelivered: dict[str, float] = {}
        # Nanny name -> when this backend asked the cluster to start it again.
        self._reviving: dict[Any, float] = {}

    # -- connection -------------------------------------------------------------------------
    def _connect(self) -> None:
        client = self._client_arg
        if isinstance(client, str):
            warn_if_insecure(client)
            self.client, self._owns_client = Client(client, set_as_default=False), True
        elif client is not None:
            self.client = client
        elif (found := active_client()) is not None:
            self.client = found
        else:
            n_workers = (os.cpu_count() or 1) if self.n_jobs == -1 else self.n_jobs
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                self._cluster = start_local_cluster(n_workers, self.threads_per_worker, self.memory_limit, self.dashboard)
            self.client, self._owns_client = Client(self._cluster, set_as_default=False), True
        if self.client.dashboard_link and (self._cluster is None or self.dashboard):
            logger.info("Dask dashboard: %s", self.client.dashboard_link)
        try:
            self._old_allowed_failures = self.client.run_on_scheduler(swap_allowed_failures, 0)
        except Exception as exc:  # a scheduler that refuses run_on_scheduler still works, with retries
            logger.warning("Could not lower allowed-failures on the scheduler (%s): a worker-killing candidate "
                           "may be retried on other workers before it is recorded.", exc)

    @property
    def slots(self) -> int:
        """Total worker threads (refreshed every 2 s, since workers may come and go)."""
        now = time.monotonic()
        if self._slots is None or now - self._slots[0] > 2.0:
            self._slots = (now, max(1, sum(self.client.nthreads().values())))
        return self._slots[1]

    @property
    def hard_limits(self) -> bool:
        """Evaluations in flight are cancelled at the deadline; hung ones are stopped by restarts."""
        return True

    @property
    def restarts(self) -> int:
        """Workers restarted to stop a candidate past ``max_eval_time``."""
        return self._restarts

    def start(self, context: EvalContext) -> None:
        """Connect (or start the embedded cluster) and send the data to every worker once."""
        self._connect()
        self.client.wait_for_workers(1, timeout=60)
        self._context = context
        self.client.subscribe_topic(self._topic, self._on_started)
        self._scatter()
        # with_results: each result travels to the driver as soon as it exists, so a worker that
        # dies later cannot take a finished result with it.
        self._completed = as_completed([], loop=self.client.loop, with_results=True, raise_errors=False)

    def _on_started(self, event) -> None:
        # Runs on the client's event loop: record, never block.
        _, msg = event
        self._started[msg["key"]] = (msg["worker"], time.monotonic())

    def _scatter(self) -> None:
        # Patient: after a storm of crashes every worker may be restarting at once, and a
        # broadcast can also hit a worker that is being removed. Both pass within seconds.
        give_up = time.monotonic() + _SCATTER_PATIENCE
        while True:
            # Ask the scheduler itself: a LocalCluster client's wait_for_workers goes through
            # the cluster object's own view and was seen waiting minutes in the soak.
            if not self.client.nthreads():
                self._reviving = revive_lost_nannies(self._local_cluster(), self._reviving)
                if time.monotonic() >= give_up:
                    raise TimeoutError(
                        f"No worker of the Dask cluster at {self.client.scheduler.address} came back within "
                        f"{_SCATTER_PATIENCE:g} s (a cluster in another process must restart its workers itself)."
                    )
                time.sleep(0.5)
                continue
            try:
                self._context_future = self.client.scatter(self._context, broadcast=True, hash=False, timeout=10)
                return
            except (KeyError, OSError) as exc:  # OSError includes TimeoutError ("No valid workers found")
                if time.monotonic() >= give_up:
                    raise
                logger.info("Scattering the data failed (%r); trying again.", exc)
                time.sleep(0.5)

    # -- submitting and collecting ----------------------------------------------------------
    def submit(self, index: int, genome: Genome, time_limit: float | None, prune_below: PruneBars | None = None) -> None:
        """Submit one evaluation task named ``evaluate-<genome key>``."""
        self._submit({"index": index, "genome": genome, "time_limit": time_limit, "prune_below": prune_below,
                      "attempt": 0})

    def _submit(self, task: dict) -> None:
        suffix = f"-{task['attempt']}" if task["attempt"] else ""
        future = self.client.submit(
            run_evaluation_task, task["genome"], self._context_future, task["time_limit"], self._topic,
            task["prune_below"],
            key=f"evaluate-{task['genome'].key}-{self._run_token}{suffix}", retries=0,
        )
        task["future"], task["order"], task["context"] = future, self._submitted, self._context_future
        self._submitted += 1
        self._tasks[future.key] = task
        self._completed.add(future)

    def wait(self, timeout: float | None) -> list[tuple[int, Evaluation]]:
        """Wait for finished tasks, enforcing ``max_eval_time`` while waiting."""
        give_up = None if timeout is None else time.monotonic() + timeout
        while self._tasks or self._ready:
            if time.monotonic() - self._housekept_at > _HOUSEKEEPING_SECONDS:
                self._housekept_at = time.monotonic()
                self._reviving = revive_lost_nannies(self._local_cluster(), self._reviving)
                self._ready += self._collect_undelivered()
            self._enforce_time_limits()
            if self._ready:
                finished, self._ready = self._ready, []
                return finished
            step = _POLL_SECONDS if self.max_eval_time else 1.0
            if give_up is not None:
                step = min(step, give_up - time.monotonic())
            if step > 0:
                with self._completed.thread_condition:
                    if not self._completed.has_ready():
                        self._completed.thread_condition.wait(step)
            batch = self._completed.next_batch(block=False)
            finished = [r for future, result in batch if (r := self._collect(future, result))]
            if finished:
                return finished
            if give_up is not None and time.monotonic() >= give_up:
                break
        return []

    def _collect_undelivered(self) -> list[tuple[int, Evaluation]]:
        """Collect tasks that erred but that ``as_completed`` will never deliver.

        ``as_completed(with_results=True)`` fetches a finished task's result. If the worker
        holding it dies first, the scheduler recomputes the task; when that fails (its worker
        dies too, or the scattered data is gone) the fetch raises inside ``as_completed``, whose
        tracking coroutine ends without queueing the future (seen in the soak: the search then
        waited forever for its last tasks). Such a future is erred for all to see, so collect it
        here once it has been erred and undelivered for a while; should ``as_completed`` deliver
        it after all, :meth:`_collect` finds no task for it and ignores it.
        """
        now = time.monotonic()
        erred = [key for key, task in self._tasks.items() if task["future"].status == "error"]
        self._undelivered = {key: self._undelivered.get(key, now) for key in erred}
        finished = []
        for key in erred:
            if now - self._undelivered[key] < _HOUSEKEEPING_SECONDS:
                continue
            del self._undelivered[key]
            future = self._tasks[key]["future"]
            exc = future.exception(timeout=10)
            logger.info("Collecting %s, erred (%r) but not delivered by as_completed.", key, exc)
            if r := self._collect(future, (type(exc), exc, future.traceback(timeout=10))):
                finished.append(r)
        return finished

    def _collect(self, future, result) -> tuple[int, Evaluation] | None:
        task = self._tasks.pop(future.key, None)
        if task is None:
            self._started.pop(future.key, None)
            return None
        if isinstance(result, Evaluation):
            self._started.pop(future.key, None)
            return task["index"], result
        if isinstance(result, tuple):  # (type, exception, traceback) of an erred task
            return self._after_failure(task, result[1])
        # Cancelled by the scheduler: the only reason during a search is that the scattered data
        # it depends on is gone, possibly without the client's future for it ever being told.
        return self._resubmit(task, f"its result was lost ({result!r})", data_lost=True)

    def _after_failure(self, task: dict, exc: BaseException) -> tuple[int, Evaluation] | None:
        genome, key = task["genome"], task["future"].key
        if type(exc).__name__ != "KilledWorker":
            self._started.pop(key, None)
            if self._context_future.status != "finished":
                return self._resubmit(task, "the cluster lost the scattered data", strike=False)
            error = record_text(f"{type(exc).__name__}: {exc}", genome, self._context)
            return task["index"], Evaluation(genome.key, Status.ERROR, error=error)
        worker = getattr(getattr(exc, "last_worker", None), "address", "")
        if worker in self._restarted_workers:
            self._started.pop(key, None)
            return self._resubmit(task, "it shared a worker killed for another candidate's timeout", strike=False)
        if closed_by_its_nanny(self.client, worker):
            self._started.pop(key, None)
            return self._resubmit(task, f"the nanny of its worker {worker} was closed", strike=False)
        if not self._was_running(task, worker):
            return self._resubmit(task, f"it was queued on worker {worker}, which died", strike=False)
        if memory_killed(self.client, worker):
            return task["index"], Evaluation(
                genome.key, Status.MEMORY, worker=worker,
                error="The worker ran out of its memory limit while evaluating this pipeline and was restarted.",
            )
        return self._resubmit(task, f"its worker {worker} died", strike=True)

    def _local_cluster(self) -> Any:
        """The cluster object behind the client when it lives in this process, else None."""
        return self._cluster or getattr(self.client, "cluster", None)

    def _was_running(self, task: dict, worker: str) -> bool:
        """Whether ``task`` was the task running on ``worker`` when it died.

        Yes if its start event came from there (waiting briefly for a late one). No if another
        task is known to have been running there. Otherwise the running task took its own start
        event with it (``os._exit`` at once): a worker runs its tasks in the order they were
        submitted, so of the tasks that died with it and never said they started, the earliest
        submitted was the one running; the others were waiting behind it.
        """
        key = task["future"].key
        give_up = time.monotonic() + 0.5
        while self._started.get(key, ("",))[0] != worker and time.monotonic() < give_up:
            time.sleep(0.05)
        if self._started.pop(key, ("",))[0] == worker:
            self._culprits[worker] = key
            return True
        others = {k for k, (w, _) in self._started.items() if w == worker}
        if self._culprits.get(worker, key) != key:
            others.add(self._culprits[worker])
        if others:
            return False
        earliest = min([task, *unstarted_deaths(self._tasks, self._started, worker)], key=lambda t: t["order"])
        self._culprits[worker] = earliest["future"].key
        return earliest is task

    def _resubmit(self, task: dict, why: str, strike: bool = False, data_lost: bool = False) -> tuple[int, Evaluation] | None:
        genome = task["genome"]
        if strike:
            self._strikes[genome.key] = self._strikes.get(genome.key, 0) + 1
        if self._strikes.get(genome.key, 0) >= 2:
            return task["index"], Evaluation(
                genome.key, Status.ERROR,
                error=f"A worker process died twice while evaluating this pipeline (last time: {why}).",
            )
        if task["attempt"] + 1 >= _MAX_ATTEMPTS:
            return task["index"], Evaluation(
                genome.key, Status.ERROR,
                error=f"None of its {_MAX_ATTEMPTS} attempts came back with a result (last time: {why}).",
            )
        logger.info("Re-running %s: %s.", genome.text(), why)
        if self._context_future.status != "finished" or (data_lost and task["context"] is self._context_future):
            self._scatter()
        self._submit({**task, "attempt": task["attempt"] + 1})
        return None

    # -- hard time limits -------------------------------------------------------------------
    def _enforce_time_limits(self) -> None:
        """Record TIMEOUT for tasks past the limit and kill their workers' processes.

        Start times come from the tasks' start events, timed on the driver, so checking never
        waits on a worker (a task holding the GIL would stall a call to its worker).
        """
        if not self.max_eval_time:
            return
        now, limit = time.monotonic(), self.max_eval_time + _GRACE_SECONDS
        # A task whose future is done already ended (its worker may have died under it, e.g. by
        # os._exit): its result or KilledWorker waits to be collected and says what happened.
        late = [(k, w, now - t) for k, (w, t) in list(self._started.items())
                if k in self._tasks and now - t > limit and not self._tasks[k]["future"].done()]
        if late:
            # A task started on a worker that is gone is not running there any more: it fails
            # with KilledWorker, or, when it had finished but its result died with the worker
            # before reaching us, the scheduler runs it again (same key, a new start event).
            alive = self.client.nthreads()
            for key, worker, _ in late:
                if worker not in alive:
                    logger.info("Not timing %s out: its worker %s is gone.", key, worker)
                    self._started.pop(key, None)
            late = [entry for entry in late if entry[1] in alive]
        for key, worker, elapsed in late:
            task = self._tasks.pop(key)  # its KilledWorker will find no task and be ignored
            self._started.pop(key, None)
            self._ready.append((task["index"], Evaluation(
                task["genome"].key, Status.TIMEOUT, worker=worker, seconds=elapsed,
                error=f"Ran past max_eval_time={self.max_eval_time:g} s; its worker process was killed.",
            )))
        for worker in {w for _, w, _ in late}:
            self._kill_worker(worker)

    def _kill_worker(self, worker: str) -> None:
        logger.info("Killing worker %s to stop a candidate past max_eval_time.", worker)
        self._restarted_workers.add(worker)
        self._restarts += 1
        kill_worker(self.client, worker)

    # -- stopping ---------------------------------------------------------------------------
    def cancel(self) -> list[int]:
        """Cancel every task in flight (a task already running finishes on its worker, unheard)."""
        if not self._tasks:
            return []
        futures = [t["future"] for t in self._tasks.values()]
        cancelled = [t["index"] for t in self._tasks.values()]
        self._tasks.clear()
        try:
            self.client.cancel(futures)
        except Exception as exc:
            logger.debug("Cancelling tasks failed: %s", exc)
        return cancelled

    def close(self) -> None:
        """Restore the scheduler setting; close the client and cluster if this backend made them."""
        if self.client is None:
            return
        try:
            with contextlib.suppress(ValueError):  # not subscribed if start() failed early
                self.client.unsubscribe_topic(self._topic)
            if self._old_allowed_failures is not None and not self._cluster:
                self.client.run_on_scheduler(swap_allowed_failures, self._old_allowed_failures)
        finally:
            if self._context_future is not None:
                self._context_future.release()  # else the scheduler logs "lost scattered data" on close
            self._context_future = None
            if self._completed is not None:
                # Unread results (a timed-out task's) sit in its queue: a borrowed client would keep them.
                with contextlib.suppress(Exception):
                    self._completed.clear()
            self._completed = None
            if self._owns_client:
                self.client.close()
            if self._cluster is not None:
                close_cluster_fast(self._cluster)
            self.client = self._cluster = None
