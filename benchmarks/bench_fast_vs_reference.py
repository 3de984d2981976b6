"""Fast engine vs reference engine, side by side, on one slice of the refine grid.

The slice: MLR_L2 and SVM_LIN x one scaling block of the SPEC refine grid
(row and column scaling fixed; none + SelectKBest x 5 k + RFE x 5 k; no
reduction, PCA, LDA = 33 configurations per classifier) x the 3-class task x
(1 + N) label vectors, leave-one-out, on a synthetic cohort shaped like the
published one (30 subjects, 14/8/8, 9 maps x 332 ROIs = 2,988 features).

The fast engine runs every configuration. The reference engine runs a seeded
sample of them (RFE configurations take minutes each); its time for the whole
slice is EXTRAPOLATED from the sample, separately for RFE and non-RFE
configurations, and labelled as such. Agreement is checked on the sample: every
field of the result record but ``seconds`` and ``engine``.

Run:  python benchmarks/bench_fast_vs_reference.py [--shuffles 2] [--sample 6]
      [--row standard --column standard] [--rfe-paths 3] [--paths-only]
Single-threaded BLAS/OpenMP, as the runner's workers.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import time

import numpy as np
from threadpoolctl import threadpool_limits

from cohortbench.design.configs import CVScheme, PipelineConfig
from cohortbench.execute.fast import evaluate_fast, rfe_path
from cohortbench.execute.problem import Problem
from cohortbench.execute.reference_engine import evaluate_reference

MAP_SCALES = (1500.0, 0.45, 8e-4, 1.2e-3, 6e-4, 40.0, 5.0, 30.0, 0.3)  # qT1, DTI x4, Na x4
N_ROIS = 332
K_VALUES = (10, 25, 50, 100, 150)


def synthetic_problem(seed: int = 0) -> Problem:
    """30 subjects (14/8/8) x 9 maps x 332 ROIs, per-subject gains/offsets, a group effect."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], [14, 8, 8]).astype(np.int64)
    effect = np.array([0.0, 0.5, 1.0])[y]  # fast progressors differ most
    blocks, columns = [], []
    for b, scale in enumerate(MAP_SCALES):
        base = scale * (1 + 0.2 * rng.normal(size=N_ROIS))
        motor = np.zeros(N_ROIS)
        motor[rng.choice(N_ROIS, 30, replace=False)] = 0.04 * scale
        noise = rng.normal(size=(30, N_ROIS))
        noise = 0.6 * noise + 0.4 * np.roll(noise, 1, axis=1)  # neighbouring ROIs correlate
        Xb = base + effect[:, None] * motor + 0.08 * scale * noise
        Xb = Xb * rng.uniform(0.9, 1.1, size=(30, 1)) + 0.05 * scale * rng.normal(size=(30, 1))
        columns.append(Xb)
        blocks.append((b * N_ROIS, (b + 1) * N_ROIS))
    return Problem(X=np.hstack(columns), y=y, n_eval=30, blocks=tuple(blocks),
                   classes=("HC", "slow", "fast"), subjects=tuple(f"sub-{i:02d}" for i in range(30)),
                   task="3-class", view_fingerprint=f"bench-{seed}")


def slice_configs(row: str, column: str) -> list[PipelineConfig]:
    out = []
    for clf in ("MLR_L2", "SVM_LIN"):
        for reduction in ("none", "pca", "lda"):
            out.append(PipelineConfig(clf, row_scaling=row, column_scaling=column,
                                      dim_reduction=reduction))
            for selection, k in itertools.product(("kbest", "rfe"), K_VALUES):
                out.append(PipelineConfig(clf, row_scaling=row, column_scaling=column,
                                          feature_selection=selection, n_features=k,
                                          dim_reduction=reduction))
    return out


def _differs(a, b) -> list[str]:
    da, db = a.to_dict(), b.to_dict()
    return [k for k in da if k not in ("seconds", "engine") and da[k] != db[k]]


