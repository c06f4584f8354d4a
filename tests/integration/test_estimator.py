"""EvoClassifier / EvoRegressor end to end, in-process (n_jobs=1) on small real data."""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GroupKFold

from evopipe import EvoClassifier, EvoRegressor, SearchSpace
from evopipe.space import Operator

FAST = {"max_time": 60, "n_jobs": 1, "cv": 3, "random_state": 0}


def _sleepy_space(seconds: float) -> SearchSpace:
    """Candidates that each sleep about ``seconds`` per fold (50 distinct ones)."""
    ops = (Operator("fault_operators.SleepThenFit", {"seconds": [round(seconds * (1 + i / 100), 4) for i in range(50)]}),)
    return SearchSpace(ops, "classification", max_preprocessors=0)


@pytest.mark.parametrize(
    ("params", "X", "y", "error", "match"),
    [
        ({}, np.ones((10, 2)), np.r_[np.zeros(5), np.nan, np.ones(4)], ValueError, "y contains NaN"),
        ({}, np.ones((10, 2)), np.r_[np.zeros(5), np.inf, np.ones(4)], ValueError, "NaN or infinity"),
        ({}, np.ones((10, 2)), np.zeros(9), ValueError, "different lengths"),
        ({}, np.ones((0, 2)), np.zeros(0), ValueError, "0 sample"),
        ({}, np.ones((1, 2)), np.zeros(1), ValueError, "minimum of 2"),
        ({}, np.ones((10, 2)), np.zeros(10), ValueError, "only one class"),
        ({}, np.ones((10, 2)), np.linspace(0, 1, 10), ValueError, "Use EvoRegressor"),
        ({}, np.ones((10, 2, 2)), np.r_[np.zeros(5), np.ones(5)], ValueError, "must be 2-D"),
        ({}, np.r_[np.ones((9, 2)), [[np.inf, 1]]], np.r_[np.zeros(5), np.ones(5)], ValueError, "infinity"),
        ({"max_time": -3}, np.ones((10, 2)), np.r_[np.zeros(5), np.ones(5)], ValueError, "`max_time` must be"),
        ({"max_time": "10 minutes"}, np.ones((10, 2)), np.r_[np.zeros(5), np.ones(5)], ValueError, "'10m'"),
        ({"search_space": "nope"}, np.ones((10, 2)), np.r_[np.zeros(5), np.ones(5)], ValueError, "'nope'"),
        ({"population_size": 1}, np.ones((10, 2)), np.r_[np.zeros(5), np.ones(5)], ValueError, "population_size"),
        ({"mode": "fast"}, np.ones((10, 2)), np.r_[np.zeros(5), np.ones(5)], ValueError, "`mode`"),
        ({"n_jobs": 0}, np.ones((10, 2)), np.r_[np.zeros(5), np.ones(5)], ValueError, "`n_jobs`"),
        ({"cv": 1}, np.ones((10, 2)), np.r_[np.zeros(5), np.ones(5)], ValueError, "`cv`"),
        ({"max_time": None}, np.ones((10, 2)), np.r_[np.zeros(5), np.ones(5)], ValueError, "no stopping rule"),
        ({"scoring": "accuracy_typo"}, np.ones((10, 2)), np.r_[np.zeros(5), np.ones(5)], ValueError, "scorer name"),
        ({"prune": "yes"}, np.ones((10, 2)), np.r_[np.zeros(5), np.ones(5)], TypeError, "`prune` must be True or"),
        ({"ensemble": 1}, np.ones((10, 2)), np.r_[np.zeros(5), np.ones(5)], TypeError, "`ensemble` must be True"),
    ],
)
def test_bad_input_is_refused_before_any_work(params, X, y, error, match):
    started = time.monotonic()
    with pytest.raises(error, match=match):
        EvoClassifier(**{**FAST, **params}).fit(X, y)
    assert time.monotonic() - started < 2


def test_regressor_refuses_a_non_numeric_target():
    with pytest.raises(ValueError, match="numeric target"):
        EvoRegressor(**FAST).fit(np.ones((4, 2)), np.array(["a", "b", "c", "d"], dtype=object))


