"""Search-space entries for optional gradient-boosting packages, present only when installed.

The packages are looked up with :func:`importlib.util.find_spec`, never imported here: the
search space imports each operator's class when it is built. Each model runs single-threaded
(``n_jobs=1``) because evopipe already runs one candidate per worker process.
"""

from __future__ import annotations

from importlib.util import find_spec

from evopipe.distributions import FloatRange, IntRange

__all__ = ["lightgbm_operators", "xgboost_operators"]

_TASKS = ("classification", "regression")


def _check_task(task: str) -> None:
    if task not in _TASKS:
        raise ValueError(f"task must be one of {_TASKS}; got {task!r}.")


def xgboost_operators(task: str) -> dict:
    """TPOT-style entry for ``xgboost.XGBClassifier`` / ``XGBRegressor``, or ``{}`` without xgboost.

    Parameters
    ----------
    task : {"classification", "regression"}

    Returns
    -------
    dict
        ``{import path: {parameter: values}}``.
    """
    _check_task(task)
    if find_spec("xgboost") is None:
        return {}
    name = "XGBClassifier" if task == "classification" else "XGBRegressor"
    return {
        f"xgboost.{name}": {
            "n_estimators": IntRange(50, 300),
            "max_depth": IntRange(1, 10),
            "learning_rate": FloatRange(0.001, 1.0, log=True),
            "subsample": FloatRange(0.05, 1.0),
            "colsample_bytree": FloatRange(0.3, 1.0),
            "min_child_weight": IntRange(1, 20),
            "reg_lambda": FloatRange(0.001, 10.0, log=True),
            "n_jobs": [1],
            "verbosity": [0],
        }
    }


def lightgbm_operators(task: str) -> dict:
    """TPOT-style entry for ``lightgbm.LGBMClassifier`` / ``LGBMRegressor``, or ``{}`` without lightgbm.

    Parameters
    ----------
    task : {"classification", "regression"}

    Returns
    -------
    dict
        ``{import path: {parameter: values}}``.
    """
    _check_task(task)
    if find_spec("lightgbm") is None:
        return {}
    name = "LGBMClassifier" if task == "classification" else "LGBMRegressor"
    params = {
        "n_estimators": IntRange(50, 300),
        "learning_rate": FloatRange(0.01, 0.5, log=True),
        "num_leaves": IntRange(8, 128, log=True),
        "min_child_samples": IntRange(5, 100, log=True),
        # Row subsampling only takes effect with subsample_freq > 0.
        "subsample": FloatRange(0.5, 1.0),
        "subsample_freq": [1],
        "colsample_bytree": FloatRange(0.3, 1.0),
        "reg_lambda": FloatRange(0.001, 10.0, log=True),
        "n_jobs": [1],
        "verbose": [-1],
    }
    if task == "classification":
        params["class_weight"] = [None, "balanced"]
    return {f"lightgbm.{name}": params}
