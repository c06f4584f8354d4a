"""Search spaces: which operators a pipeline may use and how their parameters are drawn."""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import cached_property
from typing import Any

import numpy as np

from evopipe.distributions import Categorical, distribution_from_json, to_distribution
from evopipe.genome import Genome, Step, parse_genome

__all__ = ["Operator", "Role", "SearchSpace", "import_path", "resolve_search_space", "role_of"]

TASKS = ("classification", "regression")
# Smallest over largest class count from which class re-weighting seeds are left out.
BALANCED_CLASS_RATIO = 0.5


class Role(str, Enum):
    """What an operator does in a pipeline."""

    TRANSFORMER = "transformer"
    SELECTOR = "selector"
    CLASSIFIER = "classifier"
    REGRESSOR = "regressor"

    @property
    def is_estimator(self) -> bool:
        """Classifiers and regressors end pipelines (or stack inside them)."""
        return self in (Role.CLASSIFIER, Role.REGRESSOR)


def import_path(path: str) -> type:
    """Import ``"package.module.Class"`` and return the class.

    Raises
    ------
    ValueError
        If the module or the attribute does not exist, naming the path.
    """
    module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"Cannot import {path!r} ({exc}). Check the spelling and that its package is installed.") from None


def role_of(cls: type) -> Role:
    """Role of a class: classifier / regressor (by mixin), selector, or transformer."""
    from sklearn.base import ClassifierMixin, RegressorMixin
    from sklearn.feature_selection import SelectorMixin

    if issubclass(cls, ClassifierMixin):
        return Role.CLASSIFIER
    if issubclass(cls, RegressorMixin):
        return Role.REGRESSOR
    if issubclass(cls, SelectorMixin):
        return Role.SELECTOR
    if hasattr(cls, "transform") and hasattr(cls, "fit"):
        return Role.TRANSFORMER
    raise ValueError(
        f"{cls.__module__}.{cls.__qualname__} is neither a classifier, a regressor nor a transformer "
        "(it needs fit/transform, or ClassifierMixin/RegressorMixin)."
    )


@dataclass(frozen=True)
class Operator:
    """One class the search may put in a pipeline, with its parameter distributions.

    Parameters
    ----------
    path : str
        Import path of a scikit-learn compatible class.
    params : mapping of str to Distribution
        Parameters to search; the others keep the class default.
    role : Role, optional
        Found from the class (mixins / methods) when not given.
    """

    path: str
    params: tuple = field(default=())
    role: Role | None = None

    def __post_init__(self) -> None:
        items = self.params.items() if isinstance(self.params, Mapping) else self.params
        params = tuple(sorted((k, to_distribution(k, v)) for k, v in items))
        object.__setattr__(self, "params", params)
        if self.role is None:
            object.__setattr__(self, "role", role_of(import_path(self.path)))
        else:
            object.__setattr__(self, "role", Role(self.role))

    @property
    def name(self) -> str:
        """Class name."""
        return self.path.rsplit(".", 1)[-1]

    def sample(self, rng: np.random.Generator) -> Step:
        """A step with every searched parameter drawn at random."""
        return Step(self.path, {k: d.sample(rng) for k, d in self.params})

    def to_json(self) -> dict:
        """JSON-ready dict."""
        return {"path": self.path, "role": self.role.value, "params": {k: d.to_json() for k, d in self.params}}

    @classmethod
    def from_json(cls, data: Mapping) -> Operator:
        """Inverse of :meth:`to_json`."""
        params = {k: distribution_from_json(v) for k, v in data["params"].items()}
        return cls(data["path"], params, Role(data["role"]))


