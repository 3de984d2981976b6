"""Peak memory of a small study on a large synthetic cohort.

Writes the built-in synthetic cohort at the asked size (``--features`` split
into 9 maps x ``features // 9`` ROIs; subjects split 1/2 controls, 1/4 slow,
1/4 fast; seed 0) into a temporary directory, writes a small study next to it
(one ``screen`` stage, MLR_L2 and SVM_LIN, row + column standard scaling,
outer ``stratified-kfold:5``, 2 permutations, the 2-class and 3-class tasks of
``tests/conftest.py``'s tiny study) and runs it with ``cb.run(..., jobs=N,
build_report=False)``.

The run happens in a fresh Python process, so the numbers are the run's alone
(writing the cohort is not counted), with single-threaded BLAS/OpenMP as the
runner's worker processes have (on a busy 2-core machine a multi-threaded BLAS
makes the fits ~10x slower and the timing meaningless). Memory, in MiB:

- ``peak RSS, run process``: the kernel's high-water mark of that process
  (``VmHWM`` of ``/proc/self/status``): loading the tables, the feature matrix,
  the runner and, with ``--jobs 1``, every fit.
- ``peak RSS, largest worker``: the same for each worker process (``--jobs`` >
  1), read from ``/proc`` while the run goes.
- ``peak RSS, process tree``: the largest sum of the current RSS of the run
  process and its workers, sampled every 0.1 s.
- ``ru_maxrss`` self / children: ``resource.getrusage`` ``RUSAGE_SELF`` and
  ``RUSAGE_CHILDREN``. Linux carries a parent's high-water mark into a child
  across fork + exec, so these are upper bounds (a worker started after the
  data were loaded reports at least the runner's RSS at that moment; the run
  process reports at least its parent's peak); on systems without ``/proc``
  they are the only numbers.

Run:  python benchmarks/bench_scale.py [--subjects 500] [--features 20000]
      [--jobs 1] [--classifiers MLR_L2,SVM_LIN] [--permutations 2]
      [--engine reference] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_MAPS = 9
BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# The documented bound (benchmarks/RESULTS.md, "Scale"), per process -- the run
# process and each worker: fixed import cost + BOUND_BASE_MIB + BOUND_PER_MATRIX x
# the float64 feature matrix. 500 x 20,000 measured 0.82 GiB against 1.5 GiB.
BOUND_BASE_MIB = 256.0
BOUND_PER_MATRIX = 14.0

STUDY = """\
name: scale
seed: 0
data:
  maps: {{{maps}}}
  participants: participants.tsv
  modalities: {{qT1: [qT1], DTI: [FA, MD, AD, RD], Na: [TSC, T2s, T2l, fNa]}}
labels:
  slope: {{expression: "(48 - alsfrs_r) / disease_months"}}
  progression: {{from: slope, split: median, classes: [slow, fast], among: {{group: ALS}}}}
tasks:
  2-class: {{classes: {{HC: {{group: HC}}, ALS: {{group: ALS}}}}}}
  3-class: {{classes: {{HC: {{group: HC}}, slow: {{progression: slow}}, fast: {{progression: fast}}}}}}
cv: {{outer: "stratified-kfold:5", inner: "stratified-kfold:5"}}
permutations: {permutations}
stages:
  - name: screen
    classifiers: [{classifiers}]
    pipeline: {{row_scaling: standard, column_scaling: standard}}