def test_string_and_non_contiguous_labels_round_trip(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = EvoClassifier(**FAST, max_evals=4, search_space="light").fit(X, names)
    assert list(model.classes_) == ["setosa", "versicolor", "virginica"]
    assert set(model.predict(X)) <= set(model.classes_)
    sparse_labels = np.array([3, 10, 42])[y]
    model = EvoClassifier(**FAST, max_evals=4, search_space="light").fit(X, sparse_labels)
    assert list(model.classes_) == [3, 10, 42]
    assert model.score(X, sparse_labels) > 0.9
    assert model.predict_proba(X).shape == (len(X), 3)


def test_same_random_state_gives_identical_evaluations(iris):
    X, y = iris
    params = {**FAST, "max_time": None, "max_evals": 40, "search_space": "light"}
    frames = [EvoClassifier(**params).fit(X, y).evaluations_ for _ in range(2)]
    columns = ["pipeline", "key", "status", "score", "fold_scores", "variation", "parents"]
    pd.testing.assert_frame_equal(frames[0][columns], frames[1][columns])
    assert len(frames[0]) == 40 and frames[0]["key"].is_unique
    assert (frames[0]["variation"] != "seed").sum() > 20  # the evolution really ran


def _mixed_frame(n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], n).astype(object)
    size = rng.normal(size=n)
    frame = pd.DataFrame({
        "size": size,
        "weight": rng.normal(size=n),
        "colour": colour,
        "grade": pd.Categorical(rng.choice(["a", "b"], n)),
        "flag": rng.random(n) > 0.5,
    })
    y = np.where((colour == "red") ^ (size > 0), "yes", "no")
    frame.loc[rng.random(n) < 0.1, "size"] = np.nan
    frame.loc[rng.random(n) < 0.1, "colour"] = None
    return frame, y


def test_dataframe_with_categories_and_missing_values_fits_predicts_and_exports():
    X, y = _mixed_frame()
    model = EvoClassifier(**FAST, max_evals=12).fit(X, y)
    assert model.score(X, y) > 0.8
    unseen = X.head(5).assign(colour=["purple", None, "red", "blue", "green"])
    assert len(model.predict(unseen)) == 5
    namespace: dict = {}
    exec(model.export(), namespace)
    exported = namespace["exported_pipeline"].fit(X, y)
    np.testing.assert_array_equal(exported.predict(X), model.predict(X))


def test_default_cross_validation_has_three_folds(iris, cancer):
    # Three folds by default (README, "Cheap candidates by default"): every scored candidate
    # has one score per fold, for both estimators.
    fast = {k: v for k, v in FAST.items() if k != "cv"}
    X, y = iris
    classifier = EvoClassifier(**fast, max_evals=3).fit(X, y)
    X, y = cancer
    regressor = EvoRegressor(**fast, max_evals=3).fit(X, y.astype(float))
    for model in (classifier, regressor):
        assert model.get_params()["cv"] == 3
        scored = model.evaluations_[model.evaluations_["status"] == "OK"]
        assert len(scored) >= 1
        assert all(len(folds) == 3 for folds in scored["fold_scores"])


def test_fitted_estimator_pickles_and_predicts(iris):
    X, y = iris
    model = EvoClassifier(**FAST, max_evals=3).fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))


def test_all_candidates_failing_raises_a_grouped_report(iris):
    X, y = iris
    space = SearchSpace((Operator("fault_operators.Raises", {"seconds": [0.0, 1.0]}),), "classification",
                        max_preprocessors=0)
    with pytest.raises(ValueError, match=r"(?s)All 2 candidate pipelines failed.*2 candidate\(s\) failed with ERROR: "
                                         r"RuntimeError: injected failure"):
        EvoClassifier(**FAST, search_space=space).fit(X, y)


def _failing_scorer(estimator, X, y):
    raise RuntimeError("the scorer cannot reach its database")


def test_a_search_whose_every_candidate_fails_the_same_way_stops_early(iris):
    X, y = iris
    started = time.monotonic()
    with pytest.raises(ValueError, match=r"(?s)All 10 candidate pipelines failed.*cannot reach its database"):
        EvoClassifier(**{**FAST, "max_time": 600}, scoring=_failing_scorer).fit(X, y)
    assert time.monotonic() - started < 60  # not the 600 s budget


def test_failing_candidates_are_recorded_and_the_search_goes_on(iris):
    X, y = iris
    space = SearchSpace(
        (Operator("fault_operators.Raises", {"seconds": [0.0]}),
         Operator("sklearn.linear_model.LogisticRegression", {"C": [0.1, 1.0, 10.0]})),
        "classification", seeds=("fault_operators.Raises(seconds=0.0)",), max_preprocessors=0,
    )
    model = EvoClassifier(**FAST, max_evals=4, search_space=space).fit(X, y)
    frame = model.evaluations_.set_index("pipeline")
    assert frame.loc["Raises(seconds=0.0)", "status"] == "ERROR"
    assert "injected failure" in frame.loc["Raises(seconds=0.0)", "error"]
    assert model.best_genome_.estimator.name == "LogisticRegression"


def test_max_time_holds_in_process(iris):
    X, y = iris
    started = time.monotonic()
    model = EvoClassifier(max_time=6, n_jobs=1, cv=2, random_state=0, search_space=_sleepy_space(0.4)).fit(X, y)
    assert time.monotonic() - started < 6 + 2
    assert model.stopped_because_ == "max_time"


