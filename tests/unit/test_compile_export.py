"""Compiling and exporting genomes, and evopipe's own transformers, with real scikit-learn fits."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from evopipe.compile import FRONT_STEP, build, compile_genome, pipeline_steps
from evopipe.configs import builtin_space
from evopipe.export import export_source
from evopipe.genome import Genome, Step
from evopipe.operators import StackingTransformer, TabularPreprocessor

CLASSIFICATION = builtin_space("default", "classification")
REGRESSION = builtin_space("default", "regression")
SPACES = {"classification": CLASSIFICATION, "regression": REGRESSION}


def _frame(task: str, n: int = 120, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Numeric features plus a string column, with a few missing values."""
    if task == "classification":
        X, y = make_classification(n, 5, n_informative=3, n_classes=3, random_state=seed)
    else:
        X, y = make_regression(n, 5, n_informative=3, noise=5.0, random_state=seed)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    rng = np.random.default_rng(seed)
    frame["colour"] = rng.choice(["red", "green", "blue"], size=n).astype(object)
    frame.loc[rng.choice(n, 5, replace=False), "x1"] = np.nan
    frame.loc[rng.choice(n, 5, replace=False), "colour"] = None
    return frame, y


def _fit_predict(pipeline: Pipeline, task: str) -> list[np.ndarray]:
    X, y = _frame(task)
    X_new, _ = _frame(task, n=40, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(X, y)
    outputs = [pipeline.predict(X_new)]
    if hasattr(pipeline, "predict_proba"):
        outputs.append(pipeline.predict_proba(X_new))
    return outputs


# --- compile ----------------------------------------------------------------------------------


def test_compile_puts_the_tabular_preprocessor_first():
    genome = CLASSIFICATION.parse("StandardScaler() -> PCA(n_components=0.9) -> LogisticRegression(C=0.5)")
    pipeline = compile_genome(genome, random_state=0)
    assert isinstance(pipeline, Pipeline)
    assert [name for name, _ in pipeline.steps] == [
        "tabularpreprocessor",
        "standardscaler",
        "pca",
        "logisticregression",
    ]
    assert isinstance(pipeline.steps[0][1], TabularPreprocessor)
    assert pipeline.named_steps["pca"].n_components == 0.9
    assert pipeline.named_steps["logisticregression"].C == 0.5
    without = compile_genome(genome, random_state=0, front=False)
    assert [name for name, _ in without.steps] == ["standardscaler", "pca", "logisticregression"]
    assert pipeline_steps(genome)[0] == ("tabularpreprocessor", FRONT_STEP)


def test_random_state_is_set_where_accepted():
    genome = CLASSIFICATION.parse(
        "StandardScaler() -> SelectFromModel(estimator=ExtraTreesClassifier(max_features=0.5, n_estimators=100), "
        "threshold='mean') -> PCA(n_components=0.9) -> RandomForestClassifier(n_estimators=20)"
    )
    pipeline = compile_genome(genome, random_state=7)
    steps = pipeline.named_steps
    assert steps["pca"].random_state == 7
    assert steps["randomforestclassifier"].random_state == 7
    assert steps["selectfrommodel"].estimator.random_state == 7
    assert "random_state" not in steps["selectfrommodel"].get_params(deep=False)
    assert "random_state" not in steps["standardscaler"].get_params()
    named = dict(pipeline_steps(genome, 7))
    assert "random_state" not in named["standardscaler"].param_dict
    assert "random_state" not in named["selectfrommodel"].param_dict
    assert named["selectfrommodel"].param_dict["estimator"].param_dict["random_state"] == 7
    # The genome itself is left untouched.
    assert all("random_state" not in s.param_dict for s in genome.steps)

    unseeded = compile_genome(genome)
    assert unseeded.named_steps["pca"].random_state is None
    assert all("random_state" not in s.param_dict for _, s in pipeline_steps(genome))


def test_random_state_set_by_the_genome_wins():
    genome = CLASSIFICATION.parse(
        "SelectFromModel(estimator=ExtraTreesClassifier(n_estimators=10, random_state=5)) -> "
        "PCA(random_state=3) -> RandomForestClassifier(n_estimators=20, random_state=11)"
    )
    pipeline = compile_genome(genome, random_state=0)
    assert pipeline.named_steps["pca"].random_state == 3
    assert pipeline.named_steps["randomforestclassifier"].random_state == 11
    assert pipeline.named_steps["selectfrommodel"].estimator.random_state == 5
    assert "random_state=11" in export_source(genome, random_state=0)


def test_non_final_estimators_are_stacked():
    genome = CLASSIFICATION.parse(
        "StandardScaler() -> LogisticRegression(C=1.0) -> KNeighborsClassifier(n_neighbors=5) -> "
        "LogisticRegression(C=2.0) -> DecisionTreeClassifier(max_depth=3)"
    )
    pipeline = compile_genome(genome, random_state=0)
    names = [name for name, _ in pipeline.steps]
    assert names == [
        "tabularpreprocessor",
        "standardscaler",
        "stack-logisticregression",
        "stack-kneighborsclassifier",
        "stack-logisticregression-2",
        "decisiontreeclassifier",
    ]
    for name in ("stack-logisticregression", "stack-kneighborsclassifier", "stack-logisticregression-2"):
        assert isinstance(pipeline.named_steps[name], StackingTransformer)
    assert isinstance(pipeline.named_steps["stack-logisticregression"].estimator, LogisticRegression)
    assert pipeline.named_steps["stack-logisticregression"].estimator.random_state == 0
    assert pipeline.named_steps["stack-logisticregression-2"].estimator.C == 2.0
    assert isinstance(pipeline.named_steps["decisiontreeclassifier"], DecisionTreeClassifier)
    # Selectors' inner estimators and the final estimator are never wrapped.
    single = compile_genome(CLASSIFICATION.parse("LogisticRegression()"), 0)
    assert [type(s) for _, s in single.steps] == [TabularPreprocessor, LogisticRegression]


def test_duplicate_steps_get_unique_names():
    genome = REGRESSION.parse("StandardScaler() -> StandardScaler() -> StandardScaler() -> Ridge()")
    assert [n for n, _ in pipeline_steps(genome)] == [
        "tabularpreprocessor",
        "standardscaler",
        "standardscaler-2",
        "standardscaler-3",
        "ridge",
    ]


def test_build_instantiates_nested_steps():
    step = Step(
        "sklearn.feature_selection.SelectFromModel",
        {"estimator": Step("sklearn.tree.DecisionTreeClassifier", {"max_depth": 2}), "threshold": "mean"},
    )
    built = build(step)
    assert isinstance(built.estimator, DecisionTreeClassifier)
    assert built.estimator.max_depth == 2 and built.threshold == "mean"


# --- export -----------------------------------------------------------------------------------

EXPORT_CASES = [
    ("classification", "StandardScaler() -> PCA(n_components=0.9, whiten=True) -> LogisticRegression(C=0.5)"),
    (
        "classification",
        "SelectFromModel(estimator=ExtraTreesClassifier(max_features=0.5, n_estimators=20), threshold='median') "
        "-> RandomForestClassifier(n_estimators=15, max_features=0.5)",
    ),
    (
        "classification",
        "MinMaxScaler() -> KNeighborsClassifier(n_neighbors=5) -> SGDClassifier(loss='hinge') -> "
        "ExtraTreesClassifier(n_estimators=15)",
    ),
    ("classification", "RBFSampler(gamma=0.1, n_components=20) -> GaussianNB()"),
    ("regression", "RobustScaler() -> Ridge(alpha=1.0) -> DecisionTreeRegressor(max_depth=4)"),
    (
        "regression",
        "SelectFromModel(estimator=ExtraTreesRegressor(max_features=0.5, n_estimators=20), threshold='mean') -> "
        "GradientBoostingRegressor(n_estimators=30, subsample=0.7, max_features=0.5)",
    ),
    ("regression", "Nystroem(n_components=20, kernel='rbf') -> SGDRegressor(eta0=0.001)"),
]


@pytest.mark.parametrize("task, text", EXPORT_CASES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(EXPORT_CASES)])
def test_exported_source_predicts_like_the_compiled_pipeline(task, text):
    genome = SPACES[task].parse(text)
    source = export_source(genome, random_state=0, score=0.875)
    assert "# Cross-validation score during the search: 0.875" in source
    namespace: dict = {}
    exec(compile(source, "<exported>", "exec"), namespace)
    exported = namespace["exported_pipeline"]
    compiled = compile_genome(genome, 0)
    assert [n for n, _ in exported.steps] == [n for n, _ in compiled.steps]
    assert repr(exported) == repr(compiled)
    for expected, actual in zip(_fit_predict(compiled, task), _fit_predict(exported, task), strict=True):
        np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("seed", [3, 17, 29])
