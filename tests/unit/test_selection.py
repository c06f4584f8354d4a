"""Tests for evopipe.selection: NSGA-II ranks, crowding, survivors and tournaments."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from evopipe.selection import (
    crowding_distance,
    dominates,
    non_dominated_ranks,
    select_parents,
    select_survivors,
    tournament,
)

INF = math.inf
NAN = math.nan
SETTINGS = settings(max_examples=200, deadline=None)

# A small pool of values makes ties, duplicates and dominance chains common.
POOL = [0.0, 1.0, 2.0, 3.0, 0.5, -1.25, 7.75, INF, -INF, NAN]
pool_values = st.sampled_from(POOL)


@st.composite
def objective_arrays(draw, min_rows=0, max_rows=16):
    n = draw(st.integers(min_rows, max_rows))
    m = draw(st.integers(1, 3))
    return draw(arrays(np.float64, (n, m), elements=pool_values))


@st.composite
def vector_triples(draw):
    m = draw(st.integers(1, 3))
    vec = st.lists(st.sampled_from([0.0, 1.0, 2.0, INF, -INF, NAN]), min_size=m, max_size=m)
    return draw(vec), draw(vec), draw(vec)


# --- naive reference implementations -------------------------------------------------


def naive_dominates(a, b):
    a = [INF if math.isnan(x) else x for x in a]
    b = [INF if math.isnan(x) else x for x in b]
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def brute_ranks(obj):
    remaining = list(range(len(obj)))
    ranks = [-1] * len(obj)
    rank = 0
    while remaining:
        front = [i for i in remaining if not any(naive_dominates(obj[j], obj[i]) for j in remaining)]
        for i in front:
            ranks[i] = rank
        remaining = [i for i in remaining if i not in front]
        rank += 1
    return ranks


def naive_crowding(obj, labels):
    """Crowding distance front by front, objective by objective, in plain Python."""
    obj = [[INF if math.isnan(x) else x for x in row] for row in obj]
    distance = [0.0] * len(obj)
    for label in set(labels):
        members = [i for i in range(len(obj)) if labels[i] == label]
        if len(members) <= 2:
            for i in members:
                distance[i] = INF
            continue
        for j in range(len(obj[0])):
            order = sorted(members, key=lambda i: (obj[i][j], i))
            values = [obj[i][j] for i in order]
            finite = [v for v in values if math.isfinite(v)]
            span = max(finite) - min(finite) if finite else 0.0
            scale = span if span > 0 else 1.0
            if values[0] != values[-1]:
                distance[order[0]] += INF
                distance[order[-1]] += INF
            for k in range(1, len(order) - 1):
                if values[k + 1] != values[k - 1]:
                    distance[order[k]] += (values[k + 1] - values[k - 1]) / scale
    return distance


def crowded_key(ranks, crowding, i):
    return (ranks[i], -crowding[i], i)


# --- dominates -----------------------------------------------------------------------


@SETTINGS
@given(vector_triples())
def test_dominates_is_a_strict_partial_order(triple):
    a, b, c = triple
    assert not dominates(a, a)
    assert not (dominates(a, b) and dominates(b, a))
    if dominates(a, b) and dominates(b, c):
        assert dominates(a, c)
    assert dominates(a, b) == naive_dominates(a, b)


def test_dominates_examples():
    assert dominates([1, 2], [1, 3])
    assert dominates([0, 0], [1, 1])
    assert not dominates([1, 2], [1, 2])
    assert not dominates([1, 3], [2, 2])
    assert dominates([-INF, 0], [0, 0])
    assert dominates([1, 0], [NAN, 0])
    assert not dominates([NAN, 0], [INF, 0])
    assert not dominates([INF, 0], [NAN, 0])
    assert not dominates([NAN], [NAN])


def test_dominates_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes"):
        dominates([1, 2], [1, 2, 3])


# --- non_dominated_ranks -------------------------------------------------------------


@SETTINGS
@given(objective_arrays())
def test_ranks_match_brute_force_and_fronts_are_consistent(obj):
    ranks = non_dominated_ranks(obj)
    assert ranks.dtype.kind == "i"
    rows = obj.tolist()
    assert ranks.tolist() == brute_ranks(rows)
    n = len(rows)
    for i in range(n):
        # no point of front k is dominated by a point of front >= k ...
        assert not any(naive_dominates(rows[j], rows[i]) for j in range(n) if ranks[j] >= ranks[i])
        # ... and every later-front point is dominated by some point of the previous front
        if ranks[i] > 0:
            assert any(naive_dominates(rows[j], rows[i]) for j in range(n) if ranks[j] == ranks[i] - 1)


def test_ranks_known_fronts():
    obj = np.array([[1, 5], [2, 3], [3, 1], [2, 4], [4, 4], [5, 5]], dtype=float)
    assert non_dominated_ranks(obj).tolist() == [0, 0, 0, 1, 2, 3]
    assert non_dominated_ranks([[0, 0], [0, 0], [1, 1]]).tolist() == [0, 0, 1]
    assert non_dominated_ranks([[NAN, 1], [0, 1]]).tolist() == [1, 0]
    assert non_dominated_ranks([[NAN, 0], [0, 1]]).tolist() == [0, 0]
    assert non_dominated_ranks(np.empty((0, 2))).tolist() == []
    assert non_dominated_ranks([[3.0], [1.0], [2.0], [1.0]]).tolist() == [2, 0, 1, 0]


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((2, 2, 2)), np.float64(1.0), np.zeros((4, 0))])
def test_ranks_reject_bad_shapes(bad):
    with pytest.raises(ValueError, match=re_shape(np.shape(bad))):
        non_dominated_ranks(bad)


def re_shape(shape):
    return "shape " + str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def test_ranks_are_fast():
    obj = np.random.default_rng(0).random((256, 2))
    non_dominated_ranks(obj)
    best = min(_timed(non_dominated_ranks, obj) for _ in range(5))
    assert best < 0.02  # typically ~1 ms; generous to stay robust on loaded CI machines


def _timed(func, *args):
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


# --- crowding, survivors and tournaments: shared property test ----------------------
# One hypothesis test drives three checkers so the (costly) example generation is shared.


def check_crowding(obj, ranks, crowd):
    assert crowd.shape == (len(obj),)
    assert not np.isnan(crowd).any()
    assert (crowd >= 0).all()
    clean = np.where(np.isnan(obj), INF, obj)
    for r in np.unique(ranks):
        members = np.flatnonzero(ranks == r)
        if len(members) <= 2:
            assert np.isinf(crowd[members]).all()
            continue
        for col in clean[members].T:  # some point at each end of every spread objective is a boundary
            if col.min() != col.max():
                assert np.isinf(crowd[members[col == col.min()]]).any()
                assert np.isinf(crowd[members[col == col.max()]]).any()


def check_survivors(obj, ranks, crowd, k):
    n = len(obj)
    kept = select_survivors(obj, k)
    assert len(kept) == min(k, n)
    assert len(set(kept.tolist())) == len(kept)
    assert kept.tolist() == sorted(kept.tolist())
    assert ((0 <= kept) & (kept < n)).all()
    dropped = np.setdiff1d(np.arange(n), kept)
    if len(kept) and len(dropped):
        assert ranks[kept].max() <= ranks[dropped].min()  # never drop rank r while keeping rank > r
        worst_kept = max(crowded_key(ranks, crowd, i) for i in kept)
        best_dropped = min(crowded_key(ranks, crowd, i) for i in dropped)
        assert worst_kept < best_dropped


def check_tournament(ranks, crowd, size, seed):
    n = len(ranks)
    winner = tournament(ranks, crowd, np.random.default_rng(seed), size=size)
    assert isinstance(winner, int)
    assert 0 <= winner < n
    full = tournament(ranks, crowd, np.random.default_rng(seed), size=n)
    assert full == min(range(n), key=lambda i: crowded_key(ranks, crowd, i))


@SETTINGS
@given(objective_arrays(), st.integers(0, 20), st.integers(1, 20), st.integers(0, 2**32 - 1))
def test_crowding_survivor_and_tournament_properties(obj, k, size, seed):
    ranks = non_dominated_ranks(obj)
    crowd = crowding_distance(obj, ranks)
    np.testing.assert_allclose(crowd, naive_crowding(obj.tolist(), ranks.tolist()), rtol=1e-12)
    labels = np.random.default_rng(seed).integers(0, 3, len(obj))  # any labelling is a valid input
    np.testing.assert_allclose(crowding_distance(obj, labels), naive_crowding(obj.tolist(), labels.tolist()), rtol=1e-12)
    check_crowding(obj, ranks, crowd)
    check_survivors(obj, ranks, crowd, k)
    if len(obj):
        check_tournament(ranks, crowd, size, seed)


# --- crowding_distance ---------------------------------------------------------------


def test_crowding_known_values():
    obj = np.array([[1, 5], [2, 3], [3, 1], [2, 4], [4, 4], [5, 5]], dtype=float)
    crowd = crowding_distance(obj, non_dominated_ranks(obj))
    assert crowd.tolist() == [INF, 2.0, INF, INF, INF, INF]

    obj = np.array([[0, 4], [1, 2], [3, 1], [4, 0]], dtype=float)
    np.testing.assert_allclose(crowding_distance(obj, np.zeros(4, int)), [INF, 1.5, 1.25, INF])


def test_crowding_duplicates_ties_and_infinities():
    same = np.ones((3, 2))
    assert crowding_distance(same, np.zeros(3, int)).tolist() == [0.0, 0.0, 0.0]
    assert crowding_distance(same[:2], np.zeros(2, int)).tolist() == [INF, INF]
    # Stable sort: lowest index is the min boundary, highest index the max boundary.
    crowd = crowding_distance([[0.0, 5.0], [0.0, 5.0], [0.0, 5.0], [1.0, 5.0]], np.zeros(4, int))
    assert crowd.tolist() == [INF, 0.0, 1.0, INF]
    obj = np.array([[0, 3], [1, 2], [2, 1], [INF, 0]], dtype=float)
    crowd = crowding_distance(obj, np.zeros(4, int))
    assert crowd[[0, 2, 3]].tolist() == [INF, INF, INF]
    assert crowd[1] == pytest.approx(1 + 2 / 3)
    obj = np.array([[NAN, 0], [-INF, 1], [0, 2], [NAN, 3]], dtype=float)
    assert not np.isnan(crowding_distance(obj, np.zeros(4, int))).any()


def test_crowding_rejects_bad_ranks():
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        crowding_distance(np.zeros((2, 2)), np.zeros(3, int))


# --- select_survivors ----------------------------------------------------------------


def test_survivors_examples():
    obj = np.array([[1, 5], [2, 3], [3, 1], [2, 4], [4, 4], [5, 5]], dtype=float)
    assert select_survivors(obj, 4).tolist() == [0, 1, 2, 3]
    assert select_survivors(obj, 2).tolist() == [0, 2]
    assert select_survivors(obj, 6).tolist() == list(range(6))
    assert select_survivors(obj, 10).tolist() == list(range(6))
    assert select_survivors(obj, 0).tolist() == []
    assert select_survivors(np.ones((5, 2)), 2).tolist() == [0, 1]
    with pytest.raises(ValueError, match="non-negative"):
        select_survivors(obj, -1)


# --- tournament and select_parents ---------------------------------------------------


def test_tournament_examples():
    rng = np.random.default_rng(0)
    ranks = np.array([1, 0, 0, 2])
    crowd = np.array([INF, 1.0, 3.0, INF])
    assert tournament(ranks, crowd, rng, size=4) == 2
    assert tournament(np.zeros(3, int), np.ones(3), rng, size=3) == 0
    assert tournament([0], [0.0], rng, size=5) == 0
    with pytest.raises(ValueError):
        tournament([], [], rng)
    with pytest.raises(ValueError):
        tournament([0, 1], [0.0, 0.0], rng, size=0)


def test_select_parents():
    obj = np.random.default_rng(1).random((30, 2))
    parents = select_parents(obj, 50, np.random.default_rng(7))
    assert parents.shape == (50,)
    assert ((0 <= parents) & (parents < 30)).all()
    assert parents.tolist() == select_parents(obj, 50, np.random.default_rng(7)).tolist()
    assert select_parents(obj, 0, np.random.default_rng(7)).tolist() == []
    # A single dominant point wins every full-size tournament.
    obj[5] = -1.0
    assert set(select_parents(obj, 10, np.random.default_rng(3), size=30).tolist()) == {5}
    with pytest.raises(ValueError, match=r"shape \(30,\)"):
        select_parents(obj[:, 0], 3, np.random.default_rng(0))


def test_the_returned_pipeline_is_the_simplest_within_one_standard_error_of_the_best():
    from evopipe.evaluation import Evaluation, Status
    from evopipe.evolver import Candidate, Evolver
    from evopipe.genome import parse_genome
    from evopipe.space import SearchSpace

    space = SearchSpace.from_dict({"sklearn.preprocessing.StandardScaler": {}, "sklearn.decomposition.PCA": {},
                                   "sklearn.linear_model.LogisticRegression": {}}, "classification")
    evolver = Evolver(space, np.random.default_rng(0), population_size=10)

    def tell(index, text, folds):
        genome = parse_genome(text, space.resolve_name)
        evaluation = Evaluation(genome.key, Status.OK, fold_scores=tuple(folds), score=float(np.mean(folds)))
        evolver.tell([(Candidate(index, genome, (), "seed"), evaluation)])

    # Noisy folds: the top mean 0.90 has a standard error of 0.0447 (std 0.1 over 5 folds).
    tell(0, "StandardScaler() -> PCA() -> LogisticRegression()", [0.75, 0.85, 0.9, 0.95, 1.05])
    tell(1, "StandardScaler() -> LogisticRegression()", [0.86] * 5)  # within it, simpler
    tell(2, "LogisticRegression()", [0.80] * 5)  # simplest, but below 0.90 - 0.0447
    assert evolver.best()[0].index == 0
    assert evolver.chosen()[0].index == 1
    # Quiet folds: nothing is within the error of the best, which is kept.
    tell(3, "PCA() -> StandardScaler() -> LogisticRegression()", [0.95, 0.951, 0.952, 0.953, 0.954])
    assert evolver.chosen()[0].index == evolver.best()[0].index == 3
