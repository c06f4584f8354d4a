"""Peers on the same split and budget: evopipe, tpot 1.x, FLAML and a HistGradientBoosting baseline.

    python benchmarks/peers.py [--budget 120] [--datasets digits,wine] [--systems evopipe,flaml]
                               [--evopipe-param ensemble=true] [--table stdout|stderr|none]
                               [--split-seeds 0 1 2 3 4]

For each (dataset, system) one process is started (``--python-SYSTEM`` picks its interpreter),
which loads the dataset, splits it with ``train_test_split(test_size=0.25, random_state=0)``
(stratified for classification), fits the system on the 75% with ``--budget`` seconds and 2
workers, and scores it on the 25%: accuracy for classification, r2 for diabetes. This script
prints one JSON line per run on stdout:

    system, version, dataset, split_seed, budget_s, fit_wall_s, candidates, candidates_ok,
    holdout, metric, peak_rss_mb, process_wall_s, stderr_lines, python, numpy, sklearn, plus
    per-system extras

and then a markdown table (on stderr by default, so ``> peers.jsonl`` keeps stdout pure JSON).
``fit_wall_s`` is measured around ``fit`` only, inside the child; ``process_wall_s`` is the
child's whole life (imports, data, fit, scoring, shutdown of its workers). ``peak_rss_mb`` is
the largest sum of RSS over the child and all its descendants (Dask workers, joblib/loky
workers), sampled every 0.2 s from this process with psutil; shared pages count once per
process, as a user's ``top`` would add them up. ``stderr_lines`` counts the lines the child
wrote on stderr (warnings floods show up there; they are kept out of the terminal, and the last
lines are shown only when a run fails). A system whose interpreter is missing or cannot import
it gets ``"skipped": reason``; one that crashes, overruns ``budget * --timeout-factor +
--timeout-grace`` seconds (then its whole process tree is killed) or returns no usable model
gets ``"error": reason`` and ``holdout: null``. Nothing here makes the other systems slower or
faster: thread pools and environment are inherited as they are.

``--split-seeds`` repeats every run on other splits (``train_test_split(random_state=seed)``;
the default is the fixed split, seed 0). On the small datasets a 25% holdout is 45 to 143 rows,
and pipelines that cross-validation cannot tell apart hold out several points apart on any
one split; the table then also gives each system's mean holdout over the seeds.

Datasets: scikit-learn's digits, breast_cancer, wine, diabetes (regression), and ``synth20k`` =
``make_classification(n_samples=20000, n_features=40, n_informative=10, random_state=0)``.

Systems and their settings (anything not listed is the library's default, as a user meets it):

- ``evopipe``: EvoClassifier / EvoRegressor, ``max_time=budget`` (seconds), ``n_jobs=2`` (an
  embedded LocalCluster of 2 single-threaded workers), ``random_state=0``; ``--evopipe-param
  KEY=VALUE`` adds or overrides a parameter (the value is read as JSON, else kept a string).
- ``tpot``: tpot 1.x TPOTClassifier / TPOTRegressor, ``max_time_mins=budget / 60``, ``n_jobs=2``
  (tpot's own LocalCluster), ``random_state=0``, ``verbose=0``; tpot's defaults include 10-fold
  CV for classification, a population of 50 and ``roc_auc_ovr`` / ``neg_mean_squared_error`` as
  the objective, so it optimises another metric than the holdout reports. ``--tpot-param``.
- ``flaml``: ``flaml.AutoML().fit(task=..., time_budget=budget, n_jobs=2, seed=0, verbose=0)``
  with the default learners (seen here: lgbm, rf, xgboost, extra_tree, xgb_limitdepth, sgd, and
  lrl1 for classification; catboost only if installed, which the venv below does not do).
  ``--flaml-param``.
- ``hgb``: HistGradientBoostingClassifier / Regressor with default parameters (and
  ``random_state=0``, which only matters for the early stopping it turns on above 10,000 rows).
  It ignores the budget.

How ``candidates`` is counted (the definitions differ; compare them with care):

- evopipe: ``candidates`` = rows of ``evaluations_`` (every pipeline started, cancelled ones at
  the deadline included); ``candidates_ok`` = rows with status OK (a full CV score);
  ``statuses`` has the count per status.
- tpot: ``candidates`` = rows of ``evaluated_individuals`` (every pipeline it tried, in all
  generations); ``candidates_ok`` = rows with a finite value in every objective column
  (invalid pipelines and time-outs have none); ``eval_errors`` counts tpot's own labels.
- flaml: ``candidates`` = trials over all learners (each search state's ``total_iter``); a
  trial is one configuration fit once on FLAML's own holdout or CV, so it is cheaper than an
  evopipe or tpot candidate (a 5- or 10-fold CV of a pipeline). ``candidates_ok`` is not
  reported; ``improvements`` = ``len(config_history)`` (trials that improved a learner's best).
- hgb: 1.

PEERS_SETUP: the peers live in their own virtualenvs, since their pins clash with each other
and with evopipe's environment. On this machine pip reads /etc/xdg/pip/pip.conf (a constraints
file capping torch/torchvision only, and local wheel directories); neither peer needs torch, so
the plain commands below worked with it in place::

    python3 -m venv /work/peer-venvs/tpot
    /work/peer-venvs/tpot/bin/pip install tpot==1.1.0
    python3 -m venv /work/peer-venvs/flaml
    /work/peer-venvs/flaml/bin/pip install "flaml[automl]==2.7.0"

``--python-tpot`` / ``--python-flaml`` default to those venvs' interpreters when they exist,
else to this interpreter; ``--python-evopipe`` (also used for hgb) defaults to this one. The
child mode (``--run-one``) imports only numpy, scikit-learn and the system it runs, so the
peers' venvs need no evopipe; this script's own process needs only psutil.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

SCRIPT = os.path.abspath(__file__)
HERE = os.path.dirname(SCRIPT)
PREFIX = "PEERS_RESULT "  # marks the child's result line among whatever the libraries print
DATASETS = ["digits", "breast_cancer", "wine", "diabetes", "synth20k"]
SYSTEMS = ["evopipe", "tpot", "flaml", "hgb"]
PEER_VENVS = "/work/peer-venvs"
SAMPLE_S = 0.2


# --------------------------------------------------------------------------- child side

def load_split(name: str, split_seed: int = 0):
    """The dataset's 75/25 split (``random_state=split_seed``), the same code in every interpreter.

    Returns
    -------
    X_train, X_test, y_train, y_test, regression
    """
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    if name == "synth20k":
        X, y = datasets.make_classification(n_samples=20000, n_features=40, n_informative=10, random_state=0)
    elif name in DATASETS:
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    else:
        raise ValueError(f"unknown dataset {name!r}; choose from {DATASETS}")
    regression = name == "diabetes"
    split = train_test_split(X, y, test_size=0.25, random_state=split_seed, stratify=None if regression else y)
    return (*split, regression)


def run_one(system: str, dataset: str, budget: float, params: dict, split_seed: int = 0) -> dict:
    """Fit one system on one dataset in this process and return its result row (no RSS)."""
    import importlib

    import numpy
    import sklearn

    sys.path.insert(0, HERE)  # peers_systems.py sits beside this file, whichever cwd we run in
    from peers_systems import RUNNERS

    runner, module = RUNNERS[system]
    row = {"system": system, "dataset": dataset, "split_seed": split_seed, "budget_s": budget,
           "python": sys.executable, "numpy": numpy.__version__, "sklearn": sklearn.__version__}
    try:
        importlib.import_module(module)
    except Exception as exc:  # not installed here, or broken by its dependencies: skip, don't crash
        return {**row, "skipped": f"cannot import {module} in {sys.executable}: {type(exc).__name__}: {exc}"}
    X_train, X_test, y_train, y_test, regression = load_split(dataset, split_seed)
    row["metric"] = "r2" if regression else "accuracy"
    try:
        result = runner(X_train, y_train, regression, budget, params)
    except Exception as exc:
        return {**row, "holdout": None, "error": f"fit: {type(exc).__name__}: {exc}"[:1000]}
    model = result.pop("model")
    row.update(result)
    row["fit_wall_s"] = round(row["fit_wall_s"], 1)
    try:
        from sklearn.metrics import accuracy_score, r2_score

        # Scored here rather than with model.score: FLAML's and tpot's score() use their own metric.
        predicted = model.predict(X_test)
        row["holdout"] = round(float((r2_score if regression else accuracy_score)(y_test, predicted)), 4)
    except Exception as exc:  # e.g. tpot returning without a fitted pipeline
        row.update(holdout=None, error=f"predict: {type(exc).__name__}: {exc}"[:1000])
    return row


# --------------------------------------------------------------------------- parent side

def tree_rss(proc) -> tuple[int, list]:
    """Summed RSS (bytes) of ``proc`` and its live descendants, and the descendants seen."""
    import psutil

    try:
        family = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0, []
    total = 0
    for p in family:
        try:
            total += p.memory_info().rss
        except psutil.Error:  # exited between listing and reading: it holds no memory now
            pass
    return total, family[1:]


def kill_all(procs) -> None:
    """Kill the given psutil processes (ones our child started) that are still alive."""
    import psutil

    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=10)


def spawn(python: str, system: str, dataset: str, budget: float, params: dict, timeout: float,
          split_seed: int = 0) -> dict:
    """Run one (system, dataset, split) in a child interpreter, sampling its process tree's RSS."""
    import psutil

    row = {"system": system, "dataset": dataset, "split_seed": split_seed, "budget_s": budget, "python": python}
    if not os.path.exists(python):
        return {**row, "skipped": f"interpreter not found: {python}"}
    cmd = [python, SCRIPT, "--run-one", system, dataset, "--budget", str(budget), "--params", json.dumps(params),
           "--split-seed", str(split_seed)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        # Files, not pipes: a child that floods stderr with warnings must not block on a full pipe.
        child = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=HERE)
        proc, peak, seen, timed_out = psutil.Process(child.pid), 0, {}, False
        while child.poll() is None:
            rss, descendants = tree_rss(proc)
            peak = max(peak, rss)
            seen.update({p.pid: p for p in descendants})
            if time.monotonic() - started > timeout:
                timed_out = True
                kill_all([proc, *descendants])
                break
            time.sleep(SAMPLE_S)
        child.wait()
        wall = time.monotonic() - started
        # Workers orphaned by a child that died (or was killed) would keep the cores busy for the
        # next run: end the ones we saw, by their psutil handle (which checks the pid is not reused).
        kill_all([p for p in seen.values() if p.is_running()])
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    lines = [line for line in stdout.splitlines() if line.startswith(PREFIX)]
    if lines:
        row = json.loads(lines[-1][len(PREFIX):])
    row.update(peak_rss_mb=round(peak / 2**20), process_wall_s=round(wall, 1), stderr_lines=len(stderr.splitlines()))
    if timed_out:
        row.update(holdout=None, error=f"killed after {timeout:.0f} s (budget {budget} s)")
    elif not lines:
        row.update(holdout=None, error=f"child exited {child.returncode} without a result")
    if "error" in row:
        row["stderr_tail"] = stderr.splitlines()[-15:]  # why it failed, when the error says too little
    return row


