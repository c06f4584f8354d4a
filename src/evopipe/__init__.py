"""evopipe: evolve scikit-learn pipelines with genetic programming, on Dask or in-process."""

from __future__ import annotations

from evopipe._version import __version__
from evopipe.distributions import Categorical, FloatRange, IntRange
from evopipe.estimator import EvoClassifier, EvoRegressor
from evopipe.evaluation import Evaluation, Status
from evopipe.genome import Genome, Step, parse_genome
from evopipe.space import Operator, SearchSpace

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
