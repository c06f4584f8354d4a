"""The prefix cache: LRU in bytes, and reuse that does not change what an evaluation scores."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from evopipe import parse_genome
from evopipe.cache import PrefixCache, PrefixState, process_cache
from evopipe.context import build_context
from evopipe.evaluation import evaluate


def _state(n_floats: int) -> PrefixState:
    return PrefixState((), np.zeros(n_floats // 2), np.zeros(n_floats - n_floats // 2))


def test_cache_evicts_least_recently_used_to_stay_within_its_bound():
    cache = PrefixCache(max_bytes=8 * 100)
    for key in "abc":
        cache.put(key, _state(30))
    assert cache.nbytes == 8 * 90
    cache.get("a")  # now the most recent
    cache.put("d", _state(30))
    assert cache.get("b") is None and cache.get("a") is not None
    assert cache.nbytes <= cache.max_bytes
    cache.put("huge", _state(1000))  # larger than the bound: not stored
    assert cache.get("huge") is None and cache.nbytes <= cache.max_bytes


def test_process_cache_is_disabled_by_zero_and_shared_otherwise():
    assert process_cache(0) is None
    assert process_cache(1000) is process_cache(1000)


@pytest.fixture(scope="module")
def data():
    return load_breast_cancer(return_X_y=True)


GENOMES = [
    "sklearn.preprocessing.StandardScaler() -> sklearn.decomposition.PCA(n_components=5) "
    "-> sklearn.linear_model.LogisticRegression(C=1.0)",
    "sklearn.preprocessing.StandardScaler() -> sklearn.decomposition.PCA(n_components=5) "
    "-> sklearn.tree.DecisionTreeClassifier(max_depth=3)",
    "sklearn.preprocessing.StandardScaler() -> sklearn.linear_model.LogisticRegression(C=0.1)",
    "sklearn.ensemble.ExtraTreesClassifier(n_estimators=10) -> sklearn.linear_model.LogisticRegression(C=1.0)",
    "sklearn.ensemble.ExtraTreesClassifier(n_estimators=10) -> sklearn.tree.DecisionTreeClassifier(max_depth=2)",
]


@pytest.mark.parametrize("seed", [0, 1])
def test_cached_and_uncached_evaluations_score_the_same(data, seed):
    X, y = data
    on = build_context(X, y, 3, None, None, None, True, seed, cache_bytes=64 * 2**20)
    off = build_context(X, y, 3, None, None, None, True, seed, cache_bytes=0)
    reused = 0
    for text in GENOMES:
        genome = parse_genome(text)
        cached, plain = evaluate(genome, on), evaluate(genome, off)
        assert cached.ok and plain.ok
        assert cached.fold_scores == plain.fold_scores
        assert plain.steps_reused == 0
        reused += cached.steps_reused
    # Front step on every fold after the first candidate, StandardScaler(+PCA) and the stacked
    # ExtraTrees (a seeded prefix) for the candidates that share them.
    assert reused >= 3 * (len(GENOMES) - 1) + 3 * 3
