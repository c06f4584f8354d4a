"""Built-in search spaces: ``"default"`` and ``"light"``, for classification and regression.

The spaces themselves are plain data in :mod:`evopipe.configs.classification` and
:mod:`evopipe.configs.regression`; optional packages (xgboost, lightgbm) add their models
when installed (:mod:`evopipe.configs.optional`).
"""

from __future__ import annotations

from functools import lru_cache
from types import ModuleType

from evopipe.configs import classification, regression
from evopipe.configs.optional import lightgbm_operators, xgboost_operators
from evopipe.space import SearchSpace

__all__ = ["SPACE_NAMES", "builtin_seeds", "builtin_space"]

SPACE_NAMES = ("default", "light")
_MODULES = {"classification": classification, "regression": regression}


def _task_module(task: str) -> ModuleType:
    try:
        return _MODULES[task]
    except (KeyError, TypeError):
        raise ValueError(f"task must be one of {tuple(_MODULES)}; got {task!r}.") from None


def builtin_seeds(task: str) -> list[str]:
    """Strong simple pipelines (genome text) that start the search for ``task``.

    Parameters
    ----------
    task : {"classification", "regression"}

    Returns
    -------
    list of str
        A new list; fast pipelines first.
    """
    return list(_task_module(task).SEEDS)


def builtin_space(name: str, task: str) -> SearchSpace:
    """The built-in search space ``name`` for ``task`` (built once, then cached).

    Parameters
    ----------
    name : {"default", "light"}
    task : {"classification", "regression"}

    Returns
    -------
    SearchSpace
        With the task's seeds (those naming absent operators dropped) and, when installed,
        xgboost and lightgbm models.

    Raises
    ------
    ValueError
        For another name or task.
    """
    if name not in SPACE_NAMES:
        raise ValueError(
            "search_space must be 'default', 'light', a SearchSpace or a dict of import paths to "
            f"parameter dicts; got {name!r}."
        )
    _task_module(task)
    return _build(name, task)


@lru_cache(maxsize=8)
def _build(name: str, task: str) -> SearchSpace:
    module = _task_module(task)
    base = module.DEFAULT if name == "default" else module.LIGHT
    config = {**base, **xgboost_operators(task), **lightgbm_operators(task)}
    return SearchSpace.from_dict(config, task, seeds=module.SEEDS)
