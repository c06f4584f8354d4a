"""Variation operators: pure functions (genome(s), space, rng) -> genome.

Every function returns a valid genome of the space: preprocessors first, a final estimator
of the space's task last, at most ``space.max_preprocessors`` steps before it. A variation
that does not apply (removing a step from a one-step pipeline) is never chosen.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from evopipe.distributions import FloatRange, IntRange
from evopipe.genome import Genome, Step
from evopipe.space import SearchSpace

__all__ = ["MUTATIONS", "crossover", "insert_step", "mutate", "perturb_param", "remove_step", "replace_step", "vary"]


def insert_step(genome: Genome, space: SearchSpace, rng: np.random.Generator) -> Genome:
    """Insert a random preprocessor at a random position before the estimator."""
    steps = list(genome.steps)
    steps.insert(int(rng.integers(len(genome.preprocessors) + 1)), space.random_step(space.preprocessors, rng))
    return Genome(tuple(steps))


def remove_step(genome: Genome, space: SearchSpace, rng: np.random.Generator) -> Genome:
    """Remove one preprocessor."""
    steps = list(genome.steps)
    del steps[int(rng.integers(len(genome.preprocessors)))]
    return Genome(tuple(steps))


def replace_step(genome: Genome, space: SearchSpace, rng: np.random.Generator) -> Genome:
    """Replace one step by a random operator of the same kind (estimator or preprocessor)."""
    steps = list(genome.steps)
    i = int(rng.integers(len(steps)))
    pool = space.estimators if i == len(steps) - 1 else space.preprocessors
    steps[i] = space.random_step(pool, rng)
    return Genome(tuple(steps))


def _tunable(step: Step, space: SearchSpace) -> list[str]:
    op = space.operator(step.path)
    return [name for name, dist in op.params if _is_varied(dist)] if op else []


def _is_varied(dist) -> bool:
    if isinstance(dist, (IntRange, FloatRange)):
        return dist.low < dist.high
    return len(dist.choices) > 1


def perturb_param(genome: Genome, space: SearchSpace, rng: np.random.Generator) -> Genome:
    """Move one searched hyperparameter of one step to a nearby or different value."""
    candidates = [i for i, s in enumerate(genome.steps) if _tunable(s, space)]
    i = candidates[int(rng.integers(len(candidates)))]
    step = genome.steps[i]
    names = _tunable(step, space)
    name = names[int(rng.integers(len(names)))]
    dist = dict(space.operator(step.path).params)[name]
    current = step.param_dict.get(name)
    value = dist.perturb(current, rng) if dist.contains(current) else dist.sample(rng)
    steps = list(genome.steps)
    steps[i] = step.with_params(**{name: value})
    return Genome(tuple(steps))


MUTATIONS: dict[str, tuple[Callable, Callable]] = {
    "insert": (insert_step, lambda g, s: len(g.preprocessors) < s.max_preprocessors),
    "remove": (remove_step, lambda g, s: len(g.preprocessors) > 0),
    "replace": (replace_step, lambda g, s: True),
    "perturb": (perturb_param, lambda g, s: any(_tunable(step, s) for step in g.steps)),
}


def mutate(genome: Genome, space: SearchSpace, rng: np.random.Generator) -> tuple[Genome, str]:
    """Apply one applicable mutation chosen uniformly; return the child and the mutation's name."""
    names = [name for name, (_, applies) in MUTATIONS.items() if applies(genome, space)]
    name = names[int(rng.integers(len(names)))]
    return MUTATIONS[name][0](genome, space, rng), name


def crossover(a: Genome, b: Genome, space: SearchSpace, rng: np.random.Generator) -> Genome:
    """One-point crossover: a head of ``a``'s preprocessors, then a tail of ``b`` (its estimator last).

    When both parents end with the same estimator class, half the time the child instead takes
    ``a``'s preprocessors and the estimator with each parameter drawn from either parent.
    """
    if a.estimator.path == b.estimator.path and rng.random() < 0.5:
        mixed = {
            k: (v if rng.random() < 0.5 else b.estimator.param_dict.get(k, v)) for k, v in a.estimator.params
        }
        return Genome((*a.preprocessors, Step(a.estimator.path, mixed)))
    head = a.preprocessors[: int(rng.integers(len(a.preprocessors) + 1))]
    tail = b.steps[int(rng.integers(len(b.preprocessors) + 1)):]
    steps = (*head, *tail)
    excess = len(steps) - 1 - space.max_preprocessors
    return Genome(steps[excess:] if excess > 0 else steps)


def vary(
    a: Genome, b: Genome, space: SearchSpace, rng: np.random.Generator, crossover_rate: float = 0.2
) -> tuple[Genome, str]:
    """Make one child: crossover (then a mutation half the time) or a single mutation."""
    if a != b and rng.random() < crossover_rate:
        child = crossover(a, b, space, rng)
        if rng.random() < 0.5:
            child, name = mutate(child, space, rng)
            return child, f"crossover+{name}"
        return child, "crossover"
    return mutate(a, space, rng)
