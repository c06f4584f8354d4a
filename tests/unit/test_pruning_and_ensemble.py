"""Early pruning between folds, out-of-fold predictions, and greedy ensemble selection."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.metrics import get_scorer
from sklearn.model_selection import cross_val_predict

from evopipe.compile import compile_genome
from evopipe.context import build_context
from evopipe.ensemble import Member, PredictionPool, build_ensemble, select_ensemble
from evopipe.evaluation import Evaluation, Status, evaluate
from evopipe.evolver import Candidate, Evolver
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
    pruned = evaluate(parse_genome(STUMP), cancer_context, prune_below=(bar, 0.0, 0.0))
    assert pruned.status is Status.PRUNED and not pruned.ok
    assert pruned.fold_scores == full.fold_scores[:1]  # the fold done is kept
    assert np.isnan(pruned.score) and "Pruned after 1 of 4 folds" in pruned.error
    # Bars it clears (and NaN bars) leave the evaluation untouched.
    kept = evaluate(parse_genome(STUMP), cancer_context, prune_below=(0.0, np.nan, 0.0))
    assert kept.ok and kept.fold_scores == full.fold_scores


def test_prune_bars_are_the_population_median_of_partial_means_once_it_is_full():
    space = SearchSpace.from_dict({"sklearn.tree.DecisionTreeClassifier": {"max_depth": [1, 2, 3, 4, 5, 6]}},
                                  "classification")
    evolver = Evolver(space, np.random.default_rng(0), population_size=3)
    folds = [(0.5, 0.7, 0.9), (0.6, 0.6, 0.6), (0.9, 0.5, 0.4)]
    asked = evolver.ask(3)
    evolver.tell([(asked[0], Evaluation(asked[0].genome.key, Status.OK, folds[0], score=0.7))])
    assert evolver.prune_bars(3) is None  # not full: every finished candidate gets in
    evolver.tell([(c, Evaluation(c.genome.key, Status.OK, f, score=float(np.mean(f))))
                  for c, f in zip(asked[1:], folds[1:], strict=True)])
    # After 1 fold: median(0.5, 0.6, 0.9); after 2: median(0.6, 0.6, 0.7).
    assert evolver.prune_bars(3) == pytest.approx((0.6, 0.6))
    assert evolver.prune_bars(1) is None


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
