"""The command line's input tables: reading CSV or Parquet, splitting off the target, and choosing the task.

pandas and scikit-learn are imported inside the functions, so that ``evopipe --help`` does not
wait for them.
"""

from __future__ import annotations

import os
from pathlib import Path

from evopipe.cli_errors import CliError, first_line

__all__ = [
    "CLASSIFICATION_MAX_INTEGERS",
    "check_task",
    "drop_missing_target",
    "feature_frame",
    "infer_task",
    "is_categorical",
    "missing_columns_error",
    "read_table",
    "split_features",
]

CLASSIFICATION_MAX_INTEGERS = 20
"""An integer-valued numeric target with at most this many distinct values is taken as class labels."""


def _is_parquet(path: Path) -> bool:
    if path.name.lower().endswith((".parquet", ".pq", ".parq")):
        return True
    with open(path, "rb") as handle:
        return handle.read(4) == b"PAR1"


def _parquet_engine() -> str:
    import importlib.util

    for engine in ("pyarrow", "fastparquet"):
        if importlib.util.find_spec(engine) is not None:
            return engine
    raise CliError("reading Parquet needs pyarrow, which is not installed: pip install 'evopipe[parquet]'")


def read_table(path: str | os.PathLike, categorical: list | None = None):
    """Read a CSV (optionally compressed: .gz, .bz2, .zip, .xz, .zst) or Parquet file into a DataFrame.

    Parameters
    ----------
    path : str or path-like
        Parquet when the name ends in .parquet/.pq or the file starts with Parquet's magic
        bytes; otherwise CSV (compression from the extension, or gzip by its magic bytes).
    categorical : list of str, optional
        CSV columns to read as strings (the columns a model saw as categories), so that
        values such as ``"007"`` keep their text.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    CliError
        The file is missing, empty, has no rows, or cannot be parsed.
    """
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise CliError(f"{path}: no such file")
    if path.is_dir():
        raise CliError(f"{path}: is a directory, expected a CSV or Parquet file")
    if path.stat().st_size == 0:
        raise CliError(f"{path}: the file is empty")
    try:
        if _is_parquet(path):
            kind = "Parquet"
            frame = pd.read_parquet(path, engine=_parquet_engine())
        else:
            kind = "CSV"
            with open(path, "rb") as handle:
                gzipped = handle.read(2) == b"\x1f\x8b"
            compression = "gzip" if gzipped and not path.name.lower().endswith(".gz") else "infer"
            dtype = dict.fromkeys(categorical, str) if categorical else None
            frame = pd.read_csv(path, compression=compression, dtype=dtype, low_memory=False)
    except CliError:
        raise
    except pd.errors.EmptyDataError:
        raise CliError(f"{path}: the file is empty (no header, no rows)") from None
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not a text CSV file ({exc.reason} at byte {exc.start}); is it another format?") from None
    except (ValueError, TypeError, OSError, EOFError, ImportError, KeyError) as exc:
        raise CliError(f"{path}: could not read it as {kind}: {first_line(exc)}") from None
    except Exception as exc:  # pyarrow raises its own types for corrupt files
        raise CliError(f"{path}: could not read it as {kind}: {type(exc).__name__}: {first_line(exc)}") from None
    if frame.shape[1] == 0:
        raise CliError(f"{path}: no columns")
    if len(frame) == 0:
        raise CliError(f"{path}: no rows (only a header with {frame.shape[1]} column(s))")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def missing_columns_error(path: str, wanted: list, frame) -> CliError:
    """The error for columns a table lacks, listing the columns it has.

    Parameters
    ----------
    path : str
        The table's file, to name in the message.
    wanted : list of str
        The columns that are missing.
    frame : pandas.DataFrame
        The table as read.

    Returns
    -------
    CliError
        To raise; it hints at a wrong separator when the table came out as one column.
    """
    available = list(frame.columns)
    shown = ", ".join(repr(c) for c in available[:15]) + (f", ... ({len(available)} in all)" if len(available) > 15 else "")
    hint = ""
    if len(available) == 1 and any(sep in available[0] for sep in (";", "\t", "|")):
        hint = " (the file has one column: is it separated by something other than commas?)"
    names = ", ".join(repr(c) for c in wanted)
    what = "column" if len(wanted) == 1 else "columns"
    return CliError(f"{path}: no {what} {names}; its columns are: {shown}{hint}")


