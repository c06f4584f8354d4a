"""The run journal: append, resume, torn and corrupt files, another run's journal, a killed driver."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from evopipe import EvoClassifier, SearchSpace
from evopipe.journal import JournalMismatch, read_journal
from evopipe.space import Operator

TESTS = Path(__file__).resolve().parents[1]
SPACE = {"sklearn.linear_model.LogisticRegression": {"C": [0.01, 0.1, 1.0, 10.0, 100.0]},
         "sklearn.tree.DecisionTreeClassifier": {"max_depth": [1, 2, 3, 4, 5, None]},
         "sklearn.preprocessing.StandardScaler": {}, "sklearn.preprocessing.MinMaxScaler": {}}


def _model(path, max_evals, **params):
    params = {"max_time": None, "n_jobs": 1, "cv": 3, "random_state": 0, "search_space": SPACE, **params}
    return EvoClassifier(max_evals=max_evals, checkpoint=str(path), **params)


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_journal_records_every_evaluation_and_resume_skips_them(tmp_path, iris):
    X, y = iris
    path = tmp_path / "run.jsonl"
    first = _model(path, 6).fit(X, y)
    lines = _lines(path)
    assert lines[0]["type"] == "header" and len(lines) == 7
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [line["key"] for line in lines[1:]] == list(first.evaluations_["key"])

    resumed = _model(path, 10).fit(X, y)
    frame = resumed.evaluations_
    assert len(frame) == 10 and frame["key"].is_unique
    assert list(frame["key"][:6]) == list(first.evaluations_["key"])
    assert len(_lines(path)) == 11
    assert resumed.top_score_ >= first.top_score_


def test_resume_keeps_the_screening_scores_successive_halving_ranks_by(tmp_path):
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=5400, n_features=8, random_state=0)  # large enough to screen
    path = tmp_path / "run.jsonl"
    first = _model(path, 8, cv=4).fit(X, y).evaluations_
    assert first["screen_score"].notna().any()
    resumed = _model(path, 12, cv=4).fit(X, y).evaluations_
    np.testing.assert_array_equal(resumed["screen_score"][:8], first["screen_score"])


def test_a_torn_last_line_is_dropped_and_overwritten(tmp_path, iris, caplog):
    X, y = iris
    path = tmp_path / "run.jsonl"
    _model(path, 4).fit(X, y)
    with open(path, "a") as handle:
        handle.write('{"type": "evaluation", "candid')
    header, records = read_journal(path)
    assert len(records) == 4
    resumed = _model(path, 6).fit(X, y)
    assert len(resumed.evaluations_) == 6
    assert len(_lines(path)) == 7  # the torn piece is gone, every line parses
    assert "torn" in caplog.text


def test_a_corrupt_middle_line_is_an_error_naming_file_and_line(tmp_path, iris):
    X, y = iris
    path = tmp_path / "run.jsonl"
    _model(path, 4).fit(X, y)
    lines = path.read_text().splitlines()
    lines[2] = lines[2][: len(lines[2]) // 2]  # cut in half: no longer JSON
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"run.jsonl, line 3: not valid JSON"):
        _model(path, 6).fit(X, y)


def test_another_dataset_or_space_is_refused(tmp_path, iris):
    X, y = iris
    path = tmp_path / "run.jsonl"
    _model(path, 3).fit(X, y)
    with pytest.raises(JournalMismatch, match="another dataset"):
        _model(path, 6).fit(X[:120], y[:120])
    with pytest.raises(JournalMismatch, match="another search space"):
        _model(path, 6, search_space="light").fit(X, y)


def test_an_unknown_format_is_refused(tmp_path, iris):
    X, y = iris
    path = tmp_path / "run.jsonl"
    path.write_text(json.dumps({"type": "header", "format": 99}) + "\n")
    with pytest.raises(ValueError, match="format 99 is not supported"):
        _model(path, 3).fit(X, y)


KILLED_RUN = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from sklearn.datasets import load_iris
    from evopipe import EvoClassifier, SearchSpace
    from evopipe.space import Operator
    space = SearchSpace((Operator("fault_operators.SleepThenFit", {{"seconds": [0.2 + i / 100 for i in range(60)]}}),),
                        "classification", max_preprocessors=0)
    X, y = load_iris(return_X_y=True)
    EvoClassifier(max_time=None, max_evals=40, n_jobs=1, cv=2, random_state=0, search_space=space,
                  checkpoint={path!r}).fit(X, y)
""")


def test_a_killed_driver_loses_at_most_what_was_in_flight(tmp_path, iris):
    path = tmp_path / "run.jsonl"
    script = tmp_path / "run.py"
    script.write_text(KILLED_RUN.format(tests=str(TESTS), path=str(path)))
    process = subprocess.Popen([sys.executable, str(script)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not path.exists() or len(path.read_text().splitlines()) < 5):
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    journaled = len(_lines(path)) - 1
    assert journaled >= 4

    X, y = iris
    space = SearchSpace((Operator("fault_operators.SleepThenFit", {"seconds": [0.2 + i / 100 for i in range(60)]}),),
                        "classification", max_preprocessors=0)
    resumed = EvoClassifier(max_time=None, max_evals=journaled + 3, n_jobs=1, cv=2, random_state=0,
                            search_space=space, checkpoint=str(path)).fit(X, y)
    frame = resumed.evaluations_
    assert len(frame) == journaled + 3 and frame["key"].is_unique
    assert np.all(frame["status"] == "OK")


def test_resume_without_random_state_reuses_the_journaled_seed(tmp_path, iris):
    X, y = iris
    path = tmp_path / "run.jsonl"
    first = _model(path, 4, random_state=None).fit(X, y)
    resumed = _model(path, 6, random_state=None).fit(X, y)
    assert list(resumed.evaluations_["key"][:4]) == list(first.evaluations_["key"])
    assert len(resumed.evaluations_) == 6
