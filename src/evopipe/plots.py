"""Figures of a search, drawn from its ``evaluations_`` table (optional: needs matplotlib).

Every ``plot_*`` function takes the evaluations DataFrame (``model.evaluations_``, or the
``evaluations.csv`` the command line writes, read back with :func:`pandas.read_csv`) and returns
a :class:`matplotlib.figure.Figure`. Figures are built on the Agg canvas without pyplot, so they
never open a window and never change the backend of the calling program; pass ``ax`` to draw
into an axes of your own instead. Install matplotlib with ``pip install evopipe[plot]``.

The helpers :func:`pareto_front` and :func:`operator_seconds` compute what two of the figures
show and need only pandas.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "STATUS_ORDER",
    "operator_seconds",
    "pareto_front",
    "plot_operator_times",
    "plot_pareto_front",
    "plot_score_over_time",
    "plot_status_counts",
]

logger = logging.getLogger(__name__)

STATUS_ORDER = ("OK", "ERROR", "TIMEOUT", "MEMORY", "CANCELLED")
_STATUS_COLORS = {"OK": "#2e7d32", "ERROR": "#c62828", "TIMEOUT": "#ef6c00", "MEMORY": "#6a1b9a", "CANCELLED": "#9e9e9e"}
_STEP_SEPARATOR = " -> "
_FAILED_STATUSES = ("ERROR", "TIMEOUT", "MEMORY")


def _matplotlib() -> Any:
    """Import matplotlib, or raise an ImportError that says how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib, which is not installed: pip install 'evopipe[plot]'") from None
    return matplotlib


def _new_axes(ax: Any, figsize: tuple) -> tuple:
    """``(figure, axes)``: the given axes and its figure, or a new Agg figure with one axes."""
    _matplotlib()
    if ax is not None:
        return ax.figure, ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _check_columns(evaluations: pd.DataFrame, columns: tuple) -> None:
    if not isinstance(evaluations, pd.DataFrame):
        raise TypeError(f"evaluations must be a pandas DataFrame (a model's evaluations_); got {type(evaluations).__name__}.")
    missing = [c for c in columns if c not in evaluations.columns]
    if missing:
        raise ValueError(f"evaluations lack the column(s) {missing}; pass a model's evaluations_ or evaluations.csv.")


def _ok(evaluations: pd.DataFrame) -> pd.DataFrame:
    """Rows that finished with a finite score."""
    scores = pd.to_numeric(evaluations["score"], errors="coerce")
    return evaluations[(evaluations["status"] == "OK") & np.isfinite(scores)].assign(score=scores)


def _score_label(scoring: str | None) -> str:
    return f"CV score ({scoring})" if scoring else "CV score"


def _elapsed(finished_at: pd.Series) -> np.ndarray:
    """Seconds since the first search started, continuous across resumed runs.

    A resumed run's ``finished_at`` restarts from 0; each restart is shifted to follow the
    previous run's last time.
    """
    times = pd.to_numeric(finished_at, errors="coerce").to_numpy(dtype=float)
    out = times.copy()
    offset, last = 0.0, 0.0
    for i, t in enumerate(times):
        if not np.isfinite(t):
            out[i] = last
            continue
        if t + offset < last - 1e-9:
            offset = last - t
        out[i] = t + offset
        last = out[i]
    return out


def _robust_ylim(ax: Any, scores: np.ndarray) -> None:
    """Keep far-off bad scores (an r2 of -1e6) from squashing the axis, and note how many it hides."""
    if len(scores) < 5:
        return
    q10, top = np.percentile(scores, 10), scores.max()
    span = max(top - q10, 1e-12)
    floor = q10 - 1.5 * span
    hidden = int((scores < floor).sum())
    if hidden:
        ax.set_ylim(floor, top + 0.08 * span)
        ax.annotate(f"{hidden} low score(s) below the axis", xy=(0.99, 0.02), xycoords="axes fraction",
                    ha="right", va="bottom", fontsize=8, color="#555555")


def _operator_names(pipeline_text: str) -> list[str]:
    """Class names of a pipeline's steps, from its text (``"PCA(n_components=3) -> SVC()"``)."""
    if not isinstance(pipeline_text, str):
        return []
    return [part.strip().split("(", 1)[0] for part in pipeline_text.split(_STEP_SEPARATOR) if part.strip()]


def pareto_front(evaluations: pd.DataFrame) -> pd.DataFrame:
    """The non-dominated candidates: highest score for their complexity, no simpler one as good.

    Parameters
    ----------
    evaluations : pandas.DataFrame
        A model's ``evaluations_`` (columns ``status``, ``score``, ``complexity``, ``pipeline``).

    Returns
    -------
    pandas.DataFrame
        The rows of OK candidates on the front, by increasing complexity (and score); one row per
        distinct (complexity, score), the first that finished.
    """
    _check_columns(evaluations, ("status", "score", "complexity", "pipeline"))
    ok = _ok(evaluations)
    if ok.empty:
        return ok
    ranked = ok.sort_values(["complexity", "score"], ascending=[True, False], kind="stable")
    keep, best = [], -np.inf
    for index, row in ranked.iterrows():
        if row["score"] > best:
            keep.append(index)
            best = row["score"]
    return ranked.loc[keep]


