"""Cost of the full default study with the fast engine, stage by stage.

What is measured
----------------
The published study (``STUDY_TEMPLATE`` with the built-in synthetic cohort of
``write_synthetic_cohort``, seed 0): screen, refine, tune, enrich, planned by
``plan_stage`` and grouped into the runner's units (``runner._units``, private,
so its rule is re-implemented as a fallback). Pieces run through
``evaluate_fast`` in this one process with single-threaded BLAS/OpenMP. Times are
the process's CPU seconds (``time.process_time``: less moved than wall time by
other work on the machine, not immune to it) and wall seconds; peak memory is
the process's ``VmHWM``.

Decisions are the protocol's: the shortlist is ``shortlist_classifiers`` applied
to the real-label accuracies of all 36 screen evaluations (every fold, from the run at A);
the tune pipeline is the published choice (row + column standard, no selection
or reduction) unless ``--best-from-refine`` runs a real-label refine pass (every
evaluation and fold: ~1/51 of the refine CPU, ~25 min here) and applies
``best_pipeline``.

What is extrapolated (and labelled so)
--------------------------------------
Cost is linear in label vectors: each piece runs at two shuffle counts A < B
(``--shuffles``, default 0 and 2) and T(50) = T(A) + (50 - A)(T(B) - T(A))/(B - A).

- screen: every unit, every fold, at A and B (the A run also gives the shortlist).
- refine, tune, enrich: ``--folds M`` (default 2) of a task's LOO folds; the
  other subjects become train-only rows, so each measured fold trains on exactly
  the rows of the real fold (shuffles permute train-only rows too); x n/M.
- refine (units per row/column scaling prefix): each task's raw (none/none) unit
  and a sample of its 8 scaled units, standing for the rest. In a measured unit
  the non-RFE configurations are sampled stratified by classifier x selection
  kind x reduction (x stratum/sample); its RFE configurations run all together,
  so the shared elimination path is inside the measured run as in the real unit.
- tune: in each unit (task x classifier) a Latin-square sample of the three
  strategies (matched budgets), x 3/sampled. enrich: every unit.
- ``--full STAGE`` runs that stage for real instead: every unit, fold, shuffle.

Printed per stage: evaluations, units (measured), label vectors, measured CPU
(wall) seconds, CPU seconds at 50 shuffles, the largest unit, and CPU / N for
each ``--cores`` N, an ideal-parallel estimate (a stage cannot finish before its
largest unit). ``--json`` adds per-unit estimates (an unmeasured unit carries its
stratum's mean), the decisions, versions, load averages and peak RSS.

Run:  python benchmarks/bench_study.py [--shuffles 0 2] [--sample 0.1] [--folds 2]
      [--full screen] [--best-from-refine | --tune-pipeline R/C/S/K/D] [--cores 2 32]
      [--seed 0] [--json PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import subprocess
import tempfile
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from cohortbench.data.synthetic import write_synthetic_cohort
from cohortbench.design.classifiers import classifier_names
from cohortbench.design.loaded_study import load_study
from cohortbench.design.stages import best_pipeline, plan_stage, shortlist_classifiers
from cohortbench.execute.fast import evaluate_fast
from cohortbench.execute.runner import prepare_problems

PUBLISHED_PIPELINE = {"row_scaling": "standard", "column_scaling": "standard",
                      "feature_selection": "none", "n_features": None, "dim_reduction": "none"}
MEMORY_TARGET_BYTES = 4e9  # the 4 GB
try:  # the runner's rule for splitting units by label vectors (private; 8 when it moved)
    from cohortbench.execute.runner import _MIN_LABEL_VECTORS as MIN_LABEL_VECTORS
except ImportError:  # pragma: no cover
    MIN_LABEL_VECTORS = 8


def machine_info() -> dict:
    model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")), platform.processor())
    git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True).stdout.strip()  # noqa: E731
    import sklearn
    return {"cores": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "numpy": np.__version__, "scikit-learn": sklearn.__version__,
            "git_commit": git("rev-parse", "--short", "HEAD"),
            "src_uncommitted": git("status", "--porcelain", "--", "src").splitlines()}


def peak_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def fold_sample(problem, m: int, rng):
    """The problem with only ``m`` seeded LOO test subjects; the rest train only."""
    if not m or m >= problem.n_eval:
        return problem, 1.0
    keep = np.sort(rng.choice(problem.n_eval, m, replace=False))
    order = np.concatenate([keep, np.setdiff1d(np.arange(len(problem.y)), keep)])
    sub = dataclasses.replace(problem, X=problem.X[order], y=problem.y[order], n_eval=m,
                              subjects=tuple(problem.subjects[i] for i in order))
    return sub, problem.n_eval / m


def pkey(plan) -> tuple:
    return (plan[0].modalities, plan[0].parcellation, plan[0].task)


def unit_label(plan) -> str:
    c = plan[0].config
    same_clf = all(p.config.classifier == c.classifier for p in plan)
    return "/".join(("+".join(plan[0].modalities), plan[0].parcellation, plan[0].task,
                     c.classifier if same_clf else f"{c.row_scaling}-{c.column_scaling}"))


def stage_units(planned, problems, cv) -> tuple[list[list], str]:
    """The runner's units (lists of planned evaluations) for the fast engine."""
    try:  # private, but the truth; the rule is re-implemented below in case it moves
        from cohortbench.execute.runner import _units
        _, members = _units(list(enumerate(planned)), problems, cv, "fast")
        return [[p for _, p in chunk] for chunk in members], "runner._units"
    except (ImportError, TypeError, ValueError):
        rfe = {pkey([p]) for p in planned if p.config.feature_selection == "rfe"}
        units: OrderedDict = OrderedDict()
        for p in planned:
            c = p.config
            split = ((c.row_scaling, c.imputation, c.column_scaling) if pkey([p]) in rfe
                     else (c.classifier,))
            units.setdefault(pkey([p]) + split, []).append(p)
        return list(units.values()), "re-implemented rule (per RFE prefix, else per classifier)"