def test_exported_random_light_genomes_predict_alike(task, seed):
    space = builtin_space("light", task)
    rng = np.random.default_rng(seed)
    genome = space.random_genome(rng)
    # At least one preprocessor; no histogram boosting, whose threads make it slow on busy machines.
    while len(genome.steps) < 2 or any("HistGradientBoosting" in s.path for s in genome.steps):
        genome = space.random_genome(rng)
    namespace: dict = {}
    exec(export_source(genome, random_state=0), namespace)
    for expected, actual in zip(
        _fit_predict(compile_genome(genome, 0), task), _fit_predict(namespace["exported_pipeline"], task), strict=True
    ):
        np.testing.assert_array_equal(actual, expected)


def test_exported_source_imports_each_class_once_and_sorted():
    genome = CLASSIFICATION.parse(
        "StandardScaler() -> SelectFromModel(estimator=ExtraTreesClassifier(n_estimators=10)) -> "
        "LogisticRegression() -> ExtraTreesClassifier(n_estimators=10)"
    )
    source = export_source(genome)
    imports = [line for line in source.splitlines() if line.startswith("from ")]
    assert imports == sorted(imports, key=lambda s: (s.split()[1], s.split()[3]))
    assert len(imports) == len(set(imports))
    assert "from evopipe.operators import StackingTransformer" in imports
    assert "from evopipe.operators import TabularPreprocessor" in imports
    assert "from sklearn.ensemble import ExtraTreesClassifier" in imports
    assert "random_state" not in source
    assert "Cross-validation score" not in source


