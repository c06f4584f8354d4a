"""Transformers evopipe adds to scikit-learn: the pandas front step and the stacking step.

Both are ordinary scikit-learn estimators, so fitted and exported pipelines work without
evopipe's search machinery (``from evopipe.operators import ...``).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone, is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder
from sklearn.utils.validation import check_is_fitted

__all__ = ["StackingTransformer", "TabularPreprocessor"]

_MISSING_CATEGORY = "__missing__"


def _as_category_strings(frame):
    """Categorical columns as plain strings with missing values as one category of their own."""
    return frame.astype(object).where(frame.notna(), _MISSING_CATEGORY).astype(str)


class TabularPreprocessor(TransformerMixin, BaseEstimator):
    """Turn a raw table into a dense float matrix: impute numbers, one-hot encode categories.

    Columns of pandas dtype object, string, category or bool are categorical; the rest are
    numeric. Numeric missing values get the training median plus a missing-indicator column;
    categorical missing values become a category of their own. Categories unseen in training
    encode as all zeros, or as the shared "infrequent" column when the feature has more than
    ``max_categories`` categories. A numpy array is treated as all numeric.

    Parameters
    ----------
    max_categories : int, default=20
        Most one-hot columns per categorical feature; rarer categories share one column.
    """

    def __init__(self, max_categories: int = 20):
        self.max_categories = max_categories

    def fit(self, X, y=None):
        """Learn the column types, medians and categories of ``X``."""
        self._build(X).fit(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit and transform in one pass."""
        return np.asarray(self._build(X).fit_transform(X), dtype=np.float64)

    def transform(self, X):
        """Encode ``X`` with what was learned in :meth:`fit`."""
        check_is_fitted(self, "transformer_")
        if hasattr(self, "feature_names_in_"):
            missing = [c for c in self.feature_names_in_ if c not in getattr(X, "columns", [])]
            if missing:
                raise ValueError(f"X is missing columns seen in fit: {missing[:10]}.")
            X = X[list(self.feature_names_in_)]
        return np.asarray(self.transformer_.transform(X), dtype=np.float64)

    def _build(self, X):
        numeric_imputer = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
        for stale in ("feature_names_in_", "categorical_columns_"):
            self.__dict__.pop(stale, None)
        if not hasattr(X, "columns"):
            self.n_features_in_ = np.shape(X)[1]
            self.transformer_ = numeric_imputer
            return self.transformer_
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(X.columns)
        categorical = [
            c for c in X.columns
            if X[c].dtype == object or X[c].dtype == bool or str(X[c].dtype) in ("category", "string", "str")
        ]
        numeric = [c for c in X.columns if c not in categorical]
        encoder = OneHotEncoder(
            handle_unknown="infrequent_if_exist", max_categories=self.max_categories, sparse_output=False
        )
        self.categorical_columns_ = categorical
        self.transformer_ = ColumnTransformer(
            [
                ("numeric", numeric_imputer, numeric),
                ("categorical", make_pipeline(FunctionTransformer(_as_category_strings), encoder), categorical),
            ],
            sparse_threshold=0.0,
        )
        return self.transformer_


class StackingTransformer(TransformerMixin, BaseEstimator):
    """Append an estimator's predictions to the features, without in-sample leakage.

    During ``fit_transform`` (how a :class:`~sklearn.pipeline.Pipeline` fits inner steps) the
    added columns are out-of-fold predictions; on new data they are the predictions of the
    estimator refit on all training rows. Classifiers contribute class probabilities
    (or decision values), regressors their prediction.

    Parameters
    ----------
    estimator : estimator
        Classifier or regressor whose predictions become features.
    cv : int, default=5
        Folds for the out-of-fold predictions (fewer when a class is smaller than ``cv``).
    """

    def __init__(self, estimator, cv: int = 5):
        self.estimator = estimator
        self.cv = cv

    def fit(self, X, y, **fit_params):
        """Fit the estimator on all rows."""
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        self.n_features_in_ = np.shape(X)[1]
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, and return the features with out-of-fold predictions appended."""
        if y is None:
            raise ValueError("StackingTransformer needs y to fit its estimator.")
        oof = cross_val_predict(
            clone(self.estimator), X, y, cv=self._splitter(y), method=self._method(), params=fit_params or None
        )
        self.fit(X, y, **fit_params)
        return np.hstack([np.asarray(X, dtype=np.float64), oof.reshape(len(oof), -1)])

    def transform(self, X):
        """Return the features with the fitted estimator's predictions appended."""
        check_is_fitted(self, "estimator_")
        predictions = getattr(self.estimator_, self._method())(X)
        return np.hstack([np.asarray(X, dtype=np.float64), np.asarray(predictions).reshape(len(predictions), -1)])

    def _method(self) -> str:
        if is_classifier(self.estimator):
            for method in ("predict_proba", "decision_function"):
                if hasattr(self.estimator, method):
                    return method
        return "predict"

    def _splitter(self, y):
        if is_classifier(self.estimator):
            smallest = int(np.unique(y, return_counts=True)[1].min())
            return StratifiedKFold(n_splits=max(2, min(self.cv, smallest)))
        return KFold(n_splits=self.cv)
