"""The prefix cache on and off, and early pruning on and off.

    python benchmarks/cache.py [--json] [--parts cache,pruning] [--evals 60] [--rows 20000] [--workers 2]
                               [--pruning-budget 120]

Part 1 (cache): the same seeded search, step fits avoided and wall time.

Runs one generational search (fixed number of evaluations, fixed random_state, 2 Dask
workers) twice on make_classification(rows x 50) with a space whose preprocessors cost real
time (PCA, Nystroem, FastICA, scalers), once with the prefix cache and once without, and prints
one JSON object per run: ``cache``, ``step_fits``, ``step_fits_avoided``, ``wall_s``,
``identical_scores`` (the two runs' scores, candidate by candidate), plus the ratios.
Targets: >= 30% of step fits avoided, cache-on wall <= 0.7x cache-off. Pruning is off in
both runs, so every candidate completes its folds.

Part 2 (pruning): two equal-time searches (``--pruning-budget`` seconds, default 120) with the
default space, 2 workers and random_state 0, with ``prune=True`` and ``prune=False``, on
make_classification(n_samples=20000, n_features=40, n_informative=10, random_state=0) split
75/25 (stratified, random_state=0). Prints for each: candidates evaluated (finished, not
cancelled), candidates per minute, how many were pruned, best CV score and holdout accuracy,
then the ratio of candidates per minute. Targets: >= 1.5x candidates per minute with pruning,
at an equal or better holdout (within 0.005).
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import pandas as pd
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

from evopipe import EvoClassifier, FloatRange, IntRange

SPACE = {
    "sklearn.preprocessing.StandardScaler": {},
    "sklearn.preprocessing.RobustScaler": {},
    "sklearn.decomposition.PCA": {"n_components": [5, 10, 20]},
    "sklearn.kernel_approximation.Nystroem": {"n_components": [100, 200], "gamma": [0.01, 0.05]},
    "sklearn.decomposition.FastICA": {"n_components": [10, 20], "max_iter": [400]},
    "sklearn.linear_model.LogisticRegression": {"C": FloatRange(1e-3, 10.0, log=True)},
    "sklearn.naive_bayes.GaussianNB": {},
    "sklearn.tree.DecisionTreeClassifier": {"max_depth": IntRange(2, 10)},
}
SEEDS_NOTE = "seeds come from the built-in space and are kept when their operators are in SPACE"


def run(cache: bool, X, y, evals: int, workers: int) -> tuple[dict, pd.DataFrame]:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}, silence_logs=logging.ERROR) as cluster, \
            Client(cluster, set_as_default=False) as client:
        model = EvoClassifier(max_time=None, max_evals=evals, population_size=12, mode="generational", cv=3,
                              search_space=SPACE, client=client, random_state=0, prefix_cache="1GB" if cache else 0,
                              prune=False)
        started = time.monotonic()
        model.fit(X, y)
        wall = time.monotonic() - started
    frame = model.evaluations_.sort_values("candidate").reset_index(drop=True)
    fitted, reused = int(frame["step_fits"].sum()), int(frame["steps_reused"].sum())
    row = {"cache": cache, "evaluations": len(frame), "step_fits": fitted, "step_fits_avoided": reused,
           "avoided_fraction": round(reused / max(1, fitted + reused), 3), "wall_s": round(wall, 1),
           "best_score": round(model.best_score_, 5)}
    return row, frame


def run_pruning(prune: bool, budget: float, workers: int) -> dict:
    """One equal-time search on synth20k; candidates evaluated and holdout accuracy."""
    X, y = make_classification(n_samples=20000, n_features=40, n_informative=10, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    model = EvoClassifier(max_time=budget, n_jobs=workers, random_state=0, prune=prune)
    started = time.monotonic()
    model.fit(X_train, y_train)
    wall = time.monotonic() - started
    statuses = model.evaluations_["status"].value_counts().to_dict()
    finished = len(model.evaluations_) - statuses.get("CANCELLED", 0)
    return {"part": "pruning", "prune": prune, "budget_s": budget, "fit_wall_s": round(wall, 1),
            "candidates": finished, "candidates_per_min": round(60 * finished / wall, 1),
            "pruned": statuses.get("PRUNED", 0), "statuses": statuses, "best_cv": round(model.best_score_, 5),
            "holdout": round(model.score(X_test, y_test), 4)}


def pruning_part(args) -> None:
    rows = [run_pruning(prune, args.pruning_budget, args.workers) for prune in (True, False)]
    on, off = rows
    ratio = round(on["candidates_per_min"] / off["candidates_per_min"], 3)
    delta = round(on["holdout"] - off["holdout"], 4)
    if args.json:
        for row in rows:
            print(json.dumps({**row, "candidates_ratio_on_off": ratio, "holdout_on_minus_off": delta}))
        return
    print(f"{'prune':<6} {'candidates':>10} {'per min':>8} {'pruned':>6} {'best cv':>8} {'holdout':>8} {'wall s':>7}")
    for row in rows:
        print(f"{str(row['prune']):<6} {row['candidates']:>10} {row['candidates_per_min']:>8.1f} {row['pruned']:>6} "
              f"{row['best_cv']:>8.4f} {row['holdout']:>8.4f} {row['fit_wall_s']:>7.1f}")
    print(f"candidates per minute on/off: {ratio} (target >= 1.5); holdout on - off: {delta:+.4f} (target >= -0.005)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--parts", default="cache,pruning", help="comma list of: cache, pruning")
    parser.add_argument("--evals", type=int, default=60)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pruning-budget", type=float, default=120.0, help="seconds of each pruning search")
    args = parser.parse_args()
    parts = args.parts.split(",")
    if "cache" in parts:
        cache_part(args)
    if "pruning" in parts:
        pruning_part(args)


def cache_part(args) -> None:
    X, y = make_classification(n_samples=args.rows, n_features=50, n_informative=10, random_state=0)
    rows, frames = [], []
    for cache in (True, False):
        row, frame = run(cache, X, y, args.evals, args.workers)
        rows.append(row)
        frames.append(frame)
    identical = frames[0]["score"].round(12).equals(frames[1]["score"].round(12)) and \
        frames[0]["pipeline"].equals(frames[1]["pipeline"])
    for row in rows:
        row["identical_scores"] = identical
    on, off = rows
    ratio = round(on["wall_s"] / off["wall_s"], 3)
    if args.json:
        for row in rows:
            print(json.dumps({**row, "wall_ratio_on_off": ratio}))
        return
    print(f"{'cache':<6} {'evals':>5} {'step fits':>9} {'avoided':>8} {'avoided %':>9} {'wall s':>7}")
    for row in rows:
        print(f"{str(row['cache']):<6} {row['evaluations']:>5} {row['step_fits']:>9} {row['step_fits_avoided']:>8} "
              f"{100 * row['avoided_fraction']:>8.1f}% {row['wall_s']:>7.1f}")
    print(f"wall ratio on/off: {ratio} (target <= 0.7); avoided {100 * on['avoided_fraction']:.1f}% (target >= 30%); "
          f"identical scores: {identical}")


if __name__ == "__main__":
    main()
