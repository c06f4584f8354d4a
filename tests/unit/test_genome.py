"""Genomes: text and JSON round trips, stable content keys, pickling and parse errors."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evopipe.configs import builtin_space
from evopipe.distributions import Categorical
from evopipe.genome import Genome, Step, parse_genome

TASKS = ("classification", "regression")
FAST = settings(max_examples=60, deadline=None)
SEEDS = st.integers(0, 2**32 - 1)

NESTED_TEXT = (
    "StandardScaler() -> SelectFromModel(estimator=ExtraTreesClassifier(max_features=0.5, n_estimators=100), "
    "threshold='0.25*mean') -> LogisticRegression(C=0.5, class_weight='balanced')"
)
NESTED = Genome(
    (
        Step("sklearn.preprocessing.StandardScaler"),
        Step(
            "sklearn.feature_selection.SelectFromModel",
            {
                "estimator": Step("sklearn.ensemble.ExtraTreesClassifier", {"n_estimators": 100, "max_features": 0.5}),
                "threshold": "0.25*mean",
            },
        ),
        Step("sklearn.linear_model.LogisticRegression", {"C": 0.5, "class_weight": "balanced"}),
    )
)
# Values of every JSON scalar type, negative and tiny numbers, a nested step.
FIXED = Genome(
    (
        Step("sklearn.decomposition.PCA", {"n_components": 0.95, "whiten": True}),
        Step("sklearn.preprocessing.Binarizer", {"threshold": -1e-05}),
        Step(
            "sklearn.feature_selection.RFE",
            {"estimator": Step("sklearn.tree.DecisionTreeClassifier", {"max_depth": 3}), "step": 0.25},
        ),
        Step(
            "sklearn.ensemble.RandomForestClassifier", {"class_weight": None, "n_estimators": 120, "criterion": "gini"}
        ),
    )
)


def _space(task: str):
    return builtin_space("default", task)


@st.composite
def random_genomes(draw, task=None):
    """A random genome of the default space (task drawn unless given)."""
    task = task or draw(st.sampled_from(TASKS))
    space = _space(task)
    return space, space.random_genome(np.random.default_rng(draw(SEEDS)))


@st.composite
def operator_genomes(draw):
    """A genome of one drawn operator then a drawn estimator: every operator (nested ones too) shows up often."""
    space = _space(draw(st.sampled_from(TASKS)))
    rng = np.random.default_rng(draw(SEEDS))
    first = draw(st.sampled_from(space.operators)).sample(rng)
    return space, Genome((first, draw(st.sampled_from(space.estimators)).sample(rng)))


def _is_varied(dist) -> bool:
    return len(dist.choices) > 1 if isinstance(dist, Categorical) else dist.low < dist.high


def _has_nested(genome: Genome) -> bool:
    return any(isinstance(v, Step) for s in genome.steps for _, v in s.params)


# --- text round trip ------------------------------------------------------------------------


@FAST
@given(case=st.one_of(random_genomes(), operator_genomes()))
def test_text_round_trip(case):
    space, genome = case
    text = genome.text()
    for parsed in (space.parse(text), parse_genome(text, space.resolve_name)):
        assert parsed == genome
        assert parsed.key == genome.key
        assert parsed.text() == text


@FAST
@given(case=st.one_of(random_genomes(), operator_genomes()))
def test_qualified_text_parses_without_a_space(case):
    _, genome = case
    text = genome.text(qualified=True)
    parsed = parse_genome(text)
    assert parsed == genome
    assert parsed.key == genome.key
    assert parsed.text(qualified=True) == text


@pytest.mark.parametrize("task", TASKS)
def test_random_genomes_of_both_tasks_round_trip_including_nested(task):
    space = _space(task)
    rng = np.random.default_rng(0)
    nested = 0
    for _ in range(300):
        genome = space.random_genome(rng)
        assert space.parse(genome.text()) == genome
        assert parse_genome(genome.text(qualified=True)) == genome
        nested += _has_nested(genome)
    assert nested > 0, "expected some SelectFromModel / RFE genomes among 300 random ones"


def test_nested_step_text_and_parse():
    assert NESTED.text() == NESTED_TEXT
    space = _space("classification")
    assert space.parse(NESTED_TEXT) == NESTED
    assert parse_genome(NESTED_TEXT, space.resolve_name) == NESTED
    qualified = NESTED.text(qualified=True)
    assert "estimator=sklearn.ensemble.ExtraTreesClassifier(max_features=0.5, n_estimators=100)" in qualified
    assert parse_genome(qualified) == NESTED
    assert parse_genome(qualified).key == NESTED.key


def test_fixed_genome_text_round_trip_keeps_types():
    parsed = parse_genome(FIXED.text(qualified=True))
    assert parsed == FIXED
    values = {k: v for s in parsed.steps for k, v in s.params}
    assert type(values["whiten"]) is bool
    assert type(values["n_estimators"]) is int
    assert type(values["n_components"]) is float
    assert values["threshold"] == -1e-05
    assert values["class_weight"] is None


def test_whitespace_around_steps_is_ignored():
    space = _space("regression")
    assert space.parse("  StandardScaler()  ->  Ridge(alpha=2.0) ") == space.parse(
        "StandardScaler() -> Ridge(alpha=2.0)"
    )


# --- JSON -------------------------------------------------------------------------------------


@FAST
@given(case=st.one_of(random_genomes(), operator_genomes()))
def test_json_round_trip(case):
    _, genome = case
    data = json.loads(json.dumps(genome.to_json()))
    back = Genome.from_json(data)
    assert back == genome
    assert back.key == genome.key
    assert hash(back) == hash(genome)


def test_nested_json_shape():
    data = NESTED.to_json()
    assert data[1]["params"]["estimator"] == {
        "step": {"path": "sklearn.ensemble.ExtraTreesClassifier", "params": {"max_features": 0.5, "n_estimators": 100}}
    }
    assert Genome.from_json(data) == NESTED


# --- keys -------------------------------------------------------------------------------------


def test_key_is_stable_across_processes():
    script = textwrap.dedent(
        """
        import json, sys
        from evopipe.genome import Genome
        for data in json.loads(sys.stdin.read()):
            print(Genome.from_json(data).key)
        print(hash("evopipe"))
        """
    )
    genomes = [NESTED, FIXED]
    outputs = []
    for hash_seed in ("1", "2024"):
        done = subprocess.run(
            [sys.executable, "-c", script],
            input=json.dumps([g.to_json() for g in genomes]),
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            timeout=120,
            check=True,
        )
        outputs.append(done.stdout.split())
    assert outputs[0][-1] != outputs[1][-1], "the subprocesses should run with different hash seeds"
    for keys in outputs:
        assert keys[:-1] == [g.key for g in genomes]


def test_key_format():
    for genome in (NESTED, FIXED):
        assert len(genome.key) == 16
        int(genome.key, 16)
    assert FIXED.prefix_key(0) == "empty"
    assert FIXED.prefix_key(2) == Genome(FIXED.steps[:2]).key
    assert FIXED.prefix_key(len(FIXED.steps)) == FIXED.key
    assert FIXED.prefix_key(1) != FIXED.prefix_key(2)


@pytest.mark.parametrize(
    "changed",
    [
        "StandardScaler() -> SelectFromModel(estimator=ExtraTreesClassifier(max_features=0.5, n_estimators=100), threshold='0.25*mean') -> LogisticRegression(C=0.6, class_weight='balanced')",
        "StandardScaler() -> SelectFromModel(estimator=ExtraTreesClassifier(max_features=0.5, n_estimators=100), threshold='0.25*mean') -> LogisticRegression(C=0.5)",
        "StandardScaler() -> SelectFromModel(estimator=ExtraTreesClassifier(max_features=0.5, n_estimators=100), threshold='0.25*mean') -> LogisticRegression(C=0.5, class_weight=None)",
        "StandardScaler() -> SelectFromModel(estimator=ExtraTreesClassifier(max_features=0.2, n_estimators=100), threshold='0.25*mean') -> LogisticRegression(C=0.5, class_weight='balanced')",
        "StandardScaler() -> SelectFromModel(estimator=ExtraTreesClassifier(max_features=0.5, n_estimators=100), threshold='mean') -> LogisticRegression(C=0.5, class_weight='balanced')",
        "MinMaxScaler() -> SelectFromModel(estimator=ExtraTreesClassifier(max_features=0.5, n_estimators=100), threshold='0.25*mean') -> LogisticRegression(C=0.5, class_weight='balanced')",
        "SelectFromModel(estimator=ExtraTreesClassifier(max_features=0.5, n_estimators=100), threshold='0.25*mean') -> StandardScaler() -> LogisticRegression(C=0.5, class_weight='balanced')",
        "SelectFromModel(estimator=ExtraTreesClassifier(max_features=0.5, n_estimators=100), threshold='0.25*mean') -> LogisticRegression(C=0.5, class_weight='balanced')",
    ],
)
def test_key_differs_when_the_genome_changes(changed):
    other = _space("classification").parse(changed)
    assert other != NESTED
    assert other.key != NESTED.key


@FAST
@given(case=random_genomes(), data=st.data())
def test_key_differs_when_a_parameter_changes(case, data):
    space, genome = case
    i = data.draw(st.integers(0, len(genome.steps) - 1))
    step = genome.steps[i]
    tunable = [(k, d) for k, d in space.operator(step.path).params if _is_varied(d)]
    if not tunable:
        return
    name, dist = data.draw(st.sampled_from(tunable))
    new = dist.perturb(step.param_dict[name], np.random.default_rng(data.draw(SEEDS)))
    if new == step.param_dict[name] and type(new) is type(step.param_dict[name]):
        return  # a float perturbation can round back onto the same value
    steps = list(genome.steps)
    steps[i] = step.with_params(**{name: new})
    changed = Genome(tuple(steps))
    assert changed.key != genome.key
    assert changed.text() != genome.text()


def test_key_distinguishes_value_types():
    keys = {Genome((Step("sklearn.svm.SVC", {"C": v}),)).key for v in (1, 1.0, True, "1", None)}
    assert len(keys) == 5


def test_equal_genomes_have_equal_keys():
    a = Genome((Step("sklearn.svm.SVC", {"C": 1}),))
    b = Genome((Step("sklearn.svm.SVC", {"C": 1.0}),))
    c = Genome((Step("sklearn.svm.SVC", {"C": True}),))
    for other in (b, c):
        assert (a == other) == (a.key == other.key)


# --- Step parameter order ---------------------------------------------------------------------


@FAST
@given(
    params=st.dictionaries(
        st.text("abcdefgh_", min_size=1, max_size=5), st.integers() | st.text(max_size=3), max_size=6
    ),
    seed=SEEDS,
)
def test_step_params_order_does_not_matter(params, seed):
    items = list(params.items())
    shuffled = [items[i] for i in np.random.default_rng(seed).permutation(len(items))]
    a = Step("sklearn.svm.SVC", dict(items))
    b = Step("sklearn.svm.SVC", dict(shuffled))
    c = Step("sklearn.svm.SVC", tuple(shuffled))
    assert a == b == c
    assert hash(a) == hash(b) == hash(c)
    assert a.text() == b.text() == c.text()
    assert Genome((a,)).key == Genome((b,)).key == Genome((c,)).key
    assert [k for k, _ in a.params] == sorted(params)


def test_with_params_replaces_and_keeps_order():
    step = Step("sklearn.svm.SVC", {"kernel": "rbf", "C": 1.0})
    changed = step.with_params(C=2.0, gamma=0.1)
    assert changed.params == (("C", 2.0), ("gamma", 0.1), ("kernel", "rbf"))
    assert step.param_dict == {"C": 1.0, "kernel": "rbf"}
    assert changed.name == "SVC"


# --- pickling ---------------------------------------------------------------------------------


@FAST
@given(case=st.one_of(random_genomes(), operator_genomes()), touch_key=st.booleans())
def test_pickle_keeps_equality_and_key(case, touch_key):
    _, genome = case
    key = genome.key if touch_key else None
    back = pickle.loads(pickle.dumps(genome))
    assert back == genome
    assert hash(back) == hash(genome)
    assert back.key == genome.key
    if key is not None:
        assert back.key == key


def test_pickle_does_not_carry_the_cached_key():
    genome = Genome(NESTED.steps)
    fresh = len(pickle.dumps(genome))
    _ = genome.key
    assert len(pickle.dumps(genome)) == fresh
    assert "key" not in pickle.loads(pickle.dumps(genome)).__dict__


# --- construction and parse errors ------------------------------------------------------------


def test_invalid_construction():
    with pytest.raises(ValueError, match="at least one step"):
        Genome(())
    with pytest.raises(TypeError, match="must be Step values"):
        Genome(("sklearn.svm.SVC",))
    with pytest.raises(ValueError, match="dotted import path"):
        Step("SVC")


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("", "non-empty string"),
        ("   ", "non-empty string"),
        ("!!! not a genome ???", r"Cannot parse step '!!! not a genome \?\?\?'"),
        ("StandardScaler() -> LogisticRegression(C=", r"Cannot parse step 'LogisticRegression\(C='"),
        ("StandardScaler() -> ", "Cannot parse step ''"),
        (
            "PCA(5) -> LogisticRegression()",
            r"Step 'PCA\(5\)' must look like Name\(param=value, ...\) with keyword arguments only",
        ),
        ("StandardScaler -> LogisticRegression()", r"Step 'StandardScaler' must look like Name\(param=value"),
        ("LogisticRegression(C=x)", r"Parameter 'C' in 'LogisticRegression\(C=x\)' is not a literal value"),
        ("LogisticRegression(C=1.0 + 2)", r"Parameter 'C' .* is not a literal value"),
        ("LogisticRegression(C=abs())", "Unknown operator 'abs'"),
        ("LogisticRegression(C=abs(-1))", r"Step 'abs\(-1\)' must look like Name\(param=value"),
        ("LogisticRegression(C=lambda: 1)", r"Parameter 'C' .* is not a literal value"),
        ("NoSuchScaler() -> LogisticRegression()", "Unknown operator 'NoSuchScaler': not in this search space"),
        ("StandardScaler() -> LogisticRegression(solver=Foo())", "Unknown operator 'Foo'"),
    ],
)
def test_parse_errors_name_the_problem(text, pattern):
    with pytest.raises(ValueError, match=pattern):
        parse_genome(text, _space("classification").resolve_name)


def test_short_names_need_a_resolver():
    with pytest.raises(ValueError, match="Step name 'PCA' is not a dotted import path; pass a search space"):
        parse_genome("PCA()")
    assert parse_genome("sklearn.decomposition.PCA()") == Genome((Step("sklearn.decomposition.PCA"),))


def test_non_string_text_is_rejected():
    with pytest.raises(ValueError, match="non-empty string"):
        parse_genome(None)


def test_space_parse_checks_the_final_step():
    space = _space("classification")
    with pytest.raises(ValueError, match="must end with a classifier; it ends with StandardScaler"):
        space.parse("PCA() -> StandardScaler()")
    with pytest.raises(ValueError, match="must end with a classifier; it ends with Ridge"):
        space.parse("sklearn.linear_model.Ridge()")


def test_parse_rejects_repeated_parameters():
    with pytest.raises(ValueError, match="'C'"):
        parse_genome("sklearn.linear_model.LogisticRegression(C=1.0, C=2.0)")


def test_parse_rejects_double_star_arguments():
    with pytest.raises(ValueError):
        parse_genome("sklearn.svm.SVC(**{'C': 1.0})")


@pytest.mark.parametrize("value", ["[1, 2]", "{'a': 1}", "(1, 2)", "{1, 2}", "{[1]: 2}"])
def test_parse_rejects_non_scalar_literals(value):
    with pytest.raises(ValueError, match="'C'"):
        hash(parse_genome(f"sklearn.svm.SVC(C={value})"))
