"""Which rule for choosing the returned pipeline holds out best? Paired on the same searches.

    python benchmarks/selection_rules.py [--budget 120] [--datasets diabetes,wine]
                                         [--split-seeds 0 1 2] [--archive DIR] [--json]

For each dataset and split (``peers.py``'s data and ``train_test_split``), one evopipe search
runs with the peers benchmark's settings (``max_time=budget, n_jobs=2, random_state=0``) and
its ``evaluations_`` are kept (``--archive DIR`` stores them as pickles and reads them back on
the next run, so the rules can be compared again without searching again; each also keeps
``returned``, what ``fit`` returned with the code that ran the search). Then every rule
picks one pipeline from the same evaluations; each pick is refitted on the 75% and scored on
the 25%. The rules differ only in how they choose, never in what was searched, so the
comparison is paired.

The rules: ``top`` (the highest mean CV score, ties to fewer steps as in evopipe), and variants of "the simplest pipeline within one
error of the top" (:func:`evopipe.choice.simplest_within_error`), with the error either the
plain standard error of the top pipeline's fold scores (``se``) or Nadeau and Bengio's
corrected one (``nb``, 1.5 times as wide for 5 folds), and "simplest" either fewest steps
(``steps``), lowest model capacity class then fewest steps (``capacity``), or fewest steps then
capacity (``steps,capacity``). ``se+steps`` is the rule evopipe ships.

It prints one row per run and rule (JSON lines with ``--json``), then each rule's mean holdout
and how often it is at least as good as ``se+steps`` and as ``top``.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, r2_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import DATASETS, load_split  # noqa: E402

from evopipe import EvoClassifier, EvoRegressor  # noqa: E402
from evopipe.choice import fewest_steps, simplest_within_error, standard_error, top_index  # noqa: E402
from evopipe.compile import compile_genome  # noqa: E402
from evopipe.genome import parse_genome  # noqa: E402
from evopipe.space import import_path, resolve_search_space, role_of  # noqa: E402

# Capacity classes for the "capacity" variants: linear models and naive Bayes; then
# neighbours, single trees, kernel SVMs and polynomial / kernel features; then ensembles of
# trees (forests, boosting) and neural networks.
LINEAR, FLEXIBLE, ENSEMBLE = 0, 1, 2
_LINEAR = ("sklearn.linear_model.", "sklearn.naive_bayes.", "sklearn.svm.LinearSVC", "sklearn.svm.LinearSVR")
_ENSEMBLES = ("sklearn.ensemble.", "sklearn.neural_network.", "xgboost.", "lightgbm.")
_EXPANDING = ("sklearn.kernel_approximation.", "sklearn.preprocessing.PolynomialFeatures")


def step_capacity(step, last: bool) -> int:
    """A step's capacity class (``LINEAR``, ``FLEXIBLE`` or ``ENSEMBLE``).

    Transformers count only when they expand the features; estimators nested in a step's
    parameters (``SelectFromModel(estimator=...)``) only select features and do not count; a
    stacked estimator (not ``last``) counts like a final one.
    """
    if step.path.startswith(_EXPANDING):
        return FLEXIBLE
    if not last and not role_of(import_path(step.path)).is_estimator:
        return LINEAR
    if step.path.startswith(_LINEAR):
        return LINEAR
    return ENSEMBLE if step.path.startswith(_ENSEMBLES) else FLEXIBLE


def capacity(genome) -> int:
    """The pipeline's capacity class: the highest of its steps'."""
    return max(step_capacity(s, last=i == len(genome.steps) - 1) for i, s in enumerate(genome.steps))


def corrected_standard_error(fold_scores) -> float:
    """Nadeau and Bengio's corrected standard error of K-fold scores.

    ``std * sqrt(1/K + 1/(K-1))``: the fold models share most of their training rows, so the
    plain ``std / sqrt(K)`` understates how much the mean would move on other data.
    """
    folds = np.asarray(fold_scores, dtype=float)
    return float(folds.std(ddof=1) * np.sqrt(1 / len(folds) + 1 / (len(folds) - 1)))


def capacity_then_steps(genome) -> tuple:
    """Sort key: capacity class first, then number of steps (smaller is simpler)."""
    return (capacity(genome), genome.complexity)


def steps_then_capacity(genome) -> tuple:
    """Sort key: number of steps first, then capacity class (smaller is simpler)."""
    return (genome.complexity, capacity(genome))


RULES = {
    "se+steps": (standard_error, fewest_steps),
    "nb+steps": (corrected_standard_error, fewest_steps),
    "se+capacity": (standard_error, capacity_then_steps),
    "nb+capacity": (corrected_standard_error, capacity_then_steps),
    "nb+steps,capacity": (corrected_standard_error, steps_then_capacity),
}


def search(dataset: str, split_seed: int, budget: float, archive: Path | None):
    """The evaluations of one search on the split's 75% (read from the archive when there)."""
    path = archive / f"{dataset}-{split_seed}-{budget:g}.pkl" if archive is not None else None
    if path is not None and path.exists():
        return pickle.loads(path.read_bytes())
    X_train, _, y_train, _, regression = load_split(dataset, split_seed)
    model = (EvoRegressor if regression else EvoClassifier)(max_time=budget, n_jobs=2, random_state=0)
    started = time.monotonic()
    model.fit(X_train, y_train)
    run = {"evaluations": model.evaluations_, "returned": model.best_genome_.text(qualified=True),
           "random_state": model.random_state_, "fit_wall_s": time.monotonic() - started}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(run))
    return run


