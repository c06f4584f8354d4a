"""The rule that picks the pipeline a search returns (evopipe.choice)."""

from __future__ import annotations

import numpy as np
import pytest

from evopipe.choice import simplest_within_error, standard_error, steps
from evopipe.genome import parse_genome
from evopipe.selection import non_dominated_ranks
from evopipe.space import resolve_search_space

SPACE = resolve_search_space("default", "regression")
TEXTS = [
    "RidgeCV()",
    "LassoLarsCV()",
    "HistGradientBoostingRegressor()",
    "StandardScaler() -> RidgeCV()",
    "StandardScaler() -> PCA() -> RidgeCV()",
    "Normalizer() -> PolynomialFeatures(degree=2) -> LassoLarsCV()",
    "ExtraTreesRegressor() -> RidgeCV()",
    "StandardScaler() -> ExtraTreesRegressor() -> DecisionTreeRegressor() -> RidgeCV()",
]


def entry(text, folds):
    return parse_genome(text, SPACE.resolve_name), float(np.mean(folds)), tuple(folds)


def test_standard_error_is_the_fold_std_over_root_k():
    folds = [0.4, 0.5, 0.6, 0.45, 0.55]
    assert standard_error(folds) == pytest.approx(np.std(folds, ddof=1) / np.sqrt(5))
    assert steps(entry("StandardScaler() -> RidgeCV()", [0.5, 0.5])[0]) == (2,)


def test_the_simplest_within_one_standard_error_is_returned():
    # The top mean 0.90 has a standard error of 0.0447 (std 0.1 over 5 folds).
    entries = [
        entry("StandardScaler() -> PCA() -> RidgeCV()", [0.75, 0.85, 0.9, 0.95, 1.05]),
        entry("StandardScaler() -> RidgeCV()", [0.86] * 5),  # within it, simpler
        entry("RidgeCV()", [0.80] * 5),  # simplest, but below the floor
    ]
    assert simplest_within_error(entries) == 1
    # A wider error lets the simplest in; another notion of "simplest" changes the pick.
    assert simplest_within_error(entries, error=lambda folds: 0.2) == 2
    assert simplest_within_error(entries, simplicity=lambda g: (-g.complexity,)) == 0


def test_quiet_folds_keep_the_top_and_ties_go_to_the_higher_score_then_the_earlier():
    entries = [entry("RidgeCV()", [0.80] * 5), entry("StandardScaler() -> RidgeCV()", [0.95, 0.951, 0.952, 0.953, 0.954])]
    assert simplest_within_error(entries) == 1
    tied = [entry("RidgeCV()", [0.70] * 5), entry("LassoLarsCV()", [0.72] * 5), entry("RidgeCV()", [0.72] * 5),
            entry("StandardScaler() -> RidgeCV()", [0.6, 0.7, 0.8, 0.75, 0.85])]
    assert simplest_within_error(tied) == 1


def test_a_single_fold_score_returns_the_top_and_no_entries_is_an_error():
    assert simplest_within_error([entry("RidgeCV()", [0.5]), entry("LassoLarsCV()", [0.6])]) == 1
    with pytest.raises(ValueError, match="at least one evaluation"):
        simplest_within_error([])


def pareto_front_rule(entries) -> int:
    """The rule as evopipe applied it up to session 8: on the (score, steps) Pareto front only."""
    objectives = np.array([(-s, g.complexity) for g, s, _ in entries], dtype=float)
    front = [i for i, rank in enumerate(non_dominated_ranks(objectives)) if rank == 0]
    top = min(range(len(entries)), key=lambda i: (-entries[i][1], entries[i][0].complexity, i))
    floor = entries[top][1] - standard_error(entries[top][2])
    close = [i for i in front if entries[i][1] >= floor]
    return min(close, key=lambda i: (entries[i][0].complexity, -entries[i][1], i))


@pytest.mark.parametrize("seed", range(20))
def test_choosing_among_all_evaluations_picks_what_the_pareto_front_rule_picked(seed):
    # The fewest steps within the floor, best score first, is never dominated: a pipeline
    # with as few steps and a higher score would have been picked instead.
    rng = np.random.default_rng(seed)
    entries = []
    for _ in range(int(rng.integers(1, 30))):
        folds = np.round(rng.normal(rng.uniform(0.4, 0.6), rng.uniform(0.0, 0.08), size=5), 2)
        entries.append(entry(TEXTS[int(rng.integers(len(TEXTS)))], folds))
    assert simplest_within_error(entries) == pareto_front_rule(entries)