def markdown(rows: list[dict]) -> str:
    """The runs as a markdown table in the layout of shared/BENCHMARKS.md (a split column and
    per-system means when there are several splits)."""
    several = len({r.get("split_seed", 0) for r in rows}) > 1
    split_head, split_rule = ("split | ", "---|") if several else ("", "")
    lines = [f"| dataset | {split_head}system | fit s | holdout | candidates scored / tried | peak RSS MB (process tree) |",
             f"|---|{split_rule}---|---|---|---|---|"]
    for r in rows:
        system = f"{r['system']} {r.get('version', '')}".strip()
        split = f"{r.get('split_seed', 0)} | " if several else ""
        if "skipped" in r:
            lines.append(f"| {r['dataset']} | {split}{system} | skipped | | | |")
            continue
        holdout = "error" if r.get("holdout") is None else f"{r['holdout']:.4f}"
        tried, ok = r.get("candidates"), r.get("candidates_ok")
        count = f"{tried} trials" if r["system"] == "flaml" else f"{'?' if ok is None else ok} / {tried}"
        fit = r.get("fit_wall_s", r.get("process_wall_s"))
        lines.append(f"| {r['dataset']} | {split}{system} | {fit} | {holdout} | {count} | {r.get('peak_rss_mb')} |")
    if several:
        lines += ["", mean_table(rows)]
    return "\n".join(lines)