class Meter:
    """Runs pieces at the shuffle counts asked; keeps the measured seconds."""

    def __init__(self, study, problems, counts):
        self.study, self.problems, self.counts = study, problems, counts
        self.cpu = self.wall = 0.0
        self.engines: dict[str, int] = {}

    def run(self, problem, configs, permutations):
        cv = dataclasses.replace(self.study.cv, permutations=permutations)
        c0, w0 = time.process_time(), time.perf_counter()
        results = evaluate_fast(problem, configs, cv)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        self.cpu, self.wall = self.cpu + cpu, self.wall + wall
        for r in results:
            self.engines[r.engine] = self.engines.get(r.engine, 0) + 1
        return cpu, results

    def piece(self, problem, configs, ta: float | None = None) -> float:
        """CPU seconds at P_study, extrapolated linearly from the two counts."""
        (a, b), p_study = self.counts, self.study.cv.permutations
        ta = self.run(problem, configs, a)[0] if ta is None else ta
        tb = self.run(problem, configs, b)[0]
        return ta + (p_study - a) * (tb - ta) / (b - a)


def strata_sample(items, key, frac, rng):
    """Seeded sample of each stratum (at least one); yields (stratum, sampled part)."""
    groups: OrderedDict = OrderedDict()
    for it in items:
        groups.setdefault(key(it), []).append(it)
    for members in groups.values():
        n = max(1, math.ceil(frac * len(members)))
        yield members, [members[i] for i in sorted(rng.choice(len(members), n, replace=False))]


def measure_screen(meter, units, full):
    """Per-unit CPU seconds at 50 shuffles (every unit at A and B), real-label accuracies."""
    estimate, acc = {}, []
    for ui, plan in enumerate(units):
        configs, problem = [p.config for p in plan], meter.problems[pkey(plan)]
        cpu, res = meter.run(problem, configs, meter.study.cv.permutations if full else meter.counts[0])
        estimate[ui] = cpu if full else meter.piece(problem, configs, cpu)
        acc += [{"classifier": p.config.classifier, "task": p.task, "accuracy": r.accuracy}
                for p, r in zip(plan, res)]
    return estimate, pd.DataFrame(acc)


