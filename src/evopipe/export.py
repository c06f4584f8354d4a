"""Genome -> runnable Python source that rebuilds the same pipeline."""

from __future__ import annotations

from evopipe.compile import pipeline_steps
from evopipe.genome import Genome, Step

__all__ = ["export_ensemble_source", "export_source"]


def _paths(step: Step) -> list[str]:
    nested = [p for _, v in step.params if isinstance(v, Step) for p in _paths(v)]
    return [step.path, *nested]


def _local_names(paths: list[str]) -> dict[str, str]:
    """A name per import path; classes sharing a name get module-qualified aliases."""
    names: dict[str, str] = {"sklearn.pipeline.Pipeline": "Pipeline"}
    for path in paths:
        if path in names:
            continue
        name = path.rsplit(".", 1)[-1]
        if name in names.values():
            name = path.replace(".", "_")
        names[path] = name
    return names


def _call(step: Step, names: dict[str, str]) -> str:
    args = ", ".join(f"{k}={_call(v, names) if isinstance(v, Step) else repr(v)}" for k, v in step.params)
    return f"{names[step.path]}({args})"


def _import_line(path: str, name: str) -> str:
    module, _, cls = path.rpartition(".")
    return f"from {module} import {cls}" + (f" as {name}" if name != cls else "")


def export_source(genome: Genome, random_state: int | None = None, score: float | None = None) -> str:
    """Python source that builds the pipeline of ``genome`` as ``exported_pipeline``.

    Parameters
    ----------
    genome : Genome
    random_state : int, optional
        The random state the search compiled candidates with (so the source reproduces them).
    score : float, optional
        Cross-validation score, written in a comment.

    Returns
    -------
    str
        Source that imports what it needs and assigns an unfitted
        :class:`~sklearn.pipeline.Pipeline` to ``exported_pipeline``.
    """
    steps = pipeline_steps(genome, random_state)
    names = _local_names([p for _, step in steps for p in _paths(step)])
    lines = sorted(_import_line(path, name) for path, name in names.items())
    lines.append("")
    if score is not None:
        lines.append(f"# Cross-validation score during the search: {score:.6g}")
    lines.append(f"exported_pipeline = {_pipeline_source(steps, names, '')}")
    lines.append("# exported_pipeline.fit(X_train, y_train); exported_pipeline.predict(X_test)")
    return "\n".join(lines) + "\n"


def _pipeline_source(steps: list, names: dict[str, str], indent: str) -> str:
    body = "".join(f"{indent}    ({name!r}, {_call(step, names)}),\n" for name, step in steps)
    return f"Pipeline([\n{body}{indent}])"


def export_ensemble_source(
    chosen: list[tuple[Genome, int]], random_state: int | None, classification: bool, score: float | None = None
) -> str:
    """Python source that builds a weighted soft-voting ensemble of pipelines as ``exported_pipeline``.

    Parameters
    ----------
    chosen : list of (Genome, int)
        The member pipelines and their weights.
    random_state : int, optional
        The random state the search compiled candidates with.
    classification : bool
        A ``VotingClassifier(voting="soft")`` if true, else a ``VotingRegressor``.
    score : float, optional
        Out-of-fold score of the ensemble during the search, written in a comment.

    Returns
    -------
    str
        Source that imports what it needs and assigns the unfitted ensemble.
    """
    voting = "sklearn.ensemble.VotingClassifier" if classification else "sklearn.ensemble.VotingRegressor"
    members = [pipeline_steps(genome, random_state) for genome, _ in chosen]
    names = _local_names([voting] + [p for steps in members for _, step in steps for p in _paths(step)])
    lines = sorted(_import_line(path, name) for path, name in names.items())
    lines.append("")
    if score is not None:
        lines.append(f"# Out-of-fold score of the ensemble during the search: {score:.6g}")
    lines.append(f"exported_pipeline = {names[voting]}([")
    for i, steps in enumerate(members):
        lines.append(f"    ('pipeline{i}', {_pipeline_source(steps, names, '    ')}),")
    options = 'voting="soft", ' if classification else ""
    lines.append(f"], {options}weights={[weight for _, weight in chosen]!r})")
    lines.append("# exported_pipeline.fit(X_train, y_train); exported_pipeline.predict(X_test)")
    return "\n".join(lines) + "\n"
