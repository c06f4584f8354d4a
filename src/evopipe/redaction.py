"""Keep the training data's values out of the error and warning texts of evaluation records.

Records end up in the journal, in ``evaluations_``, in reports and in logs, which users share
when they ask for help; the data may not be theirs to share. scikit-learn, pandas and NumPy
quote offending values in their messages ("could not convert string to float: 'Jane Doe'",
"Found unknown categories ['ACME Corp'] in column 2", "Expected 2D array, got 1D array instead:
array=[5.1 4.9 ...]"), and a user's own estimator may print anything.

The rules, applied by :func:`redact_data_values`:

1. A run of three or more numbers (an array's repr, a list of values) is replaced by
   ``<numbers redacted>`` whatever the numbers are.
2. A quoted text, or a word, that equals a value of a non-numeric column of ``X`` (category
   levels included) or a label of a non-numeric ``y`` becomes ``<redacted>``. Values of one or
   two characters are only matched when quoted: as bare words they are ordinary text.
3. A lone number with at least three significant digits that any value of the numeric data
   (``X``, ``y``, ``sample_weight``) rounds to, at the precision the text shows, becomes
   ``<redacted>``. Shorter numbers (indices, counts, shapes) are kept: they are not telling.
   When the numeric data is too large to index (over :data:`MAX_INDEXED_NUMBERS` values)
   every such number is redacted instead.

Words and numbers that appear in the candidate's own pipeline text (class names, parameter
names and values) are always kept: they say nothing about the data.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MAX_INDEXED_NUMBERS", "DataVocabulary", "redact_data_values", "vocabulary_of"]

MAX_INDEXED_NUMBERS = 5_000_000  # a sorted copy of at most 40 MB, made on a process's first error
REDACTED = "<redacted>"
REDACTED_NUMBERS = "<numbers redacted>"

_NUMBER = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
_NUMBER_OR_SPECIAL = rf"(?:{_NUMBER}|nan|-?inf)"
# Separators inside an array repr: blanks, commas, brackets and NumPy's "..." elision.
_SEPARATOR = r"(?:[\s,;\[\]()]|\.\.\.)+"
_NUMBER_RUN = re.compile(rf"(?<![\w.]){_NUMBER_OR_SPECIAL}(?:{_SEPARATOR}{_NUMBER_OR_SPECIAL}){{2,}}(?![\w.])")
_LONE_NUMBER = re.compile(rf"(?<![\w.<]){_NUMBER}(?![\w<]|\.\d)")
_QUOTED = re.compile(r"'([^'\n]{1,500})'|\"([^\"\n]{1,500})\"")
_WORD = re.compile(r"[^\s'\"\[\](){},;:=<>]{3,}")
_KEEP_TOKEN = re.compile(r"[^\s'\"\[\](){},;:=]+")


@dataclass(frozen=True)
class DataVocabulary:
    """The values of one dataset that texts must not show.

    Parameters
    ----------
    strings : frozenset of str
        Values of non-numeric columns and labels, as text.
    numbers : ndarray or None
        Sorted unique finite numeric values; None when there were too many to index (then
        every lone number of three or more significant digits counts as a data value).
    """

    strings: frozenset
    numbers: np.ndarray | None

    @classmethod
    def from_data(cls, *arrays: Any) -> DataVocabulary:
        """Collect the values of ``X``, ``y``, ``sample_weight`` (arrays, DataFrames, Series or None)."""
        strings: set[str] = set()
        numeric_parts: list[np.ndarray] = []
        for data in arrays:
            for column in _columns(data):
                if isinstance(column.dtype, pd.CategoricalDtype):
                    strings.update(str(v) for v in column.cat.categories)
                elif pd.api.types.is_bool_dtype(column.dtype):
                    continue  # True/False are words of every error text, not telling data
                elif pd.api.types.is_numeric_dtype(column.dtype):
                    numeric_parts.append(column.to_numpy(dtype=float, na_value=np.nan))
                else:
                    numbers_here = []
                    for value in pd.unique(column.dropna()):
                        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
                            numbers_here.append(value)
                        else:
                            strings.add(str(value))
                    numeric_parts.append(np.array(numbers_here, dtype=float))
        n_numbers = sum(p.size for p in numeric_parts)
        numbers = None
        if n_numbers <= MAX_INDEXED_NUMBERS:
            values = np.concatenate(numeric_parts) if numeric_parts else np.empty(0)
            numbers = np.unique(values[np.isfinite(values)])
        return cls(frozenset(s for s in strings if s.strip()), numbers)

    def has_number(self, text: str) -> bool:
        """Whether a data value shows as ``text`` (a number written to some precision)."""
        if _significant_digits(text) < 3:
            return False
        if self.numbers is None:
            return True
        try:
            value = float(text)
            half_step = 0.5 * 10.0 ** _last_digit_exponent(text)
        except OverflowError:  # "1e999": no finite data value shows like that
            return False
        if not math.isfinite(value):
            return False
        tolerance = half_step + 1e-12 * abs(value)
        i = np.searchsorted(self.numbers, value - tolerance, side="left")
        return bool(i < self.numbers.size and self.numbers[i] <= value + tolerance)


def redact_data_values(text: str, vocabulary: DataVocabulary, keep: str = "") -> str:
    """Replace the data values in ``text`` by placeholders (the rules are in the module docstring).

    Parameters
    ----------
    text : str
        An error or warning text.
    vocabulary : DataVocabulary
        The values of the data the text may quote.
    keep : str
        Text whose words and numbers are never redacted (the candidate pipeline's text).

    Returns
    -------
    str
    """
    if not text:
        return text
    kept = set(_KEEP_TOKEN.findall(keep))
    text = _NUMBER_RUN.sub(REDACTED_NUMBERS, text)

    def quoted(match: re.Match) -> str:
        inner = match.group(1) if match.group(1) is not None else match.group(2)
        if inner in kept or inner not in vocabulary.strings:
            return match.group(0)
        quote = match.group(0)[0]
        return f"{quote}{REDACTED}{quote}"

    def word(match: re.Match) -> str:
        token = match.group(0)
        for candidate in (token, token.rstrip(".")):
            if candidate in vocabulary.strings and candidate not in kept:
                return token.replace(candidate, REDACTED, 1)
        return token

    def number(match: re.Match) -> str:
        token = match.group(0)
        return REDACTED if token not in kept and vocabulary.has_number(token) else token

    text = _QUOTED.sub(quoted, text)
    if vocabulary.strings:
        text = _WORD.sub(word, text)
    return _LONE_NUMBER.sub(number, text)


_cache_lock = threading.Lock()
_cached: tuple[str, DataVocabulary] | None = None


def vocabulary_of(token: str, *arrays: Any) -> DataVocabulary:
    """The vocabulary of a dataset, built once per process and dataset (``token`` names it).

    Only the latest dataset is kept: a worker serves one search at a time. Without the memory
    to build it, a vocabulary that knows no strings and treats every telling number as data.
    """
    global _cached
    with _cache_lock:
        if _cached is None or _cached[0] != token:
            try:
                _cached = (token, DataVocabulary.from_data(*arrays))
            except MemoryError:  # the text is often a MemoryError's: redact numbers blindly, keep going
                return DataVocabulary(frozenset(), None)
        return _cached[1]


def _columns(data: Any) -> list[pd.Series]:
    if data is None:
        return []
    if isinstance(data, pd.DataFrame):
        return [data.iloc[:, i] for i in range(data.shape[1])]
    if isinstance(data, pd.Series):
        return [data]
    array = np.asarray(data)
    if array.dtype.kind in "biuf":  # one numeric block: no need to split it into columns
        return [pd.Series(array.ravel())]
    array = array.reshape(len(array), -1) if array.ndim > 1 else array.reshape(-1, 1)
    return [pd.Series(array[:, i]) for i in range(array.shape[1])]


def _significant_digits(text: str) -> int:
    mantissa = re.split(r"[eE]", text.lstrip("+-"))[0].replace(".", "")
    return len(mantissa.lstrip("0"))


def _last_digit_exponent(text: str) -> int:
    """The power of ten of the last digit shown: -2 for "1.25", 0 for "125", 1 for "1.2e2"."""
    mantissa, _, exponent = text.lstrip("+-").lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return (int(exponent) if exponent else 0) - decimals
