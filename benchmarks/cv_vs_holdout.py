"""Does a cross-validation lead carry over to the holdout? diabetes, over several splits.

For each ``train_test_split(test_size=0.25, random_state=seed)`` of scikit-learn's diabetes
(the peers benchmark's split for seed 0), two pipelines are cross-validated on the 75% (5-fold,
shuffled, ``random_state=0``) and scored on the 25%:

- ``RidgeCV()``, the plain linear model evopipe returns on most splits;
- ``Normalizer() -> PolynomialFeatures(2) -> LassoLarsCV()``, the family evopipe returned on the
  splits where it lost to tpot.

It prints one line per split, with both differences (polynomial minus ridge), and their
correlation over the splits. Usage::

    python benchmarks/cv_vs_holdout.py [--seeds 10]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import LassoLarsCV, RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer, PolynomialFeatures

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import load_split  # noqa: E402


def compare(seed: int) -> tuple[float, float, float, float]:
    """(ridge CV, ridge holdout, polynomial CV, polynomial holdout) r2 on split ``seed``."""
    X_train, X_test, y_train, y_test, _ = load_split("diabetes", seed)
    scores = []
    for model in (RidgeCV(), make_pipeline(Normalizer(), PolynomialFeatures(2, include_bias=False), LassoLarsCV())):
        cv = cross_val_score(model, X_train, y_train, cv=KFold(5, shuffle=True, random_state=0), scoring="r2")
        scores += [float(cv.mean()), float(r2_score(y_test, model.fit(X_train, y_train).predict(X_test)))]
    return tuple(scores)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="splits 0 .. SEEDS-1 (default 10)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")  # LassoLarsCV's degenerate-active-set warnings on 64 columns
    print("split  ridge cv  ridge holdout  poly cv  poly holdout  cv diff  holdout diff")
    cv_diff, holdout_diff = [], []
    for seed in range(args.seeds):
        ridge_cv, ridge_holdout, poly_cv, poly_holdout = compare(seed)
        cv_diff.append(poly_cv - ridge_cv)
        holdout_diff.append(poly_holdout - ridge_holdout)
        print(f"{seed:>5} {ridge_cv:>9.3f} {ridge_holdout:>14.3f} {poly_cv:>8.3f} {poly_holdout:>13.3f} "
              f"{cv_diff[-1]:>8.3f} {holdout_diff[-1]:>13.3f}")
    if len(cv_diff) > 2:  # a correlation of two points is always +-1
        print(f"\nmean cv diff {np.mean(cv_diff):.3f}, mean holdout diff {np.mean(holdout_diff):.3f}, "
              f"correlation {np.corrcoef(cv_diff, holdout_diff)[0, 1]:.2f}")


if __name__ == "__main__":
    main()
