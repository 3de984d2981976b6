"""Stacked MLP fits (``mlp_batch.fit_predict_mlps``) vs scikit-learn's own, at the study's shapes.

What is measured
----------------
One leave-one-out fold shaped like the study's refine and tune stages: 29 training
rows and 1 test row drawn from a 30 x 2,988 standardised matrix with a 3-class
(14/8/8) group effect; B = 51 jobs per shape (``--jobs``), i.e. the real labels
plus 50 shuffles drawn with ``numpy.random.default_rng(seed)``. Each job is
``MLPClassifier(hidden_layer_sizes=h, random_state=0)`` (the registry's MLP) on
inputs of width k in {2, 10, 25, 50, 150, 2988}, h in {(50,), (100,), (100, 50)},
in two input modes:

- shared: every job's ``train`` is the same array object (k seeded, label-free
  columns), as the label vectors of a label-free pipeline share their features;
- own: each job has its own train matrix (the k columns of highest ANOVA F for its
  own labels, in column order), as after label-dependent selection.

and two alpha settings: the default (1e-4) for every job, and ``varied`` (job j gets
alpha = 10^-5 .. 10^-2, cycling: the tune stage's MLP grid, whose candidates share a
stack because alpha is per network).

Per shape: CPU seconds of this process (``time.process_time``) for one
``fit_predict_mlps`` call on all B jobs (measured, whole), and for
``MLPClassifier(**job.estimator.get_params()).fit(train, y).predict(test)``
(warnings silenced) on a seeded sample of ``--sample`` jobs, EXTRAPOLATED to B
in proportion to the jobs' epochs (a fit costs epochs x per-epoch work; every
job's ``n_iter_`` is known, equal to the stacked outcome's); the best of
``--repeats`` runs per side, the side that goes first alternating between
repeats; milliseconds per fit for both and the ratio. The stack size (networks
trained together under ``mlp_batch``'s memory budget) and the mean number of
epochs are shown beside them.

Agreement, on every job scikit-learn fitted: predictions equal, ``n_iter_`` equal,
``coefs_`` and ``intercepts_`` bit-identical (``np.array_equal``) to the outcome's
``weights`` and ``n_iter``, on every repeat. The script exits with status 1 if any
job differs.

Run:  python benchmarks/bench_mlp.py [--quick] [--sample 12] [--repeats 2] [--jobs 51]
      [--seed 0] [--alpha default varied] [--json PATH]
``--quick`` runs only k in {10, 150} and h = (100,) (a smoke check). BLAS/OpenMP are
limited to 1 thread through the environment, set before NumPy is imported.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy loads its BLAS: one thread, as the runner's workers

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.feature_selection import f_classif  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402

from cohortbench.execute.fast import mlp_batch  # noqa: E402
from cohortbench.execute.fast.mlp_batch import MLPJob, fit_predict_mlps  # noqa: E402

K_VALUES = (2, 10, 25, 50, 150, 2988)
HIDDEN = ((50,), (100,), (100, 50))
QUICK_K, QUICK_HIDDEN = (10, 150), ((100,),)
ALPHAS = (1e-5, 1e-4, 1e-3, 1e-2)  # the registry's MLP alpha grid (10^-5 .. 10^-2)
N_FEATURES, TEST_ROW = 2988, 7


def fold(seed: int, n_jobs: int):
    """(train, test, label vectors): 29 x 2,988 standardised rows, 1 test row, real + shuffles."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], [14, 8, 8]).astype(np.int64)
    X = rng.normal(size=(30, N_FEATURES))
    X[:, rng.choice(N_FEATURES, 60, replace=False)] += 0.8 * y[:, None]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    keep = np.arange(30) != TEST_ROW
    y_train = y[keep]
    labels = [y_train] + [rng.permutation(y_train) for _ in range(n_jobs - 1)]
    return X[keep], X[~keep], labels, rng.permutation(N_FEATURES)


