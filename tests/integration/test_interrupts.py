"""Interrupts and exposure, with real processes: Ctrl-C on the embedded Dask cluster, sockets, texts.

Each Ctrl-C test runs a fit in a subprocess (the embedded ``LocalCluster`` of ``n_jobs=2``
worker processes), waits until results are journaled, collects the subprocess's descendants
with psutil and sends SIGINT: to the driver process alone, or to its whole process group as a
terminal's Ctrl-C does (then the workers receive it too). Then: every socket of a default fit
is on loopback, plain tcp:// to another host warns about TLS, huge error texts are truncated,
error and warning texts show no data values, and a candidate that holds the GIL in C is still
stopped at its limit.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from evopipe import EvoClassifier, SearchSpace
from evopipe.backends.dask_cluster import warn_if_insecure
from evopipe.evaluation import MAX_ERROR_CHARS
from evopipe.space import Operator

TESTS = Path(__file__).resolve().parents[1]
LOOPBACK = {"127.0.0.1", "::1"}

# Candidates sleep 0.3-0.9 s per fold (2 folds): a few results within seconds, always more in flight.
INTERRUPTED_RUN = textwrap.dedent("""
    import json, sys, warnings
    sys.path.insert(0, {tests!r})

    if __name__ == "__main__":
        from sklearn.datasets import load_iris
        from evopipe import EvoClassifier, SearchSpace
        from evopipe.space import Operator

        space = SearchSpace((Operator("fault_operators.SleepThenFit", {{"seconds": [0.3 + i / 100 for i in range(60)]}}),),
                            "classification", max_preprocessors=0)
        X, y = load_iris(return_X_y=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = EvoClassifier(n_jobs=2, max_time=120, cv=2, random_state=0, search_space=space,
                                  checkpoint={journal!r}).fit(X, y)
        frame = model.evaluations_
        print(json.dumps({{
            "n_evaluations": model.n_evaluations_, "stopped_because": model.stopped_because_,
            "warning": " ".join(str(w.message) for w in caught if issubclass(w.category, UserWarning)),
            "finished_keys": list(frame.loc[frame["status"] != "CANCELLED", "key"]),
        }}), flush=True)
""")

# Two quick seeds get journaled, then every worker sits in a 30-60 s candidate.
LONG_RUN = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})

    if __name__ == "__main__":
        from sklearn.datasets import load_iris
        from evopipe import EvoClassifier, SearchSpace
        from evopipe.space import Operator

        space = SearchSpace((Operator("fault_operators.SleepThenFit", {{"seconds": [30.0, 45.0, 60.0]}}),),
                            "classification", seeds=("SleepThenFit(seconds=0.1)", "SleepThenFit(seconds=0.2)"),
                            max_preprocessors=0)
        X, y = load_iris(return_X_y=True)
        EvoClassifier(n_jobs=2, max_time=120, cv=2, random_state=0, search_space=space,
                      checkpoint={journal!r}).fit(X, y)
        print("fit returned", flush=True)
""")

# The fit runs in a thread; once a result is journaled the main thread lists the sockets of
# this process and of every descendant (scheduler, nannies and client live in this process).
SOCKETS_RUN = textwrap.dedent("""
    import json, os, sys, threading, time
    sys.path.insert(0, {tests!r})

    if __name__ == "__main__":
        import psutil
        from sklearn.datasets import load_iris
        from evopipe import EvoClassifier, SearchSpace
        from evopipe.space import Operator

        space = SearchSpace((Operator("fault_operators.SleepThenFit", {{"seconds": [0.5 + i / 100 for i in range(60)]}}),),
                            "classification", max_preprocessors=0)
        X, y = load_iris(return_X_y=True)
        model = EvoClassifier(n_jobs=2, max_time=90, max_evals=4, cv=2, random_state=0, search_space=space,
                              checkpoint={journal!r})
        thread = threading.Thread(target=model.fit, args=(X, y))
        thread.start()
        while thread.is_alive() and not (os.path.exists({journal!r}) and len(open({journal!r}).readlines()) >= 2):
            time.sleep(0.05)
        sockets = []
        processes = [psutil.Process()] + psutil.Process().children(recursive=True)
        for proc in processes:
            try:
                connections = proc.net_connections(kind="inet")
            except psutil.Error:
                continue
            for c in connections:
                sockets.append({{"pid": proc.pid, "status": c.status, "local": c.laddr.ip if c.laddr else None,
                                 "port": c.laddr.port if c.laddr else None, "remote": c.raddr.ip if c.raddr else None}})
        thread.join()
        print(json.dumps({{"sockets": sockets, "pids": [p.pid for p in processes],
                           "n_evaluations": model.n_evaluations_}}), flush=True)
""")