def _interrupt_after(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_ctrl_c_returns_the_best_pipeline_so_far(iris):
    X, y = iris
    space = SearchSpace(
        (Operator("fault_operators.SleepThenFit", {"seconds": [0.3, 0.35, 0.4, 0.45, 0.5]}),), "classification",
        max_preprocessors=0,
    )
    timer = _interrupt_after(2.5)
    with pytest.warns(UserWarning, match="interrupted"):
        model = EvoClassifier(max_time=60, n_jobs=1, cv=2, random_state=0, search_space=space).fit(X, y)
    timer.join()
    assert model.stopped_because_ == "interrupted"
    assert 1 <= model.n_evaluations_ <= 6
    assert len(model.predict(X)) == len(X)


def test_ctrl_c_before_any_result_is_a_clear_error(iris):
    X, y = iris
    timer = _interrupt_after(0.5)
    with pytest.raises(KeyboardInterrupt, match="before any candidate finished"):
        EvoClassifier(max_time=60, n_jobs=1, cv=2, search_space=_sleepy_space(1.5)).fit(X, y)
    timer.join()


def test_groups_and_sample_weight_pass_through(cancer):
    X, y = cancer
    groups = np.arange(len(y)) % 7
    weights = np.where(y == 1, 1.0, 3.0)
    space = {"sklearn.linear_model.LogisticRegression": {"C": [0.1, 1.0]}, "sklearn.preprocessing.StandardScaler": {}}
    model = EvoClassifier(**{**FAST, "cv": GroupKFold(3)}, max_evals=4, search_space=space)
    model.fit(X, y, groups=groups, sample_weight=weights)
    assert (model.evaluations_["status"] == "OK").any()
    no_weights = SearchSpace((Operator("sklearn.neighbors.KNeighborsClassifier", {"n_neighbors": [5]}),),
                             "classification", max_preprocessors=0)
    with pytest.raises(ValueError, match="does not accept sample_weight"):
        EvoClassifier(**FAST, search_space=no_weights).fit(X, y, sample_weight=weights)


def test_regressor_fits_and_scores(cancer):
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    model = EvoRegressor(**FAST, max_evals=8).fit(X, y)
    assert model.best_score_ > 0.3
    assert model.score(X, y) > 0.3
    assert model.pareto_front_[0][1] == model.top_score_ >= model.best_score_
    assert (model.best_genome_.text(), model.best_score_, model.best_genome_.complexity) in model.pareto_front_


CACHE_SPACE = {
    "sklearn.preprocessing.StandardScaler": {}, "sklearn.preprocessing.MinMaxScaler": {},
    "sklearn.decomposition.PCA": {"n_components": [2, 5, 10]},
    "sklearn.linear_model.LogisticRegression": {"C": [0.01, 0.1, 1.0, 10.0]},
    "sklearn.tree.DecisionTreeClassifier": {"max_depth": [2, 4, 8]},
}


def test_prefix_cache_reuses_fits_without_changing_scores(cancer):
    X, y = cancer
    params = {**FAST, "max_time": None, "max_evals": 24, "mode": "generational", "population_size": 8,
              "search_space": CACHE_SPACE, "prune": False}
    cached = EvoClassifier(**params).fit(X, y).evaluations_
    plain = EvoClassifier(**params, prefix_cache=0).fit(X, y).evaluations_
    pd.testing.assert_series_equal(cached["score"], plain["score"])
    assert cached["steps_reused"].sum() > 0 and plain["steps_reused"].sum() == 0
    assert (cached["step_fits"] + cached["steps_reused"]).sum() == plain["step_fits"].sum()


def test_prefix_cache_stays_within_its_bound_in_a_long_run(cancer):
    from evopipe.cache import process_cache

    X, y = cancer
    bound = 2 * X.nbytes  # room for only a few folds' matrices
    EvoClassifier(**{**FAST, "max_time": None}, max_evals=30, prefix_cache=bound, search_space=CACHE_SPACE).fit(X, y)
    cache = process_cache(bound)
    assert 0 < cache.nbytes <= bound and len(cache) >= 1


def test_a_budget_too_short_for_any_candidate_is_a_clear_error(iris):
    X, y = iris
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"No candidate finished before the search stopped \(max_time\)"):
        EvoClassifier(max_time=1, n_jobs=1, cv=2, search_space=_sleepy_space(3.0)).fit(X, y)
    assert time.monotonic() - started < 1 + 5  # the in-process bar of the core issue


