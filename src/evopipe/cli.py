"""The ``evopipe`` command line: ``fit``, ``predict``, ``report`` and ``demo``.

::

    evopipe fit train.csv --target label --max-time 10m --out run/
    evopipe predict run/model.joblib test.csv > predictions.csv
    evopipe report run/

A user error (missing file, unknown column, bad option value...) exits with status 2 and one
line on stderr; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["CliError", "infer_task", "main", "read_table"]

DEMO_DATASETS = ("digits", "breast_cancer", "wine", "diabetes")
TASKS = ("classification", "regression")
STATUSES = ("OK", "ERROR", "TIMEOUT", "MEMORY", "CANCELLED")
CLASSIFICATION_MAX_INTEGERS = 20
"""An integer-valued numeric target with at most this many distinct values is taken as class labels."""

MODEL_FILE, PIPELINE_FILE, EVALUATIONS_FILE, SUMMARY_FILE, REPORT_FILE = (
    "model.joblib", "pipeline.py", "evaluations.csv", "summary.json", "report.html"
)
FIGURES = (
    ("score_over_time.png", "Score over time",
     "Each point is a candidate that finished OK, at the time it finished; the line is the best score so far; "
     "red ticks at the bottom are failed candidates."),
    ("pareto_front.png", "Pareto front",
     "The search maximises the CV score and minimises the number of steps: the red line joins the candidates "
     "no simpler candidate beats."),
    ("status_counts.png", "Candidates by status",
     "ERROR: the pipeline raised; TIMEOUT: past --max-eval-time; MEMORY: its worker ran out of memory; "
     "CANCELLED: still running when the budget ran out."),
    ("operator_times.png", "Slowest operators",
     "Mean wall time of the whole cross-validation of the candidates that use each operator."),
)


class CliError(Exception):
    """A user error: printed as one line, without a traceback."""


# ---------------------------------------------------------------------------------------------
# Reading data


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _is_parquet(path: Path) -> bool:
    if path.name.lower().endswith((".parquet", ".pq", ".parq")):
        return True
    with open(path, "rb") as handle:
        return handle.read(4) == b"PAR1"


def _parquet_engine() -> str:
    import importlib.util

    for engine in ("pyarrow", "fastparquet"):
        if importlib.util.find_spec(engine) is not None:
            return engine
    raise CliError("reading Parquet needs pyarrow, which is not installed: pip install 'evopipe[parquet]'")


def read_table(path: str | os.PathLike, categorical: list | None = None):
    """Read a CSV (optionally compressed: .gz, .bz2, .zip, .xz, .zst) or Parquet file into a DataFrame.

    Parameters
    ----------
    path : str or path-like
        Parquet when the name ends in .parquet/.pq or the file starts with Parquet's magic
        bytes; otherwise CSV (compression from the extension, or gzip by its magic bytes).
    categorical : list of str, optional
        CSV columns to read as strings (the columns a model saw as categories), so that
        values such as ``"007"`` keep their text.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    CliError
        The file is missing, empty, has no rows, or cannot be parsed.
    """
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise CliError(f"{path}: no such file")
    if path.is_dir():
        raise CliError(f"{path}: is a directory, expected a CSV or Parquet file")
    if path.stat().st_size == 0:
        raise CliError(f"{path}: the file is empty")
    try:
        if _is_parquet(path):
            kind = "Parquet"
            frame = pd.read_parquet(path, engine=_parquet_engine())
        else:
            kind = "CSV"
            with open(path, "rb") as handle:
                gzipped = handle.read(2) == b"\x1f\x8b"
            compression = "gzip" if gzipped and not path.name.lower().endswith(".gz") else "infer"
            dtype = dict.fromkeys(categorical, str) if categorical else None
            frame = pd.read_csv(path, compression=compression, dtype=dtype, low_memory=False)
    except CliError:
        raise
    except pd.errors.EmptyDataError:
        raise CliError(f"{path}: the file is empty (no header, no rows)") from None
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not a text CSV file ({exc.reason} at byte {exc.start}); is it another format?") from None
    except (ValueError, TypeError, OSError, EOFError, ImportError, KeyError) as exc:
        raise CliError(f"{path}: could not read it as {kind}: {_first_line(exc)}") from None
    except Exception as exc:  # pyarrow raises its own types for corrupt files
        raise CliError(f"{path}: could not read it as {kind}: {type(exc).__name__}: {_first_line(exc)}") from None
    if frame.shape[1] == 0:
        raise CliError(f"{path}: no columns")
    if len(frame) == 0:
        raise CliError(f"{path}: no rows (only a header with {frame.shape[1]} column(s))")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _missing_columns_error(path: str, wanted: list, frame) -> CliError:
    available = list(frame.columns)
    shown = ", ".join(repr(c) for c in available[:15]) + (f", ... ({len(available)} in all)" if len(available) > 15 else "")
    hint = ""
    if len(available) == 1 and any(sep in available[0] for sep in (";", "\t", "|")):
        hint = " (the file has one column: is it separated by something other than commas?)"
    names = ", ".join(repr(c) for c in wanted)
    what = "column" if len(wanted) == 1 else "columns"
    return CliError(f"{path}: no {what} {names}; its columns are: {shown}{hint}")


def _is_categorical(series) -> bool:
    import pandas as pd

    return not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)


def infer_task(y) -> tuple[str, str]:
    """Guess the task from a target column.

    Strings, booleans and categories are class labels; so are integer-valued numbers with at
    most :data:`CLASSIFICATION_MAX_INTEGERS` distinct values; other numbers are a regression
    target.

    Parameters
    ----------
    y : pandas.Series
        The target, without missing values.

    Returns
    -------
    (task, reason)
        ``task`` is ``"classification"`` or ``"regression"``; ``reason`` says why, in words.
    """
    import numpy as np

    distinct = int(y.nunique())
    if _is_categorical(y):
        return "classification", f"{distinct} distinct non-numeric values"
    values = y.to_numpy(dtype=float)
    integers = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
    if integers and distinct <= CLASSIFICATION_MAX_INTEGERS:
        return "classification", f"{distinct} distinct integer values"
    kind = "integer" if integers else "numeric"
    return "regression", f"{distinct} distinct {kind} values"


# ---------------------------------------------------------------------------------------------
# Option types


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


def _n_jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, or -1 for all cores; got {text!r}")
    return value


def _duration(option: str, allow_none: bool):
    def parse(text: str) -> float | None:
        from evopipe.validation import parse_duration

        if allow_none and text.strip().lower() in ("none", "inf", "unlimited"):
            return None
        try:
            return parse_duration(option, text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(
                f"expected seconds or a duration like 90s, 10m, 2h or 1h30m{', or none' if allow_none else ''}; "
                f"got {text!r}"
            ) from None

    parse.__name__ = "duration"
    return parse


def _search_space(spec: str) -> Any:
    """``default``, ``light``, or a JSON file holding a TPOT-style dict."""
    if spec in ("default", "light"):
        return spec
    path = Path(spec)
    if not path.is_file():
        raise CliError(f"--search-space must be 'default', 'light' or a JSON file; {spec!r} is not a file")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CliError(f"{path}: not valid JSON: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: could not read it: {_first_line(exc)}") from None
    if not isinstance(config, dict) or not config or not all(isinstance(v, (dict, type(None))) for v in config.values()):
        raise CliError(
            f'{path}: a search space must be a non-empty JSON object like {{"sklearn.svm.SVC": {{"C": [0.1, 1, 10]}}}}'
        )
    return config


# ---------------------------------------------------------------------------------------------
# fit


def _fit(args: argparse.Namespace) -> int:
    import joblib

    from evopipe import EvoClassifier, EvoRegressor, __version__

    search_space = _search_space(args.search_space)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out}: exists and is not a directory")
    started = time.monotonic()
    frame = read_table(args.data)
    read_seconds = time.monotonic() - started
    if args.target not in frame.columns:
        raise _missing_columns_error(args.data, [args.target], frame)
    missing_target = frame[args.target].isna()
    if missing_target.all():
        raise CliError(f"{args.data}: the target column {args.target!r} has no values")
    if missing_target.any():
        print(f"evopipe: dropping {int(missing_target.sum())} row(s) with no value in {args.target!r}", file=sys.stderr)
        frame = frame[~missing_target].reset_index(drop=True)
    features = [c for c in frame.columns if c != args.target]
    if not features:
        raise CliError(f"{args.data}: no feature columns besides the target {args.target!r}")
    X, y = frame[features], frame[args.target]
    if args.task is None:
        task, reason = infer_task(y)
        print(f"evopipe: task: {task} (target {args.target!r} has {reason}; use --task to change it)", file=sys.stderr)
    else:
        task = args.task
    if task == "regression" and _is_categorical(y):
        raise CliError(f"--task regression needs a numeric target; {args.target!r} holds {y.dtype} values")
    if task == "classification" and not _is_categorical(y) and infer_task(y)[0] == "regression":
        from sklearn.utils.multiclass import type_of_target

        if type_of_target(y.to_numpy()) == "continuous":
            raise CliError(f"--task classification needs class labels; {args.target!r} holds non-integer numbers "
                           "(use --task regression)")

    estimator_class = EvoClassifier if task == "classification" else EvoRegressor
    verbose = 0 if args.quiet else (1 if args.verbose or sys.stderr.isatty() else 0)
    model = estimator_class(
        max_time=args.max_time,
        max_eval_time=args.max_eval_time,
        max_evals=args.max_evals,
        population_size=args.population_size,
        search_space=search_space,
        scoring=args.scoring,
        cv=args.cv,
        client=args.scheduler,
        n_jobs=1 if args.scheduler else args.n_jobs,
        checkpoint=args.checkpoint,
        random_state=args.random_state,
        verbose=verbose,
    )
    where = f"scheduler {args.scheduler}" if args.scheduler else (
        "in-process" if args.n_jobs == 1 else f"an embedded Dask cluster ({'one worker per core' if args.n_jobs == -1 else f'{args.n_jobs} workers'})"
    )
    budget = "no time limit" if args.max_time is None else f"budget {args.max_time:g} s"
    print(f"evopipe: fitting {task} on {len(X)} rows x {len(features)} features, {budget}, {where}", file=sys.stderr)
    fit_started = time.monotonic()
    model.fit(X, y)
    fit_seconds = time.monotonic() - fit_started

    categorical = [c for c in features if _is_categorical(X[c])]
    # What `predict` needs travels with the model (and is repeated in summary.json).
    model.evopipe_cli_ = {"target": args.target, "task": task, "feature_columns": features,
                          "categorical_columns": categorical}
    evaluations = model.evaluations_
    counts = {s: int((evaluations["status"] == s).sum()) for s in STATUSES}
    counts.update({s: int(n) for s, n in evaluations["status"].value_counts().items() if s not in counts})
    seconds = evaluations["seconds"].astype(float)
    summary = {
        "evopipe_version": __version__,
        "dataset": str(Path(args.data).resolve()),
        "target": args.target,
        "task": task,
        "task_inferred": args.task is None,
        "feature_columns": features,
        "categorical_columns": categorical,
        "n_rows": len(X),
        "n_rows_dropped": int(missing_target.sum()),
        "classes": model.classes_.tolist() if task == "classification" else None,
        "scoring": args.scoring or ("accuracy" if task == "classification" else "r2"),
        "cv": args.cv,
        "best_pipeline": model.best_genome_.text(),
        "cv_score": float(model.best_score_),
        "n_candidates": int(model.n_evaluations_),
        "counts_by_status": counts,
        "stopped_because": model.stopped_because_,
        "timings": {
            "fit_seconds": round(fit_seconds, 3),
            "read_seconds": round(read_seconds, 3),
            "evaluation_seconds_total": round(float(seconds.sum()), 3),
            "evaluation_seconds_mean": round(float(seconds.mean()), 4) if len(seconds) else None,
        },
        "pareto_front": [{"pipeline": p, "score": float(s), "complexity": int(c)} for p, s, c in model.pareto_front_],
        "settings": {
            "max_time": args.max_time, "max_eval_time": args.max_eval_time, "max_evals": args.max_evals,
            "population_size": args.population_size,
            "search_space": args.search_space if isinstance(search_space, str) else str(Path(args.search_space).resolve()),
            "scheduler": args.scheduler, "n_jobs": args.n_jobs, "checkpoint": args.checkpoint,
            "random_state": args.random_state,
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out / MODEL_FILE)
    (out / PIPELINE_FILE).write_text(model.export(), encoding="utf-8")
    evaluations.to_csv(out / EVALUATIONS_FILE, index=False)
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=_json_default) + "\n", encoding="utf-8")

    failed = sum(n for s, n in counts.items() if s not in ("OK", "CANCELLED"))
    print(f"fit took {fit_seconds:.1f} s: {model.n_evaluations_} candidates ({counts['OK']} OK, {failed} failed), "
          f"stopped by {model.stopped_because_ or 'the search'}")
    print(f"best pipeline: {summary['best_pipeline']}")
    print(f"CV {summary['scoring']}: {summary['cv_score']:.4f}")
    print(f"wrote {out / MODEL_FILE}, {PIPELINE_FILE}, {EVALUATIONS_FILE}, {SUMMARY_FILE}")
    return 0


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


# ---------------------------------------------------------------------------------------------
# predict


def _load_model(path: str):
    import joblib

    model_path = Path(path)
    if model_path.is_dir():
        model_path = model_path / MODEL_FILE
    if not model_path.is_file():
        raise CliError(f"{model_path}: no such file")
    try:
        model = joblib.load(model_path)
    except Exception as exc:  # unpickling raises anything (EOFError, UnpicklingError, ModuleNotFoundError...)
        raise CliError(f"{model_path}: could not load the model: {type(exc).__name__}: {_first_line(exc)}") from None
    if not hasattr(model, "fitted_pipeline_") or not hasattr(model, "predict"):
        raise CliError(f"{model_path}: not a fitted evopipe model (a {type(model).__name__})")
    return model, model_path


def _model_info(model, model_path: Path) -> dict:
    """Target, feature and categorical columns: stored on the model by ``fit``, else guessed."""
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


def _predict(args: argparse.Namespace) -> int:
    import pandas as pd

    model, model_path = _load_model(args.model)
    info = _model_info(model, model_path)
    features, categorical = list(info["feature_columns"]), list(info.get("categorical_columns") or [])
    is_classifier = hasattr(model, "classes_")
    if args.proba and not is_classifier:
        raise CliError(f"--proba needs a classifier; {model_path} is a {type(model).__name__}")
    frame = read_table(args.data, categorical=categorical)
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise CliError(
            f"{args.data}: missing {len(missing)} feature column(s) the model needs: "
            + ", ".join(repr(c) for c in missing[:20]) + (" ..." if len(missing) > 20 else "")
        )
    X = frame[features].copy()
    for column in features:
        if column in categorical or not _is_categorical(X[column]):
            continue
        # Numeric in training but read as text here: numbers stored as text, or a stray string.
        converted = pd.to_numeric(X[column], errors="coerce")
        bad = X[column].notna() & converted.isna()
        if bad.any():
            example = X[column][bad].iloc[0]
            raise CliError(f"{args.data}: column {column!r} should be numeric but holds {example!r} "
                           f"(row {int(bad.to_numpy().argmax()) + 1} of the data)")
        X[column] = converted
    if args.proba:
        try:
            values = model.predict_proba(X)
        except AttributeError as exc:
            raise CliError(f"--proba: {_first_line(exc)}") from None
        result = pd.DataFrame(values, columns=[str(c) for c in model.classes_])
    else:
        result = pd.DataFrame({"prediction": model.predict(X)})
    if args.output:
        result.to_csv(args.output, index=False)
        print(f"evopipe: wrote {len(result)} predictions to {args.output}", file=sys.stderr)
    else:
        result.to_csv(sys.stdout, index=False)
        sys.stdout.flush()
    return 0


# ---------------------------------------------------------------------------------------------
# report


def _report(args: argparse.Namespace) -> int:
    import pandas as pd

    from evopipe import plots

    directory = Path(args.dir)
    if directory.is_file():
        directory = directory.parent
    if not directory.is_dir():
        raise CliError(f"{directory}: no such directory")
    evaluations_path = directory / EVALUATIONS_FILE
    if not evaluations_path.is_file():
        raise CliError(f"{directory}: no {EVALUATIONS_FILE} here; run `evopipe fit DATA --target COL --out {directory}` first")
    plots._matplotlib()  # fail with the install hint before reading anything
    try:
        evaluations = pd.read_csv(evaluations_path)
    except (ValueError, OSError) as exc:
        raise CliError(f"{evaluations_path}: could not read it: {_first_line(exc)}") from None
    summary = {}
    if (directory / SUMMARY_FILE).is_file():
        try:
            summary = json.loads((directory / SUMMARY_FILE).read_text(encoding="utf-8"))
        except ValueError as exc:
            raise CliError(f"{directory / SUMMARY_FILE}: not valid JSON: {exc}") from None
    scoring = summary.get("scoring")
    makers = {
        "score_over_time.png": lambda: plots.plot_score_over_time(evaluations, scoring=scoring),
        "pareto_front.png": lambda: plots.plot_pareto_front(evaluations, scoring=scoring),
        "status_counts.png": lambda: plots.plot_status_counts(evaluations),
        "operator_times.png": lambda: plots.plot_operator_times(evaluations),
    }
    for name, _, _ in FIGURES:
        makers[name]().savefig(directory / name, dpi=args.dpi)
    source = (directory / PIPELINE_FILE).read_text(encoding="utf-8") if (directory / PIPELINE_FILE).is_file() else None
    page = _report_html(evaluations, summary, source, plots.pareto_front(evaluations))
    (directory / REPORT_FILE).write_text(page, encoding="utf-8")
    print(f"wrote {directory / REPORT_FILE} and {len(FIGURES)} figures")
    return 0


def _table(frame, columns: list) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in columns)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for column, _ in columns:
            value = row[column]
            text = f"{value:.5g}" if isinstance(value, float) else str(value)
            tag = "td class=code" if column == "pipeline" else "td"
            cells.append(f"<{tag}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _report_html(evaluations, summary: dict, source: str | None, front) -> str:
    esc = html.escape
    title = f"evopipe report: {Path(summary['dataset']).name}" if summary.get("dataset") else "evopipe report"
    facts = [
        ("dataset", summary.get("dataset")),
        ("target", summary.get("target")),
        ("task", summary.get("task")),
        ("rows x features", f"{summary['n_rows']} x {len(summary['feature_columns'])}" if "n_rows" in summary else None),
        ("scoring", f"{summary.get('scoring')}, {summary.get('cv')}-fold CV" if summary.get("scoring") else None),
        ("best pipeline", summary.get("best_pipeline")),
        ("CV score", f"{summary['cv_score']:.5g}" if "cv_score" in summary else None),
        ("candidates", len(evaluations)),
        ("by status", ", ".join(f"{s} {n}" for s, n in evaluations["status"].value_counts().items())),
        ("fit wall time", f"{summary['timings']['fit_seconds']:.1f} s" if "timings" in summary else None),
        ("stopped by", summary.get("stopped_because")),
        ("evopipe", summary.get("evopipe_version")),
    ]
    facts_html = "".join(
        f"<tr><th>{esc(k)}</th><td{' class=code' if k == 'best pipeline' else ''}>{esc(str(v))}</td></tr>"
        for k, v in facts if v not in (None, "")
    )
    figures_html = "".join(
        f'<figure><img src="{esc(name)}" alt="{esc(heading)}"><figcaption>{esc(caption)}</figcaption></figure>'
        for name, heading, caption in FIGURES
    )
    ok = evaluations[evaluations["status"] == "OK"]
    top = ok.sort_values("score", ascending=False, kind="stable").head(10)
    columns = [("candidate", "#"), ("pipeline", "pipeline"), ("score", "CV score"), ("complexity", "steps"),
               ("seconds", "seconds"), ("variation", "variation")]
    failed = evaluations[evaluations["status"].isin(["ERROR", "TIMEOUT", "MEMORY"])]
    failures_html = ""
    if len(failed):
        lines = failed["error"].fillna("").astype(str).map(lambda e: e.strip().splitlines()[-1] if e.strip() else "")
        grouped = (failed.assign(message=lines).groupby(["status", "message"]).size()
                   .sort_values(ascending=False).head(10).reset_index(name="count"))
        failures_html = "<h2>Failures</h2>" + _table(grouped, [("count", "count"), ("status", "status"),
                                                               ("message", "error (last line)")])
    source_html = f"<h2>Best pipeline (pipeline.py)</h2><pre>{esc(source)}</pre>" if source else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }}
th, td {{ border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }}
th {{ background: #f5f5f5; }}
.code, pre {{ font-family: ui-monospace, monospace; font-size: 0.85em; }}
pre {{ background: #f7f7f7; padding: 1em; overflow-x: auto; }}
figure {{ margin: 1em 0 2em; }} img {{ max-width: 100%; }} figcaption {{ color: #555; font-size: 0.9em; }}
</style></head><body>
<h1>{esc(title)}</h1>
<table>{facts_html}</table>
<h2>The search</h2>
{figures_html}
<h2>Pareto front</h2>
{_table(front, [("pipeline", "pipeline"), ("complexity", "steps"), ("score", "CV score")])}
<h2>Best candidates</h2>
{_table(top, columns)}
{failures_html}
{source_html}
</body></html>
"""


