"""Scaling benchmark: how busy evopipe keeps a Dask cluster, async vs generational.

Simulated part (default)
    A ``LocalCluster`` of 2 worker processes with ``slots / 2`` threads each, started with the
    embedded cluster's own settings (``start_local_cluster``: Dask's statistical profiler off in
    the workers; ``--worker-profiler`` turns it on, to measure its cost), runs
    :class:`synthetic.SleepyClassifier` candidates (fit sleeps a lognormal time, median 1 s,
    sigma 1, per candidate), so 8, 32 and 128 slots fit on 2 cores. For each slot count and each
    mode (population = slots) the real run loop (:func:`evopipe.loop.run_search` with an
    :class:`~evopipe.evolver.Evolver` and a :class:`~evopipe.backends.dask.DaskBackend`) runs
    for ``--seconds`` under ``Budget(max_time=...)``, with the estimators' default prefix
    cache (``prefix_cache="256MB"``) as a user's search has it. A fresh cluster is made for every
    configuration: the search cancels its in-flight tasks at the deadline, but a task already
    sleeping on a worker thread finishes anyway and would steal slots from the next run.

    Measured from the evaluations' own stamps (``Evaluation.started``, a worker ``time.time()``,
    and ``Evaluation.seconds``), clipped to a window; ``t0`` is taken just before
    ``run_search`` (so the window includes connecting and scattering the data) and ``t1``
    just after it returns:

    - ``utilisation``: busy slot-seconds of the completed evaluations inside ``[t0, t1]`` /
      (slots x (t1 - t0)). "Completed" means every evaluation that came back with a start stamp:
      OK ones and the few cut short by the deadline (near it the loop hands each task the time
      left as a soft limit, and a candidate whose second fold would overrun it stops after the
      first and is recorded TIMEOUT or CANCELLED, depending on the evopipe version; that fold
      kept its slot busy). ``utilisation_ok_only`` counts OK ones only.
    - ``utilisation_steady``: the same over ``[t0 + warmup, t1]`` (start-up excluded).
    - ``utilisation_incl_cancelled`` / ``utilisation_steady_incl_cancelled``: also counting,
      up to ``t1``, the tasks that were still running when the search stopped and were
      cancelled (their results never come back; :class:`synthetic.SleepyClassifier` notes
      when each candidate's first fit started, read from the workers after ``run_search``
      returns). Completed-only figures under-count the end of every run:
      at any instant the running tasks are the long ones (about 2.2 s elapsed on average for
      this distribution), so a 35 s window loses roughly 6 % to this alone and a 120 s window
      under 2 %. The default window is 120 s, the budget of the peers benchmark: start-up and
      this tail are fixed costs, and a real search runs for minutes.
    - ``evals_per_s``: completed evaluations / (t1 - t0).
    - ``driver_ms_per_eval``: ``SearchResult.driver_seconds`` (the loop's wall time outside
      ``backend.wait``) / completed evaluations. ``driver_cpu_ms_per_eval`` is the CPU time
      of the driver thread over the whole ``run_search`` call (waiting included) per
      evaluation; ``driver_process_cpu_ms_per_eval`` the CPU time of the whole driver process
      (it also hosts the Dask scheduler and the client's event loop) per evaluation.
      ``ask_ms_per_eval`` / ``tell_ms_per_eval`` / ``submit_ms_per_eval`` (and their ``_cpu_``
      twins) split the driver's time between the evolver's ``ask`` and ``tell`` and the
      backend's ``submit``. ``workers_cpu_ms_per_eval`` is the CPU time of the two worker
      processes per evaluation (Dask's per-task work plus evopipe's task body: compiling the
      pipeline, the front preprocessing step, scoring; the sleeps cost none);
      ``bench_cores_used`` = (driver process + workers CPU) / wall, and
      ``machine_cores_busy`` the cores busy over the run counting every process on the
      machine (from /proc/stat), to tell this benchmark's own load from other processes';
      ``machine_steal_cores`` the part of it the hypervisor took for other virtual machines.
      ``collect_ms_per_eval`` is the part of the time inside ``backend.wait``
      that the driver spends turning finished futures into results (fetching each result),
      and ``driver_busy_ms_per_eval`` = driver + collect. The Dask scheduler of a
      ``LocalCluster`` runs in the driver process, on another thread, so both compete for the
      GIL and the 2 cores.

Real part (``--real``)
    Real fits on digits, 1 vs 2 workers, async and generational: see ``scaling_real.py``.

Usage::

    python benchmarks/scaling.py            # readable table (about 14 minutes; --seconds 35: 4.5)
    python benchmarks/scaling.py --json     # one JSON object per configuration
    python benchmarks/scaling.py --real     # real fits: 1 vs 2 workers, both modes (about 15 minutes)
    python benchmarks/scaling.py --profile async:128   # cProfile of the driver thread
    python benchmarks/scaling.py --profile async:128 --profile-clock cpu --profile-out /tmp/driver.pstats
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import json
import math
import os
import pstats
import sys
import time
from pathlib import Path

import numpy as np

BENCH_DIR = str(Path(__file__).resolve().parent)
if BENCH_DIR not in sys.path:
    sys.path.insert(0, BENCH_DIR)  # before any LocalCluster: spawned workers copy sys.path

import synthetic  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

from evopipe import EvoClassifier  # noqa: E402
from evopipe.backends.dask import DaskBackend  # noqa: E402
from evopipe.backends.dask_cluster import start_local_cluster  # noqa: E402
from evopipe.context import build_context  # noqa: E402
from evopipe.distributions import IntRange  # noqa: E402
from evopipe.evaluation import Status  # noqa: E402
from evopipe.evolver import Evolver  # noqa: E402
from evopipe.loop import Budget, run_search  # noqa: E402
from evopipe.space import Operator, SearchSpace  # noqa: E402
from evopipe.validation import parse_size  # noqa: E402

SLOTS = (8, 32, 128)
MODES = ("async", "generational")
N_FOLDS = 2


def log(message: str) -> None:
    print(f"[scaling {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def cpu_ticks() -> tuple[int, int, int]:
    """(busy, total, steal) jiffies of all CPUs from /proc/stat ((0, 0, 0) where it does not exist).

    Busy includes steal: time the hypervisor gave this virtual machine's CPUs to someone else.
    """
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields), fields[7] if len(fields) > 7 else 0


def cores_of(ticks0: tuple, ticks1: tuple, field: int) -> float:
    """Cores' worth of ``cpu_ticks()[field]`` between two readings (NaN without /proc/stat)."""
    total = ticks1[1] - ticks0[1]
    return (ticks1[field] - ticks0[field]) / total * (os.cpu_count() or 1) if total > 0 else math.nan


