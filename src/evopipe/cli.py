"""The ``evopipe`` command line."""

from __future__ import annotations

import argparse
import logging
import sys
import time

__all__ = ["main"]

DEMO_DATASETS = ("digits", "breast_cancer", "wine", "diabetes")


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evopipe", description="Evolve scikit-learn pipelines on Dask.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="a short search on a scikit-learn dataset")
    demo.add_argument("--dataset", choices=DEMO_DATASETS, default="digits")
    demo.add_argument("--max-time", default="60s", help="search budget, e.g. 60s or 2m (default: 60s)")
    demo.add_argument("--n-jobs", type=int, default=-1, help="Dask workers; 1 runs in-process (default: all cores)")
    demo.add_argument("--random-state", type=int, default=0)
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler()
    # On the handler, not the root logger: distributed sets its own loggers to INFO.
    handler.setLevel(logging.DEBUG if args.debug else logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError) as exc:
        if args.debug:
            raise
        print(f"evopipe: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