def is_categorical(series) -> bool:
    """Whether a column holds categories (strings, booleans, categoricals) rather than numbers.

    Parameters
    ----------
    series : pandas.Series

    Returns
    -------
    bool
    """
    import pandas as pd

    return not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)


def infer_task(y) -> tuple[str, str]:
    """Guess the task from a target column.

    Strings, booleans and categories are class labels; so are integer-valued numbers with at
    most :data:`CLASSIFICATION_MAX_INTEGERS` distinct values; other numbers are a regression
    target.

    Parameters
    ----------
    y : pandas.Series
        The target, without missing values.

    Returns
    -------
    (task, reason)
        ``task`` is ``"classification"`` or ``"regression"``; ``reason`` says why, in words.
    """
    import numpy as np

    distinct = int(y.nunique())
    if is_categorical(y):
        return "classification", f"{distinct} distinct non-numeric values"
    values = y.to_numpy(dtype=float)
    integers = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
    if integers and distinct <= CLASSIFICATION_MAX_INTEGERS:
        return "classification", f"{distinct} distinct integer values"
    kind = "integer" if integers else "numeric"
    return "regression", f"{distinct} distinct {kind} values"


def drop_missing_target(frame, target: str, path: str) -> tuple:
    """The rows of a training table that have a target value.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table as read by :func:`read_table`.
    target : str
        The target column's name.
    path : str
        The table's file, to name in errors.

    Returns
    -------
    (frame, n_dropped)
        The rows with a target (re-indexed from 0 if any were dropped), and how many were not.

    Raises
    ------
    CliError
        There is no such column, or it has no values at all.
    """
    if target not in frame.columns:
        raise missing_columns_error(path, [target], frame)
    missing_target = frame[target].isna()
    if missing_target.all():
        raise CliError(f"{path}: the target column {target!r} has no values")
    if missing_target.any():
        frame = frame[~missing_target].reset_index(drop=True)
    return frame, int(missing_target.sum())


def split_features(frame, target: str, path: str) -> tuple:
    """Split a training table into its features and its target.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table, with the target column.
    target : str
        The target column's name.
    path : str
        The table's file, to name in errors.

    Returns
    -------
    (X, y)
        Every other column, in the table's order, and the target column.

    Raises
    ------
    CliError
        The target is the only column.
    """
    features = [c for c in frame.columns if c != target]
    if not features:
        raise CliError(f"{path}: no feature columns besides the target {target!r}")
    return frame[features], frame[target]


def check_task(task: str, y, target: str) -> None:
    """Refuse a ``--task`` the target cannot serve.

    Parameters
    ----------
    task : {"classification", "regression"}
        The task asked for (or inferred).
    y : pandas.Series
        The target, without missing values.
    target : str
        The target column's name, to name in errors.

    Raises
    ------
    CliError
        Regression of a non-numeric target, or classification of non-integer numbers.
    """
    if task == "regression" and is_categorical(y):
        raise CliError(f"--task regression needs a numeric target; {target!r} holds {y.dtype} values")
    if task == "classification" and not is_categorical(y) and infer_task(y)[0] == "regression":
        from sklearn.utils.multiclass import type_of_target

        if type_of_target(y.to_numpy()) == "continuous":
            raise CliError(f"--task classification needs class labels; {target!r} holds non-integer numbers "
                           "(use --task regression)")


def feature_frame(frame, features: list, categorical: list, path: str):
    """The columns a fitted model needs, from a table to predict, with numeric columns as numbers.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table as read by :func:`read_table` (other columns, the target among them, are ignored).
    features : list of str
        The model's feature columns, in its order.
    categorical : list of str
        The features the model saw as categories; the others were numeric.
    path : str
        The table's file, to name in errors.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    CliError
        A feature is missing, or a numeric feature holds text that is not a number.
    """
    import pandas as pd

    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise CliError(
            f"{path}: missing {len(missing)} feature column(s) the model needs: "
            + ", ".join(repr(c) for c in missing[:20]) + (" ..." if len(missing) > 20 else "")
        )
    X = frame[features].copy()
    for column in features:
        if column in categorical or not is_categorical(X[column]):
            continue
        # Numeric in training but read as text here: numbers stored as text, or a stray string.
        converted = pd.to_numeric(X[column], errors="coerce")
        bad = X[column].notna() & converted.isna()
        if bad.any():
            example = X[column][bad].iloc[0]
            raise CliError(f"{path}: column {column!r} should be numeric but holds {example!r} "
                           f"(row {int(bad.to_numpy().argmax()) + 1} of the data)")
        X[column] = converted
    return X
