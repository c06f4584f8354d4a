"""One behavioural contract for every backend, then what only the Dask backend does."""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from sklearn.datasets import load_iris

from clusters import local_cluster
from evopipe import EvoClassifier, Status, parse_genome
from evopipe.backends import SequentialBackend
from evopipe.backends.dask import DaskBackend
from evopipe.context import build_context

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def context():
    X, y = load_iris(return_X_y=True)
    return build_context(X, y, 3, None, None, None, True, 0)


@pytest.fixture(params=["sequential", "dask"])
def backend(request):
    if request.param == "sequential":
        made = SequentialBackend()
    else:
        made = DaskBackend(client=request.getfixturevalue("dask_client"))
    yield made
    made.close()


def _genome(text: str):
    return parse_genome(text if "." in text.split("(")[0] else f"sklearn.linear_model.{text}")


def _drain(backend, expected: int, timeout: float = 60) -> dict:
    results, give_up = {}, time.monotonic() + timeout
    while len(results) < expected and time.monotonic() < give_up:
        results.update(backend.wait(timeout=give_up - time.monotonic()))
    return results


def test_backend_returns_every_submitted_evaluation(backend, context):
    backend.start(context)
    genomes = [_genome(f"LogisticRegression(C={c})") for c in (0.1, 1.0, 10.0)]
    for i, genome in enumerate(genomes):
        backend.submit(i, genome, None)
    results = _drain(backend, 3)
    assert sorted(results) == [0, 1, 2]
    for i, genome in enumerate(genomes):
        assert results[i].key == genome.key
        assert results[i].status is Status.OK and len(results[i].fold_scores) == 3
        assert results[i].worker
    assert backend.wait(timeout=0.1) == []


def test_backend_reports_failures_as_values(backend, context):
    backend.start(context)
    backend.submit(7, parse_genome("fault_operators.Raises(seconds=0.0)"), None)
    backend.submit(8, _genome("LogisticRegression(C=-1.0)"), None)
    results = _drain(backend, 2)
    assert results[7].status is Status.ERROR and "injected failure" in results[7].error
    assert results[8].status is Status.ERROR and "C" in results[8].error


def test_backend_soft_time_limit_stops_between_folds(backend, context):
    backend.start(context)
    backend.submit(0, parse_genome("fault_operators.SleepThenFit(seconds=0.6)"), 1.0)
    result = _drain(backend, 1)[0]
    assert result.status is Status.TIMEOUT
    assert 1 <= len(result.fold_scores) < 3


def test_backend_cancel_returns_what_was_in_flight(backend, context):
    backend.start(context)
    for i in range(3):
        backend.submit(i, parse_genome(f"fault_operators.SleepThenFit(seconds={1.0 + i / 10})"), None)
    assert sorted(backend.cancel()) == [0, 1, 2]
    assert backend.wait(timeout=0.5) == []


def _generational_frame(**params) -> pd.DataFrame:
    X, y = load_iris(return_X_y=True)
    model = EvoClassifier(max_time=None, max_evals=24, population_size=8, mode="generational", cv=3,
                          search_space="light", random_state=3, **params).fit(X, y)
    return model.evaluations_.sort_values("candidate").reset_index(drop=True)


def test_generational_mode_is_reproducible_on_any_number_of_workers(dask_client):
    from distributed import Client

    columns = ["candidate", "pipeline", "score", "fold_scores", "parents", "variation"]
    reference = _generational_frame(n_jobs=1)[columns]
    pd.testing.assert_frame_equal(_generational_frame(client=dask_client)[columns], reference)
    with local_cluster(4) as cluster, Client(cluster, set_as_default=False) as four:
        pd.testing.assert_frame_equal(_generational_frame(client=four)[columns], reference)


def test_fit_on_the_embedded_cluster_closes_it_and_pickles_clean():
    X, y = load_iris(return_X_y=True)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    model = EvoClassifier(max_time=60, max_evals=6, n_jobs=2, cv=3, search_space="light", random_state=0).fit(X, y)
    assert model.evaluations_["worker"].str.startswith("tcp://127.0.0.1:").all()
    time.sleep(1.0)
    leftover = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()
                and p.status() != psutil.STATUS_ZOMBIE]
    assert leftover == []
    blob = pickle.dumps(model)
    assert b"distributed" not in blob
    np.testing.assert_array_equal(pickle.loads(blob).predict(X), model.predict(X))


def _profiling(dask_worker=None) -> bool:
    return "profile-cycle" in dask_worker.periodic_callbacks


@pytest.mark.parametrize("dashboard", [False, True])
def test_embedded_workers_profile_only_with_the_dashboard(dashboard):
    # Dask's statistical profiler walks every running thread's stack 100 times a second: CPU a
    # busy search needs, for a page of the dashboard. Nannies started again keep the setting.
    backend = DaskBackend(n_jobs=1, dashboard=dashboard)
    backend._connect()
    try:
        assert list(backend.client.run(_profiling).values()) == [dashboard]
        backend._cluster.scale(2)
        backend.client.wait_for_workers(2, timeout=60)
        assert list(backend.client.run(_profiling).values()) == [dashboard] * 2
    finally:
        backend.close()


def test_a_script_without_a_main_guard_is_told_how_to_fix_it(tmp_path):
    # Spawned worker processes import the script, whose top-level fit then cannot start a
    # cluster of its own: multiprocessing's explanation stays in the children's stderr, and the
    # parent would only see "Nanny failed to start" without ours.
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from sklearn.datasets import load_iris\n"
        "from evopipe import EvoClassifier\n"
        "X, y = load_iris(return_X_y=True)\n"
        "EvoClassifier(max_time=20, max_evals=2, n_jobs=2).fit(X, y)\n"
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: Could not start the embedded Dask cluster of 2 worker process(es)")
    assert 'if __name__ == "__main__":' in last and "n_jobs=1" in last


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_fit_through_a_scheduler_started_with_the_dask_cli(tmp_path):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    dask = [sys.executable, "-m", "dask"]
    logs = open(tmp_path / "cluster.log", "w")  # noqa: SIM115 - closed below
    scheduler = subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--dashboard-address", ":0", "--no-show"], env=env, stdout=logs, stderr=logs)
    workers = subprocess.Popen([*dask, "worker", address, "--nworkers", "2", "--nthreads", "1",
                                "--host", "127.0.0.1", "--no-dashboard"], env=env, stdout=logs, stderr=logs)
    try:
        from distributed import Client

        with Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        X, y = load_iris(return_X_y=True)
        started = time.monotonic()
        model = EvoClassifier(max_time=20, client=address, cv=3, search_space="light", random_state=0).fit(X, y)
        assert time.monotonic() - started < 20 + 5
        finished = model.evaluations_[model.evaluations_["status"] == "OK"]
        assert finished["worker"].nunique() == 2
        assert model.score(X, y) > 0.9
    finally:
        for process in (workers, scheduler):
            process.terminate()
        for process in (workers, scheduler):
            process.wait(timeout=30)
        logs.close()