def make_jobs(data, k: int, hidden: tuple, mode: str, alpha: str) -> list[MLPJob]:
    """B jobs of one shape; ``shared`` jobs hold one train array object, ``own`` one each."""
    train, test, labels, column_order = data
    if mode == "shared":
        cols = np.sort(column_order[:k])
        inputs = [(np.ascontiguousarray(train[:, cols]), np.ascontiguousarray(test[:, cols]))]
        inputs *= len(labels)
    else:
        inputs = []
        for y in labels:
            scores = np.nan_to_num(f_classif(train, y)[0], nan=-np.inf)
            cols = np.sort(np.argsort(-scores, kind="mergesort")[:k])
            inputs.append((np.ascontiguousarray(train[:, cols]), np.ascontiguousarray(test[:, cols])))
    jobs = []
    for j, ((tr, te), y) in enumerate(zip(inputs, labels)):
        a = ALPHAS[j % len(ALPHAS)] if alpha == "varied" else 1e-4
        estimator = MLPClassifier(hidden_layer_sizes=hidden, alpha=a, random_state=0)
        jobs.append(MLPJob(estimator, tr, te, y))
    return jobs


def sklearn_fit(job: MLPJob):
    """scikit-learn's own fit and predict of one job; (model, predicted, CPU seconds)."""
    model = MLPClassifier(**job.estimator.get_params())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.process_time()
        predicted = model.fit(job.train, job.y_train).predict(job.test)
        cpu = time.process_time() - start
    return model, predicted, cpu


def differences(model, predicted, outcome) -> list[str]:
    """What of one stacked outcome differs from scikit-learn's fit (empty: bit-identical)."""
    if outcome.error is not None:
        return [f"error {outcome.error!r}"]
    out = []
    if not np.array_equal(predicted, outcome.predicted):
        out.append("predictions")
    if model.n_iter_ != outcome.n_iter:
        out.append(f"n_iter {model.n_iter_} vs {outcome.n_iter}")
    coefs, intercepts = outcome.weights if outcome.weights else ([], [])
    if (len(coefs) != len(model.coefs_)
            or not all(np.array_equal(a, b) for a, b in zip(model.coefs_, coefs))):
        out.append("coefs_")
    if (len(intercepts) != len(model.intercepts_)
            or not all(np.array_equal(a, b) for a, b in zip(model.intercepts_, intercepts))):
        out.append("intercepts_")
    return out


def measure(data, k, hidden, mode, alpha, sample: int, repeats: int, rng) -> dict:
    """One shape: best-of-``repeats`` CPU seconds of both sides, agreement on every repeat."""
    jobs = make_jobs(data, k, hidden, mode, alpha)
    n_jobs = len(jobs)
    picked = sorted(rng.choice(n_jobs, min(sample, n_jobs), replace=False).tolist())
    stacked, sampled, failures = np.inf, np.inf, {}
    for repeat in range(max(1, repeats)):
        # Alternate which side goes first: the allocator's and caches' state left by
        # the previous fit moves these memory-bound timings by 10-20%.
        for side in ((0, 1) if repeat % 2 == 0 else (1, 0)):
            if side == 0:
                start = time.process_time()
                outcomes = fit_predict_mlps(jobs)
                stacked = min(stacked, time.process_time() - start)
                continue
            fits = [sklearn_fit(jobs[j]) for j in picked]
            sampled = min(sampled, sum(cpu for _, _, cpu in fits))
        for j, (model, predicted, _) in zip(picked, fits):
            diff = differences(model, predicted, outcomes[j])
            if diff:
                failures.setdefault(j, diff)
    # scikit-learn's cost is per epoch: scale the sample by all jobs' epochs (their
    # n_iter_, equal to the stacked outcomes' where the check passes).
    epochs = np.array([o.n_iter for o in outcomes], dtype=float)
    extrapolated = sampled * epochs.sum() / epochs[picked].sum()
    # Stack size as mlp_batch chooses it (its parameter + activation budget).
    stack = min(n_jobs, mlp_batch._chunk_size(jobs[0]))
    return {"k": k, "hidden": list(hidden), "mode": mode, "alpha": alpha, "jobs": n_jobs,
            "stack": stack, "mean_n_iter": float(epochs.mean()), "repeats": repeats,
            "stacked_cpu_s": stacked, "stacked_ms_per_fit": 1000 * stacked / n_jobs,
            "sklearn_sample": len(picked), "sklearn_sample_cpu_s": sampled,
            "sklearn_sample_ms_per_fit": 1000 * sampled / len(picked),
            "sklearn_cpu_s_extrapolated": extrapolated,
            "sklearn_ms_per_fit_extrapolated": 1000 * extrapolated / n_jobs,
            "speedup": extrapolated / stacked,
            "identical": len(picked) - len(failures), "checked": len(picked),
            "failures": [{"job": j, "differs": d} for j, d in sorted(failures.items())]}


