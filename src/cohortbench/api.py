"""The public Python API; the command line is a thin layer over it.

>>> import cohortbench as cb
>>> study = cb.load_study("study.yaml")                  # doctest: +SKIP
>>> outcome = cb.run("study.yaml", out="runs/als")       # doctest: +SKIP
>>> frames = cb.results("runs/als")                      # doctest: +SKIP
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

import pandas as pd
import yaml

from . import __version__
from .data.synthetic import write_synthetic_cohort
from .design.configs import PipelineConfig
from .design.loaded_study import LoadedStudy, load_study
from .errors import RunError, StudyError
from .execute.backends import make_backend
from .execute.problem import make_problem
from .execute.progress import make_progress
from .execute.runner import RunOutcome, prepare_problems, run_study
from .store.export import export_csvs, export_frames
from .store.records import EvaluationResult
from .store.results_store import ResultsStore

__all__ = [
    "load_study", "validate", "run", "evaluate", "status", "results", "export", "report",
    "init", "demo", "summary_lines", "extract",
]


def validate(path: str | Path) -> tuple[LoadedStudy, dict]:
    """Load a study and check it end to end without running anything.

    Returns the loaded study and a summary dict (cohort, tasks, views, warnings).
    """
    study = load_study(path)
    problems, warnings = prepare_problems(study)
    summary = {
        "study": study.spec.name,
        "cohort": study.cohort.summary(),
        "tasks": {name: {
            "classes": t.class_counts(),
            "train_only": {c: t.train_only_labels.count(c) for c in t.classes if c in t.train_only_labels},
        } for name, t in study.tasks.items()},
        "label_cuts": {k: float(v) for k, v in study.label_cuts.items()},
        "views": sorted({f"{'+'.join(m)}/{p}" for (m, p, _t) in problems}),
        "dropped": {f"{'+'.join(m)}/{p}": dict(study.cohort.view(list(m), p).dropped)
                    for (m, p) in {(m, p) for (m, p, _t) in problems}},
        "warnings": list(study.cohort.warnings) + warnings,
    }
    return study, summary


def summary_lines(summary: dict) -> list[str]:
    """Human-readable lines of a :func:`validate` summary."""
    c = summary["cohort"]
    lines = [f"study '{summary['study']}': {c['n_subjects']} subjects"]
    lines.append("maps (ROIs, missing values):")
    for m in c["maps"]:
        extra = ""
        if m.get("subjects_missing_whole_map"):
            extra = f"; missing the whole map: {', '.join(m['subjects_missing_whole_map'])}"
        lines.append(f"  {m['name']}: {m['n_rois']} ROIs, {m['n_missing']} missing{extra}")
    for name, p in (c.get("parcellations") or {}).items():
        per_map = ", ".join(f"{m} {n}" for m, n in p.get("per_map", {}).items())
        lines.append(f"parcellation {name}: {p['n_rois']} ROIs ({per_map})")
    for name, t in summary["tasks"].items():
        counts = ", ".join(f"{k} {v}" for k, v in t["classes"].items())
        extra = f"; train-only: {', '.join(f'{k} {v}' for k, v in t['train_only'].items())}" if t["train_only"] else ""
        lines.append(f"task {name}: {counts}{extra}")
    for label, cut in summary["label_cuts"].items():
        lines.append(f"label {label}: cut at {cut:.4g}")
    for view, dropped in summary["dropped"].items():
        for subject, why in dropped.items():
            lines.append(f"dropped from {view}: {subject} ({why})")
    for w in summary["warnings"]:
        lines.append(f"warning: {w}")
    return lines


def _default_out(study: LoadedStudy) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", study.spec.name).strip("._") or "study"
    return Path.cwd() / f"{safe}-run"


def run(study_path: str | Path, out: str | Path | None = None, *, jobs: int | None = None,
        scheduler: str | None = None, cluster: str | None = None, quiet: bool = True,
        engine: str = "reference", build_report: bool = True) -> RunOutcome:
    """Run or resume a study; write the store, resolved study and report into ``out``."""
    study = load_study(study_path)
    out = Path(out) if out else _default_out(study)
    slurm = None
    if study.spec.execution is not None and study.spec.execution.slurm is not None:
        slurm = study.spec.execution.slurm.model_dump()
    progress = make_progress(quiet)
    try:
        with make_backend(jobs=jobs, scheduler=scheduler, cluster=cluster, slurm=slurm,
                          log_directory=str(out / "slurm-logs")) as backend:
            outcome = run_study(study, out, backend=backend, progress=progress, engine=engine)
    finally:
        progress.close()
    if build_report:
        report(out)
    return outcome


def evaluate(study: LoadedStudy, task: str, config: PipelineConfig, *, modalities=None,
             parcellation: str = "all", engine: str = "reference") -> EvaluationResult:
    """Evaluate one pipeline configuration on one task of a loaded study."""
    if task not in study.tasks:
        raise StudyError(f"unknown task '{task}'; the study has {', '.join(study.tasks)}")
    view = study.cohort.view(list(modalities) if modalities else None, parcellation)
    problem, _ = make_problem(view, study.tasks[task])
    if engine == "fast":
        from .execute.fast import evaluate_fast

        return evaluate_fast(problem, [config], study.cv)[0]
    from .execute.reference_engine import evaluate_reference

    return evaluate_reference(problem, config, study.cv)


def _open_existing(run_dir: str | Path) -> ResultsStore:
    run_dir = Path(run_dir)
    if not (run_dir / "results.sqlite").exists():
        raise RunError(f"{run_dir} holds no results.sqlite; is it a cohortbench run directory?")
    return ResultsStore.open(run_dir, create=False)


def status(run_dir: str | Path) -> pd.DataFrame:
    """Per stage: evaluations done, planned, failed."""
    with _open_existing(run_dir) as store:
        evals = store.evaluations_frame()
        fails = store.failures()
        totals = store.get_info("stage_totals", {}) or {}
    rows = []
    stages = list(totals) or list(dict.fromkeys(evals["stage"]))
    for stage in stages:
        done = int((evals["stage"] == stage).sum()) if len(evals) else 0
        failed = int((fails["stage"] == stage).sum()) if len(fails) and "stage" in fails else 0
        rows.append({"stage": stage, "done": done, "total": totals.get(stage), "failed": failed})
    return pd.DataFrame(rows, columns=["stage", "done", "total", "failed"])


def failures(run_dir: str | Path) -> pd.DataFrame:
    with _open_existing(run_dir) as store:
        return store.failures()


def results(run_dir: str | Path) -> dict[str, pd.DataFrame]:
    """The run's tables as DataFrames: evaluations, predictions, nulls, step_tests."""
    from .analyse.step_tests import step_tests

    with _open_existing(run_dir) as store:
        frames = export_frames(store)
    frames["step_tests"] = step_tests(frames["evaluations"])
    return frames


