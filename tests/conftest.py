"""Shared fixtures: small datasets and a real Dask LocalCluster on loopback."""

from __future__ import annotations

import logging

import pytest
from sklearn.datasets import load_breast_cancer, load_iris


@pytest.fixture(scope="session")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="session")
def cancer():
    return load_breast_cancer(return_X_y=True)


@pytest.fixture(scope="module")
def dask_client():
    """A LocalCluster of 2 single-threaded worker processes on 127.0.0.1, shared by a module."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR
    )
    client = Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()
