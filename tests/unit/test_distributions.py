"""Distributions: validation, sampling and perturbation stay in range, JSON round trips, specs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from evopipe.distributions import Categorical, FloatRange, IntRange, distribution_from_json, to_distribution
from evopipe.genome import Step

FAST = settings(max_examples=60, deadline=None)

SEEDS = st.integers(0, 2**32 - 1)
SCALARS = st.one_of(
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
    st.none(),
)
NESTED_STEPS = st.builds(
    lambda n, f: Step("sklearn.ensemble.ExtraTreesClassifier", {"n_estimators": n, "max_features": f}),
    st.integers(1, 300),
    st.sampled_from([0.2, 0.5, 1.0]),
)
CHOICES = st.lists(st.one_of(SCALARS, NESTED_STEPS), min_size=1, max_size=6)


def _same(a, b) -> bool:
    """Type-exact equality, the notion Categorical uses (``True`` is not ``1``)."""
    return a == b and type(a) is type(b)


@st.composite
def int_ranges(draw) -> IntRange:
    log = draw(st.booleans())
    low = draw(st.integers(1, 10**6) if log else st.integers(-(10**6), 10**6))
    high = low + draw(st.integers(0, 10**6))
    return IntRange(low, high, log=log)


@st.composite
def float_ranges(draw) -> FloatRange:
    log = draw(st.booleans())
    if log:
        low = draw(st.floats(1e-10, 1e4))
        high = low * draw(st.floats(1.0, 1e6))
    else:
        low = draw(st.floats(-1e6, 1e6))
        high = low + draw(st.floats(0.0, 1e6))
    assume(math.isfinite(high) and low <= high)
    return FloatRange(low, high, log=log)


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [IntRange, FloatRange])
def test_low_above_high_is_rejected(cls):
    with pytest.raises(ValueError, match=r"low <= high.*low=5.*high=1"):
        cls(5, 1)


@pytest.mark.parametrize("cls, low", [(IntRange, 0), (IntRange, -3), (FloatRange, 0.0), (FloatRange, -1.5)])
def test_log_needs_positive_low(cls, low):
    with pytest.raises(ValueError, match=r"log=True needs low > 0"):
        cls(low, 10, log=True)


@pytest.mark.parametrize("choices", [(), [], np.array([]).tolist()])
def test_empty_categorical_is_rejected(choices):
    with pytest.raises(ValueError, match="at least one choice"):
        Categorical(choices)


@pytest.mark.parametrize(
    "low, high, bound",
    [
        (1.0, 5, "low"),
        (1, 5.5, "high"),
        (True, 5, "low"),
        ("1", 5, "low"),
        (None, 5, "low"),
        (1, np.float64(3), "high"),
    ],
)
def test_int_range_needs_int_bounds(low, high, bound):
    with pytest.raises(TypeError, match=rf"IntRange `{bound}` must be an int"):
        IntRange(low, high)


@pytest.mark.parametrize("low, high", [("0", 1.0), (0.0, None), (False, 1.0)])
def test_float_range_needs_number_bounds(low, high):
    with pytest.raises(TypeError, match=r"FloatRange `(low|high)` must be a number"):
        FloatRange(low, high)


@pytest.mark.parametrize("cls", [IntRange, FloatRange])
@pytest.mark.parametrize("low, high", [(float("nan"), 1.0), (0.0, float("inf")), (float("-inf"), 0.0)])
def test_range_bounds_must_be_finite(cls, low, high):
    if cls is IntRange:
        with pytest.raises(TypeError):
            cls(low, high)
    else:
        with pytest.raises(ValueError, match="finite"):
            cls(low, high)


def test_bounds_are_normalised_to_python_types():
    r = IntRange(np.int64(2), np.int32(9))
    assert type(r.low) is int and type(r.high) is int
    assert r == IntRange(2, 9) and hash(r) == hash(IntRange(2, 9))
    f = FloatRange(1, np.float32(2.5))
    assert type(f.low) is float and type(f.high) is float
    assert f == FloatRange(1.0, 2.5)
    c = Categorical(["a", "b"])
    assert c.choices == ("a", "b") and hash(c) == hash(Categorical(("a", "b")))


def test_single_value_ranges_are_valid():
    assert IntRange(3, 3).sample(np.random.default_rng(0)) == 3
    assert IntRange(3, 3).perturb(3, np.random.default_rng(0)) == 3
    assert FloatRange(0.5, 0.5).perturb(0.5, np.random.default_rng(0)) == 0.5
    assert Categorical(["only"]).perturb("only", np.random.default_rng(0)) == "only"


# --- sample / perturb stay inside (properties) ----------------------------------------------


@FAST
@given(dist=int_ranges(), seed=SEEDS, data=st.data())
def test_int_range_sample_and_perturb_stay_in_range(dist, seed, data):
    rng = np.random.default_rng(seed)
    for _ in range(5):
        value = dist.sample(rng)
        assert type(value) is int and dist.contains(value)
    start = data.draw(st.integers(dist.low, dist.high))
    moved = dist.perturb(start, rng)
    assert type(moved) is int and dist.contains(moved)
    if dist.low < dist.high:
        assert moved != start


@FAST
@given(low=st.integers(-50, 50), width=st.integers(1, 3), log=st.booleans(), seed=SEEDS, data=st.data())
def test_int_range_perturb_of_narrow_range_always_moves(low, width, log, seed, data):
    # Narrow ranges are where a rounded Gaussian step most often lands back on the start.
    if log:
        low = abs(low) + 1
    dist = IntRange(low, low + width, log=log)
    rng = np.random.default_rng(seed)
    value = data.draw(st.integers(dist.low, dist.high))
    for _ in range(10):
        moved = dist.perturb(value, rng)
        assert moved != value and dist.contains(moved)
        value = moved


@FAST
@given(dist=float_ranges(), seed=SEEDS, data=st.data())
def test_float_range_sample_and_perturb_stay_in_range(dist, seed, data):
    rng = np.random.default_rng(seed)
    for _ in range(5):
        value = dist.sample(rng)
        assert type(value) is float and dist.contains(value)
    value = data.draw(st.floats(dist.low, dist.high))
    for _ in range(5):
        value = dist.perturb(value, rng)
        assert type(value) is float and dist.contains(value)


@FAST
@given(choices=CHOICES, seed=SEEDS, data=st.data())
def test_categorical_sample_and_perturb_stay_in_choices(choices, seed, data):
    dist = Categorical(choices)
    rng = np.random.default_rng(seed)
    for _ in range(5):
        assert dist.contains(dist.sample(rng))
    current = data.draw(st.sampled_from(dist.choices))
    moved = dist.perturb(current, rng)
    assert dist.contains(moved)
    if any(not _same(c, current) for c in dist.choices):
        assert not _same(moved, current)
    else:
        assert _same(moved, current)


def test_contains_is_type_exact():
    assert not Categorical([1, 2]).contains(True)
    assert not Categorical([True]).contains(1)
    assert Categorical([None, "balanced"]).contains(None)
    assert not IntRange(0, 5).contains(2.0)
    assert not IntRange(0, 5).contains(True)
    assert not IntRange(0, 5).contains(6)
    assert not FloatRange(0.0, 1.0).contains(1)
    assert not FloatRange(0.0, 1.0).contains(1.5)
    assert FloatRange(0.0, 1.0).contains(1.0)


def test_sampled_floats_have_four_significant_digits():
    dist = FloatRange(1e-6, 10.0, log=True)
    rng = np.random.default_rng(3)
    for _ in range(50):
        value = dist.sample(rng)
        assert float(f"{value:.4g}") == value
        assert float(repr(value)) == value


# --- JSON round trip --------------------------------------------------------------------------


@FAST
@given(dist=st.one_of(int_ranges(), float_ranges(), CHOICES.map(Categorical)))
def test_json_round_trip_is_equal_and_hashes_equal(dist):
    text = json.dumps(dist.to_json())
    back = distribution_from_json(json.loads(text))
    assert back == dist
    assert type(back) is type(dist)
    assert hash(back) == hash(dist)
    assert json.dumps(back.to_json()) == text


def test_json_of_nested_step_choices():
    step = Step("sklearn.ensemble.ExtraTreesClassifier", {"n_estimators": 100, "max_features": 0.5})
    dist = Categorical([step, None])
    data = dist.to_json()
    assert data == {"type": "categorical", "choices": [{"step": step.to_json()}, None]}
    assert distribution_from_json(json.loads(json.dumps(data))) == dist


def test_json_defaults_and_unknown_type():
    assert distribution_from_json({"type": "int", "low": 1, "high": 4}) == IntRange(1, 4)
    assert distribution_from_json({"type": "float", "low": 0.1, "high": 4, "log": True}) == FloatRange(0.1, 4.0, True)
    assert IntRange(1, 4).to_json() == {"type": "int", "low": 1, "high": 4, "log": False}
    with pytest.raises(ValueError, match="Unknown distribution type 'gaussian'"):
        distribution_from_json({"type": "gaussian"})


def test_int_and_float_ranges_with_same_bounds_differ():
    assert IntRange(1, 5) != FloatRange(1, 5)
    assert IntRange(1, 5).to_json() != FloatRange(1, 5).to_json()


# --- to_distribution ------------------------------------------------------------------------


def test_to_distribution_passes_distributions_through():
    for dist in (IntRange(1, 3), FloatRange(0.0, 1.0), Categorical(["a"])):
        assert to_distribution("p", dist) is dist


@pytest.mark.parametrize(
    "spec, choices",
    [
        ([1, 2, 3], (1, 2, 3)),
        (("l1", "l2"), ("l1", "l2")),
        (range(2, 5), (2, 3, 4)),
        (np.array([1, 2]), (1, 2)),
        (np.array([0.5, 1.5]), (0.5, 1.5)),
        (np.arange(3), (0, 1, 2)),
        ([np.int64(4), np.float64(0.25), np.bool_(True)], (4, 0.25, True)),
        ([None, "balanced"], (None, "balanced")),
        ("abc", ("abc",)),
        (7, (7,)),
        (0.5, (0.5,)),
        (True, (True,)),
        (None, (None,)),
        (np.float64(2.0), (2.0,)),
    ],
)
def test_to_distribution_builds_categoricals(spec, choices):
    dist = to_distribution("p", spec)
    assert isinstance(dist, Categorical)
    assert dist.choices == choices
    assert [type(c) for c in dist.choices] == [type(c) for c in choices]


def test_to_distribution_accepts_steps():
    step = Step("sklearn.tree.DecisionTreeClassifier", {"max_depth": 2})
    assert to_distribution("estimator", [step]).choices == (step,)
    assert to_distribution("estimator", step).choices == (step,)


@pytest.mark.parametrize("spec", [{"a": 1}, object(), [1, [2]], {1, 2}, [1, (2, 3)], [np.random.default_rng(0)]])
def test_to_distribution_rejects_other_types(spec):
    with pytest.raises(TypeError, match=r"Parameter 'my_param': values must be bool, int, float, str, None or a Step"):
        to_distribution("my_param", spec)


def test_to_distribution_rejects_empty_sequences():
    with pytest.raises(ValueError, match="at least one choice"):
        to_distribution("p", [])
    with pytest.raises(ValueError, match="at least one choice"):
        to_distribution("p", np.array([]))
