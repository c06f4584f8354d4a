"""Content-addressed cache of fitted pipeline prefixes, one per process (each Dask worker has its own).

An entry is the fitted transformers of a pipeline prefix on one CV fold plus the fold's
transformed train and test matrices, keyed by (data token, fold, the prefix's content key).
The prefix key is taken from the steps as compiled, random states and stacking wrappers
included, so a transformer with another seed is another prefix. Any later candidate whose
pipeline starts with the same steps on the same fold starts from the cached state instead of
refitting them. Bounded in bytes, least recently used first out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

__all__ = ["PrefixCache", "PrefixState", "process_cache"]


@dataclass(frozen=True)
class PrefixState:
    """Fitted prefix steps and the fold's matrices after them."""

    steps: tuple
    X_train: object
    X_test: object

    @property
    def nbytes(self) -> int:
        """Bytes of the two matrices (the fitted steps are usually far smaller)."""
        return sum(int(getattr(m, "nbytes", 0)) or int(np.asarray(m).nbytes) for m in (self.X_train, self.X_test))


class PrefixCache:
    """A thread-safe LRU map from prefix keys to :class:`PrefixState`, bounded in bytes.

    Parameters
    ----------
    max_bytes : int
        Bound on the bytes of the cached matrices; 0 disables the cache.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, PrefixState] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0

    def get(self, key: str) -> PrefixState | None:
        """The state for ``key`` (now most recently used), or None."""
        with self._lock:
            state = self._entries.get(key)
            if state is not None:
                self._entries.move_to_end(key)
            return state

    def put(self, key: str, state: PrefixState) -> None:
        """Store a state, evicting the least recently used ones to stay within the bound."""
        size = state.nbytes
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                self.nbytes -= self._entries.pop(key).nbytes
            while self._entries and self.nbytes + size > self.max_bytes:
                self.nbytes -= self._entries.popitem(last=False)[1].nbytes
            self._entries[key] = state
            self.nbytes += size

    def __len__(self) -> int:
        return len(self._entries)


_PROCESS_CACHE: list[PrefixCache] = []
_PROCESS_LOCK = threading.Lock()


def process_cache(max_bytes: int) -> PrefixCache | None:
    """This process's cache with the given bound (made on first use); None when ``max_bytes`` is 0."""
    if max_bytes <= 0:
        return None
    with _PROCESS_LOCK:
        if not _PROCESS_CACHE or _PROCESS_CACHE[0].max_bytes != max_bytes:
            _PROCESS_CACHE[:] = [PrefixCache(max_bytes)]
        return _PROCESS_CACHE[0]
