"""Cost of the default study's ``learn`` stage (issue 19), measured and extrapolated.

What is measured
----------------
The ``learn`` stage of the study ``cohortbench init`` writes (``STUDY_TEMPLATE``: MLR_L2 after
row and column standard scaling, no search, modality sets qT1+DTI+Na / qT1+DTI / qT1+Na, the
three tasks, the default size ladder, 20 subsamples per size, the study's 50 shuffles) on the
built-in synthetic cohort (30 subjects, 9 maps x 332 ROIs), with the fast engine, through the
real runner (``cb.run``, ``--jobs 1``, in this process, single-threaded BLAS).

Each unit of the runner is one evaluation here (a subsample is a problem of its own); a
backend that runs units in this process like ``--jobs 1`` records each unit's CPU seconds
(``time.process_time``: less moved than wall time by other work on a shared machine). To keep
the benchmark short, one subsample per (task, modality set, size) is evaluated
(``repeats: 1``); subsamples of one size cost the same up to noise (same shape, same number
of label vectors), so the stage's cost is extrapolated as
``sum over (task, set, size) of CPU seconds x (20 if size < N else 1)``. ``--repeats R``
measures R subsamples per size instead (R = 20 runs the stage in full and extrapolates
nothing). Then the analyses: ``learn_tables`` (the power-law fits and 1,000 bootstrap refits
per curve) and the report.

Run:  python benchmarks/bench_learn.py [--repeats 1] [--shuffles 50] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import yaml

from cohortbench.execute.backends import InlineBackend


class TimedBackend(InlineBackend):
    """Units one after the other in this process (as ``--jobs 1``), CPU seconds recorded
    per (view fingerprint, shuffle key): one evaluation per unit in a learn stage."""

    def __init__(self):
        self.cpu: dict = {}

    def run(self, fn, units):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            for i, args in enumerate(units):
                problem = args[0]
                start = time.process_time()
                outcome = fn(*args)
                key = (problem.view_fingerprint, problem.shuffle_key)
                self.cpu[key] = self.cpu.get(key, 0.0) + time.process_time() - start
                yield i, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=1, help="subsamples measured per size")
    parser.add_argument("--shuffles", type=int, default=None,
                        help="label shuffles per subsample (default: the study's 50)")
    parser.add_argument("--out", type=Path, default=None, help="keep the run here")
    args = parser.parse_args()

    import cohortbench as cb
    from cohortbench.analyse.learn_tables import learn_tables
    from cohortbench.execute.runner import run_study
    from cohortbench.data.synthetic import write_synthetic_cohort
    from cohortbench.store import ResultsStore
    from cohortbench.store.export import export_frames

    base = args.out or Path(tempfile.mkdtemp(prefix="bench-learn-"))
    cohort = base / "cohort"
    study_path = write_synthetic_cohort(cohort)
    doc = yaml.safe_load(study_path.read_text(encoding="utf-8"))
    learn = next(s for s in doc["stages"] if s.get("kind") == "learn")
    full_repeats = int((learn.get("options") or {}).get("repeats", 20))
    learn["options"] = {**(learn.get("options") or {}), "repeats": args.repeats}
    if args.shuffles is not None:
        doc["permutations"] = args.shuffles
    doc["stages"] = [learn]
    measured = cohort / "bench-learn.yaml"
    measured.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")

    load = os.getloadavg()
    backend = TimedBackend()
    wall, cpu = time.perf_counter(), time.process_time()
    outcome = run_study(cb.load_study(measured), base / "run", backend=backend)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert outcome.failed == 0, outcome

    with ResultsStore.open(base / "run", create=False) as store:
        evaluations = export_frames(store)["evaluations"]
        kinds, decisions = store.get_info("stage_kinds"), store.decisions()
    plan = next(d["payload"] for d in decisions if d["kind"] == "learning_curve")
    evaluations = evaluations.assign(
        size=[int(s.split("/")[0][5:]) for s in evaluations["subset"]],
        cpu=[backend.cpu[(v, f"{t}|{s}")] for v, t, s in
             zip(evaluations["view_fingerprint"], evaluations["task"], evaluations["subset"])])
    print(f"cohortbench {cb.__version__}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load average before {load[0]:.1f}, after "
          f"{os.getloadavg()[0]:.1f}")
    print(f"measured: {len(evaluations)} evaluations ({args.repeats} subsample(s) per size), "
          f"{doc['permutations']} shuffles each; wall {wall:.0f} s, process CPU {cpu:.0f} s "
          f"(of which the units {evaluations['cpu'].sum():.0f} s)")
    total = 0.0
    print("task     modalities   sizes (N)       CPU s per evaluation by size      "
          "stage estimate (CPU)")
    for (task, modalities), rows in evaluations.groupby(["task", "modalities"], sort=False):
        whole = plan["pool"][task]
        per_size = rows.groupby("size")["cpu"].mean()
        estimate = sum(seconds * (full_repeats if size < whole else 1)
                       for size, seconds in per_size.items())
        total += estimate
        shown = " ".join(f"{seconds:.1f}" for seconds in per_size)
        print(f"{task:8s} {modalities:12s} {len(per_size)} sizes ({whole})   {shown:30s} "
              f"{estimate:7.0f} s")
    n_full = sum((full_repeats * (len(s) - 1) + 1) * len(learn["modalities"])
                 for s in plan["sizes"].values())
    print(f"the full stage: {n_full} evaluations, estimated {total:.0f} CPU s "
          f"= {total / 3600:.2f} h on one core ({total / 7200:.2f} h on 2 cores, ideal)")

    analysis = time.perf_counter()
    tables = learn_tables(evaluations, kinds, decisions)
    analysis = time.perf_counter() - analysis
    n_curves = len(tables["projection"].groupby(["task", "modalities"]))
    print(f"analyses: learn_tables {analysis:.1f} s for {n_curves} curves "
          f"({analysis / n_curves:.1f} s per curve, 1,000 bootstrap refits each)")
    report = time.perf_counter()
    cb.report(base / "run")
    print(f"report: {time.perf_counter() - report:.1f} s")


if __name__ == "__main__":
    main()