def busy_seconds(intervals, lo: float, hi: float) -> float:
    """Sum of the overlaps of ``(start, end)`` intervals with ``[lo, hi]``."""
    return sum(max(0.0, min(end, hi) - max(start, lo)) for start, end in intervals)


def synthetic_space() -> SearchSpace:
    op = Operator("synthetic.SleepyClassifier", {"seed": IntRange(0, synthetic.SEED_HIGH)})
    return SearchSpace((op,), "classification", max_preprocessors=0)


def make_cluster(n_workers: int, threads_per_worker: int, worker_profiler: bool = False) -> tuple[LocalCluster, Client]:
    """The embedded cluster a default ``fit`` starts (evopipe's own settings), with more threads."""
    cluster = start_local_cluster(n_workers, threads_per_worker, "auto", dashboard=False, worker_profiler=worker_profiler)
    client = Client(cluster, set_as_default=False)
    # Warm the workers (imports) outside the measured window, as a long-lived cluster would be.
    client.run(importlib.import_module, "synthetic")
    client.run(importlib.import_module, "evopipe.backends.dask")
    return cluster, client


def close_cluster(cluster: LocalCluster, client: Client) -> None:
    client.close()
    cluster.close(timeout=20)


def _time_collect(backend: DaskBackend) -> list[float]:
    """Accumulate the time the backend spends in ``_collect`` (turning a finished future into a result).

    ``SearchResult.driver_seconds`` counts everything inside ``backend.wait`` as waiting,
    including this work, which the driver thread does itself (a backend that calls
    ``future.result()`` there fetches each result in a blocking round trip); the sum is
    reported as ``collect_ms_per_eval``. A private method of the backend, wrapped on
    this instance only, for measurement.
    """
    total = [0.0]
    collect = backend._collect

    def timed(*args):
        started = time.perf_counter()
        try:
            return collect(*args)
        finally:
            total[0] += time.perf_counter() - started

    backend._collect = timed
    return total