# ---------------------------------------------------------------------------------------------
# demo


def _demo(args: argparse.Namespace) -> int:
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    from evopipe import EvoClassifier, EvoRegressor

    X, y = getattr(datasets, f"load_{args.dataset}")(return_X_y=True)
    regression = args.dataset == "diabetes"
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=None if regression else y
    )
    estimator_class = EvoRegressor if regression else EvoClassifier
    model = estimator_class(max_time=args.max_time, n_jobs=args.n_jobs, random_state=args.random_state, verbose=1)
    where = "in-process" if args.n_jobs == 1 else f"an embedded Dask cluster ({args.n_jobs} workers)".replace(
        "(-1 workers)", "(one worker per core)"
    )
    print(f"evopipe demo: {args.dataset} ({X.shape[0]} rows, {X.shape[1]} features), budget {args.max_time}, {where}")
    started = time.monotonic()
    model.fit(X_train, y_train)
    elapsed = time.monotonic() - started
    counts = model.evaluations_["status"].value_counts().to_dict()
    print(f"fit took {elapsed:.1f} s; {model.n_evaluations_} candidates evaluated {counts}")
    print(f"best pipeline: {model.best_genome_.text()}")
    print(f"cross-validation score: {model.best_score_:.4f}")
    print(f"holdout {'r2' if regression else 'accuracy'}: {model.score(X_test, y_test):.4f}")
    print("\nexported source:\n" + model.export())
    return 0


