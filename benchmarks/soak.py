"""Soak benchmark: a long search on a small cluster under injected faults and a killed worker.

Not part of the test suite. A ``LocalCluster`` of 4 single-threaded worker processes
(``memory_limit`` 600 MB each) on 127.0.0.1 runs ``EvoClassifier(max_evals=N, max_eval_time=3,
cv=2)`` on iris over one operator, :class:`soak_operators.FaultyClassifier`, whose ``seed``
fixes what its fit does: raise (10 %), hang in C past ``max_eval_time`` (3 %), allocate far past
the memory limit (2 %), ``os._exit`` (1 %), else sleep 0.05-0.3 s and fit a dummy. At a third of
the run (a third of the evaluations journaled, or a third of ``--max-time``) one worker that is
running a candidate is SIGKILLed from outside: its candidate is innocent and must be re-run.

Because a candidate's behaviour follows from its seed, the expected status of every candidate
is known (:func:`soak_operators.expected_status`); the benchmark compares it with the status
evopipe recorded, one candidate at a time. Printed as one JSON line on stdout:

- ``submitted``: distinct candidates the scheduler was given (seen by a scheduler plugin,
  :class:`soak_operators.TaskCounter`, not by evopipe), ``task_attempts`` counting re-runs;
  ``journaled``: evaluation lines in the checkpoint journal; ``lost``: submitted candidates
  with no status at all in ``evaluations_`` (must be 0; CANCELLED, at a ``--max-time``
  deadline, counts as a status).
- ``statuses``: per status, the count recorded and the count the seeds imply (CANCELLED ones
  excluded from both); ``behaviours``: per injected behaviour, its rate and its count among the
  evaluated candidates; ``mismatches``: candidates whose recorded status differs from the
  expected one (the first few in ``mismatch_examples``).
- ``worker_restarts``: workers that joined after start-up and workers removed, next to their
  causes: the nanny's ``worker-restart-memory`` events, TIMEOUT kills, ``os._exit`` deaths
  expected (2 per such candidate: it is re-run once) and our kill. ``worker_deaths_by_behaviour``
  counts, per behaviour of the candidate, the tasks that failed because their worker died.
- ``max_timeout_overshoot_s``: the largest ``seconds - max_eval_time`` of TIMEOUT evaluations.
- ``driver_seconds``: where the driver's main thread was (sampled every 0.2 s): waiting for
  results, polling the workers' running tasks (``client.run``), scattering the data, looking
  for events, refitting; ``longest_poll_s`` the longest single stretch inside the poll.
- ``driver_rss_growth_mb``: RSS of this process (driver and scheduler) after the fit minus
  before it; ``driver_rss_peak_mb`` the largest value sampled every 0.5 s.
- ``leaked_futures``: ``len(client.futures)`` after the fit (``..._after_gc`` after a garbage
  collection), with ``leaked_future_candidates``: the recorded status and injected behaviour
  of each leaked task's candidate; ``scheduler_tasks_after`` the tasks the scheduler still holds.

Usage::

    python benchmarks/soak.py              # 1000 evaluations, no time limit
    python benchmarks/soak.py --quick      # at most 300 evaluations or 120 s of search
    python benchmarks/soak.py --evals 3000 --workers 8
    python benchmarks/soak.py --quick --dump /tmp/soak   # + evaluations.csv, timeline.json
    SOAK_DASK_LOG=INFO python benchmarks/soak.py --dump /tmp/soak   # + distributed's own logs
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import re
import signal
import sys
import tempfile
import threading
import time
import types
from collections import Counter
from pathlib import Path

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
if BENCH_DIR not in sys.path:
    sys.path.insert(0, BENCH_DIR)  # before any LocalCluster: spawned workers copy sys.path

FINAL = ("OK", "ERROR", "TIMEOUT", "MEMORY")
_SEED = re.compile(r"seed=(\d+)")
_TASK_KEY = re.compile(r"^evaluate-([0-9a-f]+)-([0-9a-f]+)(?:-(\d+))?$")
_SAMPLE_SECONDS = 0.2
# Innermost evopipe function of the driver's main thread -> what the driver is doing.
_ACTIVITIES = {
    "_enforce_time_limits": "polling running tasks (client.run)",
    "_kill_worker": "killing a worker",
    "_scatter": "scattering the data",
    "_event_seen": "looking for events",
    "_submit": "submitting",
    "wait": "waiting for results",
    "_refit": "refitting the best pipeline",
    "close": "closing the backend",
    "start": "starting the backend",
}


def _journal_lines(path: Path) -> int:
    try:
        return max(0, path.read_bytes().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


class _Killer(threading.Thread):
    """SIGKILLs one worker that is running a task at ``at_evals`` journaled results or ``at_seconds``."""

    def __init__(self, client, journal: Path, at_evals: int, at_seconds: float, stop: threading.Event):
        super().__init__(daemon=True)
        self.client, self.journal, self.stop = client, journal, stop
        self.at_evals, self.at_seconds = at_evals, at_seconds
        self.killed: dict = {}

    def run(self) -> None:
        started = time.monotonic()
        while not self.stop.wait(0.2):
            if _journal_lines(self.journal) < self.at_evals and time.monotonic() - started < self.at_seconds:
                continue
            processing = {w: keys for w, keys in self.client.processing().items() if keys}
            for address, keys in sorted(processing.items()):
                pid = self.client.run(os.getpid, workers=[address], on_error="return").get(address)
                if isinstance(pid, int):
                    os.kill(pid, signal.SIGKILL)
                    self.killed = {"worker": address, "pid": pid, "keys": list(keys),
                                   "at_journaled": _journal_lines(self.journal),
                                   "at_s": round(time.monotonic() - started, 1)}
                    return


class _Sampler(threading.Thread):
    """Every 0.2 s: this process's RSS and the stacks of its threads (the main one is the driver)."""

    def __init__(self, stop: threading.Event, keep_stacks: bool):
        super().__init__(daemon=True)
        import psutil

        self.process, self.stop, self.keep_stacks = psutil.Process(), stop, keep_stacks
        self.main = threading.main_thread().ident
        self.peak_rss = 0
        self.activities: list[str] = []
        self.samples: list = []

    def run(self) -> None:
        names: dict = {}
        while not self.stop.wait(_SAMPLE_SECONDS):
            self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)
            frames = sys._current_frames()
            main = self._stack(frames.get(self.main))
            self.activities.append(self._activity(main))
            if self.keep_stacks:
                if len(names) != len(frames):
                    names = {t.ident: t.name for t in threading.enumerate()}
                others = {names.get(i, str(i)): self._stack(f) for i, f in frames.items()
                          if i not in (self.main, threading.get_ident())}
                self.samples.append((time.time(), main, others))

    @staticmethod
    def _stack(frame) -> list:
        stack = []
        while frame is not None and len(stack) < 40:
            code = frame.f_code
            stack.append(f"{os.path.basename(code.co_filename)}:{code.co_name}:{frame.f_lineno}")
            frame = frame.f_back
        return stack

    @staticmethod
    def _activity(stack: list) -> str:
        for entry in stack:  # innermost first
            filename, function, _ = entry.split(":")
            if filename in ("dask.py", "loop.py", "estimator.py") and function in _ACTIVITIES:
                return _ACTIVITIES[function]
        return "other"

    def summary(self) -> tuple[dict, float]:
        seconds = {k: round(v * _SAMPLE_SECONDS, 1) for k, v in Counter(self.activities).most_common()}
        longest = run = 0
        for activity in self.activities:
            run = run + 1 if activity == _ACTIVITIES["_enforce_time_limits"] else 0
            longest = max(longest, run)
        return seconds, round(longest * _SAMPLE_SECONDS, 1)


