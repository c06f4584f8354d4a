"""``evopipe report``: the figures of :mod:`evopipe.plots` and an HTML page around them, in a run directory."""

from __future__ import annotations

import html
import json
from pathlib import Path

from evopipe.cli_errors import CliError, first_line
from evopipe.run_dir import EVALUATIONS_FILE, PIPELINE_FILE, REPORT_FILE, SUMMARY_FILE

__all__ = ["FIGURES", "report_page", "write_report"]

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
"""The report's figures: file name, heading and caption, in the page's order."""


def write_report(directory: str | Path, dpi: int) -> Path:
    """Draw the :data:`FIGURES` of a run directory as PNGs and write its :data:`REPORT_FILE`.

    Parameters
    ----------
    directory : str or path-like
        The ``--out`` directory of ``evopipe fit`` (a file in it works too).
    dpi : int
        Resolution of the PNGs.

    Returns
    -------
    pathlib.Path
        The HTML page written.

    Raises
    ------
    CliError
        No run directory, no evaluations in it, or a file that cannot be read.
    ImportError
        matplotlib is not installed (with the command to install it).
    """
    import pandas as pd

    from evopipe import plots

    directory = Path(directory)
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
        raise CliError(f"{evaluations_path}: could not read it: {first_line(exc)}") from None
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
        makers[name]().savefig(directory / name, dpi=dpi)
    source = (directory / PIPELINE_FILE).read_text(encoding="utf-8") if (directory / PIPELINE_FILE).is_file() else None
    page = report_page(evaluations, summary, source, plots.pareto_front(evaluations))
    (directory / REPORT_FILE).write_text(page, encoding="utf-8")
    return directory / REPORT_FILE


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


def report_page(evaluations, summary: dict, source: str | None, front) -> str:
    """The HTML of the report: facts of the run, the figures, the best candidates and the failures.

    Parameters
    ----------
    evaluations : pandas.DataFrame
        The run's evaluations, as read from :data:`EVALUATIONS_FILE`.
    summary : dict
        The run's :data:`SUMMARY_FILE` (empty when there is none; missing facts are left out).
    source : str or None
        The best pipeline's exported source, if any.
    front : pandas.DataFrame
        The Pareto front, from :func:`evopipe.plots.pareto_front`.

    Returns
    -------
    str
        A standalone page, referring to the figures by their file names in the same directory.
    """
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
