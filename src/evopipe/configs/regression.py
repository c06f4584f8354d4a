"""Built-in regression search spaces: plain data in the TPOT dict form.

``DEFAULT`` covers at least TPOT 0.12's default regressor config, with continuous ranges in
place of TPOT's coarse lists; ``LIGHT`` keeps fast operators only. Every combination of the
listed values is valid for scikit-learn 1.9. ``random_state`` and ``n_jobs`` are never listed.

SelectPercentile and SelectFwe are left out: their default score function is ``f_classif``,
which is meaningless (NaN scores) for a continuous target, and a genome cannot name the
``f_regression`` function as a parameter value. Model-based selectors take their place.
"""

from __future__ import annotations

from evopipe.configs.classification import LIGHT_TRANSFORMERS, TRANSFORMERS
from evopipe.distributions import FloatRange, IntRange
from evopipe.genome import Step

__all__ = ["DEFAULT", "LIGHT", "SEEDS"]

# Forests get scikit-learn's default 100 trees, fixed: more trees only lower the variance a
# forest already averages down (Oshiro et al. 2012, Probst & Boulesteix 2018 find little gain
# past 100-128, and say not to tune the number), while the cost grows in proportion. tpot 1.x
# fixes it too (100 / 128). Boosting rounds do interact with the learning rate, so they stay
# searched, up to 150: on small data a 300-round model took a 120 s search's worker time from
# the rest of the search (benchmarks/selection_rules.py, session 10).
_FOREST_TREES = [100]
_BOOSTING_ROUNDS = IntRange(50, 150)
_FEW_ESTIMATORS = IntRange(20, 100)
_MAX_FEATURES = FloatRange(0.05, 1.0)
_MIN_SAMPLES_SPLIT = IntRange(2, 20)
_MIN_SAMPLES_LEAF = IntRange(1, 20)

_LIGHT_SELECTORS: dict = {
    # Variance is scale-dependent: small thresholds drop near-constant columns without emptying
    # tables whose features are already scaled down (e.g. variance 0.002 in load_diabetes).
    "sklearn.feature_selection.VarianceThreshold": {"threshold": FloatRange(1e-5, 0.01, log=True)},
}

_SELECTORS: dict = {
    **_LIGHT_SELECTORS,
    # Thresholds relative to the mean/median importance always keep at least one feature.
    "sklearn.feature_selection.SelectFromModel": {
        "estimator": [
            Step("sklearn.ensemble.ExtraTreesRegressor", {"n_estimators": 100, "max_features": 0.2}),
            Step("sklearn.ensemble.ExtraTreesRegressor", {"n_estimators": 100, "max_features": 0.5}),
            Step("sklearn.ensemble.ExtraTreesRegressor", {"n_estimators": 100, "max_features": 1.0}),
        ],
        "threshold": ["0.25*mean", "0.5*mean", "0.75*mean", "median", "mean"],
    },
    "sklearn.feature_selection.RFE": {
        "estimator": [
            Step("sklearn.ensemble.ExtraTreesRegressor", {"n_estimators": 50, "max_features": 0.5}),
            Step("sklearn.ensemble.ExtraTreesRegressor", {"n_estimators": 50, "max_features": 1.0}),
        ],
        # Float step: share of the features dropped per round; must lie in (0, 1).
        "step": FloatRange(0.1, 0.5),
        # A fraction keeps int(fraction * n_features) columns: at least half keeps one or more
        # on any table with two or more features.
        "n_features_to_select": FloatRange(0.5, 0.9),
    },
}

# l1_ratio=0 is excluded: ElasticNetCV cannot build its alpha grid for a pure L2 penalty.
_ELASTIC_NET_CV = {"l1_ratio": FloatRange(0.05, 1.0), "tol": FloatRange(1e-5, 0.1, log=True)}
_DECISION_TREE = {
    "max_depth": IntRange(1, 16),
    "min_samples_split": _MIN_SAMPLES_SPLIT,
    "min_samples_leaf": _MIN_SAMPLES_LEAF,
}
_KNN = {"n_neighbors": IntRange(1, 50, log=True), "weights": ["uniform", "distance"], "p": [1, 2]}
_RIDGE = {"alpha": FloatRange(0.001, 1000.0, log=True)}
# Poisson / gamma losses need a positive target and quantile loss predicts a quantile, not
# the mean, so only the two losses that suit any regression target are searched.
_HIST_GB = {
    "loss": ["squared_error", "absolute_error"],
    "learning_rate": FloatRange(0.01, 0.5, log=True),
    "max_iter": _BOOSTING_ROUNDS,
    "max_leaf_nodes": IntRange(8, 128, log=True),
    "min_samples_leaf": IntRange(2, 100, log=True),
    "l2_regularization": FloatRange(1e-6, 10.0, log=True),
    "max_features": FloatRange(0.3, 1.0),
    # "auto" stops early above 10 000 rows only; True also keeps many-iteration models cheap
    # on small data.
    "early_stopping": ["auto", True],
}
_FOREST = {
    "n_estimators": _FOREST_TREES,
    "max_features": _MAX_FEATURES,
    "min_samples_split": _MIN_SAMPLES_SPLIT,
    "min_samples_leaf": _MIN_SAMPLES_LEAF,
    "bootstrap": [True, False],
}