def _holders_of(keys: set) -> dict:
    """What keeps the Future objects of ``keys`` alive: their referrers, two levels up, by type."""
    from distributed import Future

    def describe(obj) -> str:
        name = type(obj).__name__
        if isinstance(obj, dict):
            name += f"(keys {sorted(map(str, obj))[:6]})"
        elif isinstance(obj, types.FrameType):
            name += f"({obj.f_code.co_name} in {Path(obj.f_code.co_filename).name}:{obj.f_lineno})"
        elif isinstance(obj, types.TracebackType):
            owners = [type(r).__name__ for r in gc.get_referrers(obj) if isinstance(r, BaseException)]
            name += f"(of {owners[:3]})"
        return name

    found, objects = {}, gc.get_objects()
    for obj in objects:
        if isinstance(obj, Future) and obj.key in keys:
            found.setdefault(obj.key, [])
            for referrer in gc.get_referrers(obj):
                if referrer is objects:  # this very scan
                    continue
                up = [describe(r) for r in gc.get_referrers(referrer)][:6]
                found[obj.key].append({"referrer": describe(referrer), "its_referrers": up})
    return found


def _candidate_of(future_key: str, frame, behaviour: dict) -> dict:
    """The recorded row (status, error, seconds) and injected behaviour of a task's candidate."""
    genome_key = future_key.split("-")[1] if future_key.count("-") >= 2 else ""
    rows = frame[frame["key"] == genome_key]
    if rows.empty:
        return {"key": future_key, "recorded": False}
    row = rows.iloc[0]
    return {"key": future_key, "recorded": True, "status": row["status"], "behaviour": behaviour.get(genome_key),
            "seconds": round(float(row["seconds"]), 2), "error": str(row["error"])[:160]}


