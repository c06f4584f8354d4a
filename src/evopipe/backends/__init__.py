"""Where evaluations run: in-process (:class:`SequentialBackend`) or on Dask (:mod:`evopipe.backends.dask`)."""

from __future__ import annotations

import sys
from typing import Any

from evopipe.backends.base import Backend
from evopipe.backends.sequential import SequentialBackend

__all__ = ["Backend", "SequentialBackend", "make_backend"]


def make_backend(
    client: Any, n_jobs: int, use_dask: bool, max_eval_time: float | None, memory_limit: Any
) -> Backend:
    """The backend the estimator parameters ask for.

    A ``client`` (a ``distributed.Client`` or scheduler address), ``use_dask=True`` or
    ``n_jobs != 1`` run on Dask: the given client, else an active default client, else an
    embedded ``LocalCluster``. Otherwise candidates run in-process, one at a time.
    """
    if client is None and not use_dask and n_jobs == 1:
        # Only a process that imported distributed can hold a default client.
        if "distributed" not in sys.modules:
            return SequentialBackend()
        from evopipe.backends.dask_cluster import active_client

        client = active_client()
        if client is None:
            return SequentialBackend()
    from evopipe.backends.dask import DaskBackend

    return DaskBackend(client=client, n_jobs=n_jobs, max_eval_time=max_eval_time, memory_limit=memory_limit)
