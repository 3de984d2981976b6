"""The time estimate against actual runs (issue 16, item 3).

For each study — ``demo --quick``, the default ``demo``, and a small study of each
stage kind on the built-in synthetic cohort (screen; refine without and with RFE
on unscaled values; tune with grid, random and bayes; enrich) — and for each
``--jobs`` N, back to back:

1. the estimate ``cohortbench run`` prints at its start
   (:func:`cohortbench.execute.estimate.estimate_study` with N workers, timed);
2. the run itself (``run_study`` with the backend ``run --jobs N`` uses, the fast
   engine, the estimate's expected costs for the progress display), its wall
   time per stage taken from the progress calls, without the report.

The estimate must land within a factor of 2 of the actual time. Also recorded:
the progress display's time left at the middle of each stage (by expected cost)
against the time that was actually left, for the model-based ETA and for the
count-based one it replaces.

Run:  python benchmarks/bench_estimate.py [--jobs 1 2] [--only NAME ...] [--json PATH]
      [--append benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from cohortbench.api import demo_study_file
from cohortbench.data.synthetic import write_synthetic_cohort
from cohortbench.design.loaded_study import load_study
from cohortbench.execute.backends import make_backend
from cohortbench.execute.estimate import estimate_study
from cohortbench.execute.progress import Progress, StageClock
from cohortbench.execute.runner import prepare_problems, run_study

STANDARD = {"row_scaling": "standard", "column_scaling": "standard"}

#: Small studies, one per stage kind: name -> (permutations, stages).
SMALL = {
    "screen": (5, [{"name": "screen", "classifiers": ["KNN", "MLR_L2", "SVM_RBF", "RF", "MLP", "LGBM"],
                    "pipeline": STANDARD, "tasks": ["2-class", "3-class"]}]),
    "refine": (3, [{"name": "refine", "classifiers": ["MLR_L2", "SVM_LIN"], "tasks": ["3-class", "SvF"],
                    "grid": {"row_scaling": ["standard", "minmax"], "column_scaling": ["standard"],
                             "feature_selection": ["none", "kbest", "rfe"], "n_features": [10, 50],
                             "dim_reduction": ["none", "pca"]}}]),
    "refine-raw-rfe": (3, [{"name": "refine", "classifiers": ["SVM_LIN", "MLR_L2"], "tasks": ["2-class"],
                            "modalities": [["DTI"]], "parcellations": ["GM"],
                            "grid": {"row_scaling": ["none", "standard"], "column_scaling": ["none"],
                                     "feature_selection": ["none", "rfe"], "n_features": [10, 50],
                                     "dim_reduction": ["none"]}}]),
    "tune": (3, [{"name": "tune", "classifiers": ["SVM_RBF", "MLR_L2"], "tasks": ["3-class"],
                  "pipeline": dict(STANDARD, feature_selection="kbest", n_features=50),
                  "search": ["grid", "random", "bayes"]}]),
    "enrich": (3, [{"name": "enrich", "classifiers": ["MLR_L2"], "pipeline": STANDARD, "search": ["grid"],
                    "modalities": [["qT1", "DTI", "Na"], ["qT1", "DTI"], ["qT1"]],
                    "parcellations": ["GM", "all"], "tasks": ["SvF", "2-class"]}]),
}


class Recorder(Progress):
    """Times each stage from the runner's progress calls; samples the ETAs on the way."""

    def __init__(self):
        self.stages: list[dict] = []

    def start_stage(self, stage, total, done, expected=None):
        now = time.perf_counter()
        self.stages.append({"stage": stage, "start": now, "n": total - done, "expected": expected,
                            "clock": StageClock(expected) if expected is not None else None,
                            "samples": [], "count": 0})

    def advance(self, n=1, expected=None):
        s = self.stages[-1]
        now = time.perf_counter()
        s["count"] += n
        if s["clock"] is not None and expected is not None:
            s["clock"].advance(expected)
        elapsed = now - s["start"]
        counted = elapsed / s["count"] * (s["n"] - s["count"])
        model = s["clock"].seconds_left() if s["clock"] is not None else None
        s["samples"].append((now, s["clock"].done if s["clock"] else 0.0, model, counted))