def picks(run: dict, regression: bool) -> dict:
    """Each rule's choice among the OK evaluations: rule name -> (genome, mean CV score)."""
    space = resolve_search_space("default", "regression" if regression else "classification")
    frame = run["evaluations"]
    # In the order proposed, as the evolver sees them: "earlier" in the rules' tie-breaks.
    ok = frame[frame["status"] == "OK"].sort_values("candidate").reset_index(drop=True)
    entries = [(parse_genome(p, space.resolve_name), s, f)
               for p, s, f in ok[["pipeline", "score", "fold_scores"]].itertuples(index=False)]
    chosen = {"top": top_index(entries)}
    for name, (error, simplicity) in RULES.items():
        chosen[name] = simplest_within_error(entries, error=error, simplicity=simplicity)
    return {name: (entries[i][0], float(entries[i][1])) for name, i in chosen.items()}


def holdout(genome, split: tuple, random_state) -> float:
    """The genome's pipeline fitted on the split's 75% and scored on its 25%.

    ``split`` is ``load_split``'s ``(X_train, X_test, y_train, y_test, regression)``.
    """
    X_train, X_test, y_train, y_test, regression = split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline = compile_genome(genome, random_state).fit(X_train, y_train)
    return float((r2_score if regression else accuracy_score)(y_test, pipeline.predict(X_test)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--split-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--archive", type=Path, help="keep each search's evaluations here and reuse them")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    args = parser.parse_args()
    rows = []
    for dataset in args.datasets.split(","):
        for seed in args.split_seeds:
            run = search(dataset, seed, args.budget, args.archive)
            split = load_split(dataset, seed)
            scored: dict[str, float] = {}  # rules often agree: fit each picked pipeline once
            for rule, (genome, cv) in picks(run, regression=split[-1]).items():
                if genome.key not in scored:
                    scored[genome.key] = round(holdout(genome, split, run["random_state"]), 4)
                row = {"dataset": dataset, "split": seed, "rule": rule, "cv": round(cv, 4),
                       "holdout": scored[genome.key], "pipeline": genome.text()}
                rows.append(row)
                print(json.dumps(row) if args.json else
                      f"{dataset:>13} {seed} {rule:>17} cv {row['cv']:.4f} holdout {row['holdout']:.4f}  {row['pipeline']}",
                      flush=True)
    summary(rows)


def summary(rows: list[dict]) -> None:
    """Each rule's mean holdout per dataset, and on how many runs it is >= se+steps and >= top."""
    by = {(r["dataset"], r["split"], r["rule"]): r["holdout"] for r in rows}
    datasets = sorted({r["dataset"] for r in rows}, key=[*DATASETS].index)
    rules = ["top", *RULES]
    print("\nmean holdout per dataset (splits)")
    print(f"{'rule':>17} " + " ".join(f"{d:>14}" for d in datasets) + "   >= se+steps   >= top")
    for rule in rules:
        means = []
        for d in datasets:
            values = [v for (d2, _, r), v in by.items() if d2 == d and r == rule]
            means.append(f"{np.mean(values):>10.4f} ({len(values)})")
        keys = [(d, s) for d, s, r in by if r == rule]
        vs_old = sum(by[(d, s, rule)] >= by[(d, s, "se+steps")] for d, s in keys)
        vs_top = sum(by[(d, s, rule)] >= by[(d, s, "top")] for d, s in keys)
        print(f"{rule:>17} " + " ".join(means) + f"   {vs_old:>4}/{len(keys):<4}   {vs_top:>4}/{len(keys)}")


if __name__ == "__main__":
    main()
