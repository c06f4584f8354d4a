"""One runner per system for ``benchmarks/peers.py``: fit within a budget, count candidates.

Each runner takes the training split, the task and the budget and returns a dict with at
least ``version``, ``model`` (fitted, with ``predict``), ``fit_wall_s`` and ``candidates``;
``peers.py`` scores the model on the holdout the same way for every system.

Only numpy and scikit-learn are imported at module level: this file runs in the peers'
virtualenvs, where evopipe is not installed, so each library is imported inside its runner
(an ImportError there means "skip this system", not a crash).
"""

from __future__ import annotations

import time
from collections import Counter


def run_evopipe(X, y, regression: bool, budget: float, params: dict) -> dict:
    """EvoClassifier / EvoRegressor with ``max_time=budget`` and 2 workers.

    Parameters
    ----------
    X, y : array-like
        Training split.
    regression : bool
        Regression (EvoRegressor) or classification (EvoClassifier).
    budget : float
        Seconds, passed as ``max_time`` (a float is taken as seconds).
    params : dict
        Extra estimator parameters from ``--evopipe-param``; they override the defaults here.

    Returns
    -------
    dict
        ``candidates`` is every row of ``evaluations_`` (cancelled ones included: they were
        started and cost worker time), ``candidates_ok`` the rows with status OK.
        ``ensemble_members`` is the number of pipelines in the fitted ensemble (0: the single
        best pipeline was kept, or ``ensemble`` was off).
    """
    import evopipe
    from evopipe import EvoClassifier, EvoRegressor

    kwargs = {"max_time": budget, "n_jobs": 2, "random_state": 0, **params}
    model = (EvoRegressor if regression else EvoClassifier)(**kwargs)
    started = time.monotonic()
    model.fit(X, y)
    wall = time.monotonic() - started
    frame = model.evaluations_
    row = {"version": evopipe.__version__, "model": model, "fit_wall_s": wall, "candidates": len(frame),
           "params": {k: v for k, v in kwargs.items() if not callable(v)}}
    if "status" in frame.columns:
        statuses = Counter(str(s) for s in frame["status"])
        row["candidates_ok"] = statuses.get("OK", 0)
        row["statuses"] = dict(statuses)
    row["pipeline"] = model.best_genome_.text()
    row["cv_score"], row["top_cv_score"] = float(model.best_score_), float(model.top_score_)
    # With ensemble=True the pipeline above may not be what predicts: say which one did.
    row["ensemble_members"] = len(model.ensemble_ or ())
    return row


def run_tpot(X, y, regression: bool, budget: float, params: dict) -> dict:
    """tpot 1.x TPOTClassifier / TPOTRegressor with ``max_time_mins=budget / 60``.

    Everything else is tpot's default (search space, 10-fold CV where it defaults to it,
    population 50, its own scorer), as a user would meet it; only ``n_jobs=2`` (tpot starts
    its own Dask LocalCluster of that many workers), ``random_state=0`` and
    ``verbose=0`` are set.

    Returns
    -------
    dict
        ``candidates`` counts the rows of ``evaluated_individuals`` (every pipeline tpot
        tried, in all generations), ``candidates_ok`` those with a finite value in every
        objective column (tpot writes NaN / ``'INVALID'`` / ``'TIMEOUT'`` for the others).
    """
    import numpy as np
    import tpot

    kwargs = {"max_time_mins": budget / 60.0, "n_jobs": 2, "random_state": 0, "verbose": 0, **params}
    model = (tpot.TPOTRegressor if regression else tpot.TPOTClassifier)(**kwargs)
    started = time.monotonic()
    model.fit(X, y)
    wall = time.monotonic() - started
    row = {"version": tpot.__version__, "model": model, "fit_wall_s": wall, "candidates": None,
           "params": {k: v for k, v in kwargs.items() if isinstance(v, (int, float, str, bool))}}
    frame = getattr(model, "evaluated_individuals", None)
    if frame is not None:
        row["candidates"] = len(frame)
        objectives = list(getattr(model, "objective_names", None) or [])
        objectives = [c for c in objectives if c in frame.columns]
        if objectives:
            values = frame[objectives].apply(lambda col: _to_float(col, np))
            row["candidates_ok"] = int(np.isfinite(values.to_numpy(dtype=float)).all(axis=1).sum())
            row["objectives"] = objectives
        if "Eval Error" in frame.columns:
            # tpot's own failure label per individual ('INVALID', 'TIMEOUT', or NaN when fine).
            row["eval_errors"] = {str(k): int(v) for k, v in frame["Eval Error"].value_counts().items()}
    return row


def _to_float(column, np):
    """Objective values as floats, with tpot's 'INVALID' / 'TIMEOUT' strings as NaN."""
    out = []
    for value in column:
        try:
            out.append(float(value))
        except (TypeError, ValueError):
            out.append(np.nan)
    return out


def run_flaml(X, y, regression: bool, budget: float, params: dict) -> dict:
    """flaml.AutoML with ``time_budget=budget``, ``n_jobs=2``, ``seed=0``.

    ``verbose=0`` only silences FLAML's per-trial log lines; its learners' warnings are left
    alone (``peers.py`` counts the child's stderr lines instead of hiding them). The default
    ``estimator_list`` ("auto") is used: lgbm, rf, xgboost, extra_tree, xgb_limitdepth, sgd,
    lrl1 (classification only), and catboost when it is installed.

    Returns
    -------
    dict
        ``candidates`` is the number of trials over all learners (FLAML's ``modelcount``, the
        sum of each learner's search state ``total_iter``); ``config_history`` only keeps the
        trials that improved the best so far, so its length is reported as ``improvements``.
    """
    import flaml

    kwargs = {"time_budget": budget, "n_jobs": 2, "seed": 0, "verbose": 0,
              "task": "regression" if regression else "classification", **params}
    model = flaml.AutoML()
    started = time.monotonic()
    model.fit(X, y, **kwargs)
    wall = time.monotonic() - started
    states = getattr(model, "_search_states", {}) or {}
    trials = {name: int(getattr(state, "total_iter", 0)) for name, state in states.items()}
    row = {"version": flaml.__version__, "model": model, "fit_wall_s": wall,
           "candidates": getattr(model, "modelcount", None) or sum(trials.values()) or None,
           "trials_per_learner": trials,
           "improvements": len(getattr(model, "config_history", {}) or {}),
           "best_estimator": getattr(model, "best_estimator", None),
           "params": {k: v for k, v in kwargs.items() if isinstance(v, (int, float, str, bool))}}
    return row


def run_hgb(X, y, regression: bool, budget: float, params: dict) -> dict:
    """HistGradientBoosting with default parameters: the one-candidate baseline."""
    import sklearn
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    model = (HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier)(random_state=0)
    started = time.monotonic()
    model.fit(X, y)
    wall = time.monotonic() - started
    return {"version": sklearn.__version__, "model": model, "fit_wall_s": wall, "candidates": 1,
            "candidates_ok": 1}


# system name -> (runner, module whose import decides "installed or skipped")
RUNNERS = {
    "evopipe": (run_evopipe, "evopipe"),
    "tpot": (run_tpot, "tpot"),
    "flaml": (run_flaml, "flaml"),
    "hgb": (run_hgb, "sklearn"),
}