def warm_up(data) -> None:
    """Load BLAS kernels and scikit-learn's lazy imports before anything is timed."""
    jobs = make_jobs(data, 10, (50,), "shared", "default")[:3]
    fit_predict_mlps(jobs)
    sklearn_fit(jobs[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="k in {10, 150}, h = (100,) only")
    parser.add_argument("--sample", type=int, default=12, help="jobs per shape fitted by scikit-learn")
    parser.add_argument("--repeats", type=int, default=2, help="best of, per side and shape")
    parser.add_argument("--jobs", type=int, default=51, help="jobs per shape (1 + shuffles)")
    parser.add_argument("--seed", type=int, default=0, help="data, label and sample seed")
    parser.add_argument("--alpha", nargs="+", choices=("default", "varied"),
                        default=("default", "varied"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    blas = sorted({(p.get("internal_api"), p.get("num_threads")) for p in threadpool_info()})
    load0 = os.getloadavg()
    print(f"machine: {platform.processor() or platform.machine()}, nproc={os.cpu_count()}, load "
          f"average at start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; python "
          f"{platform.python_version()}, numpy {np.__version__}, scikit-learn {sklearn.__version__}; "
          f"thread pools {blas}; CPU seconds are this process's")
    k_values, hidden_values = (QUICK_K, QUICK_HIDDEN) if args.quick else (K_VALUES, HIDDEN)
    data = fold(args.seed, args.jobs)
    rng = np.random.default_rng(np.random.SeedSequence([args.seed, 7]))
    warm_up(data)
    begin = time.perf_counter()
    rows = []
    for k in k_values:
        for hidden in hidden_values:
            for mode in ("shared", "own"):
                for alpha in args.alpha:
                    row = measure(data, k, hidden, mode, alpha, args.sample, args.repeats, rng)
                    rows.append(row)
                    print(f"  k={k} h={hidden} {mode} alpha={alpha}: stacked "
                          f"{row['stacked_cpu_s']:.2f} CPU s, scikit-learn sample "
                          f"{row['sklearn_sample_cpu_s']:.2f} CPU s; identical "
                          f"{row['identical']}/{row['checked']}", flush=True)
    print_table(rows, args)
    load1 = os.getloadavg()
    failed = [r for r in rows if r["failures"]]
    print(f"load average at end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; "
          f"this benchmark took {time.perf_counter() - begin:.0f} s wall")
    for r in failed:
        print(f"DIFFERS: k={r['k']} h={tuple(r['hidden'])} {r['mode']} alpha={r['alpha']}: "
              f"{r['failures']}")
    if args.json:
        args.json.write_text(json.dumps({
            "machine": {"nproc": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
                        "python": platform.python_version(), "numpy": np.__version__,
                        "scikit-learn": sklearn.__version__},
            "load_start": load0, "load_end": load1,
            "args": {k: v for k, v in vars(args).items() if k != "json"}, "rows": rows},
            indent=1, default=str))
    if failed:
        sys.exit(1)


def print_table(rows: list[dict], args) -> None:
    print(f"\n{args.jobs} jobs per shape; CPU s are the best of {args.repeats} repeats per side; "
          f"scikit-learn fits a seeded sample of {args.sample} jobs per shape, its total is "
          "EXTRAPOLATED to all jobs by their epochs (n_iter_)\n")
    print("| k | hidden | mode | alpha | stack | mean epochs | stacked CPU s (all jobs, measured) | "
          "stacked ms/fit | sklearn ms/fit (extrapolated) | sklearn CPU s (all jobs, extrapolated) | "
          "sklearn / stacked | bit-identical |\n|" + "---|" * 12)
    for r in rows:
        print(f"| {r['k']} | {tuple(r['hidden'])} | {r['mode']} | {r['alpha']} | {r['stack']} | "
              f"{r['mean_n_iter']:.0f} | {r['stacked_cpu_s']:.2f} | {r['stacked_ms_per_fit']:.1f} | "
              f"{r['sklearn_ms_per_fit_extrapolated']:.1f} | {r['sklearn_cpu_s_extrapolated']:.2f} | "
              f"{r['speedup']:.2f}x | {r['identical']}/{r['checked']} |")
    stacked = sum(r["stacked_cpu_s"] for r in rows)
    reference = sum(r["sklearn_cpu_s_extrapolated"] for r in rows)
    print(f"| all | | | | | | {stacked:.2f} | | | {reference:.2f} | {reference / stacked:.2f}x | "
          f"{sum(r['identical'] for r in rows)}/{sum(r['checked'] for r in rows)} |")


if __name__ == "__main__":
    main()