def export(run_dir: str | Path, out: str | Path | None = None) -> dict[str, Path]:
    """Write the CSV files of SPEC section 8 into ``out`` (default: ``RUN_DIR/export``)."""
    from .analyse.step_tests import step_tests

    out = Path(out) if out else Path(run_dir) / "export"
    out.mkdir(parents=True, exist_ok=True)
    with _open_existing(run_dir) as store:
        paths = export_csvs(store, out)
        evaluations = export_frames(store)["evaluations"]
    table = step_tests(evaluations)
    path = out / "step_tests.csv"
    table.to_csv(path, index=False, lineterminator="\n")
    paths["step_tests"] = path
    return paths


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    names = ["numpy", "scipy", "pandas", "scikit-learn", "optuna", "lightgbm", "xgboost", "dask", "matplotlib"]
    versions = {"cohortbench": __version__, "python": platform.python_version()}
    for n in names:
        try:
            versions[n] = md.version(n)
        except md.PackageNotFoundError:
            pass
    return versions


def report(run_dir: str | Path) -> Path:
    """(Re)build ``RUN_DIR/report.html`` from the store."""
    from .report.html_report import build_report

    run_dir = Path(run_dir)
    with _open_existing(run_dir) as store:
        frames = export_frames(store)
        info = {k: store.get_info(k) for k in ("study_name", "cohort_summary", "label_cuts", "task_counts",
                                               "warnings", "settings", "reductions", "engine")}
        decisions = store.decisions()
    settings = {}
    study_yaml = run_dir / "study.yaml"
    if study_yaml.exists():
        doc = yaml.safe_load(study_yaml.read_text(encoding="utf-8")) or {}
        settings = {k: doc.get(k) for k in ("seed", "cv", "permutations", "metric")}
        settings["missing"] = (doc.get("data") or {}).get("missing")
        settings["engine"] = info.get("engine")
        tp = ((doc.get("analysis") or {}).get("top_performers")) or {}
        if tp.get("tasks"):
            settings["top_performer_tasks"] = tp["tasks"]
        settings["top_performers"] = {k: tp[k] for k in ("min_accuracy", "min_z", "strict_accuracy") if k in tp}
        for stage in doc.get("stages") or []:
            rule = stage.get("shortlist") or {}
            if rule.get("min_accuracy") is not None:
                settings["shortlist_min_accuracy"] = rule["min_accuracy"]
                break
    summary = dict(info.get("cohort_summary") or {})
    summary["tasks"] = info.get("task_counts") or {}
    summary["parcellations"] = {
        name: f"{p['n_rois']} ({', '.join(f'{m} {n}' for m, n in p.get('per_map', {}).items())})"
        if isinstance(p, dict) else p
        for name, p in (summary.get("parcellations") or {}).items()
    }
    summary["label_cuts"] = info.get("label_cuts") or {}
    context = {
        "study_name": info.get("study_name") or run_dir.name,
        "settings": settings,
        "cohort_summary": summary,
        "decisions": decisions,
        "warnings": info.get("warnings") or [],
        "versions": _versions(),
        "reductions": info.get("reductions") or [],
    }
    return build_report(run_dir, evaluations=frames["evaluations"], predictions=frames["predictions"],
                        nulls=frames["nulls"], context=context)


