"""scikit-learn's own estimator checks, on a tiny budget."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from evopipe import EvoClassifier, EvoRegressor

# Small, fast spaces so each of the ~50 checks' fits takes well under a second.
_CLASSIFIERS = {
    "sklearn.linear_model.LogisticRegression": {"C": [0.1, 1.0, 10.0]},
    "sklearn.tree.DecisionTreeClassifier": {"max_depth": [2, 4, None]},
    "sklearn.preprocessing.StandardScaler": {},
}
_REGRESSORS = {
    "sklearn.linear_model.Ridge": {"alpha": [0.1, 1.0, 10.0]},
    "sklearn.tree.DecisionTreeRegressor": {"max_depth": [2, 4, None]},
    "sklearn.preprocessing.StandardScaler": {},
}
_TINY = {"max_time": None, "max_evals": 3, "population_size": 2, "cv": 2, "n_jobs": 1}


def _expected_failures(estimator) -> dict:
    # The only check we skip. A search cross-validates: repeating rows (what this check
    # compares weights with) changes the folds, so the search may pick another pipeline. Each
    # candidate still receives the weights (see test_estimator.py). It passes by chance for the
    # classifier (both runs pick the same pipeline), so the xfail is not strict.
    return {"check_sample_weight_equivalence_on_dense_data": "CV folds differ between weighted and repeated rows"}


@parametrize_with_checks(
    [
        EvoClassifier(search_space=_CLASSIFIERS, random_state=0, **_TINY),
        EvoRegressor(search_space=_REGRESSORS, random_state=0, **_TINY),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
