"""Built-in classification search spaces: plain data in the TPOT dict form.

``DEFAULT`` covers at least TPOT 0.12's default classifier config, with continuous ranges in
place of TPOT's coarse lists; ``LIGHT`` keeps fast operators only. Every combination of the
listed values is valid for scikit-learn 1.9: parameters whose valid values depend on each
other (LogisticRegression penalty/solver, LinearSVC penalty/loss/dual, FeatureAgglomeration
linkage/metric) are fixed or left to the estimator's ``"auto"`` logic. ``random_state`` and
``n_jobs`` are never listed: the compiler sets ``random_state``, the backend owns parallelism.
MultinomialNB is left out: it rejects the negative values that scaling, PCA and most real
tables produce, so most pipelines containing it would fail.

The task-independent transformers (scalers, projections, kernel maps) live here as
``TRANSFORMERS`` / ``LIGHT_TRANSFORMERS`` and are shared with :mod:`evopipe.configs.regression`.
"""

from __future__ import annotations

from evopipe.distributions import FloatRange, IntRange
from evopipe.genome import Step

__all__ = ["DEFAULT", "LIGHT", "LIGHT_TRANSFORMERS", "SEEDS", "TRANSFORMERS"]

_CLASS_WEIGHT = [None, "balanced"]
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

LIGHT_TRANSFORMERS: dict = {
    "sklearn.preprocessing.StandardScaler": {},
    "sklearn.preprocessing.RobustScaler": {},
    "sklearn.preprocessing.MinMaxScaler": {},
    "sklearn.preprocessing.MaxAbsScaler": {},
    "sklearn.preprocessing.Normalizer": {"norm": ["l1", "l2", "max"]},
    "sklearn.preprocessing.Binarizer": {"threshold": FloatRange(0.0, 1.0)},
    # A float n_components keeps that share of the variance, so it fits any number of features.
    "sklearn.decomposition.PCA": {"n_components": FloatRange(0.5, 0.999), "whiten": [False, True]},
    # The metric stays euclidean, which every linkage (ward included) accepts; cosine would
    # fail on all-zero columns and distance thresholds depend on the data's scale and size.
    # n_clusters above the number of features fails, so it stays small.
    "sklearn.cluster.FeatureAgglomeration": {
        "n_clusters": IntRange(2, 8),
        "linkage": ["ward", "complete", "average", "single"],
    },
    "sklearn.kernel_approximation.RBFSampler": {
        "gamma": FloatRange(0.001, 1.0, log=True),
        "n_components": IntRange(10, 200, log=True),
    },
}

TRANSFORMERS: dict = {
    **LIGHT_TRANSFORMERS,
    "sklearn.decomposition.FastICA": {
        "fun": ["logcosh", "exp", "cube"],
        "tol": FloatRange(0.0001, 0.1, log=True),
    },
    # chi2 / additive_chi2 kernels are left out: they reject negative input.
    "sklearn.kernel_approximation.Nystroem": {
        "kernel": ["rbf", "cosine", "laplacian", "polynomial", "linear", "sigmoid"],
        "gamma": FloatRange(0.001, 1.0, log=True),
        "n_components": IntRange(10, 200, log=True),
    },
    "sklearn.preprocessing.PolynomialFeatures": {
        "degree": [2],
        "include_bias": [False],
        "interaction_only": [False, True],
    },
}

_LIGHT_SELECTORS: dict = {
    # The default score function is f_classif.
    "sklearn.feature_selection.SelectPercentile": {"percentile": IntRange(5, 95)},
    "sklearn.feature_selection.SelectFwe": {"alpha": FloatRange(0.001, 0.05, log=True)},
    # Variance is scale-dependent: small thresholds drop near-constant columns without emptying
    # tables whose features are already scaled down (e.g. variance 0.002 in load_diabetes).
    "sklearn.feature_selection.VarianceThreshold": {"threshold": FloatRange(1e-5, 0.01, log=True)},
}

