"""Genomes: a pipeline as a frozen, hashable value with a stable content key and readable text.

A :class:`Genome` is a tuple of :class:`Step` values, preprocessing steps first and the final
estimator last. It carries import paths and parameters only, so it pickles small, compiles on
any worker without a search space, and its key is the same in every process and every run:
the key names Dask tasks, deduplicates candidates, keys the prefix cache and the journal.

Text form, which :func:`parse_genome` reads back::

    StandardScaler() -> PCA(n_components=12) -> LogisticRegression(C=0.5, class_weight='balanced')
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

__all__ = ["Genome", "Step", "parse_genome", "value_from_json", "value_to_json"]

_STEP_SEPARATOR = " -> "
_SCALARS = (bool, int, float, str, type(None))


@dataclass(frozen=True, eq=False)
class Step:
    """One operator of a pipeline: an import path and its parameters.

    Parameters
    ----------
    path : str
        Import path of the class, e.g. ``"sklearn.decomposition.PCA"``.
    params : mapping or tuple of (name, value) pairs
        Constructor arguments. Stored sorted by name. Values are JSON scalars or nested
        :class:`Step` values (for parameters that take an estimator).
    """

    path: str
    params: tuple = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or "." not in self.path:
            raise ValueError(f"Step path must be a dotted import path like 'sklearn.svm.SVC'; got {self.path!r}.")
        items = self.params.items() if isinstance(self.params, Mapping) else self.params
        object.__setattr__(self, "params", tuple(sorted((str(k), v) for k, v in items)))

    @property
    def name(self) -> str:
        """Class name, the last part of :attr:`path`."""
        return self.path.rsplit(".", 1)[-1]

    @property
    def param_dict(self) -> dict[str, Any]:
        """Parameters as a new dict."""
        return dict(self.params)

    def with_params(self, **updates: Any) -> Step:
        """A copy with some parameters replaced."""
        return Step(self.path, {**self.param_dict, **updates})

    def text(self, qualified: bool = False) -> str:
        """Readable text, e.g. ``PCA(n_components=12)``; ``qualified`` uses the full path."""
        head = self.path if qualified else self.name
        args = ", ".join(f"{k}={_value_text(v, qualified)}" for k, v in self.params)
        return f"{head}({args})"

    def to_json(self) -> dict:
        """JSON-ready dict."""
        return {"path": self.path, "params": {k: value_to_json(v) for k, v in self.params}}

    @classmethod
    def from_json(cls, data: Mapping) -> Step:
        """Inverse of :meth:`to_json`."""
        return cls(data["path"], {k: value_from_json(v) for k, v in data["params"].items()})

    @cached_property
    def canonical(self) -> str:
        """Canonical JSON text: equality and hashing use it, so ``C=1`` and ``C=1.0`` differ."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Step) and self.canonical == other.canonical

    def __hash__(self) -> int:
        return hash(self.canonical)

    def __getstate__(self) -> dict:
        return {"path": self.path, "params": self.params}

    def __setstate__(self, state: dict) -> None:
        object.__setattr__(self, "path", state["path"])
        object.__setattr__(self, "params", state["params"])

    def __str__(self) -> str:
        return self.text()


