"""The search strategy: ``ask(n)`` for candidates, ``tell(results)`` what they scored.

No I/O, no clocks, no Dask: the run loop decides when to ask and tell. Given the same
random generator and the same sequence of calls the evolver makes the same candidates,
which is what makes generational mode reproducible on any number of workers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from evopipe.choice import simplest_within_error
from evopipe.evaluation import Evaluation, PruneBars
from evopipe.genome import Genome
from evopipe.selection import crowding_distance, non_dominated_ranks, select_survivors, tournament
from evopipe.space import SearchSpace
from evopipe.variation import vary

__all__ = ["Candidate", "Evolver"]

_MAX_TRIES = 50

# Successive halving's screening: a candidate goes on to the full cross-validation when its
# screening score is in the best third of all screening scores so far (the usual halving rate
# of 3), once there are enough of them for that third to mean something.
SCREEN_KEEP = 1 / 3
SCREEN_MIN_RESULTS = 6


def _rank_key(record: tuple) -> tuple:
    candidate, evaluation = record
    return (-evaluation.score, candidate.genome.complexity, candidate.index)


def _objective_row(candidate: Candidate, evaluation: Evaluation) -> tuple[float, float]:
    # Both columns minimised: the selection module's convention.
    return (-evaluation.score, float(candidate.genome.complexity))


@dataclass(frozen=True)
class Candidate:
    """A genome the evolver proposed, with where it came from.

    ``index`` numbers candidates in the order they were asked for; ``parents`` are genome keys;
    ``variation`` says how it was made ("seed", "random", "perturb", "crossover+insert", ...).
    """

    index: int
    genome: Genome
    parents: tuple = ()
    variation: str = "random"


class Evolver:
    """NSGA-II over (cross-validation score up, pipeline complexity down).

    Parameters
    ----------
    space : SearchSpace
    rng : numpy.random.Generator
    population_size : int
        Survivors kept after each ``tell``; also the size of the initial population.
    crossover_rate : float, default=0.2
    """

    def __init__(self, space: SearchSpace, rng: np.random.Generator, population_size: int, crossover_rate: float = 0.2):
        self.space = space
        self.rng = rng
        self.population_size = population_size
        self.crossover_rate = crossover_rate
        self.population: list[tuple[Candidate, Evaluation]] = []
        self._population_objectives: list[tuple[float, float]] = []  # row i belongs to population[i]
        self.results: dict[str, tuple[Candidate, Evaluation]] = {}
        self._proposed: set[str] = set()
        self._n_asked = 0
        self._best: tuple[Candidate, Evaluation] | None = None
        # Ranks and crowding of the population for parent tournaments, kept until the next tell
        # changes the population: generational mode asks a whole generation from one population.
        self._parent_stats: tuple[np.ndarray, np.ndarray] | None = None
        self._fold_bars: tuple | None = None
        self._screen_scores: list[float] = []
        self._best_screen: float | None = None
        self._screen_bar: float | None = None

    @property
    def n_asked(self) -> int:
        """How many candidates were handed out."""
        return self._n_asked

    def ask(self, n: int) -> list[Candidate]:
        """Propose up to ``n`` genomes never proposed before.

        The first ``population_size`` are the space's seed pipelines, then random ones and (once
        results have been told) children, alternately; later ones are children of
        tournament-chosen parents. Fewer than ``n`` are returned only when the space seems
        exhausted (no new genome found in many tries).
        """
        out = []
        for _ in range(n):
            candidate = self._propose()
            if candidate is None:
                break
            out.append(candidate)
        return out

    def tell(self, results: Iterable[tuple[Candidate, Evaluation]]) -> None:
        """Record finished evaluations; successful ones compete for the population."""
        for candidate, evaluation in results:
            self.results[candidate.genome.key] = (candidate, evaluation)
            if np.isfinite(evaluation.screen_score):
                self._screen_scores.append(evaluation.screen_score)
                self._screen_bar = None
                if self._best_screen is None or evaluation.screen_score > self._best_screen:
                    self._best_screen = evaluation.screen_score
            if evaluation.ok:
                self.population.append((candidate, evaluation))
                self._population_objectives.append(_objective_row(candidate, evaluation))
                self._parent_stats = self._fold_bars = None
                if self._best is None or _rank_key((candidate, evaluation)) < _rank_key(self._best):
                    self._best = (candidate, evaluation)
        if len(self.population) > self.population_size:
            keep = select_survivors(np.array(self._population_objectives), self.population_size).tolist()
            self.population = [self.population[i] for i in keep]
            self._population_objectives = [self._population_objectives[i] for i in keep]

    def resume(self, records: Iterable) -> None:
        """Continue from journaled records (``loop.Record``): tell them, never propose them again."""
        records = sorted(records, key=lambda r: r.candidate.index)
        self.mark_seen(r.candidate.genome.key for r in records)
        self.tell((r.candidate, r.evaluation) for r in records)
        if records:
            self._n_asked = max(self._n_asked, records[-1].candidate.index + 1)

    def mark_seen(self, keys: Iterable[str]) -> None:
        """Never propose these genomes (e.g. already evaluated in a resumed run)."""
        self._proposed.update(keys)

    def prune_bars(self, n_folds: int, screen: bool = False) -> PruneBars | None:
        """Early-pruning bars for a new candidate (see :class:`evopipe.evaluation.PruneBars`).

        Parameters
        ----------
        n_folds : int
            Folds of the cross-validation.
        screen : bool, default=False
            Whether candidates are screened on a subsample first (successive halving).

        Returns
        -------
        PruneBars or None
            ``screen``: the ``1 - SCREEN_KEEP`` quantile of every screening score so far (NaN,
            i.e. screen but keep, until there are ``SCREEN_MIN_RESULTS`` of them). ``folds``:
            a candidate can only take a place in a full population from its members, so once
            the population is full the bar for the first ``k`` folds is the median, over the
            members, of their own mean score on the same ``k`` folds (a paired comparison: the
            folds are the same for everyone); empty while the population is not full. None
            when there is nothing to prune on. ``pace_exempt_screen``: the best screening
            score so far (None before any), so a candidate that screens best is not stopped by
            a pace limit the caller may add.
        """
        folds = self._population_fold_bars(n_folds)
        screen_bar = self._screening_bar() if screen else None
        if screen_bar is None and not folds:
            return None
        return PruneBars(screen=screen_bar, folds=folds, pace_exempt_screen=self._best_screen if screen else None)

    def _screening_bar(self) -> float:
        if self._screen_bar is None:
            scores = self._screen_scores
            self._screen_bar = (
                float(np.quantile(scores, 1 - SCREEN_KEEP)) if len(scores) >= SCREEN_MIN_RESULTS else float("nan")
            )
        return self._screen_bar

    def _population_fold_bars(self, n_folds: int) -> tuple:
        if len(self.population) < self.population_size or n_folds < 2:
            return ()
        if self._fold_bars is None or len(self._fold_bars) != n_folds - 1:
            scores = np.array([e.fold_scores for _, e in self.population], dtype=float)
            if scores.ndim != 2 or scores.shape[1] != n_folds:
                return ()
            partial_means = np.cumsum(scores, axis=1)[:, :-1] / np.arange(1, n_folds)
            self._fold_bars = tuple(float(v) for v in np.median(partial_means, axis=0))
        return self._fold_bars

    def pareto_front(self) -> list[tuple[Candidate, Evaluation]]:
        """Non-dominated evaluations among all successful ones, best score first."""
        ok = [r for r in self.results.values() if r[1].ok]
        if not ok:
            return []
        ranks = non_dominated_ranks(self._objectives(ok))
        front = [r for r, rank in zip(ok, ranks, strict=True) if rank == 0]
        return sorted(front, key=_rank_key)

    def best(self) -> tuple[Candidate, Evaluation] | None:
        """The highest-scoring evaluation (ties: simpler, then earlier)."""
        return self._best

    def chosen(self) -> tuple[Candidate, Evaluation] | None:
        """The pipeline a search returns: the simplest within one standard error of the best.

        Breiman's one-standard-error rule (:func:`evopipe.choice.simplest_within_error`): among
        the successful evaluations whose mean score is at least the best one's minus its
        standard error (standard deviation of its fold scores / sqrt(folds)), the one with the
        fewest steps, then the highest score. With many candidates the top cross-validation
        score is optimistic (the winner's curse); a simpler pipeline that the folds cannot tell
        apart from it is the safer choice. On large data the error is small and the best is kept.
        """
        ok = sorted((r for r in self.results.values() if r[1].ok), key=lambda r: r[0].index)
        if not ok:
            return None
        return ok[simplest_within_error([(c.genome, e.score, e.fold_scores) for c, e in ok])]

    @staticmethod
    def _objectives(records: list[tuple[Candidate, Evaluation]]) -> np.ndarray:
        return np.array([_objective_row(c, e) for c, e in records], dtype=float)

    def _propose(self) -> Candidate | None:
        for _ in range(_MAX_TRIES):
            genome, parents, variation = self._make()
            if genome.key not in self._proposed:
                self._proposed.add(genome.key)
                self._n_asked += 1
                return Candidate(self._n_asked - 1, genome, parents, variation)
        return None

    def _make(self) -> tuple[Genome, tuple, str]:
        seeds = self.space.seeds
        if self._n_asked < len(seeds) and seeds[self._n_asked].key not in self._proposed:
            return seeds[self._n_asked], (), "seed"
        filling = self._n_asked < self.population_size
        # While the initial population fills, every other newcomer is bred from the results so
        # far (when there are any: not in generational mode's first generation): on a short
        # budget the search then improves on the strong seeds instead of spending it all on
        # random pipelines; the other half stays random, for diversity.
        if not self.population or (filling and self._n_asked % 2 == 0):
            return self.space.random_genome(self.rng), (), "random"
        if self._parent_stats is None:
            objectives = np.array(self._population_objectives)
            ranks = non_dominated_ranks(objectives)
            self._parent_stats = ranks, crowding_distance(objectives, ranks)
        i, j = (tournament(*self._parent_stats, self.rng) for _ in range(2))
        a, b = self.population[i][0].genome, self.population[j][0].genome
        child, variation = vary(a, b, self.space, self.rng, self.crossover_rate)
        for _ in range(_MAX_TRIES):
            if child.key not in self._proposed:
                break
            # Already seen: vary the child again rather than re-evaluate it.
            child, more = vary(child, b, self.space, self.rng, self.crossover_rate)
            variation = f"{variation}+{more}"
        return child, (a.key, b.key) if variation.startswith("crossover") else (a.key,), variation