def operator_seconds(evaluations: pd.DataFrame, by: str = "operator") -> pd.DataFrame:
    """Mean evaluation time of the candidates that use each operator.

    Parameters
    ----------
    evaluations : pandas.DataFrame
        A model's ``evaluations_`` (columns ``pipeline``, ``seconds``, ``status``).
    by : {"operator", "estimator"}, default="operator"
        ``"operator"`` credits a candidate's time to every step of its pipeline;
        ``"estimator"`` to its final estimator only.

    Returns
    -------
    pandas.DataFrame
        Columns ``operator``, ``mean_seconds``, ``max_seconds``, ``candidates``, slowest first.
        CANCELLED candidates (stopped by the budget, not by their cost) are left out.
    """
    _check_columns(evaluations, ("pipeline", "seconds", "status"))
    if by not in ("operator", "estimator"):
        raise ValueError(f"`by` must be 'operator' or 'estimator'; got {by!r}.")
    rows = []
    for pipeline, seconds, status in evaluations[["pipeline", "seconds", "status"]].itertuples(index=False):
        seconds = pd.to_numeric(seconds, errors="coerce")
        if status == "CANCELLED" or not np.isfinite(seconds):
            continue
        names = _operator_names(pipeline)
        if by == "estimator":
            names = names[-1:]
        rows.extend((name, float(seconds)) for name in dict.fromkeys(names))
    frame = pd.DataFrame(rows, columns=["operator", "seconds"])
    table = frame.groupby("operator")["seconds"].agg(mean_seconds="mean", max_seconds="max", candidates="size")
    return table.sort_values("mean_seconds", ascending=False, kind="stable").reset_index()


def plot_score_over_time(evaluations: pd.DataFrame, scoring: str | None = None, ax: Any = None) -> Any:
    """Every candidate's CV score when it finished, and the best score so far.

    Parameters
    ----------
    evaluations : pandas.DataFrame
        A model's ``evaluations_`` (columns ``finished_at``, ``score``, ``status``).
    scoring : str, optional
        Name of the scorer, for the axis label.
    ax : matplotlib.axes.Axes, optional
        Draw here instead of in a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Points: OK candidates; line: best score so far; red ticks at the bottom: failed
        candidates (ERROR, TIMEOUT, MEMORY).
    """
    _check_columns(evaluations, ("finished_at", "score", "status"))
    figure, ax = _new_axes(ax, (7.5, 4.2))
    elapsed = _elapsed(evaluations["finished_at"])
    ok_mask = (evaluations["status"] == "OK").to_numpy() & np.isfinite(
        pd.to_numeric(evaluations["score"], errors="coerce").to_numpy(dtype=float)
    )
    scores = pd.to_numeric(evaluations["score"], errors="coerce").to_numpy(dtype=float)
    if ok_mask.any():
        order = np.argsort(elapsed[ok_mask], kind="stable")
        times, ok_scores = elapsed[ok_mask][order], scores[ok_mask][order]
        best = np.maximum.accumulate(ok_scores)
        ax.scatter(times, ok_scores, s=16, alpha=0.45, color="#1565c0", label="candidate (OK)", zorder=2)
        end = max(elapsed.max(), times[-1])
        ax.step(np.r_[times, end], np.r_[best, best[-1]], where="post", color="#0d47a1", lw=2,
                label=f"best so far ({best[-1]:.4g})", zorder=3)
        _robust_ylim(ax, ok_scores)
    else:
        ax.text(0.5, 0.5, "no candidate finished OK", ha="center", va="center", transform=ax.transAxes)
    failed = evaluations["status"].isin(_FAILED_STATUSES).to_numpy()
    if failed.any():
        ax.plot(elapsed[failed], np.full(failed.sum(), 0.03), "|", color=_STATUS_COLORS["ERROR"], ms=12, mew=1.5,
                transform=ax.get_xaxis_transform(), label=f"failed ({int(failed.sum())})", zorder=4)
    ax.set_xlabel("seconds since the search started")
    ax.set_ylabel(_score_label(scoring))
    ax.set_title(f"Score over time ({len(evaluations)} candidates)")
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    if ok_mask.any() or failed.any():
        ax.legend(loc="best", fontsize=8, framealpha=0.85)
    return figure