"""
TASKS = ("2-class", "3-class")
MAPS = ("qT1", "FA", "MD", "AD", "RD", "TSC", "T2s", "T2l", "fNa")


def group_sizes(subjects: int) -> tuple[int, int, int]:
    """Controls, slow and fast progressors: about 1/2, 1/4, 1/4 (slow == fast or fast + 1)."""
    patients = subjects - subjects // 2
    n_fast = patients // 2
    return subjects - patients, patients - n_fast, n_fast


def write_study(directory: Path, *, subjects: int, features: int, classifiers: list[str],
                permutations: int) -> Path:
    """Write the synthetic cohort and the small study into ``directory``; return the study path."""
    from cohortbench.data.synthetic import write_synthetic_cohort

    n_rois = features // N_MAPS
    n_controls, n_slow, n_fast = group_sizes(subjects)
    write_synthetic_cohort(directory, seed=0, n_controls=n_controls, n_slow=n_slow, n_fast=n_fast,
                           n_rois=n_rois, n_gm=max(1, n_rois * 187 // 332))
    study = directory / "scale.yaml"
    maps = ", ".join(f"{m}: maps/{m}.tsv" for m in MAPS)
    study.write_text(STUDY.format(maps=maps, permutations=permutations,
                                  classifiers=", ".join(classifiers)), encoding="utf-8")
    return study


def _maxrss_mib(who: int) -> float:
    import resource

    # Linux reports ru_maxrss in KiB, macOS in bytes
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(who).ru_maxrss * scale / 2**20


def _status_mib(pid: int | str, field: str) -> float:
    """``VmRSS`` / ``VmHWM`` of a process from ``/proc`` (0 when it is gone or there is no /proc)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def _descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        parent = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{parent}/task/{tid}/children", encoding="ascii") as fh:
                    kids = [int(k) for k in fh.read().split()]
            except OSError:
                continue
            found.extend(kids)
            stack.extend(kids)
    return found


class TreeSampler:
    """Samples the RSS of this process and its descendants from ``/proc`` in a thread."""

    def __init__(self, interval: float = 0.1):
        import threading

        self.interval = interval
        self.peak_tree_mib = 0.0
        self.peak_worker_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> None:
        me = os.getpid()
        kids = _descendants(me)
        total = _status_mib(me, "VmRSS") + sum(_status_mib(k, "VmRSS") for k in kids)
        self.peak_tree_mib = max(self.peak_tree_mib, total)
        for k in kids:
            self.peak_worker_mib = max(self.peak_worker_mib, _status_mib(k, "VmHWM"))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()


def measure_run(study: Path, out: Path, jobs: int, engine: str) -> dict:
    """Run the study in this process and return its wall time and peak RSS (MiB)."""
    import resource

    import cohortbench as cb
    import cohortbench.api  # noqa: F401  (cb imports it lazily; counted in the fixed cost)
    import cohortbench.execute.reference_engine  # noqa: F401

    imported = _status_mib("self", "VmRSS")
    with TreeSampler() as sampler:
        start = time.perf_counter()
        outcome = cb.run(study, out, jobs=jobs, engine=engine, build_report=False)
        seconds = time.perf_counter() - start
    self_peak = _status_mib("self", "VmHWM") or _maxrss_mib(resource.RUSAGE_SELF)
    return {
        "wall_s": round(seconds, 2),
        "rss_after_imports_mib": round(imported, 1),
        "peak_rss_self_mib": round(self_peak, 1),
        "peak_rss_worker_mib": round(sampler.peak_worker_mib, 1),
        "peak_rss_tree_mib": round(max(sampler.peak_tree_mib, self_peak), 1),
        "ru_maxrss_self_mib": round(_maxrss_mib(resource.RUSAGE_SELF), 1),
        "ru_maxrss_children_mib": round(_maxrss_mib(resource.RUSAGE_CHILDREN), 1),
        "evaluations_total": outcome.total,
        "evaluations_computed": outcome.computed,
        "evaluations_failed": outcome.failed,
    }


def per_process_bound_mib(fixed_mib: float, matrix_mib: float) -> float:
    """The documented peak-RSS bound of one process (the run process or a worker), in MiB."""
    return fixed_mib + BOUND_BASE_MIB + BOUND_PER_MATRIX * matrix_mib