def test_export_keeps_classes_with_the_same_name_apart(tmp_path, monkeypatch):
    (tmp_path / "evopipe_test_doubler.py").write_text(
        "from sklearn.base import BaseEstimator, TransformerMixin\n"
        "class StandardScaler(TransformerMixin, BaseEstimator):\n"
        "    def fit(self, X, y=None):\n"
        "        return self\n"
        "    def transform(self, X):\n"
        "        return X * 2.0 + 1.0\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    genome = Genome(
        (
            Step("evopipe_test_doubler.StandardScaler"),
            Step("sklearn.preprocessing.StandardScaler"),
            Step("sklearn.linear_model.Ridge"),
        )
    )
    namespace: dict = {}
    try:
        exec(export_source(genome, random_state=0), namespace)
        exported = namespace["exported_pipeline"]
        compiled = compile_genome(genome, 0)
        assert [type(s) for _, s in exported.steps] == [type(s) for _, s in compiled.steps]
    finally:
        sys.modules.pop("evopipe_test_doubler", None)


# --- StackingTransformer ----------------------------------------------------------------------


def _classification(n: int = 150):
    return make_classification(n, 6, n_informative=4, n_classes=3, random_state=0)


@pytest.mark.parametrize(
    "estimator, method",
    [
        (LogisticRegression(max_iter=1000), "predict_proba"),
        (DecisionTreeClassifier(max_depth=4, random_state=0), "predict_proba"),
        (LinearSVC(random_state=0), "decision_function"),
        (SGDClassifier(loss="hinge", random_state=0), "decision_function"),
    ],
)
def test_stacking_classifier_adds_out_of_fold_predictions(estimator, method):
    X, y = _classification()
    stacker = StackingTransformer(estimator, cv=5)
    out = stacker.fit_transform(X, y)
    expected = cross_val_predict(clone(estimator), X, y, cv=StratifiedKFold(5), method=method)
    assert out.shape == (len(X), X.shape[1] + expected.shape[1])
    np.testing.assert_array_equal(out[:, : X.shape[1]], X)
    np.testing.assert_allclose(out[:, X.shape[1] :], expected, rtol=1e-12, atol=1e-12)