def test_pruned_candidates_count_as_evaluated_and_never_win(cancer):
    X, y = cancer
    model = EvoClassifier(**{**FAST, "max_time": None, "cv": 4}, max_evals=40, population_size=6,
                          search_space=CACHE_SPACE).fit(X, y)
    frame = model.evaluations_
    pruned = frame[frame["status"] == "PRUNED"]
    assert len(pruned) > 0 and len(frame) == 40
    assert pruned["score"].isna().all()
    assert all(0 < len(folds) < 4 for folds in pruned["fold_scores"])
    assert model.best_genome_.key not in set(pruned["key"])
    assert frame["key"].is_unique  # a pruned pipeline is never bred and tried again
    unpruned = EvoClassifier(**{**FAST, "max_time": None, "cv": 4}, max_evals=40, population_size=6,
                             search_space=CACHE_SPACE, prune=False).fit(X, y)
    assert (unpruned.evaluations_["status"] == "OK").all()


def test_on_large_data_weak_candidates_are_screened_out_on_a_subsample():
    from sklearn.datasets import make_classification

    # 4 folds of 5400 rows: the first fold trains on 4050, so the screening subsample has 1012 rows.
    X, y = make_classification(n_samples=5400, n_features=8, random_state=0)
    model = EvoClassifier(**{**FAST, "max_time": None, "cv": 4}, max_evals=30, search_space=CACHE_SPACE).fit(X, y)
    frame = model.evaluations_
    failed = frame["status"] == "ERROR"  # e.g. PCA(n_components=10) of 8 features fails on the subsample too
    assert frame.loc[~failed, "screen_score"].notna().all()  # everyone is screened, seeds included
    screened_out = frame[frame["error"].str.contains("screening subsample")]
    assert len(screened_out) > 0 and (screened_out["status"] == "PRUNED").all()
    assert all(len(folds) == 0 for folds in screened_out["fold_scores"])
    # Each was below the best third of the screening scores finished before it was submitted.
    assert screened_out["screen_score"].max() < frame["screen_score"].max()
    assert model.best_genome_.key not in set(screened_out["key"])
    unpruned = EvoClassifier(**{**FAST, "max_time": None, "cv": 4}, max_evals=10, search_space=CACHE_SPACE,
                             prune=False).fit(X, y)
    assert unpruned.evaluations_["screen_score"].isna().all()


def test_a_candidate_on_course_to_take_a_quarter_of_max_time_is_pruned(iris):
    X, y = iris
    ops = (Operator("fault_operators.SleepThenFit", {"seconds": [1.5 + i / 100 for i in range(20)]}),
           Operator("sklearn.tree.DecisionTreeClassifier", {"max_depth": [1, 2, 3, 4, 5]}))
    space = SearchSpace(ops, "classification", max_preprocessors=0)
    # A quarter of 12 s is 3 s; a sleepy candidate is on course for 3 x 1.5 s after its first fold.
    frame = EvoClassifier(**{**FAST, "max_time": 12}, search_space=space).fit(X, y).evaluations_
    slow = frame[frame["pipeline"].str.startswith("SleepThenFit")]
    paced = slow[slow["error"].str.contains("pace limit of 3 s")]
    assert len(paced) >= 1 and (paced["status"] == "PRUNED").all()
    assert all(len(folds) == 1 for folds in paced["fold_scores"])
    # With max_eval_time set, that limit is the only one.
    frame = EvoClassifier(**{**FAST, "max_time": 12}, max_eval_time=60, search_space=space).fit(X, y).evaluations_
    assert not frame["error"].str.contains("pace limit").any()


def test_ensemble_is_chosen_refit_and_exported(iris):
    X, y = iris
    model = EvoClassifier(**{**FAST, "max_time": None}, max_evals=30, ensemble=True, search_space=CACHE_SPACE)
    model.fit(X, y)
    assert model.ensemble_ is not None and len(model.ensemble_) >= 2
    assert model.ensemble_score_ > model.best_score_
    assert type(model.fitted_pipeline_).__name__ == "VotingClassifier"
    namespace = {}
    exec(model.export(), namespace)
    rebuilt = namespace["exported_pipeline"].fit(X, y)
    np.testing.assert_allclose(rebuilt.predict_proba(X), model.predict_proba(X))
    assert pickle.loads(pickle.dumps(model)).score(X, y) == model.score(X, y)


def test_ensemble_regressor_and_its_refusals(cancer):
    X, y = cancer
    y = X[:, 0] + np.random.default_rng(0).normal(size=len(X))
    model = EvoRegressor(**{**FAST, "max_time": None}, max_evals=25, ensemble=True).fit(X, y)
    assert model.predict(X).shape == y.shape
    if model.ensemble_ is None:  # one pipeline may already be as good as any blend
        assert model.ensemble_score_ is None
    with pytest.raises(ValueError, match="ensemble=True does not support sample_weight"):
        EvoRegressor(**FAST, ensemble=True).fit(X, y, sample_weight=np.ones(len(y)))
