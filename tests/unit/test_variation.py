"""Variation operators always return valid genomes of the space (property tests)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evopipe.configs import builtin_space
from evopipe.distributions import Categorical, FloatRange, IntRange
from evopipe.genome import Genome
from evopipe.space import SearchSpace, import_path, role_of
from evopipe.variation import (
    MUTATIONS,
    crossover,
    insert_step,
    mutate,
    perturb_param,
    remove_step,
    replace_step,
    vary,
)

TASKS = ("classification", "regression")
# (space name, max_preprocessors override or None): the built-in limit and two tighter ones.
SPACE_KINDS = (("default", None), ("light", None), ("default", 1), ("light", 0))
FAST = settings(max_examples=100, deadline=None)
SEEDS = st.integers(0, 2**32 - 1)


@cache
def _space(name: str, max_preprocessors: int | None, task: str) -> SearchSpace:
    space = builtin_space(name, task)
    if max_preprocessors is None:
        return space
    return SearchSpace(space.operators, task, (), max_preprocessors)


SPACES = st.builds(lambda kind, task: _space(*kind, task), st.sampled_from(SPACE_KINDS), st.sampled_from(TASKS))


def _genome(space: SearchSpace, rng: np.random.Generator, n_pre: int | None = None) -> Genome:
    """A random genome; with ``n_pre``, exactly that many preprocessors."""
    if n_pre is None:
        return space.random_genome(rng)
    steps = [space.random_step(space.preprocessors, rng) for _ in range(n_pre)]
    return Genome((*steps, space.random_step(space.estimators, rng)))


def assert_valid(child, space: SearchSpace) -> None:
    assert isinstance(child, Genome)
    space.check_genome(child)
    assert role_of(import_path(child.estimator.path)) == space.final_role
    assert space.operator(child.estimator.path) in space.estimators
    assert len(child.preprocessors) <= space.max_preprocessors
    for step in child.steps:
        op = space.operator(step.path)
        assert op is not None, f"{step.path} is not in the space"
        dists = dict(op.params)
        for name, value in step.params:
            assert name in dists, f"{step.name}.{name} is not a searched parameter"
            dist = dists[name]
            assert isinstance(dist, (Categorical, IntRange, FloatRange))
            assert dist.contains(value), f"{step.name}.{name}={value!r} is outside {dist}"


# --- properties -------------------------------------------------------------------------------


@FAST
@given(space=SPACES, seed=SEEDS)
def test_random_genomes_are_valid(space, seed):
    assert_valid(space.random_genome(np.random.default_rng(seed)), space)


@FAST
@given(space=SPACES, seed=SEEDS)
def test_mutate_returns_a_valid_genome(space, seed):
    rng = np.random.default_rng(seed)
    genome = _genome(space, rng)
    child, name = mutate(genome, space, rng)
    assert name in MUTATIONS
    assert_valid(child, space)
    n_before, n_after = len(genome.preprocessors), len(child.preprocessors)
    expected = {"insert": n_before + 1, "remove": n_before - 1, "replace": n_before, "perturb": n_before}[name]
    assert n_after == expected


@FAST
@given(space=SPACES, seed=SEEDS)
def test_crossover_returns_a_valid_genome(space, seed):
    rng = np.random.default_rng(seed)
    a, b = _genome(space, rng), _genome(space, rng)
    child = crossover(a, b, space, rng)
    assert_valid(child, space)
    parent_steps = set(a.steps) | set(b.steps)
    assert all(step in parent_steps for step in child.preprocessors)
    if child.estimator not in parent_steps:
        # Only the parameter-mixing branch makes a new estimator: same class in both parents.
        assert child.estimator.path == a.estimator.path == b.estimator.path
        assert child.preprocessors == a.preprocessors
        for name, value in child.estimator.params:
            assert value in (a.estimator.param_dict[name], b.estimator.param_dict.get(name, value))


@FAST
@given(space=SPACES, seed=SEEDS)
def test_crossover_of_same_estimator_mixes_parameters_from_the_parents(space, seed):
    rng = np.random.default_rng(seed)
    a = _genome(space, rng)
    b = Genome((*_genome(space, rng).preprocessors, space.operator(a.estimator.path).sample(rng)))
    child = crossover(a, b, space, rng)
    assert_valid(child, space)
    assert child.estimator.path == a.estimator.path
    for name, value in child.estimator.params:
        assert value in (a.estimator.param_dict[name], b.estimator.param_dict[name])


@FAST
@given(space=SPACES, seed=SEEDS, rate=st.floats(0.0, 1.0), generations=st.integers(1, 15))
def test_vary_chains_stay_valid(space, seed, rate, generations):
    rng = np.random.default_rng(seed)
    population = [_genome(space, rng) for _ in range(4)]
    for _ in range(generations):
        i, j = rng.integers(len(population), size=2)
        child, name = vary(population[i], population[j], space, rng, crossover_rate=rate)
        assert_valid(child, space)
        assert name.split("+")[0] in {*MUTATIONS, "crossover"}
        population[int(rng.integers(len(population)))] = child


@FAST
@given(space=SPACES, seed=SEEDS)
def test_each_mutation_is_valid_where_it_applies(space, seed):
    rng = np.random.default_rng(seed)
    genome = _genome(space, rng)
    for fn, applies in MUTATIONS.values():
        if applies(genome, space):
            assert_valid(fn(genome, space, rng), space)


@FAST
@given(space=SPACES, seed=SEEDS)
def test_remove_is_never_picked_for_one_step_genomes(space, seed):
    rng = np.random.default_rng(seed)
    genome = _genome(space, rng, n_pre=0)
    assert not MUTATIONS["remove"][1](genome, space)
    for _ in range(10):
        child, name = mutate(genome, space, rng)
        assert name != "remove"
        assert_valid(child, space)
        assert len(child.steps) >= 1


@FAST
@given(space=SPACES, seed=SEEDS)
def test_insert_never_exceeds_the_maximum(space, seed):
    rng = np.random.default_rng(seed)
    full = _genome(space, rng, n_pre=space.max_preprocessors)
    assert not MUTATIONS["insert"][1](full, space)
    for _ in range(10):
        child, name = mutate(full, space, rng)
        assert name != "insert"
        assert len(child.preprocessors) <= space.max_preprocessors
    if space.max_preprocessors:
        short = _genome(space, rng, n_pre=space.max_preprocessors - 1)
        assert MUTATIONS["insert"][1](short, space)
        grown = insert_step(short, space, rng)
        assert len(grown.preprocessors) == space.max_preprocessors
        assert grown.estimator == short.estimator
        assert_valid(grown, space)


# --- the single operators ---------------------------------------------------------------------


@pytest.mark.parametrize("task", TASKS)
def test_remove_replace_and_perturb_touch_one_step(task):
    space = _space("default", None, task)
    rng = np.random.default_rng(0)
    for _ in range(50):
        genome = _genome(space, rng, n_pre=2)
        removed = remove_step(genome, space, rng)
        assert len(removed.steps) == 2 and removed.estimator == genome.estimator
        assert all(s in genome.preprocessors for s in removed.preprocessors)
        replaced = replace_step(genome, space, rng)
        assert len(replaced.steps) == 3
        assert sum(x != y for x, y in zip(replaced.steps, genome.steps, strict=True)) <= 1
        if not MUTATIONS["perturb"][1](genome, space):
            continue
        perturbed = perturb_param(genome, space, rng)
        assert len(perturbed.steps) == 3
        diffs = [(x, y) for x, y in zip(perturbed.steps, genome.steps, strict=True) if x != y]
        assert len(diffs) <= 1
        for x, y in diffs:
            assert x.path == y.path
            assert sum(x.param_dict[k] != v for k, v in y.params) == 1


def test_perturb_does_not_apply_without_tunable_parameters():
    space = _space("light", None, "regression")
    genome = space.parse("StandardScaler() -> RidgeCV()")
    assert not MUTATIONS["perturb"][1](genome, space)
    assert not MUTATIONS["remove"][1](space.parse("RidgeCV()"), space)
    rng = np.random.default_rng(0)
    for _ in range(20):
        child, name = mutate(genome, space, rng)
        assert name != "perturb"
        assert_valid(child, space)


def test_perturb_samples_parameters_missing_from_the_genome():
    space = _space("default", None, "classification")
    genome = space.parse("LogisticRegression()")
    child = perturb_param(genome, space, np.random.default_rng(1))
    assert_valid(child, space)
    assert len(child.estimator.params) == 1


def test_vary_mutates_when_parents_are_equal():
    space = _space("default", None, "classification")
    rng = np.random.default_rng(0)
    genome = _genome(space, rng)
    for _ in range(20):
        _, name = vary(genome, genome, space, rng, crossover_rate=1.0)
        assert "crossover" not in name
