"""Why a Dask worker died, for :mod:`evopipe.backends.dask`: the evidence the scheduler holds.

A task whose worker dies fails with ``KilledWorker``; these tell the backend whether the task
had anything to do with it: the nanny was closed (nobody's fault), the nanny killed the worker
over its memory limit (MEMORY), or, with no start event to go by, which of the tasks that died
there was the one running.
"""

from __future__ import annotations

import contextlib
import time

from distributed import Client

__all__ = ["closed_by_its_nanny", "memory_killed", "unstarted_deaths"]


def closed_by_its_nanny(client: Client, worker: str) -> bool:
    """Whether ``worker`` died because its nanny was closed, not of anything a task did.

    A ``SpecCluster`` closes a nanny it takes for lost (``lost-worker-timeout``, see
    :func:`~evopipe.backends.dask_cluster.revive_lost_nannies`), possibly just after that nanny started a fresh worker, which
    goes down with the task it was running; a cluster scaling down closes nannies too. The
    worker then logs a ``closing-worker`` event with reason ``nanny-close`` before the scheduler
    removes it (same stream, in order); a crash or a SIGKILL logs none.

    Parameters
    ----------
    client : distributed.Client
    worker : str
        The dead worker's address.
    """
    try:
        events = client.get_events(worker)
    except Exception:  # the scheduler is out of reach: no evidence
        return False
    return any(msg.get("action") == "closing-worker" and str(msg.get("reason", "")).startswith("nanny-close")
               for _, msg in events if isinstance(msg, dict))


def memory_killed(client: Client, worker: str) -> bool:
    """Whether ``worker``'s nanny logged a ``worker-restart-memory`` event for it.

    Asked up to three times, 0.25 s apart: the nanny's event may trail the worker's death.
    """
    for attempt in range(3):
        if any(msg.get("worker") == worker for _, msg in client.get_events("worker-restart-memory")):
            return True
        if attempt < 2:
            time.sleep(0.25)
    return False


def unstarted_deaths(tasks: dict, started: dict, worker: str) -> list[dict]:
    """The tasks in ``tasks`` (key -> task) that failed with ``KilledWorker`` on ``worker`` and
    whose start event (``started``, key -> (worker, time)) never arrived."""
    dead = []
    for key, task in list(tasks.items()):
        if task["future"].status != "error" or key in started:
            continue
        with contextlib.suppress(Exception):  # a future released meanwhile: not one of them
            exc = task["future"].exception(timeout=5)
            if type(exc).__name__ == "KilledWorker" and getattr(exc.last_worker, "address", "") == worker:
                dead.append(task)
    return dead
