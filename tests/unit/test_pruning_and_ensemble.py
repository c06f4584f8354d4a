"""Early pruning (screening on a subsample, bars between folds), out-of-fold predictions, and
greedy ensemble selection."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, make_classification
from sklearn.metrics import get_scorer
from sklearn.model_selection import cross_val_predict

from evopipe.compile import compile_genome
from evopipe.context import SCREEN_FRACTION, SCREEN_MIN_ROWS, build_context
from evopipe.ensemble import Member, PredictionPool, build_ensemble, select_ensemble
from evopipe.evaluation import Evaluation, PruneBars, Status, evaluate
from evopipe.evolver import SCREEN_KEEP, SCREEN_MIN_RESULTS, Candidate, Evolver
from evopipe.genome import parse_genome
from evopipe.space import SearchSpace

LOGREG = "sklearn.preprocessing.StandardScaler() -> sklearn.linear_model.LogisticRegression(C=1.0)"
STUMP = "sklearn.tree.DecisionTreeClassifier(max_depth=1)"


@pytest.fixture(scope="module")
def cancer_context():
    X, y = load_breast_cancer(return_X_y=True)
    return build_context(X, y, 4, None, None, None, True, 0)


def test_a_candidate_below_the_bar_is_pruned_after_that_fold(cancer_context):
    full = evaluate(parse_genome(STUMP), cancer_context)
    assert full.ok and len(full.fold_scores) == 4
    bar = full.fold_scores[0] + 1e-9  # just above its first fold
    pruned = evaluate(parse_genome(STUMP), cancer_context, prune_below=PruneBars(folds=(bar, 0.0, 0.0)))
    assert pruned.status is Status.PRUNED and not pruned.ok
    assert pruned.fold_scores == full.fold_scores[:1]  # the fold done is kept
    assert np.isnan(pruned.score) and "Pruned after 1 of 4 folds" in pruned.error
    # Bars it clears (and NaN bars) leave the evaluation untouched.
    kept = evaluate(parse_genome(STUMP), cancer_context, prune_below=PruneBars(folds=(0.0, np.nan, 0.0)))
    assert kept.ok and kept.fold_scores == full.fold_scores


def test_prune_bars_are_the_population_median_of_partial_means_once_it_is_full():
    space = SearchSpace.from_dict({"sklearn.tree.DecisionTreeClassifier": {"max_depth": [1, 2, 3, 4, 5, 6]}},
                                  "classification")
    evolver = Evolver(space, np.random.default_rng(0), population_size=3)
    folds = [(0.5, 0.7, 0.9), (0.6, 0.6, 0.6), (0.9, 0.5, 0.4)]
    asked = evolver.ask(3)
    evolver.tell([(asked[0], Evaluation(asked[0].genome.key, Status.OK, folds[0], score=0.7))])
    assert evolver.prune_bars(3) is None  # not full: every finished candidate gets in
    assert evolver.prune_bars(3, screen=True).folds == ()
    evolver.tell([(c, Evaluation(c.genome.key, Status.OK, f, score=float(np.mean(f))))
                  for c, f in zip(asked[1:], folds[1:], strict=True)])
    # After 1 fold: median(0.5, 0.6, 0.9); after 2: median(0.6, 0.6, 0.7).
    assert evolver.prune_bars(3).folds == pytest.approx((0.6, 0.6))
    assert evolver.prune_bars(3).screen is None  # no screening asked for
    assert evolver.prune_bars(1) is None


@pytest.fixture(scope="module")
def large_context():
    # Just large enough for a screening split: a quarter of the first fold's training rows.
    X, y = make_classification(n_samples=5400, n_features=8, weights=[0.7, 0.3], random_state=0)
    return build_context(X, y, 4, None, None, None, True, 0)


def test_the_screening_split_is_a_stratified_quarter_of_the_first_training_fold(large_context, cancer_context):
    assert cancer_context.screen_fold is None  # too small to pay off
    (train, test), y = large_context.folds[0], large_context.y
    subset, screen_test = large_context.screen_fold
    assert len(subset) == int(len(train) * SCREEN_FRACTION) >= SCREEN_MIN_ROWS
    assert set(subset) <= set(train) and np.array_equal(screen_test, test)
    assert np.mean(y[subset]) == pytest.approx(np.mean(y[train]), abs=0.002)
    again = build_context(large_context.X, y, 4, None, None, None, True, 0).screen_fold[0]
    assert np.array_equal(again, subset)  # part of the run's reproducible state


def test_screening_prunes_before_any_fold_and_otherwise_changes_no_score(large_context):
    from sklearn.tree import DecisionTreeClassifier

    genome = parse_genome(STUMP)
    full = evaluate(genome, large_context)
    assert np.isnan(full.screen_score)
    subset, test = large_context.screen_fold
    X, y = large_context.X, large_context.y
    expected = DecisionTreeClassifier(max_depth=1, random_state=0).fit(X[subset], y[subset]).score(X[test], y[test])
    kept = evaluate(genome, large_context, prune_below=PruneBars(screen=np.nan))
    assert kept.ok and kept.fold_scores == full.fold_scores and kept.screen_score == pytest.approx(expected)
    assert kept.step_fits == full.step_fits * 5 // 4  # the screening fit is a fifth pipeline fit
    pruned = evaluate(genome, large_context, prune_below=PruneBars(screen=expected + 1e-9))
    assert pruned.status is Status.PRUNED and pruned.fold_scores == () and np.isnan(pruned.score)
    assert pruned.screen_score == kept.screen_score and "screening subsample" in pruned.error


def test_a_candidate_whose_screening_fit_projects_past_its_time_limit_stops_there(large_context):
    # 0.3 s to screen: each of the 4 folds takes at least as long, 1.2 s in all.
    slow = parse_genome("fault_operators.SleepThenFit(seconds=0.3)")
    stopped = evaluate(slow, large_context, time_limit=1.0, prune_below=PruneBars(screen=np.nan))
    assert stopped.status is Status.TIMEOUT and stopped.fold_scores == () and stopped.seconds < 0.6
    assert np.isfinite(stopped.screen_score) and "pass the time limit of 1 s" in stopped.error
    paced = evaluate(slow, large_context, prune_below=PruneBars(screen=np.nan, max_seconds=1.0))
    assert paced.status is Status.PRUNED and "pass the pace limit of 1 s" in paced.error
    # The best screening score so far exempts a candidate from the pace limit (not from its time limit).
    best_so_far = PruneBars(screen=np.nan, max_seconds=1.0, pace_exempt_screen=paced.screen_score)
    exempt = evaluate(slow, large_context, prune_below=best_so_far)
    assert exempt.ok and len(exempt.fold_scores) == 4 and exempt.screen_score == paced.screen_score
    below = replace(best_so_far, pace_exempt_screen=paced.screen_score + 1e-9)
    assert evaluate(slow, large_context, prune_below=below).status is Status.PRUNED
    finished = evaluate(slow, large_context, time_limit=4.0, prune_below=PruneBars(screen=np.nan))
    assert finished.ok and len(finished.fold_scores) == 4


def test_screening_bar_is_the_best_third_of_screen_scores_once_there_are_enough():
    space = SearchSpace.from_dict({"sklearn.tree.DecisionTreeClassifier": {"max_depth": list(range(1, 30))}},
                                  "classification")
    evolver = Evolver(space, np.random.default_rng(0), population_size=50)
    asked = evolver.ask(SCREEN_MIN_RESULTS + 3)
    scores = np.linspace(0.5, 0.9, len(asked))
    for n, (candidate, score) in enumerate(zip(asked, scores, strict=True), start=1):
        status = Status.OK if n % 2 else Status.PRUNED  # pruned ones count: their score is a rung result
        evolver.tell([(candidate, Evaluation(candidate.genome.key, status, screen_score=score))])
        bars = evolver.prune_bars(3, screen=True)
        bar = bars.screen
        assert bars.pace_exempt_screen == scores[n - 1]  # the best so far (scores rise)
        if n < SCREEN_MIN_RESULTS:
            assert np.isnan(bar)  # screen everyone, prune no one yet
        else:
            assert bar == pytest.approx(np.quantile(scores[:n], 1 - SCREEN_KEEP))
    unscreened = Evaluation(asked[0].genome.key, Status.ERROR)  # NaN screen score: ignored
    evolver.tell([(asked[0], unscreened)])
    assert evolver.prune_bars(3, screen=True).screen == pytest.approx(np.quantile(scores, 1 - SCREEN_KEEP))


def test_out_of_fold_probabilities_match_cross_val_predict(cancer_context):
    import dataclasses

    context = dataclasses.replace(cancer_context, keep_predictions="predict_proba")
    evaluation = evaluate(parse_genome(LOGREG), context)
    predictions = evaluation.extra["predictions"]
    assert predictions.shape == (len(context.y), 2) and predictions.dtype == np.float32
    expected = cross_val_predict(compile_genome(parse_genome(LOGREG), 0), context.X, context.y,
                                 cv=list(context.folds), method="predict_proba")
    np.testing.assert_allclose(predictions, expected, atol=1e-5)
    assert "predictions" not in evaluate(parse_genome(LOGREG), cancer_context).extra  # only when asked


def _member(index, predictions, score=0.5):
    return Member(parse_genome(STUMP), score, 0.1, np.asarray(predictions, dtype=np.float32), index)


def test_greedy_selection_finds_the_complementary_pair():
    # Two classifiers each right on a different half, confident where right; a third always
    # unsure. Averaging the first two is right everywhere.
    y = np.array([0, 0, 1, 1])
    a = [[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]]  # right on the first half
    b = [[0.4, 0.6], [0.4, 0.6], [0.1, 0.9], [0.1, 0.9]]  # right on the second half
    c = [[0.5, 0.5]] * 4
    members = [_member(0, a), _member(1, b), _member(2, c)]
    chosen, score = select_ensemble(members, y, get_scorer("accuracy"), classes=np.array([0, 1]), rounds=6)
    assert score == 1.0
    assert {m.index for m, _ in chosen} == {0, 1}


def test_regression_selection_averages_predictions():
    y = np.array([0.0, 1.0, 2.0, 3.0])
    members = [_member(0, (y + 1).reshape(-1, 1)), _member(1, (y - 1).reshape(-1, 1))]
    chosen, score = select_ensemble(members, y, get_scorer("r2"), rounds=4)
    assert score == pytest.approx(1.0)
    assert [w for _, w in chosen] == [1, 1]  # the first ensemble that reached the best score


def test_the_pool_keeps_the_best_and_takes_the_predictions_out():
    pool = PredictionPool(size=2)
    genome = parse_genome(STUMP)
    for i, score in enumerate([0.5, 0.9, 0.7, 0.6]):
        evaluation = Evaluation(genome.key, Status.OK, (score,), score=score, fit_seconds=1.0,
                                extra={"predictions": np.zeros((3, 1), dtype=np.float32)})
        pool.add(Candidate(i, genome), evaluation)
        assert "predictions" not in evaluation.extra  # the driver does not keep them in the records
    assert [m.score for m in pool.members()] == [0.9, 0.7]
    assert pool.refit_seconds() > 1.0
    uncovered = Evaluation(genome.key, Status.OK, (1.0,), score=1.0,
                           extra={"predictions": np.full((3, 1), np.nan, dtype=np.float32)})
    pool.add(Candidate(9, genome), uncovered)  # rows no fold tested: not usable
    assert [m.score for m in pool.members()] == [0.9, 0.7]


def test_build_ensemble_gives_voting_models_that_fit():
    X, y = load_diabetes(return_X_y=True)
    genomes = [(parse_genome("sklearn.linear_model.RidgeCV()"), 2),
               (parse_genome("sklearn.tree.DecisionTreeRegressor(max_depth=3)"), 1)]
    model = build_ensemble(genomes, 0, classification=False).fit(X, y)
    assert model.weights == [2, 1] and model.predict(X[:5]).shape == (5,)