def mean_table(rows: list[dict]) -> str:
    """Mean holdout (and its range) per dataset and system over the splits it finished."""
    lines = ["| dataset | system | splits | mean holdout | min – max |", "|---|---|---|---|---|"]
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["system"]), []).append(r.get("holdout"))
    for (dataset, system), scores in groups.items():
        done = [s for s in scores if s is not None]
        if not done:
            lines.append(f"| {dataset} | {system} | 0 of {len(scores)} | | |")
            continue
        lines.append(f"| {dataset} | {system} | {len(done)} of {len(scores)} | {sum(done) / len(done):.4f} "
                     f"| {min(done):.4f} – {max(done):.4f} |")
    return "\n".join(lines)


def parse_params(pairs: list[str]) -> dict:
    """``KEY=VALUE`` pairs to a dict; a value is read as JSON (true, 3, [1, 2]), else a string."""
    params = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"expected KEY=VALUE, got {pair!r}")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def default_python(system: str) -> str:
    """The peer's own venv interpreter when it exists, else this one."""
    venv = os.path.join(PEER_VENVS, system, "bin", "python")
    return venv if system in ("tpot", "flaml") and os.path.exists(venv) else sys.executable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120, help="seconds per fit (default 120)")
    parser.add_argument("--datasets", default=",".join(DATASETS), help=f"comma list of {DATASETS}")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma list of {SYSTEMS}")
    for system in ("evopipe", "tpot", "flaml"):
        parser.add_argument(f"--python-{system}", default=default_python(system), metavar="PATH",
                            help=f"interpreter that runs {system} (default: %(default)s)")
        parser.add_argument(f"--{system}-param", action="append", metavar="KEY=VALUE",
                            help=f"extra {system} parameter, value read as JSON else string; repeatable")
    parser.add_argument("--timeout-factor", type=float, default=2.0,
                        help="kill a run after budget * this + --timeout-grace seconds (default 2)")
    parser.add_argument("--timeout-grace", type=float, default=120.0)
    parser.add_argument("--table", choices=["stderr", "stdout", "none"], default="stderr",
                        help="where to print the final markdown table (default stderr)")
    parser.add_argument("--split-seeds", type=int, nargs="+", default=[0], metavar="SEED",
                        help="train_test_split random_state of each split to run (default: 0, the fixed split)")
    # Child mode: one system on one dataset in this interpreter, result on a PREFIX line.
    parser.add_argument("--run-one", nargs=2, metavar=("SYSTEM", "DATASET"), help=argparse.SUPPRESS)
    parser.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--split-seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.run_one:
        row = run_one(*args.run_one, args.budget, json.loads(args.params), args.split_seed)
        print(PREFIX + json.dumps(row, default=str), flush=True)
        return

    datasets = [d for d in args.datasets.split(",") if d]
    systems = [s for s in args.systems.split(",") if s]
    unknown = sorted(set(datasets) - set(DATASETS)) + sorted(set(systems) - set(SYSTEMS))
    if unknown:
        parser.error(f"unknown dataset or system: {', '.join(unknown)}")
    timeout = args.budget * args.timeout_factor + args.timeout_grace
    rows = []
    for dataset, split_seed in ((d, s) for d in datasets for s in args.split_seeds):
        for system in systems:
            python = getattr(args, "python_" + ("evopipe" if system == "hgb" else system))
            params = {} if system == "hgb" else parse_params(getattr(args, f"{system}_param"))
            split = f", split {split_seed}" if split_seed else ""
            print(f"peers: {system} on {dataset}{split} ({args.budget:g} s budget, {python})", file=sys.stderr, flush=True)
            row = spawn(python, system, dataset, args.budget, params, timeout, split_seed)
            if "error" in row or "skipped" in row:
                tail = "".join(f"\n    {line}" for line in row.pop("stderr_tail", []))
                print(f"peers: {system} on {dataset}: {row.get('error') or row.get('skipped')}{tail}", file=sys.stderr)
            print(json.dumps(row, default=str), flush=True)
            rows.append(row)
    if args.table != "none":
        print("\n" + markdown(rows), file=sys.stdout if args.table == "stdout" else sys.stderr, flush=True)


if __name__ == "__main__":
    main()
