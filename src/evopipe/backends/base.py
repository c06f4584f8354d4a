"""The interface every backend implements: where evaluations run."""

from __future__ import annotations

from abc import ABC, abstractmethod

from evopipe.evaluation import EvalContext, Evaluation, PruneBars
from evopipe.genome import Genome

__all__ = ["Backend"]


class Backend(ABC):
    """Runs evaluations somewhere and hands back finished ones.

    The run loop calls :meth:`start` once, then :meth:`submit` and :meth:`wait` as it goes,
    :meth:`cancel` at the deadline and :meth:`close` at the end (also on error). Each
    submission is identified by the caller's integer ``index``.
    """

    @property
    @abstractmethod
    def slots(self) -> int:
        """How many evaluations can run at the same time."""

    @abstractmethod
    def start(self, context: EvalContext) -> None:
        """Make the data available where evaluations run (once per search)."""

    @abstractmethod
    def submit(self, index: int, genome: Genome, time_limit: float | None, prune_below: PruneBars | None = None) -> None:
        """Queue an evaluation of ``genome``.

        ``time_limit`` is its wall-clock budget in seconds; ``prune_below`` the early-pruning
        bars of :func:`evopipe.evaluation.evaluate`.
        """

    @abstractmethod
    def wait(self, timeout: float | None) -> list[tuple[int, Evaluation]]:
        """Block until at least one evaluation finishes or ``timeout`` seconds pass.

        Returns every evaluation finished by then as ``(index, evaluation)``; an empty list
        means the timeout passed first (or nothing is in flight).
        """

    @abstractmethod
    def cancel(self) -> list[int]:
        """Stop every evaluation in flight; return their indices (they will not be returned by wait)."""

    @abstractmethod
    def close(self) -> None:
        """Release everything the backend started. Safe to call twice."""

    @property
    def hard_limits(self) -> bool:
        """Whether a running evaluation can be stopped (else limits are only checked between folds)."""
        return False

    @property
    def restarts(self) -> int:
        """Worker restarts the backend made to enforce limits (0 where it cannot restart)."""
        return 0
