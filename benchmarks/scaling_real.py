"""Real fits on 1 vs 2 workers: the speed-up evopipe gets from a second worker.

``EvoClassifier(search_space="light", cv=3, max_evals=100, random_state=0)`` on digits, on a
``LocalCluster`` of 1 and then 2 single-threaded worker processes, in each mode asked for
(``--modes``, default both):

- ``async`` (evopipe's default: a new candidate is submitted the moment a worker frees up). Its
  children depend on the order results arrive in, which differs between the runs (even while
  the initial population fills, every other newcomer is bred from the results so far), so here
  the candidates are fixed in advance: the light space's seeds, then random pipelines drawn from
  it with ``numpy.random.default_rng(0)``, all given as seeds, in the order drawn. Both runs
  evaluate the same ``max_evals`` candidates and the wall ratio measures the execution alone.
- ``generational``: both runs evaluate the same candidates (checked and reported), so the
  comparison is exact, but every generation waits for its slowest candidate.

In async mode pruning is off (``prune=False``): its bars come from the results so far, so with
it a candidate's cost would depend on the arrival order too. Generational mode keeps it: there
the bars come from earlier generations, told in submission order, the same in both runs.

Each run prints a JSON line (or a sentence) with its wall time and ``slot_efficiency`` = summed
evaluation time / (workers x search wall): how busy the workers were. Each mode's summary gives
``speedup_fit`` (1-worker fit wall / 2-worker fit wall), ``per_eval_slowdown`` (how much longer
the candidates took with 2 workers: CPU contention, median ratio) and, for
generational mode, ``barrier_bound_speedup``: the best speed-up any scheduling could reach with a
generation barrier, from the 2-worker run's own evaluation times (each generation lasts at
least as long as its slowest candidate and at least half its summed time).

Usage::

    python benchmarks/scaling.py --real                    # both modes (about 15 minutes)
    python benchmarks/scaling_real.py --modes async --json
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time

import numpy as np

MODES = ("async", "generational")
POPULATION = 20  # generational mode's population (evopipe's default)


def log(message: str) -> None:
    print(f"[scaling-real {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def fit_once(mode: str, n_workers: int, max_evals: int):
    """Fit on digits with ``n_workers`` single-threaded workers; (estimator, fit wall seconds)."""
    from distributed import Client, LocalCluster
    from sklearn.datasets import load_digits

    from evopipe import EvoClassifier

    X, y = load_digits(return_X_y=True)
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster, set_as_default=False)
    try:
        client.run(importlib.import_module, "evopipe.evaluation")  # imports outside the measured wall
        space = fixed_candidates(max_evals, y) if mode == "async" else "light"
        # Async pruning bars come from the results so far: what a candidate costs would depend
        # on the order results arrive in, which differs between the runs.
        est = EvoClassifier(max_time=None, max_evals=max_evals, search_space=space, cv=3, mode=mode,
                            population_size=POPULATION, prune=mode != "async", random_state=0, client=client)
        log(f"{mode}: digits, {n_workers} worker(s), max_evals={max_evals} (load {load1()})")
        t0 = time.perf_counter()
        est.fit(X, y)
        return est, time.perf_counter() - t0
    finally:
        client.close()
        cluster.close(timeout=20)


def fixed_candidates(n: int, y):
    """The light classification space with ``n`` seeds: its own, then distinct random pipelines.

    Only seeds that the search keeps for these labels (no class re-weighting on balanced
    classes: ``SearchSpace.seeds_for_classes``), so that all ``n`` are evaluated.
    """
    import dataclasses

    from evopipe.configs import builtin_space

    space = builtin_space("light", "classification").seeds_for_classes(y)
    seeds, rng = list(space.seeds), np.random.default_rng(0)
    while len(seeds) < n:
        genome = space.random_genome(rng)
        if genome not in seeds and dataclasses.replace(space, seeds=(genome,)).seeds_for_classes(y).seeds:
            seeds.append(genome)
    return dataclasses.replace(space, seeds=tuple(seeds[:n]))


def run_row(mode: str, n_workers: int, est, wall: float) -> dict:
    ev = est.evaluations_
    search = float(ev["finished_at"].max())
    return {
        "part": "real", "mode": mode, "workers": n_workers, "wall_s": round(wall, 3), "search_s": round(search, 3),
        "evaluations": len(ev), "ok": int((ev["status"] == "OK").sum()),
        "eval_seconds_sum": round(float(ev["seconds"].sum()), 3),
        "slot_efficiency": round(float(ev["seconds"].sum() / (n_workers * search)), 3),
        # Slot-seconds idle after a worker's last evaluation: the run waits for its slowest last one.
        "tail_idle_slot_s": round(float((search - ev.groupby("worker")["finished_at"].max()).sum()), 3),
        "best_score": round(float(est.best_score_), 5), "best": est.best_genome_.text(), "load1": load1(),
    }


def barrier_bound(ev, n_workers: int) -> float:
    """Least search wall any scheduling reaches with a barrier after every ``POPULATION`` candidates."""
    seconds = ev.sort_values("candidate")["seconds"].to_numpy()
    generations = [seconds[i:i + POPULATION] for i in range(0, len(seconds), POPULATION)]
    return float(sum(max(g.max(), g.sum() / n_workers) for g in generations))


def summary(mode: str, one, two) -> dict:
    (e1, w1), (e2, w2) = one, two
    t1 = e1.evaluations_.set_index("key")["seconds"]
    t2 = e2.evaluations_.set_index("key")["seconds"]
    common = t1.index.intersection(t2.index)
    out = {
        "part": "real", "mode": mode, "speedup_fit": round(w1 / w2, 3),
        "speedup_search": round(float(e1.evaluations_["finished_at"].max() / e2.evaluations_["finished_at"].max()), 3),
        "common_candidates": len(common),
        "per_eval_slowdown": round(float(np.median(t2[common] / t1[common])), 3) if len(common) else None,
        "same_candidates": sorted(t1.index) == sorted(t2.index), "load1": load1(),
    }
    if mode == "generational":
        bound = barrier_bound(e2.evaluations_, 2)
        out["barrier_bound_speedup"] = round(float(e1.evaluations_["finished_at"].max()) / bound, 3)
    return out


def sentence(row: dict) -> str:
    if "speedup_fit" in row:
        text = (f"{row['mode']}: speed-up 2 vs 1 worker {row['speedup_fit']:.2f}x fit wall (target >= 1.8x: "
                f"{'met' if row['speedup_fit'] >= 1.8 else 'NOT met'}); {row['common_candidates']} candidates in "
                f"both runs took {row['per_eval_slowdown']}x as long with 2 workers (median)")
        if "barrier_bound_speedup" in row:
            text += f"; the generation barrier allows at most {row['barrier_bound_speedup']:.2f}x"
        return text
    return (f"{row['mode']}, {row['workers']} worker(s): fit {row['wall_s']:.1f} s, {row['evaluations']} evaluations "
            f"({row['ok']} OK), summed evaluation time {row['eval_seconds_sum']:.1f} s (slot efficiency "
            f"{row['slot_efficiency']:.3f}), best {row['best_score']} {row['best']}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--max-evals", type=int, default=100, help="evaluations of each run")
    args = parser.parse_args(argv)
    for mode in args.modes:
        runs = {}
        for n_workers in (1, 2):
            runs[n_workers] = fit_once(mode, n_workers, args.max_evals)
            row = run_row(mode, n_workers, *runs[n_workers])
            print(json.dumps(row) if args.json else sentence(row), flush=True)
        row = summary(mode, runs[1], runs[2])
        print(json.dumps(row) if args.json else sentence(row), flush=True)


if __name__ == "__main__":
    main()
