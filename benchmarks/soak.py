"""Soak benchmark: a long search on a small cluster under injected faults and a killed worker.

Not part of the test suite. A ``LocalCluster`` of 4 single-threaded worker processes
(``memory_limit`` 600 MB each) on 127.0.0.1 runs ``EvoClassifier(max_evals=N, max_eval_time=3,
cv=2)`` on iris over one operator, :class:`soak_operators.FaultyClassifier`, whose ``seed``
fixes what its fit does: raise (10 %), hang in C past ``max_eval_time`` (3 %), allocate far past
the memory limit (2 %), ``os._exit`` (1 %), else sleep 0.05-0.3 s and fit a dummy. Once a third
of the evaluations are journaled, one worker that is running a candidate is SIGKILLed from
outside (an innocent candidate: it must be re-run, not recorded).

Because a candidate's behaviour follows from its seed, the expected status of every candidate
is known (:func:`soak_operators.expected_status`); the benchmark compares it with the status
evopipe recorded, one candidate at a time. Printed as one JSON line on stdout:

- ``submitted``: distinct candidates the scheduler was given (seen by a scheduler plugin,
  :class:`soak_operators.TaskCounter`, not by evopipe), ``task_attempts`` counting re-runs;
  ``journaled``: evaluation lines in the checkpoint journal; ``lost``: submitted candidates
  with no final status (OK, ERROR, TIMEOUT, MEMORY) in ``evaluations_`` (must be 0).
- ``statuses``: per status, the count recorded and the count the seeds imply; ``behaviours``:
  per injected behaviour, its rate and its count among the evaluated candidates;
  ``mismatches``: candidates whose recorded status differs from the expected one (the first
  few listed in ``mismatch_examples``).
- ``worker_restarts``: workers that joined after start-up (``total``) next to their causes:
  the nanny's ``worker-restart-memory`` events, TIMEOUT kills, ``os._exit`` deaths and our kill.
- ``max_timeout_overshoot_s``: the largest ``seconds - max_eval_time`` of TIMEOUT evaluations.
- ``driver_rss_growth_mb``: RSS of this process (driver and scheduler) after the fit minus
  before it; ``driver_rss_peak_mb`` the largest value sampled every 0.5 s.
- ``leaked_futures``: ``len(client.futures)`` after the fit; ``scheduler_tasks_after`` the
  tasks the scheduler still holds.

Usage::

    python benchmarks/soak.py            # 1000 evaluations (about 6-10 minutes on 2 cores)
    python benchmarks/soak.py --quick    # 200 evaluations (about 2 minutes)
    python benchmarks/soak.py --evals 3000 --workers 8
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
if BENCH_DIR not in sys.path:
    sys.path.insert(0, BENCH_DIR)  # before any LocalCluster: spawned workers copy sys.path

FINAL = ("OK", "ERROR", "TIMEOUT", "MEMORY")
_SEED = re.compile(r"seed=(\d+)")
_TASK_KEY = re.compile(r"^evaluate-([0-9a-f]+)-([0-9a-f]+)(?:-(\d+))?$")


def _journal_lines(path: Path) -> int:
    try:
        return max(0, path.read_bytes().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


class _Killer(threading.Thread):
    """SIGKILLs one worker that is running a task once ``at`` evaluations are journaled."""

    def __init__(self, client, journal: Path, at: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.client, self.journal, self.at, self.stop = client, journal, at, stop
        self.killed: dict = {}

    def run(self) -> None:
        while not self.stop.wait(0.2):
            if _journal_lines(self.journal) < self.at:
                continue
            processing = {w: keys for w, keys in self.client.processing().items() if keys}
            for address, keys in sorted(processing.items()):
                pid = self.client.run(os.getpid, workers=[address], on_error="return").get(address)
                if isinstance(pid, int):
                    os.kill(pid, signal.SIGKILL)
                    self.killed = {"worker": address, "pid": pid, "keys": list(keys),
                                   "at_journaled": _journal_lines(self.journal)}
                    return


class _StackSampler(threading.Thread):
    """For post-mortems (``--dump``): where the driver's main thread is, every 0.2 s."""

    def __init__(self, stop: threading.Event):
        super().__init__(daemon=True)
        self.stop, self.main, self.samples = stop, threading.main_thread().ident, []

    def run(self) -> None:
        names = {}
        while not self.stop.wait(0.2):
            frames = sys._current_frames()
            if len(names) != len(frames):
                names = {t.ident: t.name for t in threading.enumerate()}
            stacks = {names.get(ident, str(ident)): self._stack(frame) for ident, frame in frames.items()
                      if ident != threading.get_ident()}
            self.samples.append((time.time(), stacks.pop(names.get(self.main), []), stacks))

    @staticmethod
    def _stack(frame) -> list:
        stack = []
        while frame is not None and len(stack) < 40:
            code = frame.f_code
            stack.append(f"{os.path.basename(code.co_filename)}:{code.co_name}:{frame.f_lineno}")
            frame = frame.f_back
        return stack[:14]


