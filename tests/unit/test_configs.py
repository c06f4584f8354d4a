"""Built-in search spaces: they build, every sampled operator fits, seeds and roles are right."""

from __future__ import annotations

import inspect
import warnings
import zlib

import numpy as np
import pytest
from sklearn.base import ClassifierMixin, RegressorMixin, is_classifier, is_regressor
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from evopipe.compile import build, compile_genome
from evopipe.configs import builtin_seeds, builtin_space, classification, optional, regression
from evopipe.distributions import Categorical
from evopipe.genome import Genome, Step
from evopipe.space import Operator, Role, SearchSpace, import_path

TASKS = ("classification", "regression")
NAMES = ("default", "light")
MODULES = {"classification": classification, "regression": regression}
SAMPLES_PER_OPERATOR = 8

# Partners for a sampled operator: a sampled preprocessor is followed by a cheap estimator,
# a sampled estimator is preceded by a scaler.
CHEAP_ESTIMATOR = {
    "classification": Step("sklearn.tree.DecisionTreeClassifier", {"max_depth": 3}),
    "regression": Step("sklearn.tree.DecisionTreeRegressor", {"max_depth": 3}),
}
SCALER = Step("sklearn.preprocessing.StandardScaler")
# Ensemble sizes are capped in the fit test to keep it fast: any size in the ranges is valid.
MAX_ENSEMBLE_SIZE = 20


def _data(task: str) -> tuple:
    if task == "classification":
        return make_classification(200, 8, n_informative=4, n_classes=3, random_state=0)
    return make_regression(200, 8, n_informative=4, noise=10.0, random_state=0)


def _fit(genome: Genome, task: str) -> None:
    X, y = _data(task)
    # One thread, as on evopipe's workers: OpenMP teams spin badly on a shared, busy machine.
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline = compile_genome(genome, random_state=0).fit(X, y)
        predictions = pipeline.predict(X)
    assert predictions.shape == (len(y),)


def _small(step: Step) -> Step:
    """The step with fewer trees / boosting rounds, nested estimators included."""
    params = {k: _small(v) if isinstance(v, Step) else v for k, v in step.params}
    for key in ("n_estimators", "max_iter"):
        if key in params:
            params[key] = min(params[key], MAX_ENSEMBLE_SIZE)
    return Step(step.path, params)


def _distinct_operators() -> list:
    """(task, operator) cases for every operator of every built-in space, each distinct one once."""
    seen, cases = set(), []
    for task in TASKS:
        for name in NAMES:
            for op in builtin_space(name, task).operators:
                if (task, op) not in seen:
                    seen.add((task, op))
                    cases.append(pytest.param(task, op, id=f"{task}-{name}-{op.name}"))
    return cases


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("name", NAMES)
def test_space_builds_with_estimators_and_seeds(name: str, task: str) -> None:
    space = builtin_space(name, task)
    assert isinstance(space, SearchSpace)
    assert space.task == task
    assert len(space.estimators) >= 5
    assert len(space.operators) > len(space.estimators)
    assert space.seeds
    assert builtin_space(name, task) is space


@pytest.mark.parametrize(("task", "op"), _distinct_operators())
def test_every_sampled_operator_compiles_and_fits(task: str, op: Operator) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{task}/{op.path}".encode()))
    steps = {op.sample(rng) for _ in range(SAMPLES_PER_OPERATOR)}
    for step in sorted(steps, key=str):
        step = _small(step)
        pair = (step, CHEAP_ESTIMATOR[task]) if not op.role.is_estimator else (SCALER, step)
        _fit(Genome(pair), task)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("name", NAMES)
def test_random_genomes_fit(name: str, task: str) -> None:
    space = builtin_space(name, task)
    rng = np.random.default_rng(7)
    for _ in range(4):
        _fit(Genome(tuple(_small(s) for s in space.random_genome(rng).steps)), task)


def test_class_weighting_seeds_are_left_out_only_for_balanced_classes() -> None:
    space = builtin_space("default", "classification")
    weighted = [g for g in space.seeds if "class_weight='balanced'" in g.text()]
    assert weighted
    balanced = space.seeds_for_classes(np.array(["a"] * 60 + ["b"] * 40))
    assert list(balanced.seeds) == [g for g in space.seeds if g not in weighted]
    assert balanced.operators == space.operators
    assert space.seeds_for_classes(np.array([0] * 80 + [1] * 20)) is space  # imbalanced: all kept


@pytest.mark.parametrize("task", TASKS)
def test_seeds_parse_and_lie_in_the_default_space(task: str) -> None:
    space = builtin_space("default", task)
    seeds = builtin_seeds(task)
    assert 6 <= len(seeds) <= 12  # most of the default population of 20 stays free for search
    assert [g.text() for g in space.seeds] == [space.parse(s).text() for s in seeds]
    for text in seeds:
        genome = space.parse(text)
        for step in genome.steps:
            op = space.operator(step.path)
            assert op is not None, f"{step.name} of seed {text!r} is not in the default space"
            dists = dict(op.params)
            for param, value in step.params:
                assert param in dists, f"seed {text!r} sets {param}, which {op.name} does not search"
                assert dists[param].contains(value), f"seed {text!r}: {param}={value!r} is outside its range"
    # Cheap linear models first, so a short budget on few workers gets results quickly.
    assert space.parse(seeds[0]).estimator.name in ("LogisticRegression", "RidgeCV")
    assert any(space.parse(s).estimator.name.startswith("HistGradientBoosting") for s in seeds)