def unit_pieces(plan, args, rng, latin: int):
    """(configurations, weight) pieces that stand for one unit's configurations."""
    configs = [p.config for p in plan]
    pieces, by_clf = [], OrderedDict()
    for c in configs:
        if c.search != "none":
            by_clf.setdefault(c.classifier, []).append(c)
    for ci, group in enumerate(by_clf.values()):  # strategies: a Latin square over units
        n = max(1, math.ceil(args.sample * len(group)))
        pieces.append(([group[(latin + ci + j) % len(group)] for j in range(n)], len(group) / n))
    plain = [c for c in configs if c.search == "none" and c.feature_selection != "rfe"]
    for members, picked in strata_sample(plain, lambda c: (c.classifier, c.feature_selection,
                                                           c.dim_reduction), args.sample, rng):
        pieces.append((picked, len(members) / len(picked)))
    families: OrderedDict = OrderedDict()  # every RFE configuration sharing one path
    for c in configs:
        if c.search == "none" and c.feature_selection == "rfe":
            families.setdefault((c.row_scaling, c.column_scaling), []).append(c)
    for members, picked in strata_sample(list(families.items()), lambda kv: kv[0] == ("none", "none"),
                                         args.sample, rng):
        pieces.append(([c for _, fam in picked for c in fam], len(members) / len(picked)))
    return pieces


def measure_sampled(meter, units, args, rng):
    """Per-unit CPU seconds at 50 shuffles for refine / tune / enrich (sampled)."""
    def stratum(ui):  # per-prefix RFE units: the raw one alone, the 8 scaled ones together
        prefixes = {(c.row_scaling, c.column_scaling) for c in (p.config for p in units[ui])
                    if c.feature_selection == "rfe"}
        return pkey(units[ui]) + (prefixes == {("none", "none")},) if len(prefixes) == 1 else ui
    estimate, measured, offset = {}, 0, int(rng.integers(3))
    tasks, order = list(meter.study.tasks), list(classifier_names())
    for members, picked in strata_sample(range(len(units)), stratum, args.sample, rng):
        for ui in picked:
            plan = units[ui]
            problem, scale = fold_sample(meter.problems[pkey(plan)], args.folds, rng)
            latin = offset + tasks.index(plan[0].task) + order.index(plan[0].config.classifier)
            estimate[ui] = scale * sum(w * meter.piece(problem, cs)
                                       for cs, w in unit_pieces(plan, args, rng, latin))
        measured += len(picked)
        mean = sum(estimate[ui] for ui in picked) / len(picked)
        estimate.update({ui: mean for ui in members if ui not in picked})
    return estimate, measured


def real_refine_pass(meter, units):
    """Every refine evaluation on the real labels (P = 0, all folds); the results frame."""
    rows = []
    for plan in units:
        _, res = meter.run(meter.problems[pkey(plan)], [p.config for p in plan], 0)
        rows += [dict(p.meta(), accuracy=r.accuracy, z_score=np.nan) for p, r in zip(plan, res)]
    return pd.DataFrame(rows)


