"""saga logistic regressions in lanes (``saga_batch.fit_predict_sagas``) vs scikit-learn's own.

What is measured
----------------
One leave-one-out fold shaped like the study's refine stage: 29 training rows and
1 test row of a 30 x 2,988 standardised matrix with a group effect (3 classes
14/8/8, or 2 classes 15/15 with ``--classes 2``); B = 51 jobs per shape
(``--jobs``): the real labels plus 50 shuffles drawn with
``numpy.random.default_rng(seed)``. Each job is the registry's ``MLR_L1`` or
``MLR_ENET`` (``LogisticRegression(solver="saga", l1_ratio=1.0 or 0.5,
random_state=0)``) on inputs of width k in {10, 25, 50, 150, 2988}, in two modes:

- shared: every job's ``train`` is the same array object (k seeded columns), as
  the label vectors of a label-free pipeline share their features;
- own: each job has its own matrix (the k columns of highest ANOVA F for its own
  labels), as after label-dependent selection (not run at k = 2,988: no selection).

Per shape: CPU seconds of this process (``time.process_time``) for one
``fit_predict_sagas`` call on all B jobs (measured, whole), and for
``LogisticRegression(**params).fit(train, y).predict(test)`` on a seeded sample of
``--sample`` jobs, EXTRAPOLATED to B in proportion to the jobs' epochs (``n_iter_``,
known for every job from the lanes' outcome); best of ``--repeats``; milliseconds per
fit and the ratio.

Agreement, on every job scikit-learn fitted: predictions, ``n_iter_``, ``coef_`` and
``intercept_`` bit-identical (``np.array_equal``). Exits with status 1 if any differs.

Run:  python benchmarks/bench_saga.py [--quick] [--classes 3] [--sample 12] [--repeats 2]
``--quick`` runs k in {25, 2988} only. BLAS/OpenMP are limited to 1 thread.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy loads its BLAS: one thread, as the runner's workers

import argparse  # noqa: E402
import os.path  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.feature_selection import f_classif  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from cohortbench.design.classifiers import make_classifier  # noqa: E402
from cohortbench.execute.fast.saga_batch import SagaJob, fit_predict_sagas  # noqa: E402


def _cohort(n_classes: int, seed: int):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), (14, 8, 8) if n_classes == 3 else (15, 15))
    X = rng.standard_normal((30, 2988)) + 0.4 * y[:, None] * (rng.random(2988) < 0.1)
    X = (X - X.mean(0)) / X.std(0)
    return X, y, rng


def _jobs(classifier, X, y, rng, k, mode, n_jobs):
    train_rows, test_rows = np.arange(1, 30), np.arange(1)
    vectors = [y] + [rng.permutation(y) for _ in range(n_jobs - 1)]
    columns = np.sort(rng.choice(X.shape[1], k, replace=False))
    shared = np.ascontiguousarray(X[np.ix_(train_rows, columns)])
    jobs = []
    for labels in vectors:
        y_train = labels[train_rows]
        if mode == "own":
            scores = np.nan_to_num(f_classif(X[train_rows], y_train)[0], nan=-np.inf)
            cols = np.sort(np.argsort(-scores, kind="stable")[:k])
            train = np.ascontiguousarray(X[np.ix_(train_rows, cols)])
        else:
            cols, train = columns, shared
        jobs.append(SagaJob(make_classifier(classifier, 0), train,
                            np.ascontiguousarray(X[np.ix_(test_rows, cols)]), y_train))
    return jobs


def _plain(job):
    model = make_classifier("MLR_L1", 0).set_params(**job.estimator.get_params())
    model.fit(job.train, job.y_train)
    return model, model.predict(job.test)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--classes", type=int, default=3, choices=(2, 3))
    parser.add_argument("--sample", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=51)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    X, y, rng = _cohort(args.classes, args.seed)
    ks = (25, 2988) if args.quick else (10, 25, 50, 150, 2988)
    fit_predict_sagas(_jobs("MLR_L1", X, y, rng, 10, "shared", 2))  # compile / load cache
    print(f"{args.classes} classes, {args.jobs} jobs per shape, sklearn on a sample of "
          f"{args.sample} (extrapolated by epochs)\n")
    print("| classifier | k | mode | mean epochs | lanes ms/fit | scikit-learn ms/fit "
          "(extrapolated) | ratio |")
    print("|---|---|---|---|---|---|---|")
    total_lanes = total_sklearn = 0.0
    differing = checked = 0
    for classifier in ("MLR_L1", "MLR_ENET"):
        for k in ks:
            for mode in ("shared",) if k == 2988 else ("shared", "own"):
                jobs = _jobs(classifier, X, y, rng, k, mode, args.jobs)
                sample = np.sort(np.random.default_rng(args.seed + k).choice(
                    len(jobs), min(args.sample, len(jobs)), replace=False))
                lanes_s, sklearn_s = np.inf, np.inf
                for _ in range(args.repeats):
                    start = time.process_time()
                    outcomes = fit_predict_sagas(jobs)
                    lanes_s = min(lanes_s, time.process_time() - start)
                    start = time.process_time()
                    plain = [_plain(jobs[j]) for j in sample]
                    sklearn_s = min(sklearn_s, time.process_time() - start)
                    for j, (model, predicted) in zip(sample, plain):
                        o = outcomes[j]
                        checked += 1
                        differing += not (np.array_equal(o.predicted, predicted)
                                          and o.n_iter == model.n_iter_[0]
                                          and np.array_equal(o.weights[0], model.coef_)
                                          and np.array_equal(o.weights[1], model.intercept_))
                epochs = np.array([o.n_iter for o in outcomes], dtype=float)
                sklearn_all = sklearn_s * epochs.sum() / epochs[sample].sum()
                total_lanes += lanes_s
                total_sklearn += sklearn_all
                print(f"| {classifier} | {k} | {mode} | {epochs.mean():.0f} | "
                      f"{1e3 * lanes_s / len(jobs):.2f} | {1e3 * sklearn_all / len(jobs):.2f} | "
                      f"{sklearn_all / lanes_s:.1f}x |", flush=True)
    print(f"\nall shapes: lanes {total_lanes:.1f} CPU s, scikit-learn {total_sklearn:.1f} CPU s "
          f"(extrapolated), {total_sklearn / total_lanes:.1f}x; "
          f"{checked - differing}/{checked} sampled fits bit-identical")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