def test_stacking_regressor_adds_out_of_fold_predictions():
    X, y = make_regression(100, 4, noise=1.0, random_state=0)
    estimator = DecisionTreeRegressor(max_depth=5, random_state=0)
    out = StackingTransformer(estimator, cv=4).fit_transform(X, y)
    expected = cross_val_predict(clone(estimator), X, y, cv=KFold(4))
    assert out.shape == (100, 5)
    np.testing.assert_array_equal(out[:, 4], expected)
    in_sample = clone(estimator).fit(X, y).predict(X)
    assert not np.allclose(out[:, 4], in_sample)


def test_stacking_folds_shrink_for_small_classes():
    X, y = _classification(90)
    y = y.copy()
    y[:3] = 3  # a class of three rows: three stratified folds
    estimator = LogisticRegression(max_iter=1000)
    out = StackingTransformer(estimator, cv=5).fit_transform(X, y)
    expected = cross_val_predict(clone(estimator), X, y, cv=StratifiedKFold(3), method="predict_proba")
    np.testing.assert_allclose(out[:, X.shape[1] :], expected, rtol=1e-12, atol=1e-12)


def test_stacking_transform_uses_the_estimator_fit_on_all_rows():
    X, y = _classification()
    X_new, _ = make_classification(30, 6, n_informative=4, n_classes=3, random_state=1)
    estimator = DecisionTreeClassifier(random_state=0)
    stacker = StackingTransformer(estimator)
    oof = stacker.fit_transform(X, y)[:, 6:]
    full = clone(estimator).fit(X, y)
    assert stacker.estimator_.tree_.n_node_samples[0] == len(X)
    np.testing.assert_array_equal(stacker.transform(X_new), np.hstack([X_new, full.predict_proba(X_new)]))
    # The fully grown tree memorises its training rows; the fit_transform columns must not.
    in_sample = full.predict_proba(X)
    np.testing.assert_array_equal(in_sample.argmax(axis=1), y)
    assert (oof.argmax(axis=1) != y).sum() > 5
    assert not np.array_equal(oof, in_sample)
    # fit alone learns the same estimator.
    np.testing.assert_array_equal(StackingTransformer(estimator).fit(X, y).transform(X_new), stacker.transform(X_new))


def test_pipeline_trains_the_next_step_on_out_of_fold_features():
    X, y = _classification()
    base = DecisionTreeClassifier(random_state=0)
    pipeline = Pipeline([("stack", StackingTransformer(base)), ("final", LogisticRegression(max_iter=1000))]).fit(X, y)
    oof_features = np.hstack([X, cross_val_predict(clone(base), X, y, cv=StratifiedKFold(5), method="predict_proba")])
    manual = LogisticRegression(max_iter=1000).fit(oof_features, y)
    np.testing.assert_allclose(pipeline.named_steps["final"].coef_, manual.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(
        pipeline.predict(X[:20]), manual.predict(np.hstack([X[:20], clone(base).fit(X, y).predict_proba(X[:20])]))
    )


def test_stacking_needs_y():
    X, _ = _classification()
    with pytest.raises(ValueError, match="needs y"):
        StackingTransformer(LinearRegression()).fit_transform(X)


# --- TabularPreprocessor ----------------------------------------------------------------------


def _mixed_frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "count": rng.integers(0, 5, n),
            "city": pd.Series(rng.choice(["paris", "rome", "oslo"], n), dtype=object),
            "tier": pd.Series(
                pd.Categorical(rng.choice(["gold", "silver"], n), categories=["gold", "silver", "bronze"])
            ),
            "member": rng.random(n) < 0.5,
            "note": pd.Series(rng.choice(["a", "b"], n), dtype="string"),
        }
    )
    frame.loc[[1, 5, 9], "age"] = np.nan
    frame.loc[[2, 4], "city"] = np.nan
    frame.loc[[3], "city"] = None
    frame.loc[[0, 7], "tier"] = np.nan
    frame.loc[[6], "note"] = pd.NA
    return frame