@dataclass(frozen=True, eq=False)
class Genome:
    """A linear pipeline: zero or more preprocessing steps, then the final estimator.

    Parameters
    ----------
    steps : tuple of Step
        Non-empty. Estimators that are not last act as stacking steps.
    """

    steps: tuple

    def __post_init__(self) -> None:
        steps = tuple(self.steps)
        if not steps:
            raise ValueError("A genome needs at least one step (the final estimator).")
        for s in steps:
            if not isinstance(s, Step):
                raise TypeError(f"Genome steps must be Step values; got {s!r}.")
        object.__setattr__(self, "steps", steps)

    @cached_property
    def key(self) -> str:
        """Stable 16-hex-digit content key (same in every process, Python version and run)."""
        canonical = "[" + ",".join(s.canonical for s in self.steps) + "]"
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Genome) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def prefix_key(self, n_steps: int) -> str:
        """Content key of the first ``n_steps`` steps (for the prefix cache)."""
        return Genome(self.steps[:n_steps]).key if n_steps else "empty"

    @property
    def estimator(self) -> Step:
        """The final step."""
        return self.steps[-1]

    @property
    def preprocessors(self) -> tuple:
        """All steps but the last."""
        return self.steps[:-1]

    @property
    def complexity(self) -> int:
        """Number of operators: the second NSGA-II objective (smaller is better)."""
        return len(self.steps)

    def text(self, qualified: bool = False) -> str:
        """Readable text; :func:`parse_genome` reads it back."""
        return _STEP_SEPARATOR.join(s.text(qualified) for s in self.steps)

    def to_json(self) -> list:
        """JSON-ready list of steps."""
        return [s.to_json() for s in self.steps]

    @classmethod
    def from_json(cls, data: Iterable) -> Genome:
        """Inverse of :meth:`to_json`."""
        return cls(tuple(Step.from_json(s) for s in data))

    def __str__(self) -> str:
        return self.text()

    def __getstate__(self) -> dict:
        # Drop the cached key: small pickles for Dask tasks, recomputed on demand.
        return {"steps": self.steps}

    def __setstate__(self, state: dict) -> None:
        object.__setattr__(self, "steps", state["steps"])


def value_to_json(value: Any) -> Any:
    """A parameter value as JSON: scalars as is, nested steps as ``{"step": ...}``."""
    if isinstance(value, Step):
        return {"step": value.to_json()}
    return value


def value_from_json(value: Any) -> Any:
    """Inverse of :func:`value_to_json`."""
    if isinstance(value, dict) and set(value) == {"step"}:
        return Step.from_json(value["step"])
    return value


def _value_text(value: Any, qualified: bool) -> str:
    if isinstance(value, Step):
        return value.text(qualified)
    return repr(value)


def parse_genome(text: str, resolve: Callable[[str], str] | None = None) -> Genome:
    """Read a genome from its text form.

    Parameters
    ----------
    text : str
        Steps separated by ``" -> "``, each ``Name(param=value, ...)`` with Python literal
        values or nested ``Name(...)`` steps.
    resolve : callable, optional
        Maps a class name to its import path (``SearchSpace.resolve_name``). Without it,
        every name must be a full dotted path.

    Returns
    -------
    Genome
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"Genome text must be a non-empty string like 'StandardScaler() -> SVC(C=1.0)'; got {text!r}.")
    steps = []
    for part in text.split(_STEP_SEPARATOR):
        try:
            node = ast.parse(part.strip(), mode="eval").body
        except SyntaxError as exc:
            raise ValueError(f"Cannot parse step {part.strip()!r} of genome {text!r}: {exc.msg}.") from None
        steps.append(_step_from_ast(node, part, resolve))
    return Genome(tuple(steps))


def _step_from_ast(node: ast.AST, source: str, resolve: Callable[[str], str] | None) -> Step:
    if not isinstance(node, ast.Call) or node.args:
        raise ValueError(f"Step {source.strip()!r} must look like Name(param=value, ...) with keyword arguments only.")
    name = ast.unparse(node.func)
    if resolve is not None:
        path = resolve(name)
    elif "." in name:
        path = name
    else:
        raise ValueError(f"Step name {name!r} is not a dotted import path; pass a search space to resolve short names.")
    params = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise ValueError(f"Step {source.strip()!r}: write each parameter as name=value, not **mapping.")
        if kw.arg in params:
            raise ValueError(f"Step {source.strip()!r} sets parameter {kw.arg!r} twice.")
        if isinstance(kw.value, ast.Call):
            params[kw.arg] = _step_from_ast(kw.value, ast.unparse(kw.value), resolve)
            continue
        try:
            value = ast.literal_eval(kw.value)
        except (ValueError, TypeError, SyntaxError):
            value = ...
        if not isinstance(value, _SCALARS):
            raise ValueError(
                f"Parameter {kw.arg!r} in {source.strip()!r} is not a literal value: it must be a number, string, "
                f"True/False/None or a nested Step(...); got {ast.unparse(kw.value)}."
            )
        params[kw.arg] = value
    return Step(path, params)
