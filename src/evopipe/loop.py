"""The run: keep every slot of the backend busy, stop on budget or interrupt, record each result.

Async mode (steady state) keeps ``slots + lookahead`` evaluations in flight and breeds one
child per finished result, so a worker never waits for the slowest member of a generation.
The lookahead is one extra task per 8 slots (at least one): it hides the round trip between
a result arriving and its replacement reaching a worker, at the cost of children bred from
slightly older information. Generational mode submits ``population_size`` candidates, waits
for all of them and tells them in submission order, so its results do not depend on which
worker finished first.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from evopipe.backends.base import Backend
from evopipe.evaluation import EvalContext, Evaluation, PruneBars, Status
from evopipe.evolver import Candidate, Evolver

__all__ = ["Budget", "Record", "SearchResult", "run_search"]

logger = logging.getLogger(__name__)

MODES = ("async", "generational")

# Stop early when the first this-many results all failed with the same error across at least
# _SAME_FAILURE_ESTIMATORS different final estimators: that is the environment or the data (a
# module the workers cannot import, a column no pipeline can take), not the pipelines, and
# the rest of the budget would only repeat it.
_SAME_FAILURE_RESULTS = 10
_SAME_FAILURE_ESTIMATORS = 3

# With pruning on and no max_eval_time, a candidate stops once it is on course to take more
# than this share of max_time: one pipeline that slow leaves the search no time to improve on
# it, and on large data a few of them would eat a short budget (a third let 40 s forests
# through on a 120 s search of 15,000 rows; the best-screening candidate is exempt anyway).
PACE_SHARE = 1 / 4


@dataclass(frozen=True)
class Budget:
    """When a search stops. ``None`` means no limit of that kind.

    Parameters
    ----------
    max_time : float, optional
        Seconds for the whole search, final refit included (a reserve for it is kept).
    max_evals : int, optional
        Candidates to evaluate.
    early_stop : int, optional
        Stop after this many evaluations in a row without a better best score.
    max_eval_time : float, optional
        Seconds for one candidate.
    """

    max_time: float | None = None
    max_evals: int | None = None
    early_stop: int | None = None
    max_eval_time: float | None = None


@dataclass(frozen=True)
class Record:
    """One finished candidate: what was proposed, how it scored, when it finished (run seconds)."""

    candidate: Candidate
    evaluation: Evaluation
    finished_at: float
    in_flight: int = 0


@dataclass
class SearchResult:
    """What a search produced."""

    records: list = field(default_factory=list)
    stopped_because: str = ""
    interrupted: bool = False
    wall_seconds: float = 0.0
    driver_seconds: float = 0.0


class _Run:
    """State of one run of :func:`run_search`."""

    def __init__(self, evolver, backend, budget, mode, on_record, clock, prune_folds, screen, refit_seconds):
        self.evolver, self.backend, self.budget, self.mode = evolver, backend, budget, mode
        self.on_record, self.clock = on_record, clock
        self.prune_folds, self.screen, self.refit_seconds = prune_folds, screen, refit_seconds
        self.start = clock()
        self.in_flight: dict[int, Candidate] = {}
        # Candidates whose time limit is the search's deadline rather than max_eval_time.
        self.deadline_bound: set[int] = set()
        self.generation_results: list[tuple[Candidate, Evaluation]] = []
        self.result = SearchResult()
        self.n_submitted = 0
        self.best_score = -math.inf
        self.since_improvement = 0

    def deadline(self) -> float:
        if self.budget.max_time is None:
            return math.inf
        if self.refit_seconds is not None:
            reserve = self.refit_seconds()
        else:
            # Keep time for refitting the best pipeline on all rows (about one fold fit, plus margin).
            best = self.evolver.best()
            reserve = 2.0 * best[1].fit_seconds if best else 0.0
        return self.start + self.budget.max_time - min(0.2 * self.budget.max_time, reserve)

    def target_in_flight(self) -> int:
        if self.mode == "generational":
            return 0 if self.in_flight or self.generation_results else self.evolver.population_size
        slots = self.backend.slots
        return slots + max(1, slots // 8) if slots > 1 else 1

    def fill(self) -> bool:
        """Submit candidates up to the target; False when nothing more can be asked."""
        want = self.target_in_flight() - len(self.in_flight)
        if self.budget.max_evals is not None:
            want = min(want, self.budget.max_evals - self.n_submitted)
        if want <= 0:
            return True
        candidates = self.evolver.ask(want)
        bars = self._prune_bars()
        for candidate in candidates:
            limit, by_deadline = self._time_limit()
            self.backend.submit(candidate.index, candidate.genome, limit, bars)
            self.in_flight[candidate.index] = candidate
            if by_deadline:
                self.deadline_bound.add(candidate.index)
            self.n_submitted += 1
        return bool(candidates)

    def _prune_bars(self) -> PruneBars | None:
        if not self.prune_folds:
            return None
        bars = self.evolver.prune_bars(self.prune_folds, self.screen)
        # Not in generational mode: a limit on measured time would make its results depend on
        # the machine's speed, and reproducible results are that mode's point.
        if self.mode == "async" and self.budget.max_eval_time is None and self.budget.max_time is not None:
            bars = replace(bars or PruneBars(), max_seconds=PACE_SHARE * self.budget.max_time)
        return bars

    def _time_limit(self) -> tuple[float | None, bool]:
        """The candidate's time limit, and whether it is the search's deadline (not max_eval_time)."""
        remaining = self.deadline() - self.clock()
        own = self.budget.max_eval_time
        if math.isinf(remaining):
            return own, False
        if own is None or remaining < own:
            return max(0.0, remaining), True
        return own, False

    def record(self, candidate: Candidate, evaluation: Evaluation) -> None:
        record = Record(candidate, evaluation, self.clock() - self.start, len(self.in_flight))
        self.result.records.append(record)
        if self.on_record is not None:
            self.on_record(record)

    def receive(self, index: int, evaluation: Evaluation) -> None:
        candidate = self.in_flight.pop(index)
        if index in self.deadline_bound:
            self.deadline_bound.discard(index)
            if evaluation.status is Status.TIMEOUT:
                # Stopped by the search's deadline, not by its own limit: cancelled, like the
                # evaluations still in flight at the deadline.
                evaluation = replace(evaluation, status=Status.CANCELLED, error=f"Cancelled at the search's "
                                     f"deadline ({evaluation.error})")
        self.record(candidate, evaluation)
        if evaluation.ok and evaluation.score > self.best_score:
            self.best_score, self.since_improvement = evaluation.score, 0
        else:
            self.since_improvement += 1
        if self.mode == "async":
            self.evolver.tell([(candidate, evaluation)])
            return
        self.generation_results.append((candidate, evaluation))
        if not self.in_flight:
            self.evolver.tell(sorted(self.generation_results, key=lambda r: r[0].index))
            self.generation_results = []

    def same_failure(self) -> str:
        """The error every result so far shares, if the first results all failed that way; else ""."""
        records = self.result.records
        if len(records) < _SAME_FAILURE_RESULTS or len(records) > 2 * _SAME_FAILURE_RESULTS:
            return ""
        failures = [r for r in records if r.evaluation.status is not Status.CANCELLED]
        if len(failures) < _SAME_FAILURE_RESULTS or any(r.evaluation.status is not Status.ERROR for r in failures):
            return ""
        errors = {(r.evaluation.error.strip().splitlines() or [""])[-1] for r in failures}
        estimators = {r.candidate.genome.estimator.path for r in failures}
        if len(errors) == 1 and len(estimators) >= _SAME_FAILURE_ESTIMATORS:
            return errors.pop()
        return ""

    def stop_reason(self) -> str:
        if error := self.same_failure():
            return f"every candidate failed the same way ({error[:200]})"
        remaining = self.deadline() - self.clock()
        if remaining <= 0:
            return "max_time"
        if not self.backend.hard_limits and not self.in_flight and remaining < self.typical_seconds():
            # In-process an evaluation cannot be stopped mid-fold: do not start one that would
            # most likely overrun the budget.
            return "max_time"
        if self.budget.max_evals is not None and len(self.result.records) >= self.budget.max_evals:
            return "max_evals"
        if self.budget.early_stop is not None and self.since_improvement >= self.budget.early_stop:
            return "early_stop"
        return ""

    def typical_seconds(self) -> float:
        """Median wall time of the evaluations that completed so far (0 before any)."""
        seconds = sorted(r.evaluation.seconds for r in self.result.records if r.evaluation.ok)
        return seconds[len(seconds) // 2] if seconds else 0.0

    def cancel_in_flight(self) -> None:
        for index in self.backend.cancel():
            candidate = self.in_flight.pop(index, None)
            if candidate is not None:
                self.record(candidate, Evaluation(candidate.genome.key, Status.CANCELLED, error="Cancelled: the search stopped."))


def run_search(
    evolver: Evolver,
    backend: Backend,
    context: EvalContext,
    budget: Budget,
    mode: str = "async",
    on_record: Callable[[Record], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    prune: bool = False,
    refit_seconds: Callable[[], float] | None = None,
) -> SearchResult:
    """Evaluate candidates from ``evolver`` on ``backend`` until the budget is spent.

    Parameters
    ----------
    evolver : Evolver
    backend : Backend
        Started here with ``context``; the caller closes it.
    context : EvalContext
    budget : Budget
    mode : {"async", "generational"}
    on_record : callable, optional
        Called with each :class:`Record` as it finishes (journal, progress bar).
    clock : callable
        Monotonic seconds.
    prune : bool, default=False
        Early pruning (``Status.PRUNED``), see :meth:`Evolver.prune_bars`: successive halving
        (when the context has a screening split, a candidate is first fitted on that subsample
        and goes on only if it scores in the best third so far), and once the population is
        full, a candidate whose first folds score below the population's median on the same
        folds stops there. In async mode without ``budget.max_eval_time``, a candidate on course
        to take more than ``PACE_SHARE`` of ``budget.max_time`` is pruned too.
    refit_seconds : callable, optional
        Returns the seconds the caller needs after the search (the final refit); kept free at
        the end of ``budget.max_time`` (at most a fifth of it). Default: twice the best
        pipeline's fold fit time.

    Returns
    -------
    SearchResult
        A Ctrl-C (``KeyboardInterrupt``) ends the search with ``interrupted=True``: in-flight
        evaluations are cancelled and everything finished so far is kept.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}.")
    screen = prune and context.screen_fold is not None
    run = _Run(evolver, backend, budget, mode, on_record, clock, len(context.folds) if prune else 0, screen, refit_seconds)
    backend.start(context)
    waited = 0.0
    try:
        while not (reason := run.stop_reason()):
            if not run.fill() and not run.in_flight:
                reason = "search space exhausted"
                break
            if not run.in_flight:
                reason = "max_evals"
                break
            timeout = run.deadline() - clock()
            before = clock()
            finished = backend.wait(None if math.isinf(timeout) else max(0.0, timeout))
            waited += clock() - before
            for index, evaluation in finished:
                run.receive(index, evaluation)
        run.result.stopped_because = reason
    except KeyboardInterrupt:
        logger.warning("Interrupted: stopping the search and keeping the %d results so far.", len(run.result.records))
        run.result.interrupted, run.result.stopped_because = True, "interrupted"
    finally:
        run.cancel_in_flight()
    run.result.wall_seconds = clock() - run.start
    run.result.driver_seconds = run.result.wall_seconds - waited
    return run.result