def run(n_evals: int, max_time: float | None, n_workers: int, memory_limit: str, max_eval_time: float,
        population: int, random_state: int, dump: str | None = None) -> dict:
    import psutil
    import soak_operators
    from distributed import Client, LocalCluster
    from sklearn.datasets import load_iris

    from evopipe import EvoClassifier, IntRange, SearchSpace
    from evopipe.space import Operator

    X, y = load_iris(return_X_y=True)
    space = SearchSpace((Operator("soak_operators.FaultyClassifier", {"seed": IntRange(0, 10**9)}),),
                        "classification", max_preprocessors=0)
    cluster = LocalCluster(
        n_workers=n_workers, threads_per_worker=1, memory_limit=memory_limit, host="127.0.0.1",
        dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        # SOAK_DASK_LOG=INFO (or WARNING) shows distributed's own logs while debugging a run.
        silence_logs=getattr(logging, os.environ.get("SOAK_DASK_LOG", "ERROR").upper()),
    )
    client = Client(cluster, set_as_default=False)
    stop = threading.Event()
    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "soak.jsonl"
        try:
            client.register_plugin(soak_operators.TaskCounter())
            client.wait_for_workers(n_workers, timeout=120)
            at_seconds = max_time / 3 if max_time else float("inf")
            killer = _Killer(client, journal, max(1, n_evals // 3), at_seconds, stop)
            sampler = _Sampler(stop, keep_stacks=bool(dump))
            model = EvoClassifier(
                max_time=max_time, max_evals=n_evals, max_eval_time=max_eval_time, cv=2,
                population_size=population, client=client, checkpoint=str(journal), search_space=space,
                random_state=random_state, prune=False,  # pruning would turn expected OKs into PRUNED
            )
            rss_before = psutil.Process().memory_info().rss
            started, started_wall = time.monotonic(), time.time()
            killer.start()
            sampler.start()
            model.fit(X, y)
            wall = time.monotonic() - started
            stop.set()
            killer.join()
            sampler.join()
            rss_after = psutil.Process().memory_info().rss
            journaled = _journal_lines(journal)
            journal_complete = journal.read_bytes().endswith(b"\n")
            memory_events = client.get_events("worker-restart-memory")
            started_events = client.get_events("evopipe-task-started")
            seen = client.run_on_scheduler(soak_operators.counter_state)
            leaked = sorted(client.futures)
            gc.collect()
            leaked_after_gc = len(client.futures)
            leak_holders = _holders_of(set(client.futures))
            scheduler_tasks_after_gc = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
        finally:
            stop.set()
            client.close()
            cluster.close()

    frame = model.evaluations_
    seeds = [int(_SEED.search(text).group(1)) for text in frame["pipeline"]]
    behaviour = {key: soak_operators.behaviour(s) for key, s in zip(frame["key"], seeds, strict=True)}
    expected = [soak_operators.expected_status(s) for s in seeds]
    got = list(frame["status"])
    settled = [i for i, g in enumerate(got) if g != "CANCELLED"]
    behaviours = Counter(behaviour[frame["key"].iloc[i]] for i in settled)

    task_keys = [m.groups() for m in map(_TASK_KEY.match, seen["tasks"]) if m]
    submitted = {genome_key for genome_key, _, _ in task_keys}
    recorded = set(frame["key"])
    mismatch_rows = [i for i in settled if expected[i] != got[i]]
    timeouts = frame[frame["status"] == "TIMEOUT"]
    # A task that failed because its worker died: processing -> erred on the scheduler.
    deaths = Counter()
    for _, transition, key, _ in seen["log"]:
        if transition == "processing->erred" and (m := _TASK_KEY.match(key)):
            deaths[behaviour.get(m.group(1), "?")] += 1
    innocent = {}
    for key in killer.killed.get("keys", []):
        m = _TASK_KEY.match(key)
        rows = frame.index[frame["key"] == m.group(1)] if m else []
        for i in rows:
            innocent[frame["pipeline"].iloc[i]] = {"status": got[i], "expected": expected[i]}
    driver_seconds, longest_poll = sampler.summary()

    if dump:
        Path(dump).mkdir(parents=True, exist_ok=True)
        frame.to_csv(Path(dump) / "evaluations.csv", index=False)
        (Path(dump) / "timeline.json").write_text(json.dumps({
            "fit_started": started_wall, "scheduler": seen["log"], "killed": killer.killed,
            "started_events": [[t, m] for t, m in started_events],
            "memory_events": [[t, m] for t, m in memory_events], "driver_stacks": sampler.samples,
        }, default=str))

    return {
        "evals_asked": n_evals,
        "max_time": max_time,
        "n_workers": n_workers,
        "memory_limit": memory_limit,
        "max_eval_time": max_eval_time,
        "wall_s": round(wall, 1),
        "evals_per_s": round(len(settled) / wall, 2),
        "stopped_because": model.stopped_because_,
        "submitted": len(submitted),
        "task_attempts": len(task_keys),
        "journaled": journaled,
        "journal_ends_with_newline": journal_complete,
        "evaluations_rows": len(frame),
        "lost": len(submitted - recorded),
        "recorded_not_submitted": len(recorded - submitted),
        "statuses": {s: {"got": sum(got[i] == s for i in settled), "expected": sum(expected[i] == s for i in settled)}
                     for s in FINAL} | {"CANCELLED": {"got": got.count("CANCELLED")}},
        "behaviours": {name: {"rate": p, "candidates": behaviours[name]} for name, p, _ in soak_operators.BEHAVIOURS},
        "mismatches": len(mismatch_rows),
        "mismatch_examples": [
            {"pipeline": frame["pipeline"].iloc[i], "behaviour": behaviour[frame["key"].iloc[i]],
             "expected": expected[i], "got": got[i], "seconds": round(float(frame["seconds"].iloc[i]), 2),
             "error": str(frame["error"].iloc[i])[:160]}
            for i in mismatch_rows[:8]
        ],
        "worker_restarts": {
            "workers_added": len(seen["workers_added"]) - n_workers,
            "workers_removed": len(seen["workers_removed"]),
            "memory_events": len(memory_events),
            "timeout_kills": int(timeouts["error"].str.contains("worker process was killed").sum()),
            "exit_deaths_expected": 2 * behaviours["exit"],
            "external_kills": 1 if killer.killed else 0,
        },
        "worker_deaths_by_behaviour": dict(deaths.most_common()),
        "killed_worker": {**{k: v for k, v in killer.killed.items() if k != "keys"}, "innocent": innocent},
        "max_timeout_overshoot_s": round(float((timeouts["seconds"] - max_eval_time).max()), 2) if len(timeouts) else None,
        "driver_seconds": driver_seconds,
        "longest_poll_s": longest_poll,
        "driver_rss_growth_mb": round((rss_after - rss_before) / 2**20, 1),
        "driver_rss_peak_mb": round(max(sampler.peak_rss, rss_after) / 2**20, 1),
        "leaked_futures": len(leaked),
        "leaked_future_keys": leaked[:5],
        # What became of a leaked future's candidate (keys are evaluate-<genome key>-<run>[-attempt]).
        "leaked_future_candidates": [_candidate_of(key, frame, behaviour) for key in leaked[:5]],
        "leaked_futures_after_gc": leaked_after_gc,
        "leak_holders": leak_holders,
        "scheduler_tasks_after": seen["n_tasks_now"],
        "scheduler_tasks_after_gc": scheduler_tasks_after_gc,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="at most 300 evaluations or 120 s of search")
    parser.add_argument("--evals", type=int, default=None, help="evaluations (default 1000, 300 with --quick)")
    parser.add_argument("--max-time", type=float, default=None, help="search budget in s (default none, 120 with --quick)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--memory-limit", default="600MB")
    parser.add_argument("--max-eval-time", type=float, default=3.0)
    parser.add_argument("--population", type=int, default=20)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--dump", metavar="DIR", help="write evaluations.csv and timeline.json (scheduler "
                        "transitions, task-started and memory events, driver stacks) there, and log evopipe at INFO")
    args = parser.parse_args(argv)
    if args.dump:
        logging.basicConfig(format="%(asctime)s.%(msecs)03d %(name)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
        logging.getLogger("evopipe").setLevel(logging.INFO)
    n_evals = args.evals or (300 if args.quick else 1000)
    max_time = args.max_time or (120.0 if args.quick else None)
    result = run(n_evals, max_time, args.workers, args.memory_limit, args.max_eval_time, args.population,
                 args.random_state, args.dump)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
