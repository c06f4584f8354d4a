"""evopipe: evolve scikit-learn pipelines with genetic programming, on Dask or in-process."""

from __future__ import annotations

import importlib
from typing import Any

from evopipe._version import __version__

__all__ = [
    "Categorical",
    "EvoClassifier",
    "EvoRegressor",
    "Evaluation",
    "FloatRange",
    "Genome",
    "IntRange",
    "Operator",
    "SearchSpace",
    "Status",
    "Step",
    "__version__",
    "parse_genome",
]

# Imported on first use, so that `evopipe --help` and the workers do not pay for scikit-learn
# before they need it.
_LAZY = {
    "Categorical": "evopipe.distributions",
    "FloatRange": "evopipe.distributions",
    "IntRange": "evopipe.distributions",
    "EvoClassifier": "evopipe.estimator",
    "EvoRegressor": "evopipe.estimator",
    "Evaluation": "evopipe.evaluation",
    "Status": "evopipe.evaluation",
    "Genome": "evopipe.genome",
    "Step": "evopipe.genome",
    "parse_genome": "evopipe.genome",
    "Operator": "evopipe.space",
    "SearchSpace": "evopipe.space",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'evopipe' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
