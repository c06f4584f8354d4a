"""The prefix cache on and off: the same seeded search, step fits avoided and wall time.

    python benchmarks/cache.py [--json] [--evals 60] [--rows 20000] [--workers 2]

Runs one generational search (fixed number of evaluations, fixed random_state, 2 Dask
workers) twice on make_classification(rows x 50) with a space whose preprocessors cost real
time (PCA, Nystroem, FastICA, scalers), once with the prefix cache and once without, and prints
one JSON object per run: ``cache``, ``step_fits``, ``step_fits_avoided``, ``wall_s``,
``identical_scores`` (the two runs' scores, candidate by candidate), plus the ratios.
Targets: >= 30% of step fits avoided, cache-on wall <= 0.7x cache-off.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import pandas as pd
from sklearn.datasets import make_classification

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
                              search_space=SPACE, client=client, random_state=0, prefix_cache="1GB" if cache else 0)
        started = time.monotonic()
        model.fit(X, y)
        wall = time.monotonic() - started
    frame = model.evaluations_.sort_values("candidate").reset_index(drop=True)
    fitted, reused = int(frame["step_fits"].sum()), int(frame["steps_reused"].sum())
    row = {"cache": cache, "evaluations": len(frame), "step_fits": fitted, "step_fits_avoided": reused,
           "avoided_fraction": round(reused / max(1, fitted + reused), 3), "wall_s": round(wall, 1),
           "best_score": round(model.best_score_, 5)}
    return row, frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--evals", type=int, default=60)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
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
