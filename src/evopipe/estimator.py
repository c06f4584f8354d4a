"""The estimators users touch: ``EvoClassifier`` and ``EvoRegressor``.

``fit`` reads like a table of contents: check the input, build the run, search, refit the
best pipeline, set the fitted attributes. The work happens in :mod:`evopipe.loop`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from evopipe._version import __version__
from evopipe.backends import make_backend
from evopipe.compile import compile_genome
from evopipe.context import build_context
from evopipe.ensemble import PredictionPool, build_ensemble, select_ensemble
from evopipe.evaluation import EvalContext, Status
from evopipe.evolver import Evolver
from evopipe.export import export_ensemble_source, export_source
from evopipe.journal import Journal, journal_seed
from evopipe.loop import Budget, SearchResult, run_search
from evopipe.reporting import Progress, evaluations_frame, failure_summary
from evopipe.space import resolve_search_space
from evopipe.validation import Settings, check_settings, check_X, check_y

__all__ = ["EvoClassifier", "EvoRegressor"]

logger = logging.getLogger("evopipe")


class _EvoBase(BaseEstimator):
    """Parameters and fit logic shared by both estimators (see their docstrings)."""

    _task = ""

    def __init__(
        self,
        max_time="5m",
        *,
        generations=None,
        max_evals=None,
        early_stop=None,
        population_size=20,
        search_space="default",
        scoring=None,
        cv=3,
        max_eval_time=None,
        client=None,
        n_jobs=-1,
        use_dask=False,
        memory_limit="auto",
        prefix_cache="256MB",
        prune=True,
        ensemble=False,
        mode="async",
        checkpoint=None,
        random_state=None,
        verbose=0,
    ):
        self.max_time = max_time
        self.generations = generations
        self.max_evals = max_evals
        self.early_stop = early_stop
        self.population_size = population_size
        self.search_space = search_space
        self.scoring = scoring
        self.cv = cv
        self.max_eval_time = max_eval_time
        self.client = client
        self.n_jobs = n_jobs
        self.use_dask = use_dask
        self.memory_limit = memory_limit
        self.prefix_cache = prefix_cache
        self.prune = prune
        self.ensemble = ensemble
        self.mode = mode
        self.checkpoint = checkpoint
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y, groups=None, sample_weight=None):
        """Search for the best pipeline, then refit it on all of ``X, y``.

        Parameters
        ----------
        X : array-like or pandas DataFrame of shape (n_samples, n_features)
            Missing values (NaN) are imputed; string / categorical columns are one-hot encoded.
        y : array-like of shape (n_samples,)
        groups : array-like of shape (n_samples,), optional
            Group labels for the cross-validation splitter (e.g. ``GroupKFold``).
        sample_weight : array-like of shape (n_samples,), optional
            Passed to the final estimator's ``fit`` and to the scorer.

        Returns
        -------
        self
        """
        started = time.monotonic()
        self.ensemble_score_ = None
        settings = check_settings(self.get_params())
        if settings.ensemble and sample_weight is not None:
            raise ValueError("ensemble=True does not support sample_weight yet; fit without sample_weight, "
                             "or with ensemble=False.")
        X, y = self._check_data(X, y)
        space = resolve_search_space(self.search_space, self._task)
        if self._task == "classification":
            space = space.seeds_for_classes(y)
        seed = self._seed()
        context = build_context(X, y, self.cv, self.scoring, groups, sample_weight, self._task == "classification", seed,
                                cache_bytes=settings.cache_bytes)
        if settings.ensemble:
            method = "predict_proba" if self._task == "classification" else "predict"
            context = dataclasses.replace(context, keep_predictions=method)
        pool = PredictionPool() if settings.ensemble else None
        evolver = Evolver(space, np.random.default_rng(seed), settings.population_size)
        journal = self._open_journal(space, context, settings) if self.checkpoint is not None else None
        try:
            previous = journal.previous if journal else []
            evolver.resume(previous)
            result = self._search(settings, evolver, context, journal, len(previous), pool)
        finally:
            if journal is not None:
                journal.close()
        result.records[:0] = previous
        self._set_results(result, evolver, context)
        deadline = None if settings.max_time is None else started + settings.max_time
        self.ensemble_ = self._choose_ensemble(pool, context, deadline) if pool is not None else None
        self.fitted_pipeline_ = self._refit(context)
        return self

    def _seed(self) -> int:
        # A resumed run keeps its journal's seed, so random_state=None still finds the same folds.
        if self.random_state is None and self.checkpoint is not None:
            journaled = journal_seed(self.checkpoint)
            if journaled is not None:
                return journaled
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _open_journal(self, space, context: EvalContext, settings: Settings) -> Journal:
        header = {
            "evopipe": __version__, "task": self._task, "data": context.data_token, "space": space.fingerprint,
            "scoring": repr(self.scoring), "cv": repr(self.cv), "population_size": settings.population_size,
            "mode": settings.mode, "random_state": context.random_state,
        }
        journal = Journal(self.checkpoint, header)
        if journal.previous:
            logger.info("Resuming from %s: %d evaluations already done.", self.checkpoint, len(journal.previous))
        return journal

    def _check_data(self, X, y):
        X = check_X(X)
        validate_data(self, X, reset=True, skip_check_array=True)
        y = check_y(y, len(X), self._task == "classification")
        if self._task == "classification":
            self.classes_ = np.unique(y)
        return X, y

    def _search(self, settings: Settings, evolver: Evolver, context: EvalContext, journal, done: int,
                pool: PredictionPool | None) -> SearchResult:
        # max_evals / generations count across a resumed run; max_time counts from this fit.
        max_evals = None if settings.max_evals is None else max(0, settings.max_evals - done)
        budget = Budget(settings.max_time, max_evals, settings.early_stop, settings.max_eval_time)
        backend = make_backend(self.client, settings.n_jobs, self.use_dask, settings.max_eval_time, self.memory_limit)
        progress = Progress(settings.max_time, max_evals, settings.verbose)

        def on_record(record) -> None:
            if journal is not None:
                journal.append(record)
            if pool is not None:
                pool.add(record.candidate, record.evaluation)
            progress.update(record)

        try:
            return run_search(evolver, backend, context, budget, settings.mode, on_record, prune=settings.prune,
                              refit_seconds=pool.refit_seconds if pool is not None else None)
        finally:
            progress.close()
            backend.close()

    def _set_results(self, result: SearchResult, evolver: Evolver, context: EvalContext) -> None:
        self.evaluations_ = evaluations_frame(result.records)
        self.n_evaluations_ = len(result.records)
        self.stopped_because_ = result.stopped_because
        best = evolver.chosen()
        if best is None:
            if result.interrupted:
                raise KeyboardInterrupt("fit was interrupted before any candidate finished: there is no pipeline to return.")
            if not any(r.evaluation.status is not Status.CANCELLED for r in result.records):
                raise RuntimeError(
                    f"No candidate finished before the search stopped ({result.stopped_because}) after "
                    f"{result.wall_seconds:.1f} s; {len(result.records)} were cancelled. Give the search more time "
                    "(max_time), or check that the Dask workers are up and can import evopipe."
                )
            raise ValueError(
                f"All {len(result.records)} candidate pipelines failed; no model was fitted.\n"
                f"{failure_summary(result.records)}\n"
                "Inspect the `error` column of the evaluations, or try the search on a small sample with n_jobs=1."
            )
        if result.interrupted:
            warnings.warn(
                f"fit was interrupted after {len(result.records)} evaluations; using the best pipeline so far.",
                UserWarning,
                stacklevel=3,
            )
        self.best_genome_ = best[0].genome
        self.best_score_ = best[1].score
        self.top_score_ = evolver.best()[1].score
        self.pareto_front_ = [(c.genome.text(), e.score, c.genome.complexity) for c, e in evolver.pareto_front()]
        self.random_state_ = context.random_state

    def _choose_ensemble(self, pool: PredictionPool, context: EvalContext, deadline: float | None):
        """Greedy ensemble selection over the pool; None when the best single pipeline should be used."""
        members = pool.members()
        if deadline is not None:
            # Leave out members whose refit alone could not finish in the time left.
            left = deadline - time.monotonic()
            members = [m for m in members if m.refit_seconds < 0.5 * left]
        if len(members) < 2:
            logger.info("ensemble=True: fewer than two pipelines with out-of-fold predictions fit the time left; "
                        "using the best single pipeline.")
            return None
        classes = self.classes_ if self._task == "classification" else None
        chosen, score = select_ensemble(members, context.y, context.scorer, classes)
        if len(chosen) < 2 or score <= self.top_score_:
            logger.info("ensemble=True: no ensemble beat the best single pipeline out of fold (%.5g <= %.5g).",
                        score, self.top_score_)
            return None
        if deadline is not None and sum(m.refit_seconds for m, _ in chosen) > deadline - time.monotonic():
            logger.info("ensemble=True: no time left to refit %d pipelines; using the best single one.", len(chosen))
            return None
        self.ensemble_score_ = score
        return [(m.genome, weight) for m, weight in chosen]

    def _refit(self, context: EvalContext):
        """The final model fitted on all rows: the ensemble if one was chosen, else the best pipeline."""
        fit_params = {}
        if self.ensemble_:
            model = build_ensemble(self.ensemble_, context.random_state, self._task == "classification")
        else:
            model = compile_genome(self.best_genome_, context.random_state)
            if context.sample_weight is not None:
                fit_params[f"{model.steps[-1][0]}__sample_weight"] = context.sample_weight
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            warnings.simplefilter("ignore")
            return model.fit(context.X, context.y, **fit_params)

    def _check_predict_input(self, X):
        check_is_fitted(self, "fitted_pipeline_")
        X = check_X(X, min_samples=1)
        validate_data(self, X, reset=False, skip_check_array=True)
        if np.shape(X)[1] != self.n_features_in_:
            raise ValueError(f"X has {np.shape(X)[1]} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input.")
        return X

    def predict(self, X):
        """Predict with the refitted best pipeline."""
        X = self._check_predict_input(X)
        return self.fitted_pipeline_.predict(X)

    def export(self) -> str:
        """Python source that rebuilds the final model (unfitted) as ``exported_pipeline``.

        That is the best pipeline, or with ``ensemble=True`` the chosen soft-voting ensemble.
        """
        check_is_fitted(self, "fitted_pipeline_")
        if self.ensemble_:
            return export_ensemble_source(self.ensemble_, self.random_state_, self._task == "classification",
                                          self.ensemble_score_)
        return export_source(self.best_genome_, self.random_state_, self.best_score_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = self.mode == "async" and self.n_jobs != 1
        return tags


class EvoClassifier(ClassifierMixin, _EvoBase):
    """Evolve a scikit-learn classification pipeline with NSGA-II, on Dask or in-process.

    Parameters
    ----------
    max_time : float or str, default="5m"
        Budget for the whole ``fit`` in seconds, or a string like ``"90s"``, ``"10m"``,
        ``"2h"``; ``fit`` returns within it (a reserve is kept for the final refit). None: no
        time limit (then set another stopping rule).
    generations : int, optional
        Stop after ``generations * population_size`` evaluations.
    max_evals : int, optional
        Stop after this many evaluations.
    early_stop : int, optional
        Stop after this many generations' worth of evaluations without a better score.
    population_size : int, default=20
        Pipelines kept alive; also the size of the initial population and of a generation.
    search_space : {"default", "light"}, SearchSpace or dict, default="default"
        Operators to combine; a dict is TPOT-style ``{"sklearn.x.Y": {"param": [values]}}``.
    scoring : str or callable, optional
        A scikit-learn scorer; default accuracy.
    cv : int, splitter or iterable, default=3
        An integer gives shuffled stratified K-fold (group K-fold with ``groups``). Three folds
        (not scikit-learn's five) because a search ranks many candidates within a time budget:
        on the peers benchmark each evaluation then costs about 0.6 of a 5-fold one, and the
        searches held out as well or better (README, "Three folds"). Pass ``cv=5`` or more
        for steadier scores per candidate when the budget allows.
    max_eval_time : float or str, optional
        Limit for one candidate. On Dask the worker running a candidate past it is restarted.
        Without it (with ``prune``, in async mode), a candidate is pruned once its remaining
        folds, at the pace of those done, would take it past a quarter of ``max_time``.
    client : distributed.Client or str, optional
        Dask client or scheduler address. Default: an active default client, else an embedded
        ``LocalCluster`` of ``n_jobs`` single-threaded workers.
    n_jobs : int, default=-1
        Workers of the embedded cluster (-1: all cores). 1 runs in-process (no Dask).
    use_dask : bool, default=False
        Run on Dask even with ``n_jobs=1`` (a default client, or an embedded cluster).
    memory_limit : str or int, default="auto"
        Memory per worker of the embedded cluster (Dask syntax, e.g. "4GB"); "auto" shares
        the machine's memory among the workers.
    prefix_cache : int or str, default="256MB"
        Bytes each worker process (or this process, with ``n_jobs=1``) may spend caching fitted
        pipeline prefixes and their transformed folds, reused by later candidates that start
        with the same steps; 0 or None disables it. Cached or not, scores are the same.
    prune : bool, default=True
        Early pruning (status ``PRUNED``). Successive halving on large data (when a quarter of
        the first fold's training rows is at least 1000 rows): each candidate is first fitted
        on that quarter and scored on the fold's test rows (``screen_score``), and goes on to
        the full cross-validation only if that score is in the best third of the screening
        scores so far. And once the population is full, a candidate whose mean score over its
        first folds is below the population's median over the same folds stops there (the
        folds done are kept). Pruned candidates count as evaluated, are never bred again and
        never become the best pipeline.
    ensemble : bool, default=False
        After the search, greedily select a weighted ensemble (Caruana et al. 2004) of the 20
        best pipelines from their out-of-fold predictions, and use it if it beats the best
        pipeline out of fold and its refit fits the time left: ``fitted_pipeline_`` is then a
        soft-voting ``VotingClassifier`` / ``VotingRegressor``. Not with ``sample_weight``.
    mode : {"async", "generational"}, default="async"
        Steady-state evolution that keeps every worker busy, or generations (reproducible for a
        ``random_state`` whatever the number of workers).
    checkpoint : str, optional
        Path of the run journal (JSON Lines, one line per finished evaluation). If the file
        exists, ``fit`` resumes it: journaled candidates are not evaluated again and appear in
        ``evaluations_``; ``max_evals``/``generations`` count across the resumed run.
    random_state : int, RandomState or None
        Seeds the search and every pipeline step that takes a ``random_state``.
    verbose : int, default=0
        0: silent; 1 or more: a progress bar on stderr (evaluations, failures, best score,
        evaluations in flight). Each evaluation is also logged at DEBUG level on the
        ``evopipe.reporting`` logger.

    Attributes
    ----------
    fitted_pipeline_ : sklearn.pipeline.Pipeline or voting ensemble
        The best pipeline (or the chosen ensemble) refit on all the data.
    ensemble_ : list of (Genome, int) or None
        With ``ensemble=True``: the member pipelines and their weights; None if the best
        single pipeline was kept.
    ensemble_score_ : float or None
        The chosen ensemble's score on the out-of-fold predictions.
    best_score_ : float
        The mean cross-validation score of ``best_genome_``.
    best_genome_ : Genome
        The pipeline returned: the simplest on the Pareto front whose score is within one
        standard error (over the folds) of the top score; on large data, usually the top one.
    top_score_ : float
        The top mean cross-validation score of the search.
    pareto_front_ : list of (pipeline text, score, complexity)
    evaluations_ : pandas.DataFrame
        One row per candidate tried (see :func:`evopipe.reporting.evaluations_frame`).
    n_evaluations_ : int
    classes_ : ndarray
    """

    _task = "classification"

    def predict_proba(self, X):
        """Class probabilities from the refitted best pipeline (if its estimator has them)."""
        X = self._check_predict_input(X)
        if not hasattr(self.fitted_pipeline_, "predict_proba"):
            raise AttributeError(f"The best pipeline ({self.best_genome_.estimator.name}) has no predict_proba.")
        return self.fitted_pipeline_.predict_proba(X)


class EvoRegressor(RegressorMixin, _EvoBase):
    """Evolve a scikit-learn regression pipeline with NSGA-II, on Dask or in-process.

    Parameters and attributes are those of :class:`EvoClassifier`, except that the default
    ``scoring`` is r2 and an integer ``cv`` gives shuffled K-fold.
    """

    _task = "regression"
