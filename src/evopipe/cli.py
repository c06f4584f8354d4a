"""The ``evopipe`` command line: ``fit``, ``predict``, ``report`` and ``demo``.

::

    evopipe fit train.csv --target label --max-time 10m --out run/
    evopipe predict run/model.joblib test.csv > predictions.csv
    evopipe report run/

A user error (missing file, unknown column, bad option value...) exits with status 2 and one
line on stderr; ``--debug`` shows the traceback instead.

This module holds the parser, the commands and ``main``; the work is in :mod:`evopipe.tabular_io`
(reading tables, the task), :mod:`evopipe.run_dir` (the files of ``--out``),
:mod:`evopipe.report_html` (``report``) and :mod:`evopipe.cli_options` (option values).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from evopipe.cli_errors import CliError, error_lines, first_line
from evopipe.cli_options import duration, int_at_least, load_search_space, n_jobs
from evopipe.run_dir import EVALUATIONS_FILE, MODEL_FILE, PIPELINE_FILE, SUMMARY_FILE, load_model, model_info, write_run
from evopipe.tabular_io import (
    check_task,
    drop_missing_target,
    feature_frame,
    infer_task,
    is_categorical,
    read_table,
    split_features,
)

__all__ = ["CliError", "infer_task", "main", "read_table"]

DEMO_DATASETS = ("digits", "breast_cancer", "wine", "diabetes")
TASKS = ("classification", "regression")
STATUSES = ("OK", "ERROR", "TIMEOUT", "MEMORY", "CANCELLED")


# ---------------------------------------------------------------------------------------------
# fit


def _fit(args: argparse.Namespace) -> int:
    from evopipe import EvoClassifier, EvoRegressor, __version__

    search_space = load_search_space(args.search_space)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out}: exists and is not a directory")
    started = time.monotonic()
    frame = read_table(args.data)
    read_seconds = time.monotonic() - started
    frame, n_dropped = drop_missing_target(frame, args.target, args.data)
    if n_dropped:
        print(f"evopipe: dropping {n_dropped} row(s) with no value in {args.target!r}", file=sys.stderr)
    X, y = split_features(frame, args.target, args.data)
    features = list(X.columns)
    if args.task is None:
        task, reason = infer_task(y)
        print(f"evopipe: task: {task} (target {args.target!r} has {reason}; use --task to change it)", file=sys.stderr)
    else:
        task = args.task
    check_task(task, y, args.target)

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
        prune=not args.no_prune,
        ensemble=args.ensemble,
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

    categorical = [c for c in features if is_categorical(X[c])]
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
        "n_rows_dropped": n_dropped,
        "classes": model.classes_.tolist() if task == "classification" else None,
        "scoring": args.scoring or ("accuracy" if task == "classification" else "r2"),
        "cv": args.cv,
        "best_pipeline": model.best_genome_.text(),
        "cv_score": float(model.best_score_),
        "ensemble": [[g.text(), w] for g, w in model.ensemble_] if model.ensemble_ else None,
        "ensemble_score": model.ensemble_score_,
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
    write_run(out, model, summary)

    failed = sum(n for s, n in counts.items() if s not in ("OK", "CANCELLED"))
    print(f"fit took {fit_seconds:.1f} s: {model.n_evaluations_} candidates ({counts['OK']} OK, {failed} failed), "
          f"stopped by {model.stopped_because_ or 'the search'}")
    print(f"best pipeline: {summary['best_pipeline']}")
    print(f"CV {summary['scoring']}: {summary['cv_score']:.4f}")
    print(f"wrote {out / MODEL_FILE}, {PIPELINE_FILE}, {EVALUATIONS_FILE}, {SUMMARY_FILE}")
    return 0


# ---------------------------------------------------------------------------------------------
# predict


def _predict(args: argparse.Namespace) -> int:
    import pandas as pd

    model, model_path = load_model(args.model)
    info = model_info(model, model_path)
    features, categorical = list(info["feature_columns"]), list(info.get("categorical_columns") or [])
    is_classifier = hasattr(model, "classes_")
    if args.proba and not is_classifier:
        raise CliError(f"--proba needs a classifier; {model_path} is a {type(model).__name__}")
    X = feature_frame(read_table(args.data, categorical=categorical), features, categorical, args.data)
    if args.proba:
        try:
            values = model.predict_proba(X)
        except AttributeError as exc:
            raise CliError(f"--proba: {first_line(exc)}") from None
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
    from evopipe.report_html import FIGURES, write_report

    page = write_report(args.dir, dpi=args.dpi)
    print(f"wrote {page} and {len(FIGURES)} figures")
    return 0


# ---------------------------------------------------------------------------------------------
# demo


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    """The search options shared by ``fit`` and ``demo``."""
    parser.add_argument("--ensemble", action="store_true",
                        help="finish with a weighted ensemble of the best pipelines if it beats the best one")
    parser.add_argument("--no-prune", action="store_true", help="evaluate every candidate on all folds")


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
    model = estimator_class(max_time=args.max_time, n_jobs=args.n_jobs, random_state=args.random_state, verbose=1,
                            prune=not args.no_prune, ensemble=args.ensemble)
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
    if model.ensemble_:
        print(f"ensemble of {len(model.ensemble_)} pipelines chosen, out-of-fold score {model.ensemble_score_:.4f}")
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
    fit.add_argument("--cv", type=int_at_least(2), default=3, metavar="K", help="cross-validation folds (default: 3)")
    fit.add_argument("--max-time", type=duration("--max-time", True), default=300.0, metavar="T",
                     help="budget for the search, e.g. 90s, 10m, 2h, or none (default: 5m)")
    fit.add_argument("--max-eval-time", type=duration("--max-eval-time", False), metavar="T",
                     help="limit for one candidate, e.g. 2m (default: none)")
    fit.add_argument("--max-evals", type=int_at_least(1), metavar="N", help="stop after N candidates")
    fit.add_argument("--population-size", type=int_at_least(2), default=20, metavar="N", help="(default: 20)")
    fit.add_argument("--search-space", default="default", metavar="SPACE",
                     help="default, light, or a JSON file of a TPOT-style dict "
                          '{"sklearn.x.Y": {"param": [values]}} (default: default)')
    where = fit.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask scheduler, e.g. tcp://host:8786")
    where.add_argument("--n-jobs", type=n_jobs, default=-1, metavar="N",
                       help="workers of an embedded Dask cluster; 1 runs in-process (default: -1, all cores)")
    fit.add_argument("--checkpoint", metavar="FILE", help="run journal; an interrupted fit with the same FILE resumes")
    _add_model_options(fit)
    fit.add_argument("--random-state", type=int_at_least(0), metavar="N", help="seed, for a repeatable search")
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
    report.add_argument("--dpi", type=int_at_least(30), default=110, help="resolution of the PNGs (default: 110)")
    report.set_defaults(run=_report)

    demo = commands.add_parser("demo", parents=[common], help="a short search on a scikit-learn dataset")
    demo.add_argument("--dataset", choices=DEMO_DATASETS, default="digits")
    demo.add_argument("--max-time", default="60s", help="search budget, e.g. 60s or 2m (default: 60s)")
    demo.add_argument("--n-jobs", type=int, default=-1, help="Dask workers; 1 runs in-process (default: all cores)")
    demo.add_argument("--random-state", type=int, default=0)
    _add_model_options(demo)
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



def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``evopipe``; default: ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 2 for an error (one line on stderr), 130 when interrupted, 1 when the
        reader of stdout went away.
    """
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
        print(error_lines(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