def _time_method(obj, name: str) -> list[float]:
    """Wrap ``obj.name`` (this instance only) to accumulate [wall seconds, driver-thread CPU seconds]."""
    total = [0.0, 0.0]
    method = getattr(obj, name)

    def timed(*args, **kwargs):
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return method(*args, **kwargs)
        finally:
            total[0] += time.perf_counter() - wall
            total[1] += time.thread_time() - cpu

    setattr(obj, name, timed)
    return total


def run_config(mode: str, slots: int, seconds: float, warmup: float, profile: str = "",
               worker_profiler: bool = False) -> dict:
    """One simulated configuration on a fresh cluster; returns its metrics."""
    cluster, client = make_cluster(2, max(1, slots // 2), worker_profiler)
    try:
        X, y = synthetic.make_data(40, seed=0)
        # The estimators' default prefix cache, as a user's search runs: the front step
        # (imputation, encoding) of each fold is then fitted once per worker, not per candidate.
        cache_bytes = parse_size("prefix_cache", EvoClassifier().get_params()["prefix_cache"])
        context = build_context(X, y, cv=N_FOLDS, scoring=None, groups=None, sample_weight=None,
                                classification=True, seed=0, cache_bytes=cache_bytes)
        evolver = Evolver(synthetic_space(), np.random.default_rng(0), population_size=slots)
        backend = DaskBackend(client=client)
        collect_seconds = _time_collect(backend)
        # Where the driver's time goes, without a profiler's distortion: the evolver's ask/tell
        # (NSGA-II ranking and crowding) and the backend's submit (Dask client.submit).
        parts = {"ask": _time_method(evolver, "ask"), "tell": _time_method(evolver, "tell"),
                 "submit": _time_method(backend, "submit")}
        load_before = load1()
        # "cpu": time each function by the driver thread's CPU time, which the load of other
        # processes on the machine does not inflate; "wall": by wall-clock time (waits included).
        profiler = None
        if profile:
            profiler = cProfile.Profile(time.thread_time) if profile == "cpu" else cProfile.Profile()
        workers_cpu0 = sum(client.run(time.process_time).values())
        ticks0 = cpu_ticks()
        cpu0, process_cpu0 = time.thread_time(), time.process_time()
        t0 = time.time()
        if profiler:
            profiler.enable()
        try:
            result = run_search(evolver, backend, context, Budget(max_time=seconds), mode)
        finally:
            if profiler:
                profiler.disable()
            t1 = time.time()
            cpu = time.thread_time() - cpu0
            process_cpu = time.process_time() - process_cpu0
            ticks1 = cpu_ticks()
            try:
                workers_cpu = sum(client.run(time.process_time).values()) - workers_cpu0
            except Exception:  # measurement only
                workers_cpu = math.nan
            try:
                fit_starts = client.run(synthetic.fit_starts)
            except Exception as exc:  # measurement only
                log(f"could not read the workers' fit start times: {exc}")
                fit_starts = {}
            backend.close()
    finally:
        close_cluster(cluster, client)

    wall = t1 - t0
    records = result.records
    failures = [r.evaluation.error for r in records if r.evaluation.status in (Status.ERROR, Status.MEMORY)]
    if failures:
        log(f"  {len(failures)} evaluations failed; the first: {failures[0][:300]}")
    done = [r.evaluation for r in records if r.evaluation.status is not Status.CANCELLED]
    ok = [e for e in done if e.ok]
    n_cancelled = len(records) - len(done)
    # Every evaluation that came back from a worker carries its own start stamp, whatever its
    # status: OK, TIMEOUT, or CANCELLED by the loop because the search's deadline cut it short.
    ran = [r.evaluation for r in records if r.evaluation.started > 0]
    ran_intervals = [(e.started, e.started + e.seconds) for e in ran]
    ok_intervals = [(e.started, e.started + e.seconds) for e in ok]
    # Cancelled candidates that had started on a worker: busy from their first fit until t1.
    cancelled_seeds = {r.candidate.genome.estimator.param_dict["seed"] for r in records
                       if r.evaluation.status is Status.CANCELLED and r.evaluation.started == 0}
    tail_intervals = [(start, t1) for starts in fit_starts.values() for seed, start in starts.items()
                      if seed in cancelled_seeds and start < t1]
    steady_lo = t0 + warmup
    steady_ok = steady_all = float("nan")
    if t1 > steady_lo:
        steady_ok = busy_seconds(ran_intervals, steady_lo, t1) / (slots * (t1 - steady_lo))
        steady_all = busy_seconds(ran_intervals + tail_intervals, steady_lo, t1) / (slots * (t1 - steady_lo))
    best = evolver.best()
    row = {
        "mode": mode,
        "slots": slots,
        "worker_profiler": worker_profiler,
        "utilisation": busy_seconds(ran_intervals, t0, t1) / (slots * wall),
        "evals_per_s": len(done) / wall,
        "driver_ms_per_eval": 1000 * result.driver_seconds / len(done) if done else math.nan,
        "utilisation_steady": steady_ok,
        "utilisation_incl_cancelled": busy_seconds(ran_intervals + tail_intervals, t0, t1) / (slots * wall),
        "utilisation_ok_only": busy_seconds(ok_intervals, t0, t1) / (slots * wall),
        "utilisation_steady_incl_cancelled": steady_all,
        "evaluations": len(done),
        "ok": len(ok),
        "timeout": sum(e.status is Status.TIMEOUT for e in done),
        "failed": sum(e.status not in (Status.OK, Status.TIMEOUT) for e in done),
        "cancelled": n_cancelled,
        "cancelled_running": len(tail_intervals),
        "wall_s": wall,
        "steady_from_s": warmup,
        "first_start_s": (min(s for s, _ in ran_intervals) - t0) if ran_intervals else math.nan,
        "driver_s": result.driver_seconds,
        "driver_cpu_ms_per_eval": 1000 * cpu / len(done) if done else math.nan,
        "collect_ms_per_eval": 1000 * collect_seconds[0] / len(done) if done else math.nan,
        "driver_busy_ms_per_eval": 1000 * (result.driver_seconds + collect_seconds[0]) / len(done) if done else math.nan,
        "driver_process_cpu_ms_per_eval": 1000 * process_cpu / len(done) if done else math.nan,
        "workers_cpu_ms_per_eval": 1000 * workers_cpu / len(done) if done else math.nan,
        # Cores used by this benchmark (driver process + the two workers), and by the whole
        # machine (every process), over the run; the machine has os.cpu_count() of them.
        "bench_cores_used": (process_cpu + workers_cpu) / wall,
        "machine_cores_busy": cores_of(ticks0, ticks1, 0),
        # Of those, the cores' worth of time the hypervisor took (other virtual machines): the
        # benchmark's own processes could not run then either.
        "machine_steal_cores": cores_of(ticks0, ticks1, 2),
        **{f"{k}_ms_per_eval": 1000 * v[0] / len(done) if done else math.nan for k, v in parts.items()},
        **{f"{k}_cpu_ms_per_eval": 1000 * v[1] / len(done) if done else math.nan for k, v in parts.items()},
        "mean_eval_s": float(np.mean([e.seconds for e in ok])) if ok else math.nan,
        "best_score": best[1].score if best else math.nan,
        "stopped_because": result.stopped_because,
        "load1_before": load_before,
        "load1_after": load1(),
    }
    if profiler:
        row["_profile"] = profiler
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}


def print_table(rows: list[dict]) -> None:
    head = (f"{'mode':<13}{'slots':>6}{'evals':>7}{'wall_s':>8}{'evals/s':>9}{'util':>7}{'steady':>8}"
            f"{'util+c':>8}{'steady+c':>10}{'drv_ms/ev':>11}{'busy_ms/ev':>12}{'cpu_ms/ev':>11}{'bench_cores':>12}"
        f"{'busy_cores':>11}{'load1':>7}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['mode']:<13}{r['slots']:>6}{r['evaluations']:>7}{r['wall_s']:>8.1f}{r['evals_per_s']:>9.2f}"
              f"{r['utilisation']:>7.3f}{r['utilisation_steady']:>8.3f}{r['utilisation_incl_cancelled']:>8.3f}"
              f"{r['utilisation_steady_incl_cancelled']:>10.3f}{r['driver_ms_per_eval']:>11.2f}"
              f"{r['driver_busy_ms_per_eval']:>12.2f}"
              f"{r['driver_cpu_ms_per_eval']:>11.2f}{r['bench_cores_used']:>12.2f}{r['machine_cores_busy']:>11.2f}"
              f"{r['load1_after']:>7.2f}")
    print("\nutil: completed evaluations over the whole run; steady: from start + warm-up; "
          "+c: also counting tasks cancelled while running at the deadline.\n"
          "drv_ms/ev: SearchResult.driver_seconds per evaluation; busy_ms/ev: the same plus the time "
          "the driver spends fetching results inside backend.wait; cpu_ms/ev: driver thread CPU;\n"
          f"bench_cores: cores used by this benchmark's processes; busy_cores: cores busy machine-wide "
          f"(of {os.cpu_count()}); load1: 1-minute load average after the run.")
    print("\nasync / generational utilisation ratio:")
    for slots in sorted({r["slots"] for r in rows}):
        by_mode = {r["mode"]: r for r in rows if r["slots"] == slots}
        if set(MODES) <= set(by_mode):
            a, g = by_mode["async"], by_mode["generational"]

            def ratio(key, a=a, g=g):
                return f"{a[key] / g[key]:.2f}x" if g[key] > 0 else "n/a"

            print(f"  {slots:>4} slots: {ratio('utilisation')} (whole run), "
                  f"{ratio('utilisation_steady_incl_cancelled')} (steady+c)")
    target = [r for r in rows if r["mode"] == "async" and r["slots"] == 128]
    if target:
        r = target[0]
        print(f"\ntarget async@128: utilisation >= 0.95: whole {r['utilisation']:.3f} "
              f"{'met' if r['utilisation'] >= 0.95 else 'NOT met'}; steady+c {r['utilisation_steady_incl_cancelled']:.3f} "
              f"{'met' if r['utilisation_steady_incl_cancelled'] >= 0.95 else 'NOT met'}. "
              f"driver <= 5 ms/eval: {r['driver_ms_per_eval']:.2f} {'met' if r['driver_ms_per_eval'] <= 5 else 'NOT met'}")


def source_revision() -> str:
    """``git describe --always --dirty`` of the checkout evopipe is imported from ("" if unknown)."""
    import subprocess

    import evopipe

    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=Path(evopipe.__file__).parent,
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def simulated(args) -> None:
    rows = []
    log(f"evopipe source revision {source_revision() or 'unknown'}; load {os.getloadavg()}")
    for slots in args.slots:
        for mode in args.modes:
            log(f"{mode} with {slots} slots for {args.seconds:g} s (load {load1()})")
            row = run_config(mode, slots, args.seconds, args.warmup, worker_profiler=args.worker_profiler)
            log(f"  {row['evaluations']} evaluations, utilisation {row['utilisation']:.3f} "
                f"(steady+c {row['utilisation_steady_incl_cancelled']:.3f}), "
                f"driver {row['driver_ms_per_eval']:.2f} ms/eval")
            rows.append(row)
            if args.json:
                print(json.dumps(row), flush=True)
    if not args.json:
        print_table(rows)


def profile(args) -> None:
    mode, _, slots = args.profile.partition(":")
    log(f"profiling the driver thread: {mode} with {slots} slots for {args.seconds:g} s")
    row = run_config(mode, int(slots), args.seconds, args.warmup, profile=args.profile_clock,
                     worker_profiler=args.worker_profiler)
    profiler = row.pop("_profile")
    print(json.dumps(row))
    if args.profile_out:
        profiler.dump_stats(args.profile_out)
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(30)
        print(f"\n===== top 30 by {key} ({args.profile_clock} time of the driver thread) =====")
        print(out.getvalue())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--seconds", type=float, default=120.0, help="search budget per configuration")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds left out of the steady window")
    parser.add_argument("--slots", type=int, nargs="+", default=list(SLOTS))
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--worker-profiler", action="store_true",
                        help="run Dask's statistical profiler in the workers (off in the embedded cluster)")
    parser.add_argument("--real", action="store_true", help="real fits on digits, 1 vs 2 workers (instead)")
    parser.add_argument("--max-evals", type=int, default=100, help="evaluations of each --real run")
    parser.add_argument("--profile", metavar="MODE:SLOTS", help="cProfile the driver thread of one configuration")
    parser.add_argument("--profile-clock", choices=("wall", "cpu"), default="wall",
                        help="with --profile: time functions by wall clock or by the driver thread's CPU time")
    parser.add_argument("--profile-out", metavar="FILE", help="with --profile: also save the pstats file")
    args = parser.parse_args(argv)
    if args.real:
        import scaling_real

        scaling_real.main((["--json"] if args.json else []) + ["--max-evals", str(args.max_evals)])
    elif args.profile:
        profile(args)
    else:
        simulated(args)


if __name__ == "__main__":
    main()
