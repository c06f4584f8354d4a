"""Where a Dask search runs, for :mod:`evopipe.backends.dask`: finding the user's client,
warning about insecure addresses, and keeping an in-process cluster whole until it is closed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import sys
import time
from typing import Any
from urllib.parse import urlparse

from distributed import Client, LocalCluster
from distributed.client import default_client
from distributed.core import Status as DaskStatus
from distributed.deploy import SpecCluster

from evopipe.backends.dask_tasks import kill_worker_process

__all__ = ["active_client", "close_cluster_fast", "kill_worker", "revive_lost_nannies", "start_local_cluster", "warn_if_insecure"]

# Under the backend's name: to a user these are the Dask backend's messages, one logger to tune.
logger = logging.getLogger("evopipe.backends.dask")


def active_client() -> Client | None:
    """The current default ``distributed.Client``, or None when there is none."""
    try:
        return default_client()
    except ValueError:
        return None


def start_local_cluster(n_workers: int, threads_per_worker: int, memory_limit: Any, dashboard: bool,
                        worker_profiler: bool | None = None) -> LocalCluster:
    """Start the embedded cluster: ``n_workers`` worker processes bound to 127.0.0.1.

    Parameters
    ----------
    n_workers, threads_per_worker : int
    memory_limit : str, int or None
        Per worker, as ``distributed.LocalCluster`` takes it.
    dashboard : bool
        Serve Dask's dashboard (on a free loopback port).
    worker_profiler : bool, optional
        Run Dask's statistical profiler in the workers (the dashboard's "Profile" page).
        Default: only with the dashboard. Every 10 ms it walks the stack of every thread
        running a task, twice: with 64 threads a worker it cost 5.5 ms of CPU per evaluation in
        the scaling benchmark (15.7 against 10.2 ms), on a machine the benchmark keeps busy.

    Raises
    ------
    RuntimeError
        When the workers cannot start, with the usual cause spelled out: worker processes start
        by importing the user's script, so a script that calls ``fit`` at its top level must keep
        that code under ``if __name__ == "__main__":``.
    """
    try:
        return LocalCluster(
            n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True,
            host="127.0.0.1", dashboard_address="127.0.0.1:0" if dashboard else None,
            memory_limit=memory_limit, silence_logs=logging.ERROR,
            # Without a dashboard the scheduler still serves health checks over HTTP: on a free
            # loopback port, not on 8787 (taken by any other cluster).
            scheduler_kwargs={} if dashboard else {"dashboard_address": "127.0.0.1:0"},
            # A worker kwarg, so that nannies started again later get it too. Dotted keys
            # survive the nanny's shallow merge with the whole config and win over it.
            config={"distributed.worker.profile.enabled": dashboard if worker_profiler is None else worker_profiler},
        )
    except Exception as exc:
        hint = ""
        if getattr(sys.modules.get("__main__"), "__file__", None):
            hint = (" Worker processes start by importing your script, so a script that calls fit at its top level "
                    "must keep that code under `if __name__ == \"__main__\":`.")
        raise RuntimeError(
            f"Could not start the embedded Dask cluster of {n_workers} worker process(es): {exc}.{hint} "
            f"Alternatively run in-process with n_jobs=1, or pass client= (a distributed.Client or a scheduler address)."
        ) from exc


def warn_if_insecure(address: str) -> None:
    """Log a warning for a plain ``tcp://`` address that is not on loopback (Dask runs pickled code)."""
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    if parsed.scheme != "tcp" or not parsed.hostname:
        return
    try:
        loopback = parsed.hostname == "localhost" or ipaddress.ip_address(parsed.hostname).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        logger.warning(
            "Connecting to %s over plain tcp://: Dask sends pickled code that the scheduler and workers run. "
            "Use TLS (distributed.Security, a tls:// address) on networks you do not control.", address,
        )


def revive_lost_nannies(cluster: Any, asked: dict) -> dict:
    """Relaunch the nannies an in-process ``SpecCluster`` closed as lost.

    ``SpecCluster`` closes a nanny (and drops it from ``cluster.workers``, keeping it in
    ``worker_spec``) when ``lost-worker-timeout`` after a worker death no worker of its name
    is registered; under a stream of crashes that catches a nanny between two restarts, and
    without this the cluster shrinks to zero workers. ``scale`` to the spec's own size
    starts the missing ones (it runs on the cluster's loop and returns at once). Nothing to
    do for a cluster in another process (``cluster`` None or not a ``SpecCluster``): it has
    to keep its workers alive by itself.

    Parameters
    ----------
    cluster : SpecCluster or None
    asked : dict
        Nanny name -> monotonic time it was last asked for, as returned by the previous call.

    Returns
    -------
    dict
        The updated ``asked``.
    """
    if not isinstance(cluster, SpecCluster) or cluster.status != DaskStatus.running:
        return asked
    now = time.monotonic()
    missing = set(cluster.worker_spec) - set(cluster.workers)
    # A relaunched nanny joins cluster.workers only once it is up (a second or more): ask
    # once per nanny, and again only if it is still missing half a minute later.
    asked = {name: t for name, t in asked.items() if name in missing and now - t < 30}
    if new := missing - set(asked):
        logger.warning("The cluster closed nannies %s as lost; starting them again.", sorted(new, key=str))
        asked.update(dict.fromkeys(new, now))
        cluster.scale(len(cluster.worker_spec))
    return asked


def kill_worker(client: Client, worker: str) -> None:
    """SIGKILL ``worker``'s process through its nanny, which starts a fresh one.

    The nanny answers even while the worker is stuck in C code, and a killed worker is back in
    about 1 s, where a graceful restart waits 4 s first. Without a nanny to reach, the worker is
    restarted instead; a worker already gone is left alone (the hung task went with it).

    Parameters
    ----------
    client : distributed.Client
    worker : str
        The worker's address.
    """
    try:
        client.run(kill_worker_process, workers=[worker], nanny=True)
    except Exception as exc:
        if worker not in client.nthreads():
            # Both calls raise KeyError for a worker the scheduler removed.
            logger.info("Worker %s was gone before it could be killed.", worker)
            return
        logger.warning("Could not kill worker %s through its nanny (%r); restarting it instead.", worker, exc)
        try:
            client.restart_workers([worker], raise_for_error=False)
        except Exception as exc2:  # it may still vanish in between: never end the search for it
            logger.warning("Could not restart worker %s either (%r).", worker, exc2)


def close_cluster_fast(cluster: LocalCluster) -> None:
    """Close an embedded cluster, giving hung workers 0.5 s instead of the default 4 s."""
    # A worker still inside a cancelled C call would hold the default close for 4 s before
    # being killed; a short nanny timeout keeps fit within its budget (0.4 s measured here).
    async def close_nannies():
        await asyncio.gather(*(w.close(timeout=0.5) for w in cluster.workers.values()), return_exceptions=True)

    nanny_logger = logging.getLogger("distributed.nanny")
    level = nanny_logger.level
    nanny_logger.setLevel(logging.ERROR)  # "still alive after 0.4 seconds, killing" is expected here
    try:
        cluster.sync(close_nannies)
    finally:
        cluster.close()
        nanny_logger.setLevel(level)
