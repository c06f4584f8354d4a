"""Shared fixtures: small datasets and a real Dask LocalCluster on loopback."""

from __future__ import annotations

import signal

import pytest
from sklearn.datasets import load_breast_cancer, load_iris

from clusters import local_cluster

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    # A background job of a non-interactive shell starts with SIGINT ignored, and Python then
    # keeps it ignored (so do the processes the tests start). The Ctrl-C tests need it back.
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="session")
def cancer():
    return load_breast_cancer(return_X_y=True)


@pytest.fixture(scope="module")
def dask_client():
    """A LocalCluster of 2 single-threaded worker processes on 127.0.0.1, shared by a module."""
    from distributed import Client

    cluster = local_cluster(2)
    client = Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()