# ---------------------------------------------------------------------------------------------
# Parser and main


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (``evopipe fit: error: ...``), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks and debug logs")
    parser = _Parser(prog="evopipe", description="Evolve scikit-learn pipelines on Dask.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    fit = commands.add_parser(
        "fit", parents=[common], help="search for the best pipeline for a table and save it",
        description="Search for the best pipeline predicting --target from the other columns of DATA; write "
                    "model.joblib, pipeline.py, evaluations.csv and summary.json to --out.",
    )
    fit.add_argument("data", metavar="DATA", help="training table: CSV (also .csv.gz) or Parquet (needs pyarrow)")
    fit.add_argument("--target", required=True, metavar="COL", help="the column to predict")
    fit.add_argument("--out", required=True, metavar="DIR", help="directory to write the results to (created)")
    fit.add_argument("--task", choices=TASKS,
                     help="default: inferred from the target (numbers with many distinct values: regression)")
    fit.add_argument("--scoring", metavar="S", help="a scikit-learn scorer name (default: accuracy / r2)")
    fit.add_argument("--cv", type=_int_at_least(2), default=5, metavar="K", help="cross-validation folds (default: 5)")
    fit.add_argument("--max-time", type=_duration("--max-time", True), default=300.0, metavar="T",
                     help="budget for the search, e.g. 90s, 10m, 2h, or none (default: 5m)")
    fit.add_argument("--max-eval-time", type=_duration("--max-eval-time", False), metavar="T",
                     help="limit for one candidate, e.g. 2m (default: none)")
    fit.add_argument("--max-evals", type=_int_at_least(1), metavar="N", help="stop after N candidates")
    fit.add_argument("--population-size", type=_int_at_least(2), default=20, metavar="N", help="(default: 20)")
    fit.add_argument("--search-space", default="default", metavar="SPACE",
                     help="default, light, or a JSON file of a TPOT-style dict "
                          '{"sklearn.x.Y": {"param": [values]}} (default: default)')
    where = fit.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask scheduler, e.g. tcp://host:8786")
    where.add_argument("--n-jobs", type=_n_jobs, default=-1, metavar="N",
                       help="workers of an embedded Dask cluster; 1 runs in-process (default: -1, all cores)")
    fit.add_argument("--checkpoint", metavar="FILE", help="run journal; an interrupted fit with the same FILE resumes")
    fit.add_argument("--random-state", type=_int_at_least(0), metavar="N", help="seed, for a repeatable search")
    noise = fit.add_mutually_exclusive_group()
    noise.add_argument("-v", "--verbose", action="store_true", help="progress bar (default when stderr is a terminal)")
    noise.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    fit.set_defaults(run=_fit)

    predict = commands.add_parser(
        "predict", parents=[common], help="predict with a saved model; CSV on stdout",
        description="Predict every row of DATA with a model written by `evopipe fit`; the target column, if "
                    "present, and columns the model did not see are ignored. Load only models you trust "
                    "(joblib files are pickles).",
    )
    predict.add_argument("model", metavar="MODEL", help="DIR/model.joblib (or DIR)")
    predict.add_argument("data", metavar="DATA", help="CSV (also .csv.gz) or Parquet")
    predict.add_argument("--proba", action="store_true", help="class probabilities, one column per class")
    predict.add_argument("-o", "--output", metavar="FILE", help="write the CSV here instead of stdout")
    predict.set_defaults(run=_predict)

    report = commands.add_parser(
        "report", parents=[common], help="write DIR/report.html with plots of the search (needs matplotlib)",
        description="Write DIR/report.html and PNG figures next to it from the files `evopipe fit` wrote.",
    )
    report.add_argument("dir", metavar="DIR", help="the --out directory of `evopipe fit`")
    report.add_argument("--dpi", type=_int_at_least(30), default=110, help="resolution of the PNGs (default: 110)")
    report.set_defaults(run=_report)

    demo = commands.add_parser("demo", parents=[common], help="a short search on a scikit-learn dataset")
    demo.add_argument("--dataset", choices=DEMO_DATASETS, default="digits")
    demo.add_argument("--max-time", default="60s", help="search budget, e.g. 60s or 2m (default: 60s)")
    demo.add_argument("--n-jobs", type=int, default=-1, help="Dask workers; 1 runs in-process (default: all cores)")
    demo.add_argument("--random-state", type=int, default=0)
    demo.set_defaults(run=_demo)
    return parser


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        if record.levelno == logging.INFO and record.name.startswith("evopipe"):
            return f"evopipe: {message}"
        return f"evopipe: {record.levelname.lower()} ({record.name}): {message}"


