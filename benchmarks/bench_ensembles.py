"""Plain vs shared-matrix fits of RF, XGBoost and LightGBM on one leave-one-out fold.

One fold shaped like the published cohort: 29 training rows x 2,988 features, one
test row, 3 classes (14/8/8), with the real labels and 9 shuffles (10 label
vectors), fitted with the registry's estimators (default parameters) and a few
search-space settings. For each setting it times

- plain: ``clone(estimator).fit(train, y).predict(test)`` per label vector;
- fast: ``ensembles.fit_predict`` with one fresh ``SharedMatrices`` for the 10
  label vectors (its one-off work, e.g. XGBoost's quantile matrix, LightGBM's
  Dataset, the forest's random streams, is included and amortised);
- fast, warm: the same with the forest's random streams already cached, as on
  every fold of a run but the first (they depend only on the seed and the number
  of training rows);

prints milliseconds per fit and the speed-up, and checks every prediction is
identical. Single-threaded (threadpoolctl), as the runner's workers.

Run:  python benchmarks/bench_ensembles.py [--repeats 1] [--only RF,XGB,LGBM]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from cohortbench.design.classifiers import make_classifier
from cohortbench.execute.fast import ensembles, forests

SETTINGS = [
    ("RF", {}),
    ("RF", {"n_estimators": 200, "max_depth": 8}),
    ("RF", {"n_estimators": 50, "max_depth": 2}),
    ("XGB", {}),
    ("XGB", {"n_estimators": 50, "max_depth": 2}),
    ("LGBM", {}),
    ("LGBM", {"n_estimators": 50, "max_depth": 4, "min_child_samples": 10}),
]


def fold(seed: int = 0):
    """(train, test, label vectors): 29 x 2,988 standardised rows, 1 test row, 10 labels."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], [14, 8, 8]).astype(np.int64)
    X = rng.normal(size=(30, 2988))
    X[:, rng.choice(2988, 60, replace=False)] += 0.8 * y[:, None]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    keep = np.arange(30) != 7
    train, test, y_train = X[keep], X[~keep], y[keep]
    labels = [y_train] + [rng.permutation(y_train) for _ in range(9)]
    return train, test, labels


def _timed(func, repeats: int):
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="best of this many runs")
    parser.add_argument("--only", default="RF,XGB,LGBM", help="classifiers to run")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    train, test, labels = fold()
    print(f"python {platform.python_version()}, one thread; fold 29 x 2,988 -> 1, "
          f"3 classes, {len(labels)} label vectors")
    print("milliseconds per fit+predict; speed-up over plain")
    print(f"{'':<5} {'params':<46} {'plain':>8} {'fast':>8} {'':>7} {'warm':>8} {'':>7}  "
          "identical")
    with threadpool_limits(1):
        for name, params in SETTINGS:
            if name not in wanted:
                continue
            estimator = clone(make_classifier(name, 0)).set_params(**params)
            assert ensembles.covers(estimator), f"{name} {params} is not covered"

            def plain():
                return [clone(estimator).fit(train, y).predict(test) for y in labels]

            def fast(cold=True):
                if cold:
                    forests._STREAMS.clear()
                shared = ensembles.SharedMatrices(train, test)
                return [ensembles.fit_predict(estimator, shared, y) for y in labels]

            t_plain, expected = _timed(plain, args.repeats)
            t_fast, got = _timed(fast, args.repeats)
            t_warm, got_warm = _timed(lambda: fast(cold=False), args.repeats)
            same = all(np.array_equal(np.asarray(a, dtype=np.int64), b) and np.array_equal(b, c)
                       for a, b, c in zip(expected, got, got_warm))
            ms = [1000 * t / len(labels) for t in (t_plain, t_fast, t_warm)]
            print(f"{name:<5} {str(params or 'registry defaults'):<46} {ms[0]:>8.1f} "
                  f"{ms[1]:>8.1f} {ms[0] / ms[1]:>6.1f}x {ms[2]:>8.1f} {ms[0] / ms[2]:>6.1f}x  "
                  f"{same}")


if __name__ == "__main__":
    main()
