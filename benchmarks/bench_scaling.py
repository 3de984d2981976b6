"""How the fast engine's cost grows with shuffles and with configurations.

What is measured
----------------
A refine slice on the built-in synthetic cohort (``write_synthetic_cohort``,
seed 0; all maps, all 332 ROIs = 2,988 features; the 3-class task, 30 subjects,
leave-one-out): MLR_L2 and SVM_LIN x one scaling block of the SPEC refine grid
(none + SelectKBest x 5 k + RFE x 5 k; reduction none / PCA / LDA) = 66
configurations per block (``slice_configs`` of ``bench_fast_vs_reference.py``),
evaluated with ``evaluate_fast`` in one call per row, single-threaded
BLAS/OpenMP. Nothing is extrapolated: every row is a complete run.

- Shuffles: the first block at P = S, 2S, 4S shuffles (``--shuffles``, default
  3 6 12), i.e. 1 + P label vectors, configurations fixed.
- Configurations: 1, 2, 4 scaling blocks (66, 132, 264 configurations; each
  block brings its own RFE path) at P = S, shuffles fixed. The 1x row is the
  shuffles' 1x row, measured once.

Per row: CPU seconds of this process (``time.process_time``; less moved than
wall time by other work on the machine, not immune to it) and wall seconds; the ratio of CPU seconds to the 1x
row beside the ratio of the work (label vectors, or configurations); CPU
milliseconds per (configuration x label vector); and, for the shuffle series,
the least-squares line T = a + b (1 + P): ``a`` is the label-free work
(row/column scaling, PCA per fold), ``b`` the cost of one more label vector.

Run:  python benchmarks/bench_scaling.py [--shuffles 3 6 12]
      [--blocks standard/standard minmax/minmax standard/minmax minmax/standard]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from cohortbench.data.synthetic import write_synthetic_cohort
from cohortbench.design.loaded_study import load_study
from cohortbench.execute.fast import evaluate_fast
from cohortbench.execute.runner import prepare_problems

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fast_vs_reference import slice_configs  # noqa: E402


def three_class_problem():
    """The built-in cohort's 3-class problem on every map and ROI."""
    with tempfile.TemporaryDirectory() as tmp:
        study = load_study(write_synthetic_cohort(Path(tmp)))
    problems, _ = prepare_problems(study)
    key = (study.default_modalities(), "all", "3-class")
    return problems[key], study.cv


def timed(problem, configs, cv) -> tuple[float, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    results = evaluate_fast(problem, configs, cv)
    assert len(results) == len(configs)
    return time.process_time() - c0, time.perf_counter() - w0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shuffles", type=int, nargs=3, default=(3, 6, 12))
    parser.add_argument("--blocks", nargs=4, default=("standard/standard", "minmax/minmax",
                                                      "standard/minmax", "minmax/standard"),
                        help="row/column scaling blocks; 1x uses the first, 2x two, 4x all four")
    args = parser.parse_args()
    load0 = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average at start {load0[0]:.2f} {load0[1]:.2f} "
          f"{load0[2]:.2f}; BLAS/OpenMP limited to 1 thread; CPU seconds are this process's")
    problem, cv = three_class_problem()
    blocks = [tuple(b.split("/")) for b in args.blocks]
    base = args.shuffles[0]
    runs = [("shuffles", 1, p) for p in args.shuffles] + [("configurations", n, base) for n in (2, 4)]
    rows = []
    with threadpool_limits(1):
        for series, n_blocks, p in runs:
            configs = [c for row, col in blocks[:n_blocks] for c in slice_configs(row, col)]
            cpu, wall = timed(problem, configs, dataclasses.replace(cv, permutations=p))
            rows.append({"series": series, "blocks": n_blocks, "configs": len(configs),
                         "shuffles": p, "label_vectors": 1 + p, "cpu": cpu, "wall": wall})
            print(f"  {series}: {len(configs)} configurations x {1 + p} label vectors: "
                  f"{cpu:.1f} CPU s ({wall:.1f} s wall)", flush=True)
    first = rows[0]
    rows.insert(3, dict(first, series="configurations"))  # the 1x row of both series
    print("\n| series | factor | configurations | shuffles (label vectors) | CPU s | wall s | "
          "CPU ratio to 1x | work ratio | CPU ms per (config x label vector) |\n|" + "---|" * 9)
    for r in rows:
        work = (r["label_vectors"] / first["label_vectors"] if r["series"] == "shuffles"
                else r["configs"] / first["configs"])
        factor = (r["shuffles"] // base if r["series"] == "shuffles" else r["blocks"])
        per = 1000 * r["cpu"] / (r["configs"] * r["label_vectors"])
        print(f"| {r['series']} | {factor}x | {r['configs']} | {r['shuffles']} ({r['label_vectors']}) | "
              f"{r['cpu']:.1f} | {r['wall']:.1f} | {r['cpu'] / first['cpu']:.2f} | {work:.2f} | {per:.1f} |")
    shuffle_rows = rows[:3]
    L = np.array([r["label_vectors"] for r in shuffle_rows], dtype=float)
    T = np.array([r["cpu"] for r in shuffle_rows])
    b, a = np.polyfit(L, T, 1)
    resid = T - (a + b * L)
    print(f"\nshuffle series, least squares T = a + b (1 + P): a = {a:.2f} CPU s (label-free work), "
          f"b = {b:.2f} CPU s per label vector ({1000 * b / first['configs']:.1f} ms per configuration); "
          f"largest residual {np.abs(resid).max():.2f} s; at 50 shuffles this slice would take "
          f"{a + 51 * b:.0f} CPU s (extrapolated)")
    load1 = os.getloadavg()
    print(f"load average at end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")


if __name__ == "__main__":
    main()