_REGRESSORS: dict = {
    "sklearn.linear_model.ElasticNetCV": _ELASTIC_NET_CV,
    "sklearn.ensemble.ExtraTreesRegressor": _FOREST,
    "sklearn.ensemble.RandomForestRegressor": _FOREST,
    "sklearn.ensemble.GradientBoostingRegressor": {
        "n_estimators": _BOOSTING_ROUNDS,
        "loss": ["squared_error", "absolute_error", "huber"],
        "learning_rate": FloatRange(0.001, 1.0, log=True),
        "max_depth": IntRange(1, 8),
        "min_samples_split": _MIN_SAMPLES_SPLIT,
        "min_samples_leaf": _MIN_SAMPLES_LEAF,
        "subsample": FloatRange(0.05, 1.0),
        "max_features": _MAX_FEATURES,
    },
    "sklearn.ensemble.HistGradientBoostingRegressor": _HIST_GB,
    "sklearn.ensemble.AdaBoostRegressor": {
        "n_estimators": _BOOSTING_ROUNDS,
        "learning_rate": FloatRange(0.01, 1.0, log=True),
        "loss": ["linear", "square", "exponential"],
    },
    "sklearn.tree.DecisionTreeRegressor": _DECISION_TREE,
    "sklearn.neighbors.KNeighborsRegressor": _KNN,
    "sklearn.linear_model.LassoLarsCV": {},
    # dual='auto' (the default) picks the dual problem that each loss requires.
    "sklearn.svm.LinearSVR": {
        "loss": ["epsilon_insensitive", "squared_epsilon_insensitive"],
        "C": FloatRange(0.0001, 25.0, log=True),
        "epsilon": FloatRange(0.0001, 1.0, log=True),
        "tol": FloatRange(1e-5, 0.1, log=True),
    },
    "sklearn.linear_model.RidgeCV": {},
    "sklearn.linear_model.Ridge": _RIDGE,
    # learning_rate='optimal' is meant for classification and diverges on regression targets;
    # eta0 stays small because squared losses diverge on unscaled data with large steps.
    "sklearn.linear_model.SGDRegressor": {
        "loss": ["squared_error", "huber", "epsilon_insensitive"],
        "penalty": ["l2", "l1", "elasticnet"],
        "alpha": FloatRange(1e-6, 0.1, log=True),
        "l1_ratio": FloatRange(0.0, 1.0),
        "learning_rate": ["invscaling", "constant", "adaptive"],
        "eta0": FloatRange(1e-5, 0.01, log=True),
        "power_t": FloatRange(0.1, 1.0),
        "fit_intercept": [True, False],
    },
    # One hidden layer (an int size): genome values are scalars, and small nets train fast.
    "sklearn.neural_network.MLPRegressor": {
        "hidden_layer_sizes": IntRange(8, 128, log=True),
        "activation": ["relu", "tanh"],
        "alpha": FloatRange(1e-6, 0.1, log=True),
        "learning_rate_init": FloatRange(0.0001, 0.1, log=True),
        # A held-out tenth decides when to stop: on large data, a fraction of the epochs.
        "early_stopping": [False, True],
    },
}

DEFAULT: dict = {**_REGRESSORS, **TRANSFORMERS, **_SELECTORS}

LIGHT: dict = {
    "sklearn.linear_model.ElasticNetCV": _ELASTIC_NET_CV,
    "sklearn.tree.DecisionTreeRegressor": _DECISION_TREE,
    "sklearn.neighbors.KNeighborsRegressor": _KNN,
    "sklearn.linear_model.LassoLarsCV": {},
    "sklearn.linear_model.RidgeCV": {},
    "sklearn.linear_model.Ridge": _RIDGE,
    "sklearn.ensemble.HistGradientBoostingRegressor": {**_HIST_GB, "max_iter": IntRange(50, 150)},
    "sklearn.ensemble.RandomForestRegressor": {**_FOREST, "n_estimators": _FEW_ESTIMATORS},
    "sklearn.ensemble.ExtraTreesRegressor": {**_FOREST, "n_estimators": _FEW_ESTIMATORS},
    **LIGHT_TRANSFORMERS,
    **_LIGHT_SELECTORS,
}

SEEDS: list[str] = [
    # Cheapest first (see the classification seeds).
    "StandardScaler() -> RidgeCV()",
    "StandardScaler() -> ElasticNetCV(l1_ratio=0.5)",
    "StandardScaler() -> KNeighborsRegressor(n_neighbors=10, weights='distance')",
    "ExtraTreesRegressor(n_estimators=100)",
    "HistGradientBoostingRegressor()",
    "RandomForestRegressor(n_estimators=100)",
    "HistGradientBoostingRegressor(loss='absolute_error')",
    "GradientBoostingRegressor(n_estimators=100)",
]
