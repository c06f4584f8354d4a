"""The run directory of ``evopipe fit --out DIR``: writing it, and loading its model back.

``fit`` writes the model, its source, the evaluations and a JSON summary; ``predict`` loads the
model and ``report`` draws from the evaluations (see :mod:`evopipe.report_html`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evopipe.cli_errors import CliError, first_line

__all__ = [
    "EVALUATIONS_FILE",
    "MODEL_FILE",
    "PIPELINE_FILE",
    "REPORT_FILE",
    "SUMMARY_FILE",
    "load_model",
    "model_info",
    "write_run",
]

MODEL_FILE, PIPELINE_FILE, EVALUATIONS_FILE, SUMMARY_FILE, REPORT_FILE = (
    "model.joblib", "pipeline.py", "evaluations.csv", "summary.json", "report.html"
)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def write_run(out: Path, model, summary: dict) -> None:
    """Write a fitted model's files to a run directory, creating it.

    Parameters
    ----------
    out : pathlib.Path
        The directory.
    model : EvoClassifier or EvoRegressor
        The fitted model: pickled to :data:`MODEL_FILE`, its best pipeline exported to
        :data:`PIPELINE_FILE`, its ``evaluations_`` to :data:`EVALUATIONS_FILE`.
    summary : dict
        Written to :data:`SUMMARY_FILE`; numpy values become plain JSON numbers and lists.
    """
    import joblib

    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out / MODEL_FILE)
    (out / PIPELINE_FILE).write_text(model.export(), encoding="utf-8")
    model.evaluations_.to_csv(out / EVALUATIONS_FILE, index=False)
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=_json_default) + "\n", encoding="utf-8")


def load_model(path: str) -> tuple:
    """Load a model written by ``evopipe fit``.

    Parameters
    ----------
    path : str
        The model file, or the run directory holding :data:`MODEL_FILE`.

    Returns
    -------
    (model, model_path)
        The fitted model and the file it came from.

    Raises
    ------
    CliError
        The file is missing, cannot be unpickled, or is not a fitted evopipe model.
    """
    import joblib

    model_path = Path(path)
    if model_path.is_dir():
        model_path = model_path / MODEL_FILE
    if not model_path.is_file():
        raise CliError(f"{model_path}: no such file")
    try:
        model = joblib.load(model_path)
    except Exception as exc:  # unpickling raises anything (EOFError, UnpicklingError, ModuleNotFoundError...)
        raise CliError(f"{model_path}: could not load the model: {type(exc).__name__}: {first_line(exc)}") from None
    if not hasattr(model, "fitted_pipeline_") or not hasattr(model, "predict"):
        raise CliError(f"{model_path}: not a fitted evopipe model (a {type(model).__name__})")
    return model, model_path


def model_info(model, model_path: Path) -> dict:
    """Target, feature and categorical columns: stored on the model by ``fit``, else guessed.

    Parameters
    ----------
    model : estimator
        As returned by :func:`load_model`.
    model_path : pathlib.Path
        Its file; a :data:`SUMMARY_FILE` next to it is the fallback for models fitted in Python.

    Returns
    -------
    dict
        ``target`` (None when unknown), ``feature_columns`` and ``categorical_columns``.

    Raises
    ------
    CliError
        Nothing says which columns the model uses.
    """
    info = getattr(model, "evopipe_cli_", None)
    if isinstance(info, dict) and "feature_columns" in info:
        return info
    summary_path = model_path.parent / SUMMARY_FILE
    if summary_path.is_file():
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
            return {k: summary[k] for k in ("target", "feature_columns", "categorical_columns")}
        except (ValueError, KeyError, OSError):
            pass
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        raise CliError(f"{model_path}: the model was fitted without column names, so the columns to use are unknown")
    return {"target": None, "feature_columns": [str(n) for n in names], "categorical_columns": []}