def bench(subjects: int, features: int, jobs: int, classifiers: list[str], permutations: int,
          engine: str) -> dict:
    """Write the cohort and study, run it in a child process, return every measurement."""
    with tempfile.TemporaryDirectory(prefix="cohortbench-scale-") as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        study = write_study(tmp / "cohort", subjects=subjects, features=features,
                            classifiers=classifiers, permutations=permutations)
        write_seconds = time.perf_counter() - start
        disk = sum(p.stat().st_size for p in (tmp / "cohort").rglob("*") if p.is_file())
        cmd = [sys.executable, os.path.abspath(__file__), "--measure-run", str(study),
               str(tmp / "run"), "--jobs", str(jobs), "--engine", engine]
        env = dict(os.environ, **{v: "1" for v in BLAS_THREAD_VARS})
        child = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        if child.returncode != 0:
            raise SystemExit(f"the measured run failed:\n{child.stderr}")
        measured = json.loads(child.stdout.strip().splitlines()[-1])
    n_features = N_MAPS * (features // N_MAPS)
    matrix_mib = subjects * n_features * 8 / 2**20
    bound = per_process_bound_mib(measured["rss_after_imports_mib"], matrix_mib)
    return {
        "subjects": subjects,
        "features": n_features,
        "jobs": jobs,
        "engine": engine,
        "classifiers": classifiers,
        "permutations": permutations,
        "tasks": list(TASKS),
        "evaluations_expected": len(classifiers) * len(TASKS),
        "feature_matrix_mib": round(matrix_mib, 1),
        "bound_per_process_mib": round(bound, 1),
        "cohort_on_disk_mib": round(disk / 2**20, 1),
        "write_cohort_s": round(write_seconds, 2),
        "nproc": os.cpu_count(),
        **measured,
    }


def print_table(r: dict) -> None:
    rows = [
        ("cohort", f"{r['subjects']} subjects x {r['features']:,} features (9 maps)"),
        ("feature matrix (float64)", f"{r['feature_matrix_mib']:.1f} MiB"),
        ("cohort on disk (TSV)", f"{r['cohort_on_disk_mib']:.1f} MiB"),
        ("study", f"screen {'+'.join(r['classifiers'])} x {'/'.join(r['tasks'])}, "
                  f"stratified-kfold:5, {r['permutations']} permutations"),
        ("evaluations computed", f"{r['evaluations_computed']} of {r['evaluations_expected']} "
                                 f"({r['evaluations_failed']} failed)"),
        ("jobs / engine / cores", f"{r['jobs']} / {r['engine']} / {r['nproc']}"),
        ("wall time of the run", f"{r['wall_s']:.1f} s"),
        ("RSS after imports (fixed cost)", f"{r['rss_after_imports_mib']:.0f} MiB"),
        ("peak RSS, run process", f"{r['peak_rss_self_mib']:.0f} MiB"),
        ("peak RSS, largest worker", f"{r['peak_rss_worker_mib']:.0f} MiB"),
        ("peak RSS, process tree", f"{r['peak_rss_tree_mib']:.0f} MiB"),
        ("bound per process (documented)", f"{r['bound_per_process_mib']:.0f} MiB"),
        ("ru_maxrss self / children", f"{r['ru_maxrss_self_mib']:.0f} / "
                                      f"{r['ru_maxrss_children_mib']:.0f} MiB (upper bounds)"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=500)
    parser.add_argument("--features", type=int, default=20000)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--classifiers", default="MLR_L2,SVM_LIN")
    parser.add_argument("--permutations", type=int, default=2)
    parser.add_argument("--engine", default="reference", choices=["reference", "fast"])
    parser.add_argument("--json", action="store_true", help="print the measurements as one JSON line")
    parser.add_argument("--measure-run", nargs=2, metavar=("STUDY", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure_run:
        study, out = args.measure_run
        print(json.dumps(measure_run(Path(study), Path(out), args.jobs, args.engine)))
        return
    if args.subjects < 4 or args.features < N_MAPS:
        parser.error("--subjects must be >= 4 and --features >= 9")
    result = bench(args.subjects, args.features, args.jobs,
                   [c.strip() for c in args.classifiers.split(",") if c.strip()],
                   args.permutations, args.engine)
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
