"""Genome -> scikit-learn Pipeline: the only place where estimators are built.

:func:`pipeline_steps` turns a genome into the exact list of named steps of the pipeline
(front step, stacking wrappers and random states included); :func:`build` instantiates a
step. :mod:`evopipe.export` prints the same list as source, so the exported code and the
fitted pipeline cannot drift apart.
"""

from __future__ import annotations

import inspect
from functools import cache
from typing import Any

from sklearn.pipeline import Pipeline

from evopipe.genome import Genome, Step
from evopipe.space import import_path, role_of

__all__ = ["FRONT_STEP", "build", "compile_genome", "pipeline_steps"]

FRONT_STEP = Step("evopipe.operators.TabularPreprocessor")
_STACKING_PATH = "evopipe.operators.StackingTransformer"


@cache
def _accepts_random_state(path: str) -> bool:
    return "random_state" in inspect.signature(import_path(path)).parameters


@cache
def _is_estimator(path: str) -> bool:
    return role_of(import_path(path)).is_estimator


def _seeded(step: Step, random_state: int | None) -> Step:
    """Give the step (and nested steps) a fixed random_state unless the genome sets one."""
    params = {k: _seeded(v, random_state) if isinstance(v, Step) else v for k, v in step.params}
    if random_state is not None and "random_state" not in params and _accepts_random_state(step.path):
        params["random_state"] = random_state
    return Step(step.path, params)


def pipeline_steps(genome: Genome, random_state: int | None = None, front: bool = True) -> list[tuple[str, Step]]:
    """The named steps of the pipeline a genome stands for.

    Parameters
    ----------
    genome : Genome
    random_state : int, optional
        Set on every step that takes one and does not fix its own.
    front : bool, default=True
        Start with :class:`~evopipe.operators.TabularPreprocessor` (imputation, one-hot).

    Returns
    -------
    list of (name, Step)
        Non-final estimators are wrapped in :class:`~evopipe.operators.StackingTransformer`.
    """
    steps = [FRONT_STEP] if front else []
    for i, step in enumerate(genome.steps):
        step = _seeded(step, random_state)
        if i < len(genome.steps) - 1 and _is_estimator(step.path):
            step = Step(_STACKING_PATH, {"estimator": step})
        steps.append(step)
    named, seen = [], {}
    for step in steps:
        base = (step.param_dict["estimator"].name if step.path == _STACKING_PATH else step.name).lower()
        base = f"stack-{base}" if step.path == _STACKING_PATH else base
        seen[base] = seen.get(base, 0) + 1
        named.append((base if seen[base] == 1 else f"{base}-{seen[base]}", step))
    return named


def build(step: Step) -> Any:
    """Instantiate a step, nested steps in its parameters included."""
    params = {k: build(v) if isinstance(v, Step) else v for k, v in step.params}
    return import_path(step.path)(**params)


def compile_genome(genome: Genome, random_state: int | None = None, front: bool = True) -> Pipeline:
    """Build the unfitted scikit-learn pipeline of a genome.

    Parameters
    ----------
    genome : Genome
    random_state : int, optional
        See :func:`pipeline_steps`.
    front : bool, default=True
        See :func:`pipeline_steps`.

    Returns
    -------
    sklearn.pipeline.Pipeline
    """
    return Pipeline([(name, build(step)) for name, step in pipeline_steps(genome, random_state, front)])