def plot_pareto_front(evaluations: pd.DataFrame, scoring: str | None = None, ax: Any = None) -> Any:
    """CV score against pipeline complexity, with the Pareto front the search optimises.

    Parameters
    ----------
    evaluations : pandas.DataFrame
        A model's ``evaluations_`` (columns ``status``, ``score``, ``complexity``, ``pipeline``).
    scoring : str, optional
        Name of the scorer, for the axis label.
    ax : matplotlib.axes.Axes, optional
        Draw here instead of in a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Grey points: OK candidates (spread a little sideways where they share a complexity);
        line: the front, each point labelled with its final estimator.
    """
    front = pareto_front(evaluations)
    figure, ax = _new_axes(ax, (7.5, 4.6))
    from matplotlib.ticker import MaxNLocator

    ok = _ok(evaluations)
    if ok.empty:
        ax.text(0.5, 0.5, "no candidate finished OK", ha="center", va="center", transform=ax.transAxes)
    else:
        complexity = ok["complexity"].to_numpy(dtype=float)
        jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(ok))
        ax.scatter(complexity + jitter, ok["score"], s=16, alpha=0.4, color="#757575", label="candidate (OK)", zorder=2)
        ax.step(front["complexity"], front["score"], where="post", color="#c62828", lw=1.5, zorder=3)
        ax.scatter(front["complexity"], front["score"], s=45, color="#c62828", zorder=4,
                   label=f"Pareto front ({len(front)})")
        for complexity_, score, text in front[["complexity", "score", "pipeline"]].itertuples(index=False):
            label = " -> ".join(_operator_names(text))
            if len(label) > 48:
                label = "... -> " + _operator_names(text)[-1]
            ax.annotate(f"{label}\n{score:.4g}", (complexity_, score), xytext=(6, -4), textcoords="offset points",
                        fontsize=7.5, va="top")
        _robust_ylim(ax, ok["score"].to_numpy(dtype=float))
        ax.set_xlim(complexity.min() - 0.5, complexity.max() + 1.5)
        ax.legend(loc="best", fontsize=8, framealpha=0.85)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("complexity (pipeline steps)")
    ax.set_ylabel(_score_label(scoring))
    ax.set_title("Score against complexity")
    ax.grid(alpha=0.3)
    return figure


def plot_status_counts(evaluations: pd.DataFrame, ax: Any = None) -> Any:
    """How many candidates ended with each status (OK, ERROR, TIMEOUT, MEMORY, CANCELLED).

    Parameters
    ----------
    evaluations : pandas.DataFrame
        A model's ``evaluations_`` (column ``status``).
    ax : matplotlib.axes.Axes, optional
        Draw here instead of in a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One bar per status, every status shown (zeros included), the count above each bar.
    """
    _check_columns(evaluations, ("status",))
    figure, ax = _new_axes(ax, (6.0, 3.6))
    counts = evaluations["status"].value_counts()
    statuses = list(STATUS_ORDER) + [s for s in counts.index if s not in STATUS_ORDER]
    values = [int(counts.get(s, 0)) for s in statuses]
    bars = ax.bar(statuses, values, color=[_STATUS_COLORS.get(s, "#455a64") for s in statuses])
    ax.bar_label(bars, labels=[str(v) for v in values], padding=2)
    ax.set_ylim(0, max(values + [1]) * 1.15)
    ax.set_xlabel("status")
    ax.set_ylabel("candidates")
    ax.set_title(f"Candidates by status ({len(evaluations)} in all)")
    ax.grid(axis="y", alpha=0.3)
    return figure


def plot_operator_times(evaluations: pd.DataFrame, by: str = "operator", top: int = 15, ax: Any = None) -> Any:
    """The slowest operators: mean evaluation seconds of the candidates using each.

    Parameters
    ----------
    evaluations : pandas.DataFrame
        A model's ``evaluations_`` (columns ``pipeline``, ``seconds``, ``status``).
    by : {"operator", "estimator"}, default="operator"
        See :func:`operator_seconds`.
    top : int, default=15
        How many operators to show, slowest first.
    ax : matplotlib.axes.Axes, optional
        Draw here instead of in a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Horizontal bars, slowest at the top, each labelled with its number of candidates.
    """
    table = operator_seconds(evaluations, by=by).head(top)
    figure, ax = _new_axes(ax, (7.5, 0.9 + 0.32 * max(len(table), 3)))
    if table.empty:
        ax.text(0.5, 0.5, "no timed candidate", ha="center", va="center", transform=ax.transAxes)
    else:
        table = table.iloc[::-1]
        bars = ax.barh(table["operator"], table["mean_seconds"], color="#00838f")
        ax.bar_label(bars, labels=[f"{m:.2g} s (n={n})" for m, n in zip(table["mean_seconds"], table["candidates"], strict=True)],
                     padding=3, fontsize=8)
        ax.set_xlim(0, table["mean_seconds"].max() * 1.3)
    what = "step" if by == "operator" else "final estimator"
    ax.set_xlabel(f"mean seconds per candidate (CV of the whole pipeline), by {what}")
    ax.set_ylabel("operator")
    ax.set_title("Slowest operators")
    ax.grid(axis="x", alpha=0.3)
    return figure