class _RssSampler(threading.Thread):
    def __init__(self, stop: threading.Event):
        super().__init__(daemon=True)
        import psutil

        self.process, self.stop, self.peak = psutil.Process(), stop, 0

    def run(self) -> None:
        while not self.stop.wait(0.5):
            self.peak = max(self.peak, self.process.memory_info().rss)


def run(n_evals: int, n_workers: int, memory_limit: str, max_eval_time: float, population: int,
        random_state: int, dump: str | None = None) -> dict:
    import psutil
    from distributed import Client, LocalCluster
    from sklearn.datasets import load_iris

    import soak_operators
    from evopipe import EvoClassifier, IntRange, SearchSpace
    from evopipe.space import Operator

    X, y = load_iris(return_X_y=True)
    space = SearchSpace((Operator("soak_operators.FaultyClassifier", {"seed": IntRange(0, 10**9)}),),
                        "classification", max_preprocessors=0)
    cluster = LocalCluster(
        n_workers=n_workers, threads_per_worker=1, memory_limit=memory_limit, host="127.0.0.1",
        dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}, silence_logs=logging.ERROR,
    )
    client = Client(cluster, set_as_default=False)
    stop = threading.Event()
    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "soak.jsonl"
        try:
            client.register_plugin(soak_operators.TaskCounter())
            client.wait_for_workers(n_workers, timeout=120)
            killer = _Killer(client, journal, max(1, n_evals // 3), stop)
            sampler = _RssSampler(stop)
            stacks = _StackSampler(stop)
            if dump:
                stacks.start()
            model = EvoClassifier(
                max_time=None, max_evals=n_evals, max_eval_time=max_eval_time, cv=2, population_size=population,
                client=client, checkpoint=str(journal), search_space=space, random_state=random_state,
            )
            rss_before = psutil.Process().memory_info().rss
            killer.start()
            sampler.start()
            started = time.monotonic()
            model.fit(X, y)
            wall = time.monotonic() - started
            stop.set()
            killer.join()
            sampler.join()
            rss_after = psutil.Process().memory_info().rss
            journaled = _journal_lines(journal)
            journal_complete = journal.read_bytes().endswith(b"\n")
            memory_events = client.get_events("worker-restart-memory")
            seen = client.run_on_scheduler(soak_operators.counter_state)
            leaked = sorted(client.futures)
            started_events = client.get_events("evopipe-task-started")
        finally:
            stop.set()
            client.close()
            cluster.close()

    frame = model.evaluations_
    if dump:
        Path(dump).mkdir(parents=True, exist_ok=True)
        frame.to_csv(Path(dump) / "evaluations.csv", index=False)
        (Path(dump) / "timeline.json").write_text(json.dumps({
            "fit_started": time.time() - (time.monotonic() - started), "scheduler": seen["log"],
            "started_events": [[t, m] for t, m in started_events],
            "memory_events": [[t, m] for t, m in memory_events], "killed": killer.killed,
            "driver_stacks": stacks.samples,
        }, default=str))
    seeds = [int(_SEED.search(text).group(1)) for text in frame["pipeline"]]
    expected = [soak_operators.expected_status(s) for s in seeds]
    behaviours = Counter(soak_operators.behaviour(s) for s in seeds)
    got = list(frame["status"])

    task_keys = [m.groups() for m in map(_TASK_KEY.match, seen["tasks"]) if m]
    submitted = {genome_key for genome_key, _, _ in task_keys}
    final = set(frame.loc[frame["status"].isin(FINAL), "key"])
    mismatch_rows = [i for i, (e, g) in enumerate(zip(expected, got, strict=True)) if e != g]
    timeouts = frame[frame["status"] == "TIMEOUT"]
    innocent = {}
    for key in killer.killed.get("keys", []):
        m = _TASK_KEY.match(key)
        rows = frame[frame["key"] == m.group(1)] if m else frame.iloc[:0]
        if len(rows):
            row = rows.iloc[0]
            innocent[row["pipeline"]] = {"status": row["status"], "expected": expected[rows.index[0]]}

    return {
        "evals_asked": n_evals,
        "n_workers": n_workers,
        "memory_limit": memory_limit,
        "max_eval_time": max_eval_time,
        "wall_s": round(wall, 1),
        "evals_per_s": round(len(frame) / wall, 2),
        "stopped_because": model.stopped_because_,
        "submitted": len(submitted),
        "task_attempts": len(task_keys),
        "journaled": journaled,
        "journal_ends_with_newline": journal_complete,
        "evaluations_rows": len(frame),
        "lost": len(submitted - final),
        "recorded_not_submitted": len(final - submitted),
        "statuses": {s: {"got": got.count(s), "expected": expected.count(s)} for s in (*FINAL, "CANCELLED")},
        "behaviours": {name: {"rate": p, "candidates": behaviours[name]} for name, p, _ in soak_operators.BEHAVIOURS},
        "mismatches": len(mismatch_rows),
        "mismatch_examples": [
            {"pipeline": frame["pipeline"].iloc[i], "behaviour": soak_operators.behaviour(seeds[i]),
             "expected": expected[i], "got": got[i], "seconds": round(float(frame["seconds"].iloc[i]), 2),
             "worker": frame["worker"].iloc[i], "error": str(frame["error"].iloc[i])[:160]}
            for i in mismatch_rows[:10]
        ],
        "worker_restarts": {
            "total": len(seen["workers_added"]) - n_workers,
            "workers_removed": len(seen["workers_removed"]),
            "memory_events": len(memory_events),
            "timeout_kills": int(timeouts["error"].str.contains("worker process was killed").sum()),
            "exit_deaths_expected": 2 * behaviours["exit"],
            "external_kills": 1 if killer.killed else 0,
        },
        "killed_worker": {**{k: v for k, v in killer.killed.items() if k != "keys"}, "innocent": innocent},
        "max_timeout_overshoot_s": round(float((timeouts["seconds"] - max_eval_time).max()), 2) if len(timeouts) else None,
        "driver_rss_growth_mb": round((rss_after - rss_before) / 2**20, 1),
        "driver_rss_peak_mb": round(max(sampler.peak, rss_after) / 2**20, 1),
        "leaked_futures": len(leaked),
        "leaked_future_keys": leaked[:5],
        "scheduler_tasks_after": seen["n_tasks_now"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 evaluations (about 2 minutes)")
    parser.add_argument("--evals", type=int, default=None, help="evaluations (default 1000, 200 with --quick)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--memory-limit", default="600MB")
    parser.add_argument("--max-eval-time", type=float, default=3.0)
    parser.add_argument("--population", type=int, default=20)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--dump", metavar="DIR", help="write evaluations.csv and timeline.json (scheduler "
                        "transitions, task-started and memory events) there, for post-mortems")
    args = parser.parse_args(argv)
    if args.dump:
        logging.basicConfig(format="%(asctime)s.%(msecs)03d %(name)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
        logging.getLogger("evopipe").setLevel(logging.INFO)
    n_evals = args.evals or (200 if args.quick else 1000)
    result = run(n_evals, args.workers, args.memory_limit, args.max_eval_time, args.population, args.random_state,
                 args.dump)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