def dur(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"


def print_table(rows, args, p_study) -> None:
    total = {k: sum(r[k] for r in rows) for k in ("evaluations", "units", "units_measured",
                                                   "measured_cpu_s", "measured_wall_s", "cpu_s_at_50")}
    total.update(stage="**total**", measured="", largest_unit_cpu_s=max(r["largest_unit_cpu_s"] for r in rows))
    head = ["stage", "evaluations", "units (measured)", "label vectors", "measured CPU s (wall s)",
            f"CPU @{p_study} shuffles", "largest unit"] + [f"ideal wall, {n} cores" for n in args.cores]
    print("\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in rows + [total]:
        kind = "measured" if r["measured"].startswith("full") else "extrapolated"
        cells = [r["stage"], r["evaluations"], f"{r['units']} ({r['units_measured']})", 1 + p_study,
                 f"{r['measured_cpu_s']:.0f} ({r['measured_wall_s']:.0f})",
                 f"{r['cpu_s_at_50']:,.0f} s = {r['cpu_s_at_50'] / 3600:.1f} h" + ("" if not r["measured"]
                                                                                  else f", {kind}"),
                 dur(r["largest_unit_cpu_s"])] + [dur(r["cpu_s_at_50"] / n) for n in args.cores]
        print("| " + " | ".join(map(str, cells)) + " |")
    print(f"\nCPU seconds at {p_study} shuffles are EXTRAPOLATED unless marked measured: linear in label "
          f"vectors from P = {args.shuffles[0]} and {args.shuffles[1]}, x n/{args.folds or 'n'} LOO folds "
          "and x stratum/sample where sampled. 'ideal wall' = CPU / N, an ideal-parallel estimate; "
          "a stage cannot finish before its largest piece (one process each; with more workers "
          "than units the runner splits units into ranges of >= 8 label vectors): on N cores at least "
          + ", ".join(f"{n}: {dur(sum(max(r['cpu_s_at_50'] / n, largest_piece(r, n, p_study)) for r in rows))}"
                      for n in args.cores) + " for the whole study.")


def largest_piece(row, workers: int, p_study: int) -> float:
    """The stage's largest unit, cut into the label-vector ranges the runner makes for ``workers``."""
    vectors = 1 + p_study
    parts = 1
    if workers > 1 and row["units"]:
        parts = max(1, min(math.ceil(4 * workers / row["units"]), vectors // MIN_LABEL_VECTORS))
    return row["largest_unit_cpu_s"] * math.ceil(vectors / parts) / vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shuffles", type=int, nargs=2, default=(0, 2), metavar=("A", "B"))
    parser.add_argument("--sample", type=float, default=0.1, help="fraction per stratum")
    parser.add_argument("--folds", type=int, default=2, help="LOO folds measured (0 = all)")
    parser.add_argument("--full", action="append", default=[], help="stage measured for real")
    parser.add_argument("--best-from-refine", action="store_true")
    parser.add_argument("--tune-pipeline", metavar="ROW/COLUMN/SELECTION/K/REDUCTION",
                        help="tune this pipeline (e.g. standard/standard/kbest/25/pca, what "
                             "--best-from-refine chose for seed 0) without the refine pass")
    parser.add_argument("--shortlist", metavar="A,B,...",
                        help="use these classifiers for the stages that take the shortlist instead "
                             "of the screen's decision (what-if costs for other cohorts' shortlists)")
    parser.add_argument("--cores", type=int, nargs="+", default=(2, 32))
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (cohort seed is 0)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    info = machine_info()
    load0 = os.getloadavg()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load average at start "
          f"{load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; python {info['python']}, numpy "
          f"{info['numpy']}, scikit-learn {info['scikit-learn']}; commit {info['git_commit']}"
          + (f" + {len(info['src_uncommitted'])} uncommitted src changes" if info["src_uncommitted"] else ""))
    rng = np.random.default_rng(np.random.SeedSequence([args.seed, 20260]))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        study = load_study(write_synthetic_cohort(Path(tmp)))
    problems, _ = prepare_problems(study)
    meter = Meter(study, problems, tuple(args.shuffles))
    p_study, order = study.cv.permutations, list(classifier_names())
    print(f"study: {len(study.spec.stages)} stages, {p_study} shuffles, BLAS/OpenMP 1 thread; "
          f"measured at P = {args.shuffles[0]} and {args.shuffles[1]}, sample {args.sample}, "
          f"folds {args.folds or 'all'}; CPU seconds are this process's")
    rows, decisions, shortlist, best = [], {}, None, dict(PUBLISHED_PIPELINE)
    if args.tune_pipeline:
        row, column, selection, k, reduction = args.tune_pipeline.split("/")
        best = {"row_scaling": row, "column_scaling": column, "feature_selection": selection,
                "n_features": None if k in ("", "none") else int(k), "dim_reduction": reduction}
    with threadpool_limits(1):
        for index, stage in enumerate(study.spec.stages):
            if (stage.kind or "standard") != "standard":  # e.g. learn: bench_learn.py
                print(f"  {stage.name}: a stage of kind {stage.kind}, not measured here")
                continue
            classifiers = (order if stage.classifiers == "all" else shortlist
                           if stage.classifiers == "shortlist" else stage.classifiers)
            planned = plan_stage(stage, index, classifiers=list(classifiers or []),
                                 tasks=list(study.tasks), imputation=study.imputation,
                                 default_modalities=study.default_modalities(),
                                 best=best if stage.pipeline == "best" else None)
            units, how = stage_units(planned, problems, study.cv)
            cpu0, wall0, engines0 = meter.cpu, meter.wall, dict(meter.engines)
            full, measured = stage.name in args.full, len(units)
            if stage.name == "screen":
                estimate, acc = measure_screen(meter, units, full)
                shortlist, reasons = shortlist_classifiers(stage.shortlist, acc, order, "accuracy")
                decisions["shortlist"] = {"classifiers": shortlist, "reasons": reasons,
                                          "how": "shortlist_classifiers on real-label accuracies"}
                print(f"shortlist (real labels, every fold, shortlist_classifiers): {shortlist}")
                if args.shortlist:
                    shortlist = [c for c in args.shortlist.split(",") if c]
                    decisions["shortlist"] = {"classifiers": shortlist, "screen_would_pick":
                                              decisions["shortlist"]["classifiers"], "how": "given (--shortlist)"}
                    print(f"shortlist GIVEN (--shortlist), not the screen's: {shortlist}")
            elif full:
                estimate = {ui: meter.run(problems[pkey(plan)], [p.config for p in plan], p_study)[0]
                            for ui, plan in enumerate(units)}
            else:
                estimate, measured = measure_sampled(meter, units, args, rng) if units else ({}, 0)
            if stage.name == "refine" and args.best_from_refine and units:
                c0 = meter.cpu
                best, why = best_pipeline(real_refine_pass(meter, units), "accuracy")
                decisions["pipeline"] = {"pipeline": best, "why": why, "how": "best_pipeline on a real-"
                                         f"label pass, every fold ({meter.cpu - c0:,.0f} CPU s, measured)"}
            elif stage.name == "refine":
                decisions["pipeline"] = {"pipeline": best, "how": "given (--tune-pipeline)"
                                         if args.tune_pipeline else "the published choice (default)"}
            if stage.name == "refine":
                print(f"tune pipeline, {decisions['pipeline']['how']}: {best}")
            cpu = sum(estimate.values())
            engines = {e: n - engines0.get(e, 0) for e, n in meter.engines.items() if n > engines0.get(e, 0)}
            rows.append({"stage": stage.name, "evaluations": len(planned), "units": len(units),
                         "units_measured": measured, "units_from": how, "label_vectors": 1 + p_study,
                         "measured": "full" if full else "extrapolated",
                         "measured_cpu_s": meter.cpu - cpu0, "measured_wall_s": meter.wall - wall0,
                         "cpu_s_at_50": cpu, "largest_unit_cpu_s": max(estimate.values(), default=0.0),
                         "engines_measured": engines, "ideal_wall_s": {n: cpu / n for n in args.cores},
                         "unit_cpu_s_at_50": {unit_label(units[ui]): t
                                              for ui, t in sorted(estimate.items())}})
            print(f"  {stage.name}: {len(planned)} evaluations in {len(units)} units ({how}); "
                  f"measured {meter.cpu - cpu0:.1f} CPU s ({meter.wall - wall0:.1f} s wall); "
                  f"{'MEASURED' if full else 'EXTRAPOLATED'} at {p_study} shuffles: "
                  f"{cpu:,.0f} CPU s ({cpu / 3600:.1f} h)", flush=True)
    print_table(rows, args, p_study)
    load1, peak = os.getloadavg(), peak_rss_bytes()
    total = sum(r["cpu_s_at_50"] for r in rows)
    print("engines seen: " + "; ".join(f"{r['stage']} {r['engines_measured']}" for r in rows))
    print(f"peak RSS (VmHWM) {peak / 2**20:,.0f} MiB: {'within' if peak <= MEMORY_TARGET_BYTES else 'OVER'} "
          f"the 4 GB target; load average at end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; "
          f"this benchmark took {time.perf_counter() - start:.0f} s wall")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "load_start": load0, "load_end": load1,
                                         "args": {k: v for k, v in vars(args).items() if k != "json"},
                                         "decisions": decisions, "stages": rows,
                                         "total_cpu_s_at_50": total, "peak_rss_bytes": peak},
                                        indent=1, default=str))


if __name__ == "__main__":
    main()
