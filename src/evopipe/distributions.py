"""Hyperparameter distributions: small immutable values that validate, sample and perturb.

Every distribution compares and hashes by value and round-trips through JSON, because the
search-space fingerprint and the journal depend on it. Sampled floats are rounded to four
significant digits so that genome text stays readable and parses back to the same value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Categorical",
    "Distribution",
    "FloatRange",
    "IntRange",
    "distribution_from_json",
    "to_distribution",
]

_SIGNIFICANT_DIGITS = 4
_SCALAR_TYPES = (bool, int, float, str, type(None))


def _round_significant(value: float) -> float:
    if value == 0 or not math.isfinite(value):
        return float(value)
    return float(f"{value:.{_SIGNIFICANT_DIGITS}g}")


@dataclass(frozen=True)
class Categorical:
    """A choice among a fixed tuple of values.

    Parameters
    ----------
    choices : tuple
        Non-empty tuple of JSON-representable scalars (bool, int, float, str, None) or
        nested operator specs (:class:`evopipe.genome.Step`), for parameters such as
        ``SelectFromModel(estimator=...)``.
    """

    choices: tuple

    def __post_init__(self) -> None:
        choices = tuple(self.choices)
        if not choices:
            raise ValueError(
                "Categorical needs at least one choice; got an empty list. An empty list never "
                "means 'use the default': leave the parameter out to keep the estimator's default."
            )
        object.__setattr__(self, "choices", choices)

    def sample(self, rng: np.random.Generator) -> Any:
        """Draw one choice uniformly."""
        return self.choices[int(rng.integers(len(self.choices)))]

    def perturb(self, value: Any, rng: np.random.Generator) -> Any:
        """Return a different choice than ``value`` when there is one."""
        others = [c for c in self.choices if c != value or type(c) is not type(value)]
        if not others:
            return value
        return others[int(rng.integers(len(others)))]

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one of the choices (type-exact, so ``True != 1``)."""
        return any(c == value and type(c) is type(value) for c in self.choices)

    def to_json(self) -> dict:
        """JSON-ready dict; nested steps become ``{"step": ...}`` objects."""
        from evopipe.genome import value_to_json

        return {"type": "categorical", "choices": [value_to_json(c) for c in self.choices]}


@dataclass(frozen=True)
class _Range:
    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        name = type(self).__name__
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError(f"{name} bounds must be finite; got (low={self.low}, high={self.high}).")
        if self.low > self.high:
            raise ValueError(f"{name}: `low <= high` must hold, but got (low={self.low}, high={self.high}).")
        if self.log and self.low <= 0:
            raise ValueError(f"{name} with log=True needs low > 0; got low={self.low}.")

    def _to_unit(self, value: float) -> float:
        lo, hi = (math.log(self.low), math.log(self.high)) if self.log else (self.low, self.high)
        v = math.log(value) if self.log else value
        return 0.0 if hi == lo else (v - lo) / (hi - lo)

    def _from_unit(self, u: float) -> float:
        u = min(1.0, max(0.0, u))
        if self.log:
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)

    def _perturbed_unit(self, value: float, rng: np.random.Generator) -> float:
        # A Gaussian step of 20% of the (log-)range, reflected at the bounds, keeps children
        # near their parent while still reaching the whole range in a few generations.
        u = self._to_unit(value) + rng.normal(0.0, 0.2)
        u = abs(u) if u < 0 else u
        return 2.0 - u if u > 1 else u

    def to_json(self) -> dict:
        """JSON-ready dict."""
        kind = "int" if isinstance(self, IntRange) else "float"
        return {"type": kind, "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class IntRange(_Range):
    """Integers from ``low`` to ``high`` inclusive, optionally uniform on a log scale."""

    low: int
    high: int

    def __post_init__(self) -> None:
        for bound in ("low", "high"):
            value = getattr(self, bound)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"IntRange `{bound}` must be an int; got {value!r}.")
            object.__setattr__(self, bound, int(value))
        super().__post_init__()

    def sample(self, rng: np.random.Generator) -> int:
        """Draw one integer."""
        if not self.log:
            return int(rng.integers(self.low, self.high + 1))
        return self._clip(round(self._from_unit(rng.random())))

    def perturb(self, value: int, rng: np.random.Generator) -> int:
        """Move ``value`` by a random step; always a different integer when the range allows."""
        if self.low == self.high:
            return self.low
        new = self._clip(round(self._from_unit(self._perturbed_unit(value, rng))))
        if new == value:
            new = value + 1 if value < self.high else value - 1
        return new

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is an int inside the range."""
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high

    def _clip(self, value: int) -> int:
        return int(min(self.high, max(self.low, value)))


@dataclass(frozen=True)
class FloatRange(_Range):
    """Floats from ``low`` to ``high``, optionally uniform on a log scale."""

    def __post_init__(self) -> None:
        for bound in ("low", "high"):
            value = getattr(self, bound)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                raise TypeError(f"FloatRange `{bound}` must be a number; got {value!r}.")
            object.__setattr__(self, bound, float(value))
        super().__post_init__()

    def sample(self, rng: np.random.Generator) -> float:
        """Draw one float (rounded to 4 significant digits)."""
        return self._clip(_round_significant(self._from_unit(rng.random())))

    def perturb(self, value: float, rng: np.random.Generator) -> float:
        """Move ``value`` by a Gaussian step in (log-)space, reflected at the bounds."""
        return self._clip(_round_significant(self._from_unit(self._perturbed_unit(value, rng))))

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a float inside the range."""
        return isinstance(value, float) and self.low <= value <= self.high

    def _clip(self, value: float) -> float:
        return float(min(self.high, max(self.low, value)))


Distribution = Categorical | IntRange | FloatRange


def distribution_from_json(data: dict) -> Distribution:
    """Rebuild a distribution from :meth:`to_json` output."""
    from evopipe.genome import value_from_json

    kind = data.get("type")
    if kind == "categorical":
        return Categorical(tuple(value_from_json(c) for c in data["choices"]))
    if kind == "int":
        return IntRange(data["low"], data["high"], data.get("log", False))
    if kind == "float":
        return FloatRange(data["low"], data["high"], data.get("log", False))
    raise ValueError(f"Unknown distribution type {kind!r}; expected 'categorical', 'int' or 'float'.")


def to_distribution(name: str, spec: Any) -> Distribution:
    """Turn a TPOT-style parameter spec into a distribution.

    Parameters
    ----------
    name : str
        Parameter name, used in error messages.
    spec : Distribution, list, tuple, range, numpy array or scalar
        A distribution is returned as is; a sequence becomes :class:`Categorical`; a single
        scalar becomes a one-choice :class:`Categorical`.
    """
    from evopipe.genome import Step

    if isinstance(spec, (Categorical, IntRange, FloatRange)):
        return spec
    if isinstance(spec, np.ndarray):
        spec = spec.tolist()
    if isinstance(spec, (list, tuple, range)):
        values = [_plain(v) for v in spec]
    else:
        values = [_plain(spec)]
    for v in values:
        if not isinstance(v, (*_SCALAR_TYPES, Step)):
            raise TypeError(
                f"Parameter {name!r}: values must be bool, int, float, str, None or a Step; "
                f"got {v!r} of type {type(v).__name__}. Wrap estimators in evopipe.Step(path, params)."
            )
    return Categorical(tuple(values))


def _plain(value: Any) -> Any:
    """Numpy scalars become Python scalars so keys and JSON stay stable."""
    if isinstance(value, np.generic):
        return value.item()
    return value
