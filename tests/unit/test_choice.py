"""The rule that picks the pipeline a search returns (evopipe.choice)."""

from __future__ import annotations

import numpy as np
import pytest

from evopipe.choice import fewest_steps, simplest_within_error, standard_error, top_index
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
    assert fewest_steps(entry("StandardScaler() -> RidgeCV()", [0.5, 0.5])[0]) == (2,)


def test_the_simplest_within_one_standard_error_is_returned():
    # The top mean 0.90 has a standard error of 0.050 (std 0.112 over 5 folds): the floor is 0.85.
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


def test_a_single_fold_score_or_a_nan_error_returns_the_top_and_no_entries_is_an_error():
    # The simpler entry would be within any floor; without an error there is no floor.
    entries = [entry("RidgeCV()", [0.5999]), entry("StandardScaler() -> RidgeCV()", [0.6])]
    assert simplest_within_error(entries) == 1
    noisy = [entry("RidgeCV()", [0.59] * 5), entry("StandardScaler() -> RidgeCV()", [0.5, 0.7, 0.6, 0.55, 0.65])]
    assert simplest_within_error(noisy) == 0
    assert simplest_within_error(noisy, error=lambda folds: float("nan")) == 1
    with pytest.raises(ValueError, match="at least one evaluation"):
        simplest_within_error([])


def test_the_top_is_the_highest_score_then_fewer_steps_then_the_earlier():
    # Which of the tied top entries is "the top" decides the floor: here only the two-step
    # one has noisy folds, and it is not the top.
    tied = [
        entry("StandardScaler() -> RidgeCV()", [0.5, 0.7, 0.6, 0.55, 0.65]),
        entry("LassoLarsCV()", [0.6] * 5),
        entry("RidgeCV()", [0.6] * 5),
        entry("RidgeCV()", [0.59] * 5),
    ]
    assert top_index(tied) == 1
    assert simplest_within_error(tied) == 1
    assert simplest_within_error(tied[:1] + tied[3:]) == 1


def pareto_front_rule(entries) -> int:
    """The rule as evopipe applied it up to session 8: on the (score, steps) Pareto front only."""
    objectives = np.array([(-s, g.complexity) for g, s, _ in entries], dtype=float)
    front = [i for i, rank in enumerate(non_dominated_ranks(objectives)) if rank == 0]
    top = min(range(len(entries)), key=lambda i: (-entries[i][1], entries[i][0].complexity, i))
    floor = entries[top][1] - standard_error(entries[top][2])
    close = [i for i in front if entries[i][1] >= floor]
    return min(close, key=lambda i: (entries[i][0].complexity, -entries[i][1], i))


def random_archive(seed: int) -> list:
    # Means close together, so that many entries fall within the floor and the pick is often
    # not the top one; fold scores rounded to 0.01, so that ties happen.
    rng = np.random.default_rng(seed)
    entries = []
    for _ in range(int(rng.integers(1, 30))):
        folds = np.round(rng.normal(rng.uniform(0.5, 0.51), rng.uniform(0.02, 0.08), size=5), 2)
        entries.append(entry(TEXTS[int(rng.integers(len(TEXTS)))], folds))
    return entries


@pytest.mark.parametrize("seed", range(20))
def test_choosing_among_all_evaluations_picks_what_the_pareto_front_rule_picked(seed):
    # The fewest steps within the floor, best score first, is never dominated: a pipeline
    # with as few steps and a higher score would have been picked instead.
    entries = random_archive(seed)
    assert simplest_within_error(entries) == pareto_front_rule(entries)


def test_the_random_archives_mostly_pick_below_the_top():
    # Guards the test above against comparing only top picks, which any rule gets right.
    not_top = sum(simplest_within_error(e) != top_index(e) for e in map(random_archive, range(20)))
    assert not_top >= 5  # 8 of the 20 with these seeds