def init(directory: str | Path) -> Path:
    """Write the synthetic cohort and the example study file into ``directory``."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise RunError(f"{directory} is not empty; give a new or empty directory to `init`")
    directory.mkdir(parents=True, exist_ok=True)
    return write_synthetic_cohort(directory)


def demo_study_file(study_yaml: str | Path, *, quick: bool = False,
                    full: bool = False) -> tuple[Path, list[str]]:
    """The study file the demo runs, and the reductions it makes to the published study.

    Parameters
    ----------
    study_yaml : path
        The published study, as ``cohortbench init`` writes it.
    quick : bool
        The first-look version (about a minute on 2 cores).
    full : bool
        The published study itself, unreduced (hours on 2 cores; see
        ``benchmarks/RESULTS.md``); ``quick`` is then ignored.

    Returns
    -------
    path : Path
        ``study_yaml`` itself when ``full``, else a reduced copy beside it.
    notes : list of str
        Each reduction in words (empty when ``full``).
    """
    from .design.demo_study import reduce_study

    study_yaml = Path(study_yaml)
    if full:
        return study_yaml, []
    doc = yaml.safe_load(study_yaml.read_text(encoding="utf-8"))
    doc, notes = reduce_study(doc, quick=quick)
    path = study_yaml.with_name("demo-quick-study.yaml" if quick else "demo-study.yaml")
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path, notes


def demo(out: str | Path = "cohortbench-demo", *, quick: bool = False, full: bool = False,
         jobs: int | None = None, quiet: bool = True,
         engine: str = "fast") -> tuple[RunOutcome, list[str]]:
    """Write the synthetic cohort under ``out/cohort`` and run the demo study into ``out/run``.

    The default demo is the published study reduced to run in minutes (the
    reductions are returned, printed and shown in the report); ``quick`` is a
    smaller first look; ``full`` runs the published study unreduced.
    """
    if quick and full:
        raise StudyError("choose either --quick or --full for the demo, not both")
    out = Path(out)
    cohort_dir = out / "cohort"
    if not (cohort_dir / "study.yaml").exists():
        cohort_dir.mkdir(parents=True, exist_ok=True)
        write_synthetic_cohort(cohort_dir)
    study_path, notes = demo_study_file(cohort_dir / "study.yaml", quick=quick, full=full)
    run_dir = out / "run"
    outcome = run(study_path, run_dir, jobs=jobs, quiet=quiet, engine=engine, build_report=False)
    with ResultsStore.open(run_dir) as store:
        store.set_info("reductions", notes)
    report(run_dir)
    return outcome, notes


def extract(spec_path: str | Path, out: str | Path, *, jobs: int | None = None,
            quiet: bool = True):
    """Region tables from NIfTI/MGZ maps and label images (``cohortbench extract``).

    Parameters
    ----------
    spec_path : path
        The extraction file (YAML; see ``docs/extract.md``).
    out : path
        Where the tables, ``qc.tsv`` and the ``study.yaml`` skeleton go; a re-run
        into the same folder recomputes only what changed.
    jobs : int, optional
        Worker processes (default: all cores).
    quiet : bool
        No progress display.

    Returns
    -------
    cohortbench.extract.ExtractOutcome
    """
    from .extract import extract_tables

    progress = make_progress(quiet, unit="subjects")
    try:
        return extract_tables(spec_path, out, jobs=jobs, progress=progress)
    finally:
        progress.close()