@pytest.mark.parametrize("task", TASKS)
def test_light_space_keeps_the_seeds_it_can_hold(task: str) -> None:
    light = builtin_space("light", task)
    kept = {g.text() for g in light.seeds}
    for text in builtin_seeds(task):
        genome = builtin_space("default", task).parse(text)
        # Kept exactly when light has the seed's operators and its parameter values.
        fits = all(
            light.operator(s.path) is not None
            and all(k in dict(light.operator(s.path).params) and dict(light.operator(s.path).params)[k].contains(v)
                    for k, v in s.params)
            for s in genome.steps
        )
        assert (genome.text() in kept) == fits
    assert kept, "light keeps some seeds"


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("name", NAMES)
def test_roles_match_the_task(name: str, task: str) -> None:
    space = builtin_space(name, task)
    expected = is_classifier if task == "classification" else is_regressor
    rng = np.random.default_rng(0)
    for op in space.operators:
        instance = build(op.sample(rng))
        if op.role.is_estimator:
            assert op.role == space.final_role
            assert expected(instance), op.name
        else:
            assert op.role in (Role.TRANSFORMER, Role.SELECTOR)
            # Model-based selectors delegate estimator tags, so check the class itself.
            assert not issubclass(type(instance), (ClassifierMixin, RegressorMixin)), op.name
            assert hasattr(instance, "transform"), op.name


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("name", NAMES)
def test_class_weight_searched_and_no_random_state_or_n_jobs(name: str, task: str) -> None:
    config = getattr(MODULES[task], name.upper())
    for path, params in config.items():
        assert "random_state" not in params and "n_jobs" not in params, path
        signature = inspect.signature(import_path(path)).parameters
        assert set(params) <= set(signature), f"{path} has no parameter {set(params) - set(signature)}"
        if task == "classification" and "class_weight" in signature:
            assert list(params["class_weight"]) == [None, "balanced"], path
        for values in params.values():
            if isinstance(values, list) and isinstance(values[0], Step):
                assert all("random_state" not in v.param_dict and "n_jobs" not in v.param_dict for v in values)


def test_default_is_a_superset_of_light() -> None:
    for module in MODULES.values():
        assert set(module.LIGHT) <= set(module.DEFAULT)
        assert not any("MLP" in path or "SVC" in path or "SVR" in path or "RFE" in path for path in module.LIGHT)


def test_unknown_name_or_task_raises() -> None:
    message = "search_space must be 'default', 'light', a SearchSpace or a dict.*got 'nope'"
    with pytest.raises(ValueError, match=message):
        builtin_space("nope", "classification")
    with pytest.raises(ValueError, match="task must be one of"):
        builtin_space("default", "clustering")
    with pytest.raises(ValueError, match="task must be one of"):
        builtin_seeds("clustering")


def test_builtin_seeds_returns_a_copy() -> None:
    seeds = builtin_seeds("regression")
    seeds.clear()
    assert builtin_seeds("regression")


@pytest.mark.parametrize("task", TASKS)
def test_optional_operators_absent_package(task: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(optional, "find_spec", lambda name: None)
    assert optional.xgboost_operators(task) == {}
    assert optional.lightgbm_operators(task) == {}


@pytest.mark.parametrize("task", TASKS)
def test_optional_operators_present_package(task: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(optional, "find_spec", lambda name: object())
    role = Role.CLASSIFIER if task == "classification" else Role.REGRESSOR
    suffix = "Classifier" if task == "classification" else "Regressor"
    entries = {**optional.xgboost_operators(task), **optional.lightgbm_operators(task)}
    assert set(entries) == {f"xgboost.XGB{suffix}", f"lightgbm.LGBM{suffix}"}
    for path, params in entries.items():
        assert params["n_jobs"] == [1]
        assert params.get("verbosity", params.get("verbose")) in ([0], [-1])
        op = Operator(path, params, role)
        step = op.sample(np.random.default_rng(0))
        assert all(dist.contains(step.param_dict[k]) for k, dist in op.params)
    assert ("class_weight" in entries[f"lightgbm.LGBM{suffix}"]) == (task == "classification")
    with pytest.raises(ValueError, match="task must be one of"):
        optional.xgboost_operators("ranking")


@pytest.mark.parametrize("task", TASKS)
def test_nested_estimator_choices_are_steps_of_the_task(task: str) -> None:
    suffix = "Classifier" if task == "classification" else "Regressor"
    for path in ("sklearn.feature_selection.SelectFromModel", "sklearn.feature_selection.RFE"):
        choices = Categorical(tuple(MODULES[task].DEFAULT[path]["estimator"])).choices
        assert all(isinstance(c, Step) and c.name.endswith(suffix) for c in choices)


@pytest.mark.parametrize("task", TASKS)
def test_forests_grow_100_trees_and_boosting_searches_50_to_150_rounds(task: str) -> None:
    # The cost caps of the default space (README, "Cheap candidates by default").
    space = builtin_space("default", task)
    kind = "Classifier" if task == "classification" else "Regressor"
    forests = [f"sklearn.ensemble.RandomForest{kind}", f"sklearn.ensemble.ExtraTrees{kind}"]
    boosting = {f"sklearn.ensemble.GradientBoosting{kind}": "n_estimators",
                f"sklearn.ensemble.HistGradientBoosting{kind}": "max_iter"}
    if task == "regression":
        boosting["sklearn.ensemble.AdaBoostRegressor"] = "n_estimators"
    for path in forests:
        trees = dict(space.operator(path).params)["n_estimators"]
        assert trees.contains(100) and not trees.contains(99) and not trees.contains(101), path
    for path, param in boosting.items():
        rounds = dict(space.operator(path).params)[param]
        assert rounds.contains(50) and rounds.contains(150), path
        assert not rounds.contains(49) and not rounds.contains(151), path