def test_tabular_preprocessor_encodes_a_mixed_frame():
    frame = _mixed_frame()
    assert frame["member"].dtype == bool and str(frame["tier"].dtype) == "category"
    pre = TabularPreprocessor()
    out = pre.fit_transform(frame)
    assert out.dtype == np.float64 and np.isfinite(out).all()
    assert sorted(pre.categorical_columns_) == ["city", "member", "note", "tier"]
    # age, count, age-missing indicator; city 4 (3 + missing), tier 3 (2 + missing), member 2, note 3.
    assert out.shape == (60, 3 + 4 + 3 + 2 + 3)
    np.testing.assert_array_equal(pre.transform(frame), out)
    np.testing.assert_array_equal(TabularPreprocessor().fit(frame).transform(frame), out)
    # Imputed with the training median, and flagged.
    assert out[1, 0] == np.nanmedian(frame["age"]) and out[1, 2] == 1.0 and out[0, 2] == 0.0
    # One-hot rows sum to one per categorical column.
    np.testing.assert_array_equal(out[:, 3:].sum(axis=1), np.full(60, 4.0))


def test_tabular_preprocessor_on_new_rows():
    frame = _mixed_frame()
    pre = TabularPreprocessor().fit(frame)
    width = pre.transform(frame).shape[1]
    new = _mixed_frame(10, seed=1)
    new.loc[0, "city"] = "lima"  # unseen string
    new["tier"] = new["tier"].cat.set_categories(["gold", "silver", "bronze", "platinum"])
    new.loc[1, "tier"] = "platinum"  # unseen category
    new.loc[2, "note"] = "zzz"
    new.loc[3, "count"] = np.nan  # missing where training had none
    out = pre.transform(new)
    assert out.shape == (10, width)
    assert out.dtype == np.float64 and np.isfinite(out).all()
    # Reordered and extra columns are fine: columns are matched by name.
    shuffled = new[list(reversed(new.columns))].assign(extra=1.0)
    np.testing.assert_array_equal(pre.transform(shuffled), out)


def test_unseen_category_encodes_as_zeros():
    frame = pd.DataFrame({"c": ["a", "b", "a", "b"]})
    pre = TabularPreprocessor().fit(frame)
    np.testing.assert_array_equal(pre.transform(pd.DataFrame({"c": ["never", "a"]})), [[0.0, 0.0], [1.0, 0.0]])


def test_missing_column_at_transform_is_named():
    frame = _mixed_frame()
    pre = TabularPreprocessor().fit(frame)
    with pytest.raises(ValueError, match=r"missing columns seen in fit: \['city'\]"):
        pre.transform(frame.drop(columns="city"))
    with pytest.raises(ValueError, match="missing columns"):
        pre.transform(frame.to_numpy())


def test_numpy_input_is_imputed():
    X = np.array([[1.0, 10.0, 5.0], [np.nan, 20.0, 6.0], [3.0, np.nan, 7.0], [5.0, 40.0, 8.0]])
    pre = TabularPreprocessor()
    out = pre.fit_transform(X)
    assert pre.n_features_in_ == 3 and not hasattr(pre, "feature_names_in_")
    assert out.shape == (4, 5) and np.isfinite(out).all()
    assert out[1, 0] == 3.0 and out[2, 1] == 20.0
    np.testing.assert_array_equal(out[:, 3:], np.isnan(X[:, :2]).astype(float))
    new = pre.transform(np.array([[np.nan, np.nan, np.nan]]))
    np.testing.assert_array_equal(new, [[3.0, 20.0, 6.5, 1.0, 1.0]])


def test_refit_on_numpy_after_a_frame_forgets_the_columns():
    pre = TabularPreprocessor().fit(_mixed_frame())
    X = np.array([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]])
    pre.fit(X)
    assert pre.transform(X).shape == (3, 3)


def test_compiled_pipeline_with_a_scaler_handles_frames():
    frame = _mixed_frame()
    y = (frame["age"].fillna(40) > 40).to_numpy().astype(int)
    pipeline = compile_genome(CLASSIFICATION.parse("StandardScaler() -> LogisticRegression()"), 0).fit(frame, y)
    assert isinstance(pipeline.named_steps["standardscaler"], StandardScaler)
    assert pipeline.predict(_mixed_frame(12, seed=2)).shape == (12,)