_SELECTORS: dict = {
    **_LIGHT_SELECTORS,
    # Thresholds relative to the mean/median importance always keep at least one feature.
    "sklearn.feature_selection.SelectFromModel": {
        "estimator": [
            Step("sklearn.ensemble.ExtraTreesClassifier", {"n_estimators": 100, "max_features": 0.2}),
            Step("sklearn.ensemble.ExtraTreesClassifier", {"n_estimators": 100, "max_features": 0.5}),
            Step("sklearn.ensemble.ExtraTreesClassifier", {"n_estimators": 100, "max_features": 1.0}),
            Step(
                "sklearn.ensemble.ExtraTreesClassifier",
                {"n_estimators": 100, "max_features": 0.5, "criterion": "entropy"},
            ),
        ],
        "threshold": ["0.25*mean", "0.5*mean", "0.75*mean", "median", "mean"],
    },
    "sklearn.feature_selection.RFE": {
        "estimator": [
            Step("sklearn.ensemble.ExtraTreesClassifier", {"n_estimators": 50, "max_features": 0.5}),
            Step("sklearn.ensemble.ExtraTreesClassifier", {"n_estimators": 50, "max_features": 1.0}),
            Step(
                "sklearn.ensemble.ExtraTreesClassifier",
                {"n_estimators": 50, "max_features": 0.5, "criterion": "entropy"},
            ),
        ],
        # Float step: share of the features dropped per round; must lie in (0, 1).
        "step": FloatRange(0.1, 0.5),
        # A fraction keeps int(fraction * n_features) columns: at least half keeps one or more
        # on any table with two or more features.
        "n_features_to_select": FloatRange(0.5, 0.9),
    },
}

_GAUSSIAN_NB = {"var_smoothing": FloatRange(1e-11, 1e-3, log=True)}
_BERNOULLI_NB = {"alpha": FloatRange(0.001, 100.0, log=True), "fit_prior": [True, False]}
_DECISION_TREE = {
    "criterion": ["gini", "entropy"],
    "max_depth": IntRange(1, 16),
    "min_samples_split": _MIN_SAMPLES_SPLIT,
    "min_samples_leaf": _MIN_SAMPLES_LEAF,
    "class_weight": _CLASS_WEIGHT,
}
_KNN = {"n_neighbors": IntRange(1, 50, log=True), "weights": ["uniform", "distance"], "p": [1, 2]}
# lbfgs (the default solver) takes only the L2 penalty (l1_ratio=0); L1 / elastic-net linear
# models come from LinearSVC and SGDClassifier, whose penalties combine freely.
_LOGISTIC = {"C": FloatRange(0.0001, 25.0, log=True), "class_weight": _CLASS_WEIGHT}
_HIST_GB = {
    "learning_rate": FloatRange(0.01, 0.5, log=True),
    "max_iter": _BOOSTING_ROUNDS,
    "max_leaf_nodes": IntRange(8, 128, log=True),
    "min_samples_leaf": IntRange(2, 100, log=True),
    "l2_regularization": FloatRange(1e-6, 10.0, log=True),
    "max_features": FloatRange(0.3, 1.0),
    # "auto" stops early above 10 000 rows only; True also keeps many-iteration models cheap
    # on small data.
    "early_stopping": ["auto", True],
    "class_weight": _CLASS_WEIGHT,
}
_FOREST = {
    "n_estimators": _FOREST_TREES,
    "criterion": ["gini", "entropy"],
    "max_features": _MAX_FEATURES,
    "min_samples_split": _MIN_SAMPLES_SPLIT,
    "min_samples_leaf": _MIN_SAMPLES_LEAF,
    "bootstrap": [True, False],
    "class_weight": _CLASS_WEIGHT,
}

