"""Real Dask clusters for the tests: worker processes on 127.0.0.1, no dashboard."""

from __future__ import annotations

import logging


def local_cluster(n_workers: int = 2, **kwargs):
    """A ``LocalCluster`` of single-threaded worker processes on loopback (close it after use)."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=n_workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}, silence_logs=logging.ERROR, **kwargs,
    )
