"""NSGA-II selection on plain numpy arrays.

Everything here works on an ``(n, m)`` float array of objective values in which **every
column is minimised**; the caller flips signs as needed, e.g. ``(-cv_score, complexity)``.
NaN is read as ``+inf`` (the worst possible value), so a failed evaluation never
dominates anything and never wins a tie it should not. The functions are pure: inputs are
never modified and the only randomness comes from an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "crowding_distance",
    "dominates",
    "non_dominated_ranks",
    "select_parents",
    "select_survivors",
    "tournament",
]


def _as_objectives(objectives: np.ndarray) -> np.ndarray:
    """Return ``objectives`` as a fresh 2-D float array with NaN replaced by ``+inf``.

    Raises
    ------
    ValueError
        If the array is not 2-D or has no objective column; the message names the shape.
    """
    arr = np.array(objectives, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"objectives must be a 2-D (n, m) array, got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError(f"objectives must have at least one column, got shape {arr.shape}")
    arr[np.isnan(arr)] = np.inf
    return arr


def _as_vector(values: np.ndarray, n: int, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D array of length ``n`` or raise ``ValueError``."""
    arr = np.asarray(values)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got shape {arr.shape}")
    return arr


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """Return whether objective vector ``a`` Pareto-dominates ``b`` (all minimised).

    Parameters
    ----------
    a, b : array_like of float, shape (m,)
        Objective vectors of the same length.

    Returns
    -------
    bool
        True iff ``a <= b`` in every objective and ``a < b`` in at least one.

    Raises
    ------
    ValueError
        If ``a`` and ``b`` are not 1-D vectors of the same length.

    Notes
    -----
    * Equal vectors do not dominate each other, so the relation is irreflexive.
    * NaN is treated as ``+inf``: a NaN entry is worse than any number and equal to
      ``+inf`` and to another NaN. Hence ``[nan, 0]`` and ``[inf, 0]`` are equal (neither
      dominates), and ``[1, 0]`` dominates ``[nan, 0]``.
    * ``-inf`` is better than every finite value; infinities compare as usual.
    * With ``m == 0`` nothing dominates anything.
    """
    a = np.array(a, dtype=float)
    b = np.array(b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be 1-D of equal length, got shapes {a.shape} and {b.shape}")
    a[np.isnan(a)] = np.inf
    b[np.isnan(b)] = np.inf
    return bool(np.all(a <= b) and np.any(a < b))


def _dominance_matrix(obj: np.ndarray) -> np.ndarray:
    """Boolean ``(n, n)`` matrix whose ``[i, j]`` entry says row ``i`` dominates row ``j``.

    ``obj`` must already be validated (2-D, NaN replaced by ``+inf``). Looping over the
    few objective columns keeps every temporary ``(n, n)``, which is far faster than
    reducing an ``(n, n, m)`` array along its short last axis.
    """
    n = obj.shape[0]
    all_le = np.ones((n, n), dtype=bool)
    any_lt = np.zeros((n, n), dtype=bool)
    for col in obj.T:
        all_le &= col[:, None] <= col[None, :]
        any_lt |= col[:, None] < col[None, :]
    return all_le & any_lt


def non_dominated_ranks(objectives: np.ndarray) -> np.ndarray:
    """Assign each point its non-domination rank (Pareto front index).

    Parameters
    ----------
    objectives : array_like of float, shape (n, m)
        Objective values, every column minimised.

    Returns
    -------
    numpy.ndarray of int, shape (n,)
        Rank 0 for the non-dominated set, 1 for the points that are non-dominated once
        rank 0 is removed, and so on. An empty ``(0, m)`` input gives an empty array.

    Raises
    ------
    ValueError
        If ``objectives`` is not 2-D or has zero columns.

    Notes
    -----
    Dominance is exactly :func:`dominates`: duplicates and points tied in every
    objective share a rank, NaN counts as ``+inf`` and ``±inf`` compare normally. With
    one or two objectives (evopipe's case) the points are swept in lexicographic order with
    a bisection over fronts: O(n log n). With more, the pairwise ``(n, n)`` dominance
    matrix is built with vectorised comparisons, then fronts are peeled off by decrementing
    domination counts: O(n^2 m) time, O(n^2) memory.
    """
    obj = _as_objectives(objectives)
    if obj.shape[1] <= 2:
        return _ranks_two_objectives(obj)
    dom = _dominance_matrix(obj)
    n_dominators = dom.sum(axis=0, dtype=np.intp)
    ranks = np.zeros(obj.shape[0], dtype=np.intp)
    front = np.flatnonzero(n_dominators == 0)
    rank = 0
    while front.size:
        ranks[front] = rank
        n_dominators -= dom[front].sum(axis=0, dtype=np.intp)
        n_dominators[front] = -1  # mark as assigned so it is never picked again
        front = np.flatnonzero(n_dominators == 0)
        rank += 1
    return ranks


def _ranks_two_objectives(obj: np.ndarray) -> np.ndarray:
    """Non-domination ranks for one or two objectives in O(n log n) (validated input).

    Points are visited in lexicographic order, so every possible dominator of a point comes
    before it. Each front is summarised by the last point it received, which has the front's
    smallest second objective; those summaries get worse front by front, so the first front
    that does not dominate the point is found by bisection. The (n, n) matrix method costs a
    full pass per front, and an asynchronous search ranks the population after every result.
    """
    n = obj.shape[0]
    if obj.shape[1] == 1:
        obj = np.column_stack([obj[:, 0], np.zeros(n)])
    first, second = obj[:, 0].tolist(), obj[:, 1].tolist()
    ranks = np.zeros(n, dtype=np.intp)
    last: list[tuple[float, float]] = []  # per front: (first, second) of its last point
    for i in np.lexsort((obj[:, 1], obj[:, 0])).tolist():
        a, b = first[i], second[i]
        lo, hi = 0, len(last)
        while lo < hi:  # first front whose last point does not dominate (a, b)
            mid = (lo + hi) // 2
            fa, fb = last[mid]
            if fb < b or (fb == b and fa < a):
                lo = mid + 1
            else:
                hi = mid
        if lo == len(last):
            last.append((a, b))
        else:
            last[lo] = (a, b)
        ranks[i] = lo
    return ranks


def crowding_distance(objectives: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Compute NSGA-II crowding distance separately within each front.

    Parameters
    ----------
    objectives : array_like of float, shape (n, m)
        Objective values, every column minimised.
    ranks : array_like of int, shape (n,)
        Front label of each point, normally from :func:`non_dominated_ranks`; any
        integer labelling works, points with equal labels form one front.

    Returns
    -------
    numpy.ndarray of float, shape (n,)
        Non-negative distances, never NaN; larger means less crowded.

    Raises
    ------
    ValueError
        If ``objectives`` is not 2-D with at least one column, or ``ranks`` is not of
        shape ``(n,)``.

    Notes
    -----
    * Fronts of size 1 or 2 get ``+inf`` for every point.
    * In larger fronts each objective is sorted stably (ties keep index order); the
      first and last points of that order (the lowest-index point among those tied at
      the minimum, the highest-index point among those tied at the maximum) get ``+inf``.
      Every interior point adds ``(next - prev) / scale``.
    * An objective whose values are all equal in the front (zero range, including all
      ``+inf``) contributes 0 to every point, boundaries included; so a front of three or
      more identical points gets all zeros.
    * Duplicates are safe: equal neighbours give a gap of 0, never ``0 / 0``.
    * NaN counts as ``+inf``. ``scale`` is the range of the *finite* values of that
      objective in the front (1 if that range is 0 or undefined), so an interior point
      next to an infinite value gets ``+inf`` (it is an extreme of the finite part) while
      the other gaps stay properly normalised.
    """
    obj = _as_objectives(objectives)
    labels = _as_vector(ranks, obj.shape[0], "ranks")
    n = obj.shape[0]
    distance = np.zeros(n)
    if n == 0:
        return distance
    # All fronts at once, one column at a time: sorting by (front, value) lays every front out
    # as a contiguous run, so neighbours, extremes and ranges become shifted-array and
    # ``reduceat`` operations. A loop over fronts cost ~50 small numpy calls per front, and an
    # asynchronous search recomputes this after every result.
    for col in obj.T:
        order = np.lexsort((col, labels))  # stable: ties keep index order
        values, fronts = col[order], labels[order]
        starts = np.flatnonzero(np.r_[True, fronts[1:] != fronts[:-1]])
        ends = np.r_[starts[1:], n] - 1
        group = np.repeat(np.arange(starts.size), ends - starts + 1)
        finite = np.isfinite(values)
        span = np.maximum.reduceat(np.where(finite, values, -np.inf), starts) - np.minimum.reduceat(
            np.where(finite, values, np.inf), starts
        )
        scale = np.where(np.isfinite(span) & (span > 0), span, 1.0)
        contrib = np.zeros(n)
        if n > 2:
            upper, lower = values[2:], values[:-2]
            with np.errstate(invalid="ignore"):  # inf - inf only where upper == lower, masked to 0
                gaps = np.where(upper == lower, 0.0, upper - lower)
            contrib[1:-1] = gaps / scale[group[1:-1]]
        spread = values[starts] != values[ends]
        contrib[starts] = np.where(spread, np.inf, 0.0)
        contrib[ends] = np.where(spread, np.inf, 0.0)
        distance[order] += contrib
    front_of = np.unique(labels, return_inverse=True)[1].ravel()
    distance[np.bincount(front_of)[front_of] <= 2] = np.inf
    return distance


def _crowded_order(ranks: np.ndarray, crowding: np.ndarray) -> np.ndarray:
    """Indices sorted best first: rank ascending, crowding descending, index ascending.

    NaN crowding is treated as ``-inf`` (the most crowded possible).
    """
    crowd = np.where(np.isnan(crowding), -np.inf, crowding)
    return np.lexsort((-crowd, ranks))  # lexsort is stable, so ties keep index order


def select_survivors(objectives: np.ndarray, n_survivors: int) -> np.ndarray:
    """Choose ``n_survivors`` points by NSGA-II crowded comparison.

    Parameters
    ----------
    objectives : array_like of float, shape (n, m)
        Objective values, every column minimised.
    n_survivors : int
        Number of points to keep; must be non-negative.

    Returns
    -------
    numpy.ndarray of int, shape (min(n_survivors, n),)
        The survivors' indices **in ascending index order** (population order is kept).
        If ``n_survivors >= n`` this is ``arange(n)``.

    Raises
    ------
    ValueError
        If ``objectives`` is invalid or ``n_survivors`` is negative.

    Notes
    -----
    Points are ranked by non-domination rank (ascending), then crowding distance
    computed once on the whole population (descending, ``+inf`` first), then original
    index (ascending), and the first ``n_survivors`` are kept. So a rank-``r`` point is
    never dropped while a worse-ranked point survives, and all ties, including exact
    duplicates and equal infinite crowding, are broken deterministically towards the
    lower index. NaN objectives count as ``+inf``.
    """
    obj = _as_objectives(objectives)
    if n_survivors < 0:
        raise ValueError(f"n_survivors must be non-negative, got {n_survivors}")
    n = obj.shape[0]
    if n_survivors >= n:
        return np.arange(n, dtype=np.intp)
    ranks = non_dominated_ranks(obj)
    order = _crowded_order(ranks, crowding_distance(obj, ranks))
    return np.sort(order[:n_survivors]).astype(np.intp)


def tournament(ranks: np.ndarray, crowding: np.ndarray, rng: np.random.Generator, size: int = 2) -> int:
    """Run one crowded-comparison tournament and return the winner's index.

    Parameters
    ----------
    ranks : array_like of int, shape (n,)
        Non-domination ranks (lower is better).
    crowding : array_like of float, shape (n,)
        Crowding distances (larger is better); NaN is treated as ``-inf``.
    rng : numpy.random.Generator
        Source of randomness; the only state consumed is one ``rng.choice`` call.
    size : int, default 2
        Number of candidates. If ``size <= n`` they are distinct; otherwise they are
        drawn with replacement.

    Returns
    -------
    int
        Index of the best candidate: lowest rank, then largest crowding, then lowest
        index. With ``size == n`` every point competes, so the result is the overall
        crowded-best point.

    Raises
    ------
    ValueError
        If the population is empty, ``size < 1`` or the arrays' shapes differ.
    """
    ranks = np.asarray(ranks)
    if ranks.ndim != 1 or ranks.size == 0:
        raise ValueError(f"ranks must be a non-empty 1-D array, got shape {ranks.shape}")
    crowding = _as_vector(crowding, ranks.size, "crowding").astype(float)
    if size < 1:
        raise ValueError(f"tournament size must be at least 1, got {size}")
    n = ranks.size
    candidates = np.sort(rng.choice(n, size=size, replace=size > n))
    best = _crowded_order(ranks[candidates], crowding[candidates])[0]
    return int(candidates[best])


def select_parents(objectives: np.ndarray, n: int, rng: np.random.Generator, size: int = 2) -> np.ndarray:
    """Select ``n`` parents by repeated binary (or ``size``-ary) crowded tournaments.

    Parameters
    ----------
    objectives : array_like of float, shape (pop, m)
        Objective values, every column minimised; must have at least one row when
        ``n > 0``.
    n : int
        Number of parents to draw (with repetition across tournaments); non-negative.
    rng : numpy.random.Generator
        Source of randomness.
    size : int, default 2
        Tournament size, see :func:`tournament`.

    Returns
    -------
    numpy.ndarray of int, shape (n,)
        Winner indices in draw order.

    Raises
    ------
    ValueError
        If ``objectives`` is invalid, ``n`` is negative, or ``n > 0`` with no rows.

    Notes
    -----
    Ranks and crowding are computed once, then :func:`tournament` is called ``n`` times,
    so the same generator state gives the same parents.
    """
    obj = _as_objectives(objectives)
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    if n == 0:
        return np.empty(0, dtype=np.intp)
    ranks = non_dominated_ranks(obj)
    crowding = crowding_distance(obj, ranks)
    return np.array([tournament(ranks, crowding, rng, size) for _ in range(n)], dtype=np.intp)
