"""The ``evopipe`` command line end to end, in real subprocesses: fit -> predict -> report, and errors.

Every search runs in-process (``--n-jobs 1``) on a 150-row table with numeric, string and
missing values, stopped after 6 candidates, so each ``fit`` takes a few seconds.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from evopipe.cli import infer_task

CLI = [sys.executable, "-m", "evopipe.cli"]
FAST_FIT = ["--n-jobs", "1", "--max-time", "20s", "--max-evals", "6", "--cv", "3", "--search-space", "light",
            "--random-state", "0"]
FEATURES = ["size", "color", "count"]
FIGURES = {"score_over_time.png", "pareto_front.png", "status_counts.png", "operator_times.png"}


def run_cli(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def run_cli_python(path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)


def _table(n: int = 150, seed: int = 0) -> pd.DataFrame:
    """Numeric, string and integer columns with missing values; a learnable label and price."""
    rng = np.random.default_rng(seed)
    size = rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], n)
    count = rng.integers(0, 10, n)
    frame = pd.DataFrame({"size": size, "color": color, "count": count})
    frame["label"] = np.where(size + 1.5 * (color == "red") > 0.5, "yes", "no")
    frame["price"] = 10 + 3 * size + 4 * (color == "red") + 0.5 * count + rng.normal(scale=0.3, size=n)
    frame.loc[rng.choice(n, 12, replace=False), "size"] = np.nan
    frame.loc[rng.choice(n, 10, replace=False), "color"] = None
    return frame


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli-data")
    frame = _table()
    frame[[*FEATURES, "label"]].to_csv(directory / "train.csv", index=False)
    frame[[*FEATURES, "price"]].to_csv(directory / "prices.csv.gz", index=False)
    return directory


@pytest.fixture(scope="module")
def classification_run(data_dir, tmp_path_factory):
    """``evopipe fit`` on the labelled table (task inferred)."""
    out = tmp_path_factory.mktemp("cli-run") / "run"
    started = time.monotonic()
    result = run_cli("fit", data_dir / "train.csv", "--target", "label", *FAST_FIT, "--out", out)
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    return out, result, seconds


@pytest.fixture(scope="module")
def predictions(classification_run, data_dir):
    """``evopipe predict`` on the training rows, columns shuffled, target and an extra column present."""
    out, _, _ = classification_run
    frame = pd.read_csv(data_dir / "train.csv")
    frame["unused"] = "x"
    path = data_dir / "predict.csv"
    frame[["label", "count", "unused", "color", "size"]].to_csv(path, index=False)
    result = run_cli("predict", out / "model.joblib", path)
    assert result.returncode == 0, result.stderr
    return result


def test_fit_writes_model_pipeline_evaluations_and_summary(classification_run, data_dir):
    out, result, seconds = classification_run
    assert seconds < 30
    assert "classification" in result.stderr and "'label'" in result.stderr  # the inferred task is said
    for name in ("model.joblib", "pipeline.py", "evaluations.csv", "summary.json"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["target"] == "label"
    assert summary["task"] == "classification" and summary["task_inferred"] is True
    assert summary["feature_columns"] == FEATURES
    assert summary["categorical_columns"] == ["color"]
    assert summary["dataset"] == str((data_dir / "train.csv").resolve())
    assert summary["n_rows"] == 150 and summary["classes"] == ["no", "yes"]
    assert summary["n_candidates"] == 6 == sum(summary["counts_by_status"].values())
    assert summary["counts_by_status"]["OK"] >= 1
    assert 0.7 < summary["cv_score"] <= 1.0
    assert 0 < summary["timings"]["fit_seconds"] < 30
    evaluations = pd.read_csv(out / "evaluations.csv")
    assert len(evaluations) == 6
    # The best: highest score, ties to the simpler pipeline, then the earlier one.
    ok = evaluations[evaluations["status"] == "OK"]
    best = ok.sort_values(["score", "complexity"], ascending=[False, True], kind="stable").iloc[0]
    assert summary["best_pipeline"] == best["pipeline"]
    assert summary["cv_score"] == pytest.approx(best["score"])
    assert {"finished_at", "score", "status", "complexity", "seconds"} <= set(evaluations.columns)


def test_predict_writes_one_prediction_per_row(predictions):
    frame = pd.read_csv(io.StringIO(predictions.stdout))
    assert list(frame.columns) == ["prediction"]
    assert len(frame) == 150
    assert set(frame["prediction"]) <= {"yes", "no"}
    assert predictions.stderr == ""


def test_exported_pipeline_reproduces_the_model(classification_run, data_dir, predictions):
    out, _, _ = classification_run
    source = (out / "pipeline.py").read_text()
    assert run_cli_python(out / "pipeline.py").returncode == 0  # runnable as a script
    namespace: dict = {}
    exec(compile(source, str(out / "pipeline.py"), "exec"), namespace)
    train = pd.read_csv(data_dir / "train.csv")
    pipeline = namespace["exported_pipeline"].fit(train[FEATURES], train["label"])
    expected = pd.read_csv(io.StringIO(predictions.stdout))["prediction"]
    np.testing.assert_array_equal(pipeline.predict(train[FEATURES]), expected.to_numpy())
    assert (expected == train["label"]).mean() > 0.8  # it learned something


def test_predict_proba_has_one_column_per_class(classification_run, data_dir):
    out, _, _ = classification_run
    result = run_cli("predict", out, data_dir / "train.csv", "--proba")  # the run directory works too
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert list(frame.columns) == ["no", "yes"]
    assert len(frame) == 150
    np.testing.assert_allclose(frame.sum(axis=1), 1.0, atol=1e-6)


def test_report_writes_html_and_the_pngs_it_references(classification_run):
    out, _, _ = classification_run
    result = run_cli("report", out)
    assert result.returncode == 0, result.stderr
    page = (out / "report.html").read_text()
    images = set(re.findall(r'<img src="([^"]+)"', page))
    assert images == FIGURES
    for name in images:
        png = (out / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best_pipeline"].split("(")[0] in page
    assert "exported_pipeline = Pipeline" in page


def test_regression_is_inferred_from_a_numeric_target(data_dir, tmp_path):
    out = tmp_path / "prices"
    started = time.monotonic()
    result = run_cli("fit", data_dir / "prices.csv.gz", "--target", "price", *FAST_FIT, "--ensemble", "--no-prune",
                     "--out", out)
    assert time.monotonic() - started < 30
    assert result.returncode == 0, result.stderr
    assert "regression" in result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "regression" and summary["scoring"] == "r2" and summary["classes"] is None
    assert summary["cv_score"] > 0.5
    assert summary["ensemble"] is None or summary["ensemble_score"] > summary["cv_score"]
    assert summary["counts_by_status"].get("PRUNED", 0) == 0

    predicted = run_cli("predict", out / "model.joblib", data_dir / "prices.csv.gz")
    assert predicted.returncode == 0, predicted.stderr
    values = pd.read_csv(io.StringIO(predicted.stdout))["prediction"]
    assert len(values) == 150 and values.dtype.kind == "f"

    line = _one_error_line(run_cli("predict", out / "model.joblib", data_dir / "prices.csv.gz", "--proba"))
    assert "--proba needs a classifier" in line


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing file", "no such file"),
        ("missing target", "no column 'nope'"),
        ("empty file", "empty"),
        ("header only", "no rows"),
        ("binary file", "could not read"),
        ("bad duration", "--max-time"),
        ("bad cv", "--cv"),
        ("bad search space", "not valid JSON"),
    ],
)
def test_fit_errors_are_one_line_without_traceback(case, expected, data_dir, tmp_path):
    data, target, extra = data_dir / "train.csv", "label", []
    if case == "missing file":
        data = tmp_path / "absent.csv"
    elif case == "missing target":
        target = "nope"
    elif case == "empty file":
        data = tmp_path / "empty.csv"
        data.write_text("")
    elif case == "header only":
        data = tmp_path / "header.csv"
        data.write_text("a,b,label\n")
    elif case == "binary file":
        data = tmp_path / "binary.csv"
        data.write_bytes(bytes(range(256)) * 4)
    elif case == "bad duration":
        extra = ["--max-time", "ten minutes"]
    elif case == "bad cv":
        extra = ["--cv", "1"]
    elif case == "bad search space":
        space = tmp_path / "space.json"
        space.write_text("{'sklearn.svm.SVC': {}}")
        extra = ["--search-space", space]
    result = run_cli("fit", data, "--target", target, "--n-jobs", "1", "--max-evals", "2", *extra,
                     "--out", tmp_path / "out")
    assert result.returncode == 2
    assert expected in _one_error_line(result)
    assert not (tmp_path / "out" / "model.joblib").exists()


def test_predict_names_missing_feature_columns(classification_run, tmp_path):
    out, _, _ = classification_run
    data = tmp_path / "partial.csv"
    pd.DataFrame({"size": [1.0], "label": ["yes"]}).to_csv(data, index=False)
    line = _one_error_line(run_cli("predict", out / "model.joblib", data))
    assert "'color'" in line and "'count'" in line and "'size'" not in line


def test_predict_and_report_errors(classification_run, tmp_path):
    out, _, _ = classification_run
    assert "no such file" in _one_error_line(run_cli("predict", tmp_path / "model.joblib", tmp_path / "x.csv"))
    garbage = tmp_path / "model.joblib"
    garbage.write_bytes(b"not a pickle")
    assert "could not load the model" in _one_error_line(run_cli("predict", garbage, tmp_path / "x.csv"))
    assert "no evaluations.csv" in _one_error_line(run_cli("report", tmp_path))


def test_debug_shows_the_traceback(tmp_path):
    result = run_cli("fit", tmp_path / "absent.csv", "--target", "y", "--out", tmp_path / "out", "--debug")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "no such file" in result.stderr


def test_report_without_matplotlib_says_how_to_install_it(classification_run):
    out, _, _ = classification_run
    # A real interpreter in which matplotlib cannot be imported (as if it were not installed).
    code = ("import sys; sys.modules['matplotlib'] = None; from evopipe.cli import main; "
            f"sys.exit(main(['report', {str(out)!r}]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    line = _one_error_line(result)
    assert "pip install 'evopipe[plot]'" in line


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is not None, reason="pyarrow is installed")
def test_parquet_without_pyarrow_says_how_to_install_it(tmp_path):
    data = tmp_path / "train.parquet"
    data.write_bytes(b"PAR1" + b"\0" * 64 + b"PAR1")
    line = _one_error_line(run_cli("fit", data, "--target", "label", "--out", tmp_path / "out"))
    assert "pyarrow" in line and "pip install" in line


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None, reason="needs pyarrow")
def test_predict_reads_parquet(classification_run, data_dir, predictions, tmp_path):
    out, _, _ = classification_run
    data = tmp_path / "train.parquet"
    pd.read_csv(data_dir / "train.csv").to_parquet(data)
    result = run_cli("predict", out / "model.joblib", data)
    assert result.returncode == 0, result.stderr
    assert result.stdout == predictions.stdout


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "a"], "classification"),
        ([True, False, True], "classification"),
        ([0, 1, 2, 1, 0], "classification"),
        ([0.0, 1.0, 1.0, 0.0], "classification"),
        (list(range(100)), "regression"),
        ([0.5, 1.25, 3.0], "regression"),
    ],
)
def test_infer_task(values, task):
    assert infer_task(pd.Series(values))[0] == task