def _shown(record: logging.LogRecord) -> bool:
    """Without --debug: evopipe's INFO and up; warnings and up from other libraries, less expected noise."""
    if record.name.startswith("evopipe"):
        return True
    if record.levelno < logging.WARNING:
        return False
    # The embedded cluster is closed with a short nanny timeout on purpose (see README, "max_time holds").
    return not (record.name == "distributed.nanny" and record.getMessage().startswith("Worker process still alive"))


def _setup_logging(debug: bool) -> None:
    handler = logging.StreamHandler()
    # On the handler, not the root logger: distributed sets its own loggers to INFO.
    handler.setLevel(logging.DEBUG if debug else logging.INFO)
    if not debug:
        handler.addFilter(_shown)
    handler.setFormatter(_Formatter())
    logging.getLogger().addHandler(handler)
    logging.getLogger("evopipe").setLevel(logging.DEBUG if debug else logging.INFO)
    logging.captureWarnings(True)  # warnings as one log line each, not two lines of source


def _error_lines(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()] or [type(exc).__name__]
    head = lines[0] if isinstance(exc, (CliError, ValueError, TypeError, OSError, ImportError, AttributeError)) else (
        f"unexpected {type(exc).__name__}: {lines[0]} (run with --debug for the traceback)"
    )
    return "\n".join([f"evopipe: error: {head}", *("  " + line for line in lines[1:])])


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    _setup_logging(debug)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("evopipe: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (`evopipe predict ... | head`): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:
        if debug:
            raise
        print(_error_lines(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
