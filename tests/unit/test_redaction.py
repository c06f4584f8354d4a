"""Data values are redacted from record texts; the rest of the text is kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evopipe import redaction
from evopipe.redaction import REDACTED, REDACTED_NUMBERS, DataVocabulary, redact_data_values, vocabulary_of


@pytest.fixture
def vocabulary():
    X = pd.DataFrame({
        "name": ["Jane Doe", "secret-berry", "ab", None],
        "city": pd.Categorical(["Oslo", "Lima", "Oslo", "Oslo"], categories=["Oslo", "Lima", "Quito"]),
        "amount": [123.456789, 2.0, 7.25, np.nan],
        "flag": [True, False, True, False],
    })
    return DataVocabulary.from_data(X, np.array(["yes", "no", "maybe", "yes"]), None)


def test_the_vocabulary_holds_strings_categories_labels_and_finite_numbers(vocabulary):
    assert vocabulary.strings == {"Jane Doe", "secret-berry", "ab", "Oslo", "Lima", "Quito", "yes", "no", "maybe"}
    assert vocabulary.numbers.tolist() == [2.0, 7.25, 123.456789]


@pytest.mark.parametrize("text, expected", [
    ("could not convert string to float: 'Jane Doe'", f"could not convert string to float: '{REDACTED}'"),
    ("Found unknown categories ['Quito'] in column 1", f"Found unknown categories ['{REDACTED}'] in column 1"),
    ('labels "maybe" and "no"', f'labels "{REDACTED}" and "{REDACTED}"'),
    ("row secret-berry, then Lima.", f"row {REDACTED}, then {REDACTED}."),
    ("quoted 'ab' but not the word ab", f"quoted '{REDACTED}' but not the word ab"),
    ("the word no and the name maybe", f"the word no and the name {REDACTED}"),
    ("array=[5.1 4.9 4.7 ... 6.2 5.9].", f"array=[{REDACTED_NUMBERS}]."),
    ("samples: [120, 30, 31]", f"samples: [{REDACTED_NUMBERS}]"),
    ("value 123.457 rounds to a data value", f"value {REDACTED} rounds to a data value"),
    ("value 123.4568e0 too", f"value {REDACTED} too"),
    ("but 123.4 does not, 7.2 is too short, 7.25 is not", f"but 123.4 does not, 7.2 is too short, {REDACTED} is not"),
    ("shape (100, 20) at column 3, sklearn 1.5.2", "shape (100, 20) at column 3, sklearn 1.5.2"),
    ("flag True and False stay", "flag True and False stay"),
    ("reduce Osloish words", "reduce Osloish words"),
])
def test_rules(vocabulary, text, expected):
    assert redact_data_values(text, vocabulary) == expected


def test_the_pipelines_own_words_and_numbers_are_kept(vocabulary):
    text = "Possible values are ['yes', 'no']; you gave constant=maybe and C=123.457."
    kept = redact_data_values(text, vocabulary, keep="DummyClassifier(constant='maybe', C=123.457)")
    assert kept == f"Possible values are ['{REDACTED}', '{REDACTED}']; you gave constant=maybe and C=123.457."


def test_numeric_data_too_large_to_index_redacts_every_telling_number(monkeypatch):
    monkeypatch.setattr(redaction, "MAX_INDEXED_NUMBERS", 10)
    vocabulary = DataVocabulary.from_data(np.arange(11.0).reshape(-1, 1), None)
    assert vocabulary.numbers is None
    assert redact_data_values("got 3.14159 at 12 of 100", vocabulary) == f"got {REDACTED} at 12 of {REDACTED}"


def test_object_arrays_are_split_into_numbers_and_strings():
    vocabulary = DataVocabulary.from_data(np.array([["x-ray", 1234.5], ["yankee", 2]], dtype=object), None)
    assert vocabulary.strings == {"x-ray", "yankee"}
    assert 1234.5 in vocabulary.numbers


def test_the_vocabulary_is_built_once_per_dataset():
    first = vocabulary_of("token-a", np.array([[111.0]]), None)
    assert vocabulary_of("token-a", np.array([[999.0]]), None) is first
    assert vocabulary_of("token-b", np.array([[999.0]]), None).numbers.tolist() == [999.0]


class _NoMemory:
    def __array__(self, dtype=None, copy=None):
        raise MemoryError("Unable to allocate 7.45 GiB")


def test_without_memory_for_the_vocabulary_every_telling_number_is_redacted():
    vocabulary = vocabulary_of("token-no-memory", _NoMemory(), None)
    assert vocabulary.numbers is None and not vocabulary.strings
    assert redact_data_values("Unable to allocate 7.45 GiB for shape (2, 10)", vocabulary) == (
        f"Unable to allocate {REDACTED} GiB for shape (2, 10)")


def test_numbers_beyond_floating_point_are_left_alone(vocabulary):
    assert redact_data_values("overflow at 1e999 and 123.457e0", vocabulary) == f"overflow at 1e999 and {REDACTED}"


class _Unreadable:
    def __array__(self, dtype=None, copy=None):
        raise ValueError("cannot be read")


def test_a_text_that_cannot_be_checked_is_withheld_not_raised():
    from evopipe.evaluation import EvalContext, record_text
    from evopipe.genome import parse_genome

    context = EvalContext(X=_Unreadable(), y=np.array([1, 2]), folds=(), scorer=None, data_token="token-unreadable")
    text = record_text("ValueError: bad value 'secret'", parse_genome("sklearn.dummy.DummyClassifier()"), context)
    assert text == "ValueError (text withheld: checking it for data values failed with ValueError)"
    bare = record_text("secret-berry was not expected", parse_genome("sklearn.dummy.DummyClassifier()"), context)
    assert bare == "Error (text withheld: checking it for data values failed with ValueError)"