_CLASSIFIERS: dict = {
    "sklearn.naive_bayes.GaussianNB": _GAUSSIAN_NB,
    "sklearn.naive_bayes.BernoulliNB": _BERNOULLI_NB,
    "sklearn.tree.DecisionTreeClassifier": _DECISION_TREE,
    "sklearn.ensemble.RandomForestClassifier": _FOREST,
    "sklearn.ensemble.ExtraTreesClassifier": _FOREST,
    "sklearn.ensemble.GradientBoostingClassifier": {
        "n_estimators": _BOOSTING_ROUNDS,
        "learning_rate": FloatRange(0.001, 1.0, log=True),
        "max_depth": IntRange(1, 8),
        "min_samples_split": _MIN_SAMPLES_SPLIT,
        "min_samples_leaf": _MIN_SAMPLES_LEAF,
        "subsample": FloatRange(0.05, 1.0),
        "max_features": _MAX_FEATURES,
    },
    "sklearn.ensemble.HistGradientBoostingClassifier": _HIST_GB,
    "sklearn.neighbors.KNeighborsClassifier": _KNN,
    # penalty='l1' needs dual=False and loss='squared_hinge'; dual='auto' (the default) picks it.
    "sklearn.svm.LinearSVC": {
        "penalty": ["l1", "l2"],
        "loss": ["squared_hinge"],
        "C": FloatRange(0.0001, 25.0, log=True),
        "tol": FloatRange(1e-5, 0.1, log=True),
        "class_weight": _CLASS_WEIGHT,
    },
    "sklearn.linear_model.LogisticRegression": _LOGISTIC,
    "sklearn.linear_model.SGDClassifier": {
        "loss": ["hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron"],
        "penalty": ["l2", "l1", "elasticnet"],
        "alpha": FloatRange(1e-6, 0.1, log=True),
        "l1_ratio": FloatRange(0.0, 1.0),
        "learning_rate": ["optimal", "invscaling", "constant", "adaptive"],
        "eta0": FloatRange(0.0001, 0.1, log=True),
        "power_t": FloatRange(0.1, 1.0),
        "fit_intercept": [True, False],
        "class_weight": _CLASS_WEIGHT,
    },
    # One hidden layer (an int size): genome values are scalars, and small nets train fast.
    "sklearn.neural_network.MLPClassifier": {
        "hidden_layer_sizes": IntRange(8, 128, log=True),
        "activation": ["relu", "tanh"],
        "alpha": FloatRange(1e-6, 0.1, log=True),
        "learning_rate_init": FloatRange(0.0001, 0.1, log=True),
        # A held-out tenth decides when to stop: on large data, a fraction of the epochs.
        "early_stopping": [False, True],
    },
}

DEFAULT: dict = {**_CLASSIFIERS, **TRANSFORMERS, **_SELECTORS}

LIGHT: dict = {
    "sklearn.naive_bayes.GaussianNB": _GAUSSIAN_NB,
    "sklearn.naive_bayes.BernoulliNB": _BERNOULLI_NB,
    "sklearn.tree.DecisionTreeClassifier": _DECISION_TREE,
    "sklearn.neighbors.KNeighborsClassifier": _KNN,
    "sklearn.linear_model.LogisticRegression": _LOGISTIC,
    "sklearn.ensemble.HistGradientBoostingClassifier": {**_HIST_GB, "max_iter": IntRange(50, 150)},
    "sklearn.ensemble.RandomForestClassifier": {**_FOREST, "n_estimators": _FEW_ESTIMATORS},
    "sklearn.ensemble.ExtraTreesClassifier": {**_FOREST, "n_estimators": _FEW_ESTIMATORS},
    **LIGHT_TRANSFORMERS,
    **_LIGHT_SELECTORS,
}

SEEDS: list[str] = [
    # Cheapest first: with a short budget on few workers the first results must come quickly
    # (HistGradientBoosting on 10-class digits takes ~14 s single-threaded, these < 1 s).
    "StandardScaler() -> LogisticRegression(C=1.0)",
    "StandardScaler() -> KNeighborsClassifier(n_neighbors=10, weights='distance')",
    "StandardScaler() -> LogisticRegression(C=1.0, class_weight='balanced')",
    "ExtraTreesClassifier(n_estimators=100)",
    "RandomForestClassifier(n_estimators=100)",
    "HistGradientBoostingClassifier()",
    # Tree-ranked feature selection then a small neural network: where many columns are noise
    # (20 000-row make_classification: holdout 0.974 against 0.947 without the selection, ~6 s
    # a fit with early stopping).
    "SelectFromModel(estimator=ExtraTreesClassifier(n_estimators=100, max_features=0.2), threshold='median') "
    "-> StandardScaler() -> MLPClassifier(early_stopping=True)",
    "HistGradientBoostingClassifier(class_weight='balanced')",
    "RandomForestClassifier(n_estimators=100, class_weight='balanced', min_samples_leaf=3)",
]
# Two slow-learning HistGradientBoosting seeds (learning_rate=0.05, max_iter=300) left with the
# 150-round cap in session 10; the searches that measured the cap (benchmarks/selection_rules.py)
# ran without them, and synth20k held out better there (0.9728, 0.9754 against 0.9672, 0.9698).
