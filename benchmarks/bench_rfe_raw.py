"""RFE on unscaled values: the compiled libsvm solver against the library, and what libsvm returns.

What is measured
----------------
Paths of ``RFE(SVR(kernel="linear"), step=1)`` from all 2,988 columns of the built-in
synthetic cohort (seed 0, every map concatenated, no row or column scaling) down to
``k = 10``, on one LOO training set each, for a seeded sample of (task, label vector,
held-out subject); label vector 0 is the real labels, the others permutations of
the training labels. For each path:

1. ``rfe_path`` with libsvm's solver compiled (``execute/fast/_svr_smo.py``, the
   default) and with scikit-learn's libsvm (the same function, the compiled solver
   switched off): CPU seconds of each, and whether the eliminations are identical.
2. The reference's own fits at the end of the path (``SVR(kernel="linear")`` on the
   columns left, for every width from 2 n down to k + 1): libsvm's iterations, and
   for the "hard" fits (> 20,000 iterations) the SVR's primal objective
   ``||w||^2 / 2 + C sum max(0, |y - Xw - b| - epsilon)`` at libsvm's ``w`` (with
   the best ``b``) against the same objective at ``w = 0``. A solver that had reached
   its optimum could never be worse than ``w = 0``. Also the largest KKT violation
   (libsvm's own stopping measure, tolerance 1e-3) of libsvm's dual coefficients on
   the float64 kernel and on the float32 copy libsvm iterates on (``Qfloat``).

Run:  python benchmarks/bench_rfe_raw.py [--paths 6] [--seed 0]
"""

from __future__ import annotations

import argparse
import importlib
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from cohortbench.data.synthetic import make_synthetic_cohort
from cohortbench.execute.fast.kernel_svm import libsvm_gram

# the package re-exports the function rfe_path under the module's name
rfe_module = importlib.import_module("cohortbench.execute.fast.rfe_path")

HARD_ITERATIONS = 20_000
K_MIN = 10


def _tasks(cohort):
    kinds = np.array([cohort.progression[s] for s in cohort.maps["qT1"].index])
    patients = kinds != "HC"
    return {
        "HC/slow/fast": (np.ones(len(kinds), bool), kinds),
        "HC/ALS": (np.ones(len(kinds), bool), np.where(patients, "ALS", "HC")),
        "slow/fast": (patients, kinds),
    }


def _objective(w, X, y, C=1.0, epsilon=0.1):
    """The SVR primal objective at ``w`` with the best intercept (a breakpoint)."""
    residual = y - X @ w
    candidates = np.r_[residual - epsilon, residual + epsilon]
    losses = np.maximum(0.0, np.abs(residual[None, :] - candidates[:, None]) - epsilon)
    return 0.5 * w @ w + C * losses.sum(axis=1).min()


def _kkt_violation(K, y, beta, C=1.0, epsilon=0.1):
    """max over I_up of -y G minus min over I_low of -y G, libsvm's stopping measure."""
    n = len(y)
    alpha = np.r_[np.maximum(beta, 0.0), np.maximum(-beta, 0.0)]
    sign = np.r_[np.ones(n), -np.ones(n)]
    Kb = K @ beta
    G = np.r_[Kb + epsilon - y, -Kb + epsilon + y]
    up = ((sign > 0) & (alpha < C)) | ((sign < 0) & (alpha > 0))
    low = ((sign > 0) & (alpha > 0)) | ((sign < 0) & (alpha < C))
    return np.max(-sign[up] * G[up]) - np.min(-sign[low] * G[low])


def _timed_path(X, y, compiled: bool):
    saved = rfe_module._compiled_smo
    if not compiled:
        rfe_module._compiled_smo = lambda: None
    try:
        start = time.process_time()
        path = rfe_module.rfe_path(X, y, K_MIN)
        return path, time.process_time() - start
    finally:
        rfe_module._compiled_smo = saved


def _reference_tail(X, y, path):
    """libsvm's own fits for every width from 2 n down to K_MIN + 1 of ``path``."""
    from sklearn.svm import SVR

    n, p = X.shape
    rows = []
    for width in range(min(2 * n, p), K_MIN, -1):
        columns = np.flatnonzero(path.support(width))
        block = X[:, columns]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SVR(kernel="linear").fit(block, y)
        w = model.coef_[0]
        beta = np.zeros(n)
        beta[model.support_] = model.dual_coef_[0]
        K = libsvm_gram(np.ascontiguousarray(block))  # the kernel values libsvm computes
        K32 = K.astype(np.float32).astype(np.float64)
        rows.append((width, int(model.n_iter_), _objective(w, block, y),
                     _objective(np.zeros_like(w), block, y),
                     _kkt_violation(K, y, beta), _kkt_violation(K32, y, beta)))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    cohort = make_synthetic_cohort(seed=0)
    X_all = np.hstack([m.to_numpy(dtype=float) for m in cohort.maps.values()])
    tasks = _tasks(cohort)
    names = list(tasks)
    rfe_module.rfe_path(X_all[:6, :40], np.arange(6.0) % 2, 38)  # compile outside timing

    print(f"{'task':<13} {'labels':>6} {'held out':>8} {'library s':>9} {'compiled s':>10} "
          f"{'ratio':>6} {'identical':>9}")
    totals = np.zeros(2)
    identical = 0
    hard = []
    with threadpool_limits(1):
        for index in range(args.paths):
            name = names[index % len(names)]
            rows, labels = tasks[name]
            X, labels = X_all[rows], labels[rows]
            held = int(rng.integers(len(labels)))
            train = np.setdiff1d(np.arange(len(labels)), [held])
            y = np.unique(labels[train], return_inverse=True)[1].astype(float)
            vector = index // len(names)
            if vector:
                y = rng.permutation(y)
            compiled, t_compiled = _timed_path(X[train], y, compiled=True)
            library, t_library = _timed_path(X[train], y, compiled=False)
            same = np.array_equal(compiled.eliminated, library.eliminated)
            identical += same
            totals += (t_library, t_compiled)
            print(f"{name:<13} {vector:>6} {held:>8} {t_library:>9.2f} {t_compiled:>10.2f} "
                  f"{t_library / t_compiled:>5.2f}x {str(same):>9}", flush=True)
            hard += [r for r in _reference_tail(X[train], y, library) if r[1] > HARD_ITERATIONS]

    print(f"\nall {args.paths} paths: library {totals[0]:.1f} CPU s, compiled {totals[1]:.1f} "
          f"CPU s ({totals[0] / totals[1]:.2f}x); identical eliminations in {identical}"
          f"/{args.paths}")
    if hard:
        widths = [r[0] for r in hard]
        iterations = np.array([r[1] for r in hard])
        ratio = np.array([r[2] / r[3] for r in hard])
        print(f"\nlibsvm fits with > {HARD_ITERATIONS:,} iterations: {len(hard)} (widths "
              f"{min(widths)}-{max(widths)} columns), median {np.median(iterations):,.0f} "
              f"iterations (max {iterations.max():,})")
        print(f"primal objective at libsvm's w / at w = 0: median {np.median(ratio):.2f}, "
              f"max {ratio.max():.1f}; worse than w = 0 in {(ratio > 1).sum()}/{len(hard)} fits")
        exact, rounded = np.array([r[4] for r in hard]), np.array([r[5] for r in hard])
        print(f"KKT violation of libsvm's answer (tolerance 1e-3): on the float64 kernel median "
              f"{np.median(exact):.3g} (max {exact.max():.3g}); on libsvm's float32 copy median "
              f"{np.median(rounded):.3g} (max {rounded.max():.3g})")


if __name__ == "__main__":
    main()