@dataclass(frozen=True)
class SearchSpace:
    """The operators a search may combine, for one task.

    Parameters
    ----------
    operators : sequence of Operator
        At least one estimator for the task.
    task : {"classification", "regression"}
    seeds : sequence of str or Genome
        Pipelines put in the initial population before random ones (strong, simple defaults).
    max_preprocessors : int
        Most steps before the final estimator.
    """

    operators: tuple
    task: str
    seeds: tuple = ()
    max_preprocessors: int = 3

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"SearchSpace task must be one of {TASKS}; got {self.task!r}.")
        operators = tuple(self.operators)
        wrong = [op.name for op in operators if op.role.is_estimator and op.role != self.final_role]
        if wrong:
            raise ValueError(f"A {self.task} search space cannot hold {', '.join(wrong)}: not a {self.final_role.value}.")
        object.__setattr__(self, "operators", operators)
        if not self.estimators:
            raise ValueError(f"The search space has no {self.final_role.value}; add at least one estimator for {self.task}.")
        names = [op.path for op in operators]
        if len(set(names)) != len(names):
            raise ValueError("The search space lists an operator twice; give each class one entry.")
        seeds = tuple(parse_genome(s, self.resolve_name) if isinstance(s, str) else s for s in self.seeds)
        for genome in seeds:
            self.check_genome(genome)
        object.__setattr__(self, "seeds", seeds)

    def seeds_for_classes(self, y) -> SearchSpace:
        """This space, without the seeds that re-weight classes when ``y``'s classes are balanced.

        A ``class_weight="balanced"`` seed is there for imbalanced data; where the smallest
        class has at least ``BALANCED_CLASS_RATIO`` times the rows of the largest it would
        cost a full evaluation to score about what its unweighted twin scores.

        Parameters
        ----------
        y : array-like
            Class labels.

        Returns
        -------
        SearchSpace
        """
        _, counts = np.unique(np.asarray(y), return_counts=True)
        if counts.min() < BALANCED_CLASS_RATIO * counts.max():
            return self
        kept = tuple(g for g in self.seeds if not any(s.param_dict.get("class_weight") == "balanced" for s in g.steps))
        return self if len(kept) == len(self.seeds) else replace(self, seeds=kept)

    @property
    def final_role(self) -> Role:
        """Role of the last step of every pipeline."""
        return Role.CLASSIFIER if self.task == "classification" else Role.REGRESSOR

    @cached_property
    def estimators(self) -> tuple:
        """Operators that may end a pipeline."""
        return tuple(op for op in self.operators if op.role == self.final_role)

    @cached_property
    def preprocessors(self) -> tuple:
        """Operators that may come before the final estimator (stacked estimators included)."""
        return self.operators

    @cached_property
    def _by_path(self) -> dict:
        return {op.path: op for op in self.operators}

    @cached_property
    def _names(self) -> dict:
        paths = {op.path for op in self.operators}
        for op in self.operators:
            for _, dist in op.params:
                if isinstance(dist, Categorical):
                    paths.update(c.path for c in dist.choices if isinstance(c, Step))
        by_name: dict[str, set] = {}
        for p in paths:
            by_name.setdefault(p.rsplit(".", 1)[-1], set()).add(p)
        return by_name

    def operator(self, path: str) -> Operator | None:
        """The operator with this import path, if the space has it."""
        return self._by_path.get(path)

    def fits_operator(self, step: Step) -> bool:
        """Whether the step's operator is in the space and every parameter it sets is searched and in range."""
        op = self.operator(step.path)
        if op is None:
            return False
        searched = dict(op.params)
        return all(k in searched and searched[k].contains(v) for k, v in step.params)

    def resolve_name(self, name: str) -> str:
        """Import path for a class name used in genome text (a dotted path passes through)."""
        if "." in name:
            return name
        paths = self._names.get(name)
        if not paths:
            raise ValueError(f"Unknown operator {name!r}: not in this search space. Use its full import path.")
        if len(paths) > 1:
            raise ValueError(f"Operator name {name!r} is ambiguous ({sorted(paths)}); use its full import path.")
        return next(iter(paths))

    def parse(self, text: str) -> Genome:
        """Read a genome written with this space's class names, and check it fits the space."""
        genome = parse_genome(text, self.resolve_name)
        self.check_genome(genome)
        return genome

    def check_genome(self, genome: Genome) -> None:
        """Raise ``ValueError`` unless the genome ends with an estimator of this task."""
        last = self.operator(genome.estimator.path)
        role = last.role if last else role_of(import_path(genome.estimator.path))
        if role != self.final_role:
            raise ValueError(f"Pipeline {genome.text()!r} must end with a {self.final_role.value}; it ends with {genome.estimator.name}.")

    def random_genome(self, rng: np.random.Generator) -> Genome:
        """A random pipeline: 0 to ``max_preprocessors`` steps (fewer more likely), then an estimator."""
        n_pre = int(min(rng.geometric(0.5) - 1, self.max_preprocessors))
        steps = [self.random_step(self.preprocessors, rng) for _ in range(n_pre)]
        steps.append(self.random_step(self.estimators, rng))
        return Genome(tuple(steps))

    @staticmethod
    def random_step(operators: Sequence, rng: np.random.Generator) -> Step:
        """Sample one operator uniformly, then its parameters."""
        return operators[int(rng.integers(len(operators)))].sample(rng)

    def to_json(self) -> dict:
        """JSON-ready dict (the journal stores it to refuse resuming with another space)."""
        return {
            "task": self.task,
            "max_preprocessors": self.max_preprocessors,
            "operators": [op.to_json() for op in self.operators],
            "seeds": [g.to_json() for g in self.seeds],
        }

    @cached_property
    def fingerprint(self) -> str:
        """Content hash of the whole space."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, config: Mapping, task: str, seeds: Sequence = (), max_preprocessors: int = 3) -> SearchSpace:
        """Build a space from a TPOT-style dict ``{"sklearn.x.Y": {"param": [values]}}``.

        Values may be lists, ranges, numpy arrays, a single scalar or an evopipe distribution.
        Seeds are kept only when the dict has their operators and their parameter values.
        """
        if not isinstance(config, Mapping) or not config:
            raise ValueError("A search-space dict must map import paths to parameter dicts and must not be empty.")
        operators = []
        for path, params in config.items():
            if params is None:
                params = {}
            if not isinstance(params, Mapping):
                raise TypeError(f"Search-space entry {path!r} must map to a dict of parameters; got {type(params).__name__}.")
            operators.append(Operator(path, dict(params)))
        base = cls(tuple(operators), task, (), max_preprocessors)
        usable = []
        for seed in seeds:
            try:
                genome = base.parse(seed) if isinstance(seed, str) else seed
            except ValueError:
                continue
            if all(base.fits_operator(s) for s in genome.steps):
                usable.append(genome)
        return cls(tuple(operators), task, tuple(usable), max_preprocessors)


def resolve_search_space(spec: Any, task: str) -> SearchSpace:
    """Turn the estimators' ``search_space`` parameter into a :class:`SearchSpace`.

    Parameters
    ----------
    spec : {"default", "light"}, SearchSpace or dict
    task : {"classification", "regression"}
    """
    from evopipe.configs import builtin_space

    if isinstance(spec, SearchSpace):
        if spec.task != task:
            raise ValueError(f"search_space is for {spec.task} but this estimator does {task}.")
        return spec
    if isinstance(spec, str):
        return builtin_space(spec, task)
    if isinstance(spec, Mapping):
        from evopipe.configs import builtin_seeds

        return SearchSpace.from_dict(spec, task, seeds=builtin_seeds(task))
    raise TypeError(
        f"search_space must be 'default', 'light', a SearchSpace or a dict of import paths to parameter "
        f"dicts; got {type(spec).__name__}."
    )