def _start(tmp_path, template: str, group: bool = False) -> tuple[subprocess.Popen, Path]:
    journal = tmp_path / "run.jsonl"
    script = tmp_path / "run.py"
    script.write_text(template.format(tests=str(TESTS), journal=str(journal)))
    process = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=group,  # its own process group, so that a "terminal" Ctrl-C reaches only it
    )
    return process, journal


def _journal_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _wait_for_journal(process: subprocess.Popen, path: Path, lines: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while _journal_lines(path) < lines:
        if process.poll() is not None:
            raise AssertionError(f"the fit ended before journaling {lines - 1} results:\n{process.stderr.read()}")
        if time.monotonic() > deadline:
            _kill_tree(process)
            raise AssertionError(f"no {lines - 1} journaled results within {timeout} s")
        time.sleep(0.05)


def _descendants(process: subprocess.Popen) -> list[psutil.Process]:
    children = psutil.Process(process.pid).children(recursive=True)
    assert len(children) >= 2, "expected the embedded cluster's worker processes"
    return children


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive


def _wait_gone(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while (alive := _alive(processes)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def _kill_tree(process: subprocess.Popen) -> None:
    """Clean up after a failed test: SIGKILL the subprocess's descendants, then the subprocess."""
    try:
        for child in psutil.Process(process.pid).children(recursive=True):
            child.kill()
    except psutil.NoSuchProcess:
        pass
    process.kill()
    process.communicate()


def _interrupt(process: subprocess.Popen, group: bool) -> None:
    if group:
        os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the workers get it too
    else:
        os.kill(process.pid, signal.SIGINT)


@pytest.mark.parametrize("group", [False, True], ids=["driver", "process-group"])
def test_ctrl_c_on_the_embedded_cluster_keeps_results_and_leaves_no_workers(tmp_path, group):
    process, journal = _start(tmp_path, INTERRUPTED_RUN, group)
    try:
        _wait_for_journal(process, journal, lines=4)  # header + 3 results
        workers = _descendants(process)
        interrupted = time.monotonic()
        _interrupt(process, group)
        out, err = process.communicate(timeout=30)
    except BaseException:
        _kill_tree(process)
        raise
    took = time.monotonic() - interrupted
    assert process.returncode == 0, err[-3000:]
    # Cancel in flight, close the cluster, refit the best (a 0.3-0.9 s sleep): well within 10 s.
    assert took < 10, f"fit took {took:.1f} s to return after Ctrl-C"
    result = json.loads(out.strip().splitlines()[-1])
    assert result["stopped_because"] == "interrupted"
    assert "interrupted" in result["warning"]
    raw = journal.read_bytes()
    assert raw.endswith(b"\n")
    lines = [json.loads(line) for line in raw.decode().splitlines()]  # every line complete
    assert lines[0]["type"] == "header"
    assert len(lines) - 1 >= 3
    # Everything that finished is journaled, and nothing else (cancelled candidates are not).
    assert sorted(line["key"] for line in lines[1:]) == sorted(result["finished_keys"])
    assert result["n_evaluations"] >= len(lines) - 1
    left = _wait_gone(workers, timeout=5)
    assert not left, f"processes left after Ctrl-C: {[(p.pid, p.cmdline()) for p in left]}"


@pytest.mark.parametrize("group", [False, True], ids=["driver", "process-group"])
def test_second_ctrl_c_aborts_at_once_and_leaves_no_workers(tmp_path, group):
    process, journal = _start(tmp_path, LONG_RUN, group)
    try:
        _wait_for_journal(process, journal, lines=3)  # header + the 2 quick seeds
        time.sleep(1.0)  # both workers are now inside a 30-60 s candidate
        workers = _descendants(process)
        interrupted = time.monotonic()
        _interrupt(process, group)
        time.sleep(0.2)
        _interrupt(process, group)
        out, err = process.communicate(timeout=30)
    except BaseException:
        _kill_tree(process)
        raise
    took = time.monotonic() - interrupted
    assert took < 10, f"the process took {took:.1f} s to end after a second Ctrl-C"
    assert "fit returned" not in out
    assert process.returncode != 0 and "KeyboardInterrupt" in err, (process.returncode, err[-3000:])
    lines = journal.read_bytes().decode().splitlines()
    assert all(json.loads(line) for line in lines) and len(lines) >= 3
    left = _wait_gone(workers, timeout=5)
    assert not left, f"processes left after two Ctrl-C: {[(p.pid, p.cmdline()) for p in left]}"


def test_every_socket_of_a_default_fit_is_on_loopback(tmp_path):
    process, _ = _start(tmp_path, SOCKETS_RUN)
    try:
        out, err = process.communicate(timeout=120)
    except BaseException:
        _kill_tree(process)
        raise
    assert process.returncode == 0, err[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert result["n_evaluations"] == 4
    sockets = result["sockets"]
    listening = [s for s in sockets if s["status"] == psutil.CONN_LISTEN]
    # Scheduler, its HTTP server, 2 nannies (all in the driver) and 2 ports per worker process.
    assert len({s["pid"] for s in listening}) >= 3, sockets
    assert len(listening) >= 6, sockets
    exposed = [s for s in sockets if s["local"] not in LOOPBACK or (s["remote"] and s["remote"] not in LOOPBACK)]
    assert not exposed, f"sockets off loopback: {exposed}"


@pytest.mark.parametrize(
    ("address", "warns"),
    [
        ("tcp://10.1.2.3:8786", True),
        ("10.1.2.3:8786", True),
        ("tcp://scheduler.example.com:8786", True),
        ("tcp://127.0.0.1:8786", False),
        ("tcp://localhost:8786", False),
        ("tcp://[::1]:8786", False),
        ("tls://10.1.2.3:8786", False),
    ],
)
def test_plain_tcp_to_a_non_loopback_scheduler_warns_about_tls(caplog, address, warns):
    with caplog.at_level(logging.WARNING, logger="evopipe.backends.dask"):
        warn_if_insecure(address)
    messages = [r.getMessage() for r in caplog.records if r.name == "evopipe.backends.dask"]
    if warns:
        assert len(messages) == 1 and address in messages[0] and "TLS" in messages[0] and "tls://" in messages[0]
    else:
        assert messages == []


HUGE_ERRORS = textwrap.dedent('''
    """Classifiers whose fit warns and then raises with 1 MB messages."""
    import warnings

    from sklearn.dummy import DummyClassifier


    class HugeBaseError(BaseException):
        """Not an Exception: escapes evaluate() and fails the Dask task itself."""


    class HugeError(DummyClassifier):
        def __init__(self, base=False):
            super().__init__(strategy="most_frequent")
            self.base = base

        def fit(self, X, y, sample_weight=None):
            warnings.warn("w" * 1_000_000)
            raise (HugeBaseError if self.base else RuntimeError)("x" * 1_000_000)
''')


@pytest.mark.parametrize("n_jobs", [1, 2], ids=["in-process", "dask"])
def test_error_texts_in_records_are_truncated(tmp_path, monkeypatch, iris, n_jobs):
    (tmp_path / "huge_errors.py").write_text(HUGE_ERRORS)
    monkeypatch.syspath_prepend(str(tmp_path))  # before the embedded cluster: its workers copy sys.path
    seeds = ["huge_errors.HugeError(base=False)", "LogisticRegression(C=1.0)"]
    if n_jobs > 1:  # in-process, a BaseException from a candidate ends fit (as KeyboardInterrupt must)
        seeds.append("huge_errors.HugeError(base=True)")
    space = SearchSpace((Operator("sklearn.linear_model.LogisticRegression", {"C": [0.1, 1.0, 10.0]}),),
                        "classification", seeds=tuple(seeds), max_preprocessors=0)
    journal = tmp_path / "run.jsonl"
    X, y = iris
    model = EvoClassifier(max_time=90, max_evals=len(seeds), n_jobs=n_jobs, cv=2, random_state=0,
                          search_space=space, checkpoint=str(journal)).fit(X, y)
    frame = model.evaluations_.set_index("pipeline")
    for base in ([False, True] if n_jobs > 1 else [False]):
        row = frame.loc[f"HugeError(base={base})"]
        assert row["status"] == "ERROR"
        assert ("HugeBaseError" if base else "RuntimeError") in row["error"] and "xxxx" in row["error"]
        assert len(row["error"]) <= MAX_ERROR_CHARS <= 4096
        assert len(row["warning"]) <= 4096
    assert max(len(line) for line in journal.read_text().splitlines()) < 16_384


LEAKY = textwrap.dedent('''
    """A classifier whose warning and error quote the data it was given."""
    import warnings

    import numpy as np
    from sklearn.dummy import DummyClassifier


    class Leaky(DummyClassifier):
        def __init__(self, row=False):
            super().__init__(strategy="most_frequent")
            self.row = row

        def fit(self, X, y, sample_weight=None):
            warnings.warn(f"odd value {X[0, 0]!r} for the label {y[0]!r}")
            if self.row:  # an array repr and a label list
                raise ValueError(f"bad row {X[0]} with labels {list(np.unique(y))}")
            raise ValueError(f"cannot use {X[0, 0]} (label {y[0]}, quoted '{y[0]}')")
''')


@pytest.mark.parametrize("n_jobs", [1, 2], ids=["in-process", "dask"])
def test_error_and_warning_texts_never_show_data_values(tmp_path, monkeypatch, n_jobs):
    (tmp_path / "leaky.py").write_text(LEAKY)
    monkeypatch.syspath_prepend(str(tmp_path))
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"amount": np.round(1000 + rng.random(60) * 9000, 4), "ratio": rng.random(60),
                      "shop": pd.Categorical(rng.choice(["Acme Widgets", "Globex"], 60))})
    y = np.array(["label-alpha", "label-beta"] * 30)
    # A constant that is not a label: a real scikit-learn error that lists the labels.
    seeds = ("leaky.Leaky(row=False)", "leaky.Leaky(row=True)", "LogisticRegression(C=1.0)",
             "sklearn.dummy.DummyClassifier(strategy='constant', constant='label-zeta')")
    space = SearchSpace((Operator("sklearn.linear_model.LogisticRegression", {"C": [0.1, 1.0]}),),
                        "classification", seeds=seeds, max_preprocessors=0)
    journal = tmp_path / "run.jsonl"
    model = EvoClassifier(max_time=90, max_evals=len(seeds), n_jobs=n_jobs, cv=2, random_state=0,
                          search_space=space, checkpoint=str(journal)).fit(X, y)
    frame = model.evaluations_.set_index("pipeline")
    failed = frame[frame["status"] == "ERROR"]
    assert len(failed) == 3, frame[["status", "error"]]
    assert all("ValueError" in e and "<redacted>" in e for e in failed["error"]), failed["error"].tolist()
    assert "<numbers redacted>" in frame.loc["Leaky(row=True)", "error"]
    assert "constant=label-zeta" in failed["error"].str.cat()  # the pipeline's own values are kept
    texts = "\n".join([*frame["error"], *frame["warning"], journal.read_text()])
    shown = [f"{v}" for v in X["amount"]] + [f"{v:.8g}" for v in X["ratio"]] + ["label-alpha", "label-beta"]
    assert not [value for value in shown if value in texts]


HOLDS_GIL = textwrap.dedent('''
    """A classifier whose fit blocks in C without releasing the GIL."""
    import ctypes

    from sklearn.dummy import DummyClassifier


    class HoldGIL(DummyClassifier):
        def __init__(self, seconds=0):
            super().__init__(strategy="most_frequent")
            self.seconds = seconds

        def fit(self, X, y, sample_weight=None):
            ctypes.PyDLL(None).sleep(int(self.seconds))  # PyDLL keeps the GIL, as some C extensions do
            return super().fit(X, y)
''')


def test_a_candidate_holding_the_gil_in_c_is_stopped_at_max_eval_time(tmp_path, monkeypatch, iris):
    (tmp_path / "gil_operators.py").write_text(HOLDS_GIL)
    monkeypatch.syspath_prepend(str(tmp_path))  # before the embedded cluster: its workers copy sys.path
    space = SearchSpace(
        (Operator("sklearn.linear_model.LogisticRegression", {"C": [0.1, 1.0, 10.0]}),), "classification",
        seeds=("gil_operators.HoldGIL(seconds=12)", "LogisticRegression(C=1.0)", "LogisticRegression(C=10.0)"),
        max_preprocessors=0,
    )
    X, y = iris
    model = EvoClassifier(max_time=90, max_evals=4, max_eval_time=3, n_jobs=2, cv=2, random_state=0,
                          search_space=space).fit(X, y)
    hung = model.evaluations_.set_index("pipeline").loc["HoldGIL(seconds=12)"]
    assert hung["status"] == "TIMEOUT"
    # The README's bound: max_eval_time + 1 s grace + 0.5 s poll (10 s as in test_dask_failures).
    assert hung["seconds"] < 10