def _eta_at_middle(stage: dict, end: float) -> dict | None:
    """ETAs when half the stage's expected cost was done, and the time actually left then."""
    if not stage["samples"] or not stage["expected"]:
        return None
    half = 0.5 * stage["expected"]
    now, _, model, counted = next((x for x in stage["samples"] if x[1] >= half), stage["samples"][-1])
    return {"actual_left": end - now, "model_eta": model, "count_eta": counted}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_one(name: str, study_path: Path, jobs: int, out: Path) -> dict:
    study = load_study(study_path)
    problems, _ = prepare_problems(study)
    backend = make_backend(jobs=jobs)
    t0 = time.perf_counter()
    est = estimate_study(study, problems, engine="fast", workers=backend.workers)
    t_est = time.perf_counter() - t0
    del problems
    rec = Recorder()
    children0 = _children_cpu()  # after the estimate's own import probe has ended
    t1, c1 = time.perf_counter(), time.process_time()
    with backend:
        run_study(study, out, backend=backend, progress=rec, engine="fast",
                  expected_cost=est.expected_cost)
        t_end, c_end = time.perf_counter(), time.process_time()
    cpu = c_end - c1 + _children_cpu() - children0  # workers are counted once they have exited
    stages = []
    for i, s in enumerate(rec.stages):
        end = rec.stages[i + 1]["start"] if i + 1 < len(rec.stages) else t_end
        e = next(x for x in est.stages if x.name == s["stage"])
        stages.append({"stage": s["stage"], "evaluations": s["n"], "estimate_s": e.seconds,
                       "actual_s": end - s["start"], "assumption": e.assumption,
                       "eta_middle": _eta_at_middle(s, end)})
    actual = t_end - t1
    return {"study": name, "jobs": jobs, "evaluations": sum(s["n"] for s in rec.stages),
            "estimate_s": est.seconds, "actual_s": actual, "ratio": est.seconds / actual,
            "estimate_cpu": sum(s.cpu_seconds for s in est.stages), "actual_cpu": cpu,
            "busy": est.busy,
            "probe_s": t_est, "probe_fits": est.n_probe_fits, "lines": est.lines(),
            "stages": stages, "load_before": os.getloadavg()}


def studies(base: Path, only) -> dict[str, Path]:
    cohort = base / "cohort"
    write_synthetic_cohort(cohort)
    template = yaml.safe_load((cohort / "study.yaml").read_text(encoding="utf-8"))
    paths = {"demo --quick": demo_study_file(cohort / "study.yaml", quick=True)[0],
             "demo": demo_study_file(cohort / "study.yaml")[0]}
    for name, (permutations, stages) in SMALL.items():
        doc = dict(template, name=f"small-{name}", permutations=permutations, stages=stages)
        paths[name] = cohort / f"small-{name}.yaml"
        paths[name].write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return {k: v for k, v in paths.items() if not only or k in only}


def machine() -> str:
    model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")), platform.processor())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, commit {commit}"


def table(rows: list[dict]) -> str:
    out = ["| study | --jobs | evaluations | estimate | actual | estimate / actual | within 2x | "
           "CPU: estimate / actual | probe (fits) | probes' share of a core | "
           "ETA at mid-stage: model / count-based / actual left | load before |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mids = [s["eta_middle"] for s in r["stages"] if s["eta_middle"]]
        mid = max(mids, key=lambda m: m["actual_left"]) if mids else None
        eta = (f"{mid['model_eta']:.0f} / {mid['count_eta']:.0f} / {mid['actual_left']:.0f} s"
               if mid and mid["model_eta"] is not None else "-")
        ok = "yes" if 0.5 <= r["ratio"] <= 2 else "**no**"
        out.append(f"| {r['study']} | {r['jobs']} | {r['evaluations']} | {r['estimate_s']:.0f} s | "
                   f"{r['actual_s']:.0f} s | {r['ratio']:.2f} | {ok} | {r['estimate_cpu']:.0f} / "
                   f"{r['actual_cpu']:.0f} s | {r['probe_s']:.1f} s ({r['probe_fits']}) | "
                   f"{100 / r['busy']:.0f} % | {eta} | {r['load_before'][0]:.1f} |")
    return "\n".join(out)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--append", type=Path, help="append the table to this RESULTS.md")
    args = parser.parse_args(argv)
    where, started = machine(), time.strftime("%Y-%m-%d %H:%M")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for name, path in studies(base, args.only).items():
            for jobs in args.jobs:  # the pair back to back
                row = run_one(name, path, jobs, base / f"run-{name.replace(' ', '')}-{jobs}")
                rows.append(row)
                print(f"{name} --jobs {jobs}: estimate {row['estimate_s']:.1f} s, actual "
                      f"{row['actual_s']:.1f} s, ratio {row['ratio']:.2f} (probe {row['probe_s']:.1f} s);"
                      f" CPU estimate {row['estimate_cpu']:.1f} s, actual {row['actual_cpu']:.1f} s",
                      flush=True)
                for s in row["stages"]:
                    print(f"    {s['stage']}: estimate {s['estimate_s']:.1f} s, actual {s['actual_s']:.1f} s"
                          f", ETA at middle {s['eta_middle']}", flush=True)
    text = table(rows)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str), encoding="utf-8")
    if args.append:
        with open(args.append, "a", encoding="utf-8") as fh:
            fh.write(f"\n### Run of {started}, {where}\n\n"
                     f"Command: `python benchmarks/bench_estimate.py {' '.join(sys.argv[1:])}`\n\n"
                     f"{text}\n")


if __name__ == "__main__":
    main()
