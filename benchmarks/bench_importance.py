"""Extra cost of an ``importance`` stage on the default study's shape (issue 20).

What is measured
----------------
The built-in synthetic cohort (``write_synthetic_cohort``, seed 0: 30 subjects
14/8/8, 9 maps in 3 modalities x 332 ROIs = 2,988 features). The published study's
stages cost ~40 CPU-hours here (``bench_study.py``), so a **stand-in stage** gives
the importance stage its best configuration per task: one evaluation per task of
``--classifier`` (default MLR_L2, linear, so activation patterns exist) with
``--pipeline`` (default row + column standard: the published enrich and tune
pipeline). Then the study is run again with the importance stage appended
(``kind: importance``, default options: 22 leave-one-out / single-map views per task
with the fast engine, and the configuration again with the ``importance`` record,
which the reference engine evaluates today; ``--resampling`` sets part B's outer CV).

Each run is its own child process (``cohortbench run``'s code path, jobs 1,
single-threaded BLAS/OpenMP) so that its CPU seconds (``time.process_time``,
children included) and peak RSS (``VmHWM``) are its own. The importance stage's
cost is the second run's (the stand-in stage is resumed, not recomputed). The
store's growth is measured on ``results.sqlite`` and on the ``records`` table's
payload. Cost is linear in label vectors (every label vector refits everything), so
runs at ``--shuffles P`` < 50 are also scaled by 51 / (P + 1) to the default 50,
and labelled so.

Run:  python benchmarks/bench_importance.py [--shuffles 10] [--tasks 2-class 3-class SvF]
      [--classifier MLR_L2] [--pipeline standard/standard] [--resampling SCHEME]
      [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

CHILD = textwrap.dedent("""
    import json, os, sys, time
    from threadpoolctl import threadpool_limits
    import cohortbench as cb
    start_cpu, start = time.process_time(), time.perf_counter()
    with threadpool_limits(limits=1):
        outcome = cb.run(sys.argv[1], sys.argv[2], jobs=1, engine=sys.argv[3],
                         build_report=False, quiet=True)
    peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status")
                if line.startswith("VmHWM:"))
    print(json.dumps({"cpu_s": time.process_time() - start_cpu,
                      "wall_s": time.perf_counter() - start, "peak_rss": peak,
                      "computed": outcome.computed, "already": outcome.already,
                      "failed": outcome.failed, "notes": outcome.notes}))
""")


def study_text(base: str, tasks, classifier: str, pipeline: str, shuffles: int,
               importance: dict | None) -> str:
    head = base[: base.index("stages:")]
    head = head.replace("permutations: 50 ", f"permutations: {shuffles} ", 1)
    row, column = pipeline.split("/")
    text = head + textwrap.dedent(f"""\
        stages:
          - name: standin
            classifiers: [{classifier}]
            pipeline: {{row_scaling: {row}, column_scaling: {column}}}
            tasks: [{', '.join(tasks)}]
        """)
    if importance is not None:
        options = ", ".join(f"{k}: {json.dumps(v)}" for k, v in importance.items())
        text += textwrap.indent(textwrap.dedent(f"""\
            - name: importance
              kind: importance
              options: {{{options}}}
            """), "  ")
    return text


def run_child(study: Path, run_dir: Path, engine: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", CHILD, str(study), str(run_dir), engine],
                          capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def store_sizes(run_dir: Path) -> dict:
    path = run_dir / "results.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        payload = con.execute("SELECT COALESCE(SUM(LENGTH(payload_json)), 0), COUNT(*) "
                              "FROM records").fetchone()
        seconds = con.execute(
            "SELECT e.stage, e.engine, COUNT(*), SUM(e.seconds) FROM evaluations e "
            "GROUP BY e.stage, e.engine").fetchall()
    return {"file_bytes": path.stat().st_size, "records_bytes": int(payload[0]),
            "n_records": int(payload[1]),
            "seconds_by_stage_engine": [list(r) for r in seconds]}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shuffles", type=int, default=10)
    parser.add_argument("--tasks", nargs="+", default=["2-class", "3-class", "SvF"])
    parser.add_argument("--classifier", default="MLR_L2")
    parser.add_argument("--pipeline", default="standard/standard")
    parser.add_argument("--resampling", default=None)
    parser.add_argument("--engine", default="fast")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    from cohortbench.data.synthetic import write_synthetic_cohort

    options = {} if args.resampling is None else {"resampling": args.resampling}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        template = write_synthetic_cohort(tmp / "cohort", seed=0).read_text()
        study = tmp / "cohort" / "bench.yaml"
        run_dir = tmp / "run"
        study.write_text(study_text(template, args.tasks, args.classifier, args.pipeline,
                                    args.shuffles, None))
        before = run_child(study, run_dir, args.engine)
        size_before = store_sizes(run_dir)
        study.write_text(study_text(template, args.tasks, args.classifier, args.pipeline,
                                    args.shuffles, options))
        after = run_child(study, run_dir, args.engine)
        size_after = store_sizes(run_dir)
    scale = 51 / (args.shuffles + 1)
    result = {
        "settings": vars(args), "machine": {"python": platform.python_version(),
                                            "cpus": os.cpu_count(),
                                            "load": os.getloadavg()},
        "standin_run": before, "importance_run": after,
        "store_before": size_before, "store_after": size_after,
        "importance_cpu_s_at_50": after["cpu_s"] * scale,
        "standin_cpu_s_at_50": before["cpu_s"] * scale,
    }
    print(f"stand-in stage: {len(args.tasks)} evaluation(s), {before['cpu_s']:.1f} CPU s "
          f"({before['wall_s']:.1f} s wall), peak RSS {before['peak_rss'] / 2**20:.0f} MiB")
    print(f"importance stage: {after['computed']} evaluation(s), {after['cpu_s']:.1f} CPU s "
          f"({after['wall_s']:.1f} s wall), peak RSS {after['peak_rss'] / 2**20:.0f} MiB; "
          f"failed {after['failed']}")
    print(f"at 50 shuffles (x {scale:.2f}): stand-in {result['standin_cpu_s_at_50']:.0f} CPU s, "
          f"importance {result['importance_cpu_s_at_50']:.0f} CPU s")
    print(f"store: {size_before['file_bytes'] / 1e6:.2f} MB -> {size_after['file_bytes'] / 1e6:.2f} "
          f"MB; records payload {size_after['records_bytes'] / 1e6:.2f} MB in "
          f"{size_after['n_records']} record(s)")
    print("seconds recorded per stage and engine:", size_after["seconds_by_stage_engine"])
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"benchmark wall time {time.perf_counter() - start:.0f} s")
