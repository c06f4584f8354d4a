"""The run journal: an append-only JSON Lines record of every finished evaluation.

Line 1 is a header (format, library version, data and search-space fingerprints, the run's
settings); every further line is one evaluation, written, flushed and fsync'd as soon as it is
known, so a crash costs at most the evaluations in flight. No pickle: the file is plain JSON.
A torn last line (the process died mid-write) is dropped with a log message; anything else
that does not read back is an error naming the file, the line and the fix.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

from evopipe.evaluation import Evaluation, Status
from evopipe.evolver import Candidate
from evopipe.genome import Genome
from evopipe.loop import Record

__all__ = ["FORMAT", "Journal", "JournalMismatch", "journal_seed", "read_journal"]

logger = logging.getLogger(__name__)

FORMAT = 1
# A resumed run must search the same problem; these header fields must match.
_MUST_MATCH = {
    "data": "another dataset (or other CV folds)",
    "space": "another search space",
    "task": "another task",
    "scoring": "another scoring",
}


class JournalMismatch(ValueError):
    """The journal belongs to another run than the one asked for."""


def _record_to_json(record: Record) -> dict:
    c, e = record.candidate, record.evaluation
    return {
        "type": "evaluation", "candidate": c.index, "genome": c.genome.to_json(), "key": c.genome.key,
        "parents": list(c.parents), "variation": c.variation, "status": e.status.value,
        "fold_scores": list(e.fold_scores), "score": e.score if e.ok else None, "error": e.error,
        "seconds": e.seconds, "fit_seconds": e.fit_seconds, "n_warnings": e.n_warnings, "warning": e.warning,
        "worker": e.worker, "started": e.started, "finished_at": record.finished_at,
        "step_fits": e.step_fits, "steps_reused": e.steps_reused,
        "screen_score": e.screen_score if math.isfinite(e.screen_score) else None,
    }


def _record_from_json(data: dict) -> Record:
    genome = Genome.from_json(data["genome"])
    candidate = Candidate(data["candidate"], genome, tuple(data["parents"]), data["variation"])
    evaluation = Evaluation(
        key=genome.key, status=Status(data["status"]), fold_scores=tuple(data["fold_scores"]),
        score=float("nan") if data["score"] is None else data["score"], error=data["error"],
        seconds=data["seconds"], fit_seconds=data["fit_seconds"], n_warnings=data["n_warnings"],
        warning=data["warning"], worker=data["worker"], started=data["started"],
        step_fits=data["step_fits"], steps_reused=data["steps_reused"],
        # Absent from journals written before screening existed.
        screen_score=float("nan") if data.get("screen_score") is None else data["screen_score"],
    )
    return Record(candidate, evaluation, data["finished_at"])


def read_journal(path: str | os.PathLike) -> tuple[dict, list[Record]]:
    """Read a journal: its header and its records, in the order they were written.

    Raises
    ------
    ValueError
        For a file that is not an evopipe journal, an unknown format, or a broken line that
        is not the last one.
    """
    path = Path(path)
    lines = path.read_bytes().split(b"\n")
    complete = lines[:-1]  # a file that ends with "\n" leaves an empty last piece
    torn = lines[-1]
    if torn:
        logger.warning("%s: dropping a torn last line (the run was killed while writing it).", path)
    if not complete:
        raise ValueError(f"{path} is empty or has no complete header line; delete it or pass another checkpoint.")
    parsed = []
    for number, line in enumerate(complete, start=1):
        try:
            parsed.append(json.loads(line))
        except (json.JSONDecodeError, UnicodeDecodeError):
            if number == len(complete) and not torn:
                logger.warning("%s: dropping a torn last line %d.", path, number)
                break
            raise ValueError(
                f"{path}, line {number}: not valid JSON, so the journal is corrupt. Move the file away to start "
                "a new run, or truncate it before that line to keep the evaluations above it."
            ) from None
    header = parsed[0]
    if header.get("type") != "header":
        raise ValueError(f"{path}, line 1: not an evopipe journal header; pass another checkpoint path.")
    if header.get("format") != FORMAT:
        raise ValueError(
            f"{path}, line 1: journal format {header.get('format')!r} is not supported by this evopipe "
            f"(format {FORMAT}); use the evopipe version that wrote it, or another checkpoint path."
        )
    return header, [_record_from_json(d) for d in parsed[1:]]


def journal_seed(path: str | os.PathLike) -> int | None:
    """The random state recorded in a journal's header, or None if there is no readable header."""
    try:
        with open(path, "rb") as handle:
            header = json.loads(handle.readline())
    except (OSError, ValueError):
        return None
    seed = header.get("random_state") if isinstance(header, dict) else None
    return seed if isinstance(seed, int) else None


class Journal:
    """Append evaluations of one run to a JSON Lines file (mode 0600).

    Parameters
    ----------
    path : str or path-like
    header : dict
        Fingerprints and settings of this run. If the file exists it must have been written
        for the same data, space, task and scoring; its records are then in :attr:`previous`.
    """

    def __init__(self, path: str | os.PathLike, header: dict[str, Any]):
        self.path = Path(path)
        self.previous: list[Record] = []
        if self.path.exists() and self.path.stat().st_size > 0:
            old_header, self.previous = read_journal(self.path)
            self._check_same_run(old_header, header)
            self._truncate_torn_tail()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        if not self.previous and self.path.stat().st_size == 0:
            self._write({"type": "header", "format": FORMAT, **header})

    def _check_same_run(self, old: dict, new: dict) -> None:
        for field, what in _MUST_MATCH.items():
            if old.get(field) != new.get(field):
                raise JournalMismatch(
                    f"{self.path} was written for {what} ({field} {old.get(field)!r}, this run has "
                    f"{new.get(field)!r}); resume with the same data and settings, or pass another checkpoint path."
                )

    def _truncate_torn_tail(self) -> None:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(self.path, "r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)

    def _write(self, data: dict) -> None:
        self._file.write(json.dumps(data, allow_nan=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def append(self, record: Record) -> None:
        """Write one finished evaluation (cancelled ones are not: a resumed run retries them)."""
        if record.evaluation.status is not Status.CANCELLED:
            self._write(_record_to_json(record))

    def close(self) -> None:
        """Close the file."""
        self._file.close()