def bench_rfe_paths(problem: Problem, row: str, column: str, n_folds: int) -> None:
    """One RFE path per fold vs scikit-learn's RFE for the smallest k, plus mask equality."""
    from sklearn.feature_selection import RFE
    from sklearn.preprocessing import MinMaxScaler, StandardScaler
    from sklearn.svm import SVR

    from cohortbench.execute.row_scaling import RowScaler

    X = problem.X if row == "none" else RowScaler(row, problem.blocks).fit_transform(problem.X)
    t_path = t_ref = 0.0
    equal = total = 0
    for fold in range(n_folds):
        train = np.delete(np.arange(30), fold)
        Xt = X[train]
        if column != "none":
            Xt = (StandardScaler() if column == "standard" else MinMaxScaler()).fit_transform(Xt)
        start = time.perf_counter()
        path = rfe_path(Xt, problem.y[train], min(K_VALUES))
        t_path += time.perf_counter() - start
        for k in (min(K_VALUES), max(K_VALUES)):
            start = time.perf_counter()
            mask = RFE(SVR(kernel="linear"), n_features_to_select=k, step=1).fit(
                Xt, problem.y[train]).support_
            t_ref += time.perf_counter() - start if k == min(K_VALUES) else 0.0
            equal += int(np.array_equal(mask, path.support(k)))
            total += 1
    print(f"RFE paths ({row}/{column}), {n_folds} folds: path down to k={min(K_VALUES)} "
          f"{t_path / n_folds:.3f} s/fold; sklearn RFE(k={min(K_VALUES)}) "
          f"{t_ref / n_folds:.2f} s/fold; ratio {t_ref / t_path:.1f}x per fit; "
          f"x{len(K_VALUES)} k shared: {len(K_VALUES) * t_ref / t_path:.0f}x; "
          f"masks equal {equal}/{total}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shuffles", type=int, default=2)
    parser.add_argument("--sample", type=int, default=6,
                        help="reference configurations run (half RFE, half not)")
    parser.add_argument("--row", default="standard")
    parser.add_argument("--column", default="standard")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rfe-paths", type=int, default=3,
                        help="folds for the standalone RFE-path comparison (0 = skip)")
    parser.add_argument("--paths-only", action="store_true",
                        help="only the standalone RFE-path comparison")
    args = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, nproc={os.cpu_count()}, "
          f"python {platform.python_version()}; BLAS/OpenMP limited to 1 thread")
    problem = synthetic_problem(args.seed)
    cv = CVScheme(permutations=args.shuffles, seed=args.seed)
    configs = slice_configs(args.row, args.column)
    n_labels = 1 + args.shuffles
    with threadpool_limits(1):
        if args.rfe_paths:
            bench_rfe_paths(problem, args.row, args.column, args.rfe_paths)
        if args.paths_only:
            return
        start = time.perf_counter()
        fast = evaluate_fast(problem, configs, cv)
        t_fast = time.perf_counter() - start
        print(f"fast engine: {len(configs)} configurations x {n_labels} label vectors x 30 "
              f"folds in {t_fast:.1f} s (measured)")

        rng = np.random.default_rng(args.seed)
        rfe_idx = [i for i, c in enumerate(configs) if c.feature_selection == "rfe"]
        other_idx = [i for i, c in enumerate(configs) if c.feature_selection != "rfe"]
        n_rfe = args.sample // 2
        sample = sorted(rng.choice(rfe_idx, n_rfe, replace=False).tolist()
                        + rng.choice(other_idx, args.sample - n_rfe, replace=False).tolist())
        times = {True: [], False: []}
        disagreements = []
        for i in sample:
            start = time.perf_counter()
            ref = evaluate_reference(problem, configs[i], cv)
            elapsed = time.perf_counter() - start
            times[configs[i].feature_selection == "rfe"].append(elapsed)
            diff = _differs(fast[i], ref)
            if diff:
                disagreements.append((configs[i], diff))
            print(f"  reference {configs[i].classifier} {configs[i].feature_selection} "
                  f"k={configs[i].n_features} {configs[i].dim_reduction}: {elapsed:.1f} s; "
                  f"fast record {'IDENTICAL' if not diff else 'DIFFERS in ' + ', '.join(diff)}")
    t_ref = sum(np.mean(times[is_rfe]) * n for is_rfe, n in
                ((True, len(rfe_idx)), (False, len(other_idx))) if times[is_rfe])
    print(f"reference engine: EXTRAPOLATED from {len(sample)} sampled configurations "
          f"(RFE mean {np.mean(times[True]):.1f} s x {len(rfe_idx)}, other mean "
          f"{np.mean(times[False]):.1f} s x {len(other_idx)}): {t_ref:.0f} s")
    print(f"ratio reference/fast: {t_ref / t_fast:.0f}x (reference extrapolated)")
    for is_rfe, idx in ((True, rfe_idx), (False, other_idx)):
        fast_part = sum(fast[i].seconds for i in idx)
        if times[is_rfe]:
            ref_part = np.mean(times[is_rfe]) * len(idx)
            print(f"  {'RFE' if is_rfe else 'non-RFE'} configurations: fast {fast_part:.1f} s "
                  f"(apportioned), reference {ref_part:.0f} s (extrapolated): "
                  f"{ref_part / fast_part:.0f}x")
    print(f"agreement on the sample: {len(sample) - len(disagreements)}/{len(sample)} "
          "records identical (all fields but seconds and engine)")
    for config, diff in disagreements:
        print(f"  DIFFERS: {config} -> {diff}")


if __name__ == "__main__":
    main()
