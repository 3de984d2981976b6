"""Cost of the default study's ``learn`` stage (issue 19), measured and extrapolated.

What is measured
----------------
The ``learn`` stage of the study ``cohortbench init`` writes (``STUDY_TEMPLATE``: MLR_L2 after
row and column standard scaling, no search, modality sets qT1+DTI+Na / qT1+DTI / qT1+Na, the
three tasks, the default size ladder, 20 subsamples per size, the study's 50 shuffles) on the
built-in synthetic cohort (30 subjects, 9 maps x 332 ROIs), with the fast engine, through the
real runner (``cb.run``, ``--jobs 1``, in this process, single-threaded BLAS).

To keep the benchmark short, one subsample per (task, modality set, size) is evaluated
(``repeats: 1``); subsamples of one size cost the same up to noise (same shape, same number
of label vectors), so the stage's cost is extrapolated as
``sum over (task, set, size) of seconds x (20 if size < N else 1)`` where ``seconds`` is the
evaluation's own wall-clock time in the store. ``--repeats R`` measures R subsamples per size
instead (R = 20 runs the stage in full and extrapolates nothing). The CPU time of the whole
measured run (``time.process_time``) is printed beside the sum of evaluation seconds, to show
how far wall time in the store is from CPU time on a loaded machine. Then the analyses:
``learn_tables`` (the power-law fits and 1,000 bootstrap refits per curve) and the report.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=1, help="subsamples measured per size")
    parser.add_argument("--shuffles", type=int, default=None,
                        help="label shuffles per subsample (default: the study's 50)")
    parser.add_argument("--out", type=Path, default=None, help="keep the run here")
    args = parser.parse_args()

    import cohortbench as cb
    from cohortbench.analyse.learn_tables import learn_tables
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
    wall, cpu = time.perf_counter(), time.process_time()
    outcome = cb.run(measured, base / "run", jobs=1, build_report=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert outcome.failed == 0, outcome

    with ResultsStore.open(base / "run", create=False) as store:
        evaluations = export_frames(store)["evaluations"]
        kinds, decisions = store.get_info("stage_kinds"), store.decisions()
    plan = next(d["payload"] for d in decisions if d["kind"] == "learning_curve")
    evaluations = evaluations.assign(size=[int(s.split("/")[0][5:]) for s in evaluations["subset"]])
    print(f"cohortbench {cb.__version__}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load average before {load[0]:.1f}")
    print(f"measured: {len(evaluations)} evaluations ({args.repeats} subsample(s) per size), "
          f"{doc['permutations']} shuffles each; wall {wall:.0f} s, process CPU {cpu:.0f} s, "
          f"sum of evaluation seconds {evaluations['seconds'].sum():.0f} s")
    total = 0.0
    print("task     modalities   sizes (N)              s per evaluation by size      "
          "stage estimate")
    for (task, modalities), rows in evaluations.groupby(["task", "modalities"], sort=False):
        whole = plan["pool"][task]
        per_size = rows.groupby("size")["seconds"].mean()
        estimate = sum(seconds * (full_repeats if size < whole else 1)
                       for size, seconds in per_size.items())
        total += estimate
        shown = " ".join(f"{seconds:.1f}" for seconds in per_size)
        print(f"{task:8s} {modalities:12s} {len(per_size)} sizes ({whole})   {shown:30s} "
              f"{estimate:7.0f} s")
    n_full = sum((full_repeats * (len(s) - 1) + 1) * len(learn["modalities"])
                 for s in plan["sizes"].values())
    print(f"the full stage: {n_full} evaluations, estimated {total:.0f} s of evaluation time "
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
