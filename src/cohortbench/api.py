"""The public Python API; the command line is a thin layer over it.

>>> import cohortbench as cb
>>> study = cb.load_study("study.yaml")                  # doctest: +SKIP
>>> outcome = cb.run("study.yaml", out="runs/als")       # doctest: +SKIP
>>> frames = cb.results("runs/als")                      # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from .data.synthetic import write_synthetic_cohort
from .design.configs import PipelineConfig
from .design.loaded_study import LoadedStudy, load_study
from .errors import RunError, StudyError
from .execute.backends import make_backend
from .execute.estimate import estimate_study
from .execute.problem import make_problem
from .execute.progress import make_progress
from .execute.preparation import prepare
from .execute.runner import RunOutcome, package_version, run_study, view_dropped
from .store.export import export_csvs, export_frames
from .store.records import EvaluationResult
from .store.results_store import ResultsStore
from .study_summary import sites_summary, summary_lines

__all__ = [
    "load_study", "validate", "run", "evaluate", "status", "results", "export", "report",
    "init", "demo", "summary_lines", "RunStatus", "default_out", "package_version", "compare",
    "extract",
]


def validate(path: str | Path, *, jobs: int | None = None, engine: str = "fast",
             estimate: bool = True) -> tuple[LoadedStudy, dict]:
    """Load a study and check it end to end without running anything.

    Returns the loaded study and a summary dict (cohort, tasks, views, warnings,
    and under ``estimate`` a :class:`~cohortbench.execute.estimate.StudyEstimate`
    of each stage's time with ``jobs`` workers, default all cores, made from a few
    timed fits of the study's data).
    """
    study = load_study(path)
    prepared = prepare(study)
    problems, warnings = prepared.problems, prepared.warnings
    sites = sites_summary(prepared.sites)
    warnings = warnings + [w for t in sites.get("tasks", {}).values() for w in t["warnings"]]
    summary = {
        "study": study.spec.name,
        "cohort": study.cohort.summary(),
        "tasks": {name: {
            "classes": t.class_counts(),
            "train_only": {c: t.train_only_labels.count(c) for c in t.classes if c in t.train_only_labels},
        } for name, t in study.tasks.items()},
        "label_cuts": {k: float(v) for k, v in study.label_cuts.items()},
        "views": sorted({f"{'+'.join(m)}/{p}" for (m, p, _t) in problems}),
        "dropped": view_dropped(study),
        "decisions": list(study.cohort.decisions),
        "warnings": list(study.cohort.warnings) + warnings,
    }
    if estimate:
        summary["estimate"] = estimate_study(study, problems, engine=engine,
                                             workers=jobs or os.cpu_count() or 1)
    if sites:  # only for a study with covariates or a batch column
        summary["sites"] = sites
    return study, summary


def default_out(study: LoadedStudy) -> Path:
    """The run directory used when ``--out`` is not given: ``./<study name>-run``."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", study.spec.name).strip("._") or "study"
    return Path.cwd() / f"{safe}-run"


def _refuse_in_worker(what: str) -> None:
    """Refuse to start work inside a worker process that imported the user's script.

    Worker processes are started with ``spawn``: each imports the main script
    afresh, and a script calling ``cb.run`` at its top level would start the study
    again in every worker (which then dies, over and over).
    """
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        raise RunError(
            f"cohortbench.{what}() was called while a worker process imported your script; "
            "put the calls under `if __name__ == \"__main__\":` (worker processes import the "
            "script that started them), or run with jobs=1.")


def run(study_path: str | Path, out: str | Path | None = None, *, jobs: int | None = None,
        scheduler: str | None = None, cluster: str | None = None, quiet: bool = True,
        engine: str = "fast", build_report: bool = True, replace: bool = False) -> RunOutcome:
    """Run or resume a study; write the store, resolved study and report into ``out``.

    A run directory holds one study: when ``out`` holds the results of a different
    study (another seed, CV, number of shuffles, data or task), this raises
    :class:`~cohortbench.errors.RunError` before computing anything, unless
    ``replace``, which moves the old results aside (``out/replaced/<time>/``).
    Changed stages resume, reusing every evaluation whose inputs are unchanged.

    A failure while building the report does not lose the results: it is recorded
    in ``RunOutcome.report_error`` (the store is complete; ``export`` works).
    """
    if jobs != 1:
        _refuse_in_worker("run")
    study = load_study(study_path)
    out = Path(out) if out else default_out(study)
    slurm = None
    if study.spec.execution is not None and study.spec.execution.slurm is not None:
        slurm = study.spec.execution.slurm.model_dump()
    progress = make_progress(quiet)
    try:
        with make_backend(jobs=jobs, scheduler=scheduler, cluster=cluster, slurm=slurm,
                          log_directory=str(out / "slurm-logs")) as backend:
            expected_cost = None
            if not quiet:  # the estimate is for the display; a quiet run skips its probes
                estimate = _run_estimate(study, out, backend, engine, replace)
                for line in estimate.lines():
                    progress.message(line)
                expected_cost = estimate.expected_cost
            outcome = run_study(study, out, backend=backend, progress=progress, engine=engine,
                                replace=replace, expected_cost=expected_cost)
    finally:
        progress.close()
    if build_report:
        outcome.report_error = _report_safely(out)
    return outcome


def _run_estimate(study: LoadedStudy, out: Path, backend, engine: str, replace: bool):
    """The time estimate ``run`` prints at its start (what is left, when resuming)."""
    from .execute.runner import evaluation_keys
    from .store.results_store import STORE_NAME

    problems = prepare(study).problems
    done_keys: set = set()
    if not replace and (Path(out) / STORE_NAME).exists():
        with ResultsStore.open(Path(out), create=False) as store:
            done_keys = store.done_keys()

    def done(p) -> bool:  # whole-task evaluations only; a subset's is priced as to do
        problem = problems[(p.modalities, p.parcellation, p.task)]
        return p.subset is None and evaluation_keys(p.stage, problem.content, p.config, study.cv,
                                                    p.records)[0] in done_keys

    return estimate_study(study, problems, engine=engine, workers=getattr(backend, "workers", 1),
                          done=done if done_keys else None)


#: Where a run leaves the traceback of a report that could not be built.
REPORT_ERROR = "report-error.txt"


def _report_safely(run_dir: Path) -> str | None:
    """Build the report; on failure return the reason (the results are safe in the store)."""
    try:
        report(run_dir)
    except Exception as exc:  # noqa: BLE001 - a report bug must not hide finished results
        import traceback

        (Path(run_dir) / REPORT_ERROR).write_text(traceback.format_exc(), encoding="utf-8")
        return f"{type(exc).__name__}: {exc}"
    return None


def evaluate(study: LoadedStudy, task: str, config: PipelineConfig, *, modalities=None,
             parcellation: str = "all", engine: str = "fast") -> EvaluationResult:
    """Evaluate one pipeline configuration on one task of a loaded study."""
    if task not in study.tasks:
        raise StudyError(f"unknown task '{task}'; the study has {', '.join(study.tasks)}")
    import dataclasses

    from .execute.side_data import study_side_data
    from .execute.units import handed_over_engine, reference_reason

    view = study.cohort.view(list(modalities) if modalities else None, parcellation)
    problem, _ = make_problem(view, study.tasks[task], side=study_side_data(study))
    reason = reference_reason(problem, config, study.cv) if engine == "fast" else None
    if engine == "fast" and reason is None:
        from .execute.fast import evaluate_fast

        return evaluate_fast(problem, [config], study.cv)[0]
    from .execute.reference_engine import evaluate_reference

    result = evaluate_reference(problem, config, study.cv)
    # the fast engine has no path for side steps or site folds: say who computed it
    return dataclasses.replace(result, engine=handed_over_engine(reason)) if reason else result


def _open_existing(run_dir: str | Path) -> ResultsStore:
    run_dir = Path(run_dir)
    if not (run_dir / "results.sqlite").exists():
        raise RunError(f"{run_dir} holds no results.sqlite; is it a cohortbench run directory?")
    return ResultsStore.open(run_dir, create=False)


@dataclass(frozen=True)
class RunStatus:
    """Where a run stands.

    Attributes
    ----------
    stages : DataFrame
        One row per stage of the study as it now stands: ``stage``, ``done``,
        ``planned`` (None when the stage is not planned yet: it waits for an
        earlier stage's results), ``failed``.
    complete : bool
        Every stage planned and every planned evaluation done or failed.
    outside_study : int
        Evaluations kept in the store that the current study no longer plans
        (stages removed or edited since); they are not reported.
    """

    stages: pd.DataFrame
    complete: bool
    outside_study: int

    def __repr__(self) -> str:
        state = "complete" if self.complete else "not complete"
        return (f"RunStatus({state}; {int(self.stages['done'].sum())} done in "
                f"{len(self.stages)} stage(s); {self.outside_study} outside the study)")


def status(run_dir: str | Path) -> RunStatus:
    """Per stage: evaluations done, planned, failed; whether the run is complete."""
    with _open_existing(run_dir) as store:
        evals = store.evaluations_frame()
        fails = store.failures()
        planned = store.planned_counts()
        stages = store.get_info("stages") or []
        outside = store.unplanned_count()
        if planned is None:  # a store from before plans were recorded
            planned = store.get_info("stage_totals", {}) or {}
    rows = []
    for stage in list(stages) or list(planned) or list(dict.fromkeys(evals["stage"])):
        done = int((evals["stage"] == stage).sum()) if len(evals) else 0
        failed = int((fails["stage"] == stage).sum()) if len(fails) and "stage" in fails else 0
        rows.append({"stage": stage, "done": done, "planned": planned.get(stage), "failed": failed})
    table = pd.DataFrame(rows, columns=["stage", "done", "planned", "failed"])
    complete = bool(rows) and all(r["planned"] is not None and r["done"] + r["failed"] >= r["planned"]
                                  for r in rows)
    return RunStatus(stages=table, complete=complete, outside_study=int(outside))


def failures(run_dir: str | Path) -> pd.DataFrame:
    with _open_existing(run_dir) as store:
        return store.failures()


def results(run_dir: str | Path) -> dict[str, pd.DataFrame]:
    """The run's tables as DataFrames: evaluations, predictions, nulls, step_tests;
    learning_curve and projection when the study has a learn stage; map_contributions
    and importance (the tables of ``map_contributions.csv`` and ``importance.csv``)
    when it has an importance stage (:mod:`cohortbench.run_tables`)."""
    from .run_tables import analysis_tables

    with _open_existing(run_dir) as store:
        frames = export_frames(store)
        frames.update({name: table for name, (_, table) in analysis_tables(store, frames).items()})
    return frames


def export(run_dir: str | Path, out: str | Path | None = None) -> dict[str, Path]:
    """Write the CSV files of SPEC section 8 into ``out`` (default: ``RUN_DIR/export``).

    All of them or none (a failure leaves ``out`` as it was). A run with an
    ``importance`` stage also gets ``map_contributions.csv`` and ``importance.csv``;
    one with a ``learn`` stage ``learning_curve.csv`` and ``projection.csv``.
    """
    from .run_tables import analysis_tables

    out = Path(out) if out else Path(run_dir) / "export"
    with _open_existing(run_dir) as store:
        return export_csvs(store, out, extra=analysis_tables(store, export_frames(store)))


def report(run_dir: str | Path) -> Path:
    """(Re)build ``RUN_DIR/report.html`` from the store."""
    from .report.context import load_context
    from .report.html_report import build_report

    run_dir = Path(run_dir)
    with _open_existing(run_dir) as store:
        frames = export_frames(store)
        context = load_context(run_dir, store, version=package_version())
    path = build_report(run_dir, evaluations=frames["evaluations"], predictions=frames["predictions"],
                        nulls=frames["nulls"], context=context)
    stale = run_dir / REPORT_ERROR  # an earlier failure, now mended
    if stale.exists():
        stale.unlink()
    return path


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


def _match_evaluation_id(evaluation_ids, given: str, run_dir) -> str:
    """The one evaluation id equal to ``given`` or starting with it."""
    ids = [str(i) for i in evaluation_ids]
    if given in ids:
        return given
    matches = [i for i in ids if i.startswith(given)] if given else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise RunError(f"the id prefix '{given}' matches {len(matches)} evaluations in {run_dir}; "
                       "give more characters of the evaluation_id")
    raise RunError(f"no evaluation in {run_dir} has an id starting with '{given}'; "
                   f"the ids are in the evaluation_id column of `cohortbench export {run_dir}`")


def compare(run_dir: str | Path, id_a: str, id_b: str, *, confidence: float = 0.95):
    """Exact McNemar comparison of two evaluations on the same subjects and folds.

    Parameters
    ----------
    run_dir : path
        A run directory.
    id_a, id_b : str
        Evaluation ids (``evaluation_id`` of ``evaluations.csv``), whole or a unique prefix.
    confidence : float
        Of the accuracy and balanced-accuracy intervals shown with them.

    Returns
    -------
    cohortbench.analyse.paired.PairedComparison
        ``comparable`` is False, with a one-sentence ``reason``, when the two differ in
        task, subjects, true labels or outer folds.

    Raises
    ------
    RunError
        No run directory, or an id that matches no evaluation or several.
    """
    from .analyse.familywise import describe_configuration
    from .analyse.paired import EvaluationPredictions, paired_comparison

    with _open_existing(run_dir) as store:
        frames = export_frames(store)
        evaluations = frames["evaluations"]
        ids = [_match_evaluation_id(evaluations["evaluation_id"], str(given), run_dir)
               for given in (id_a, id_b)]
        confusions = [store.get_result(i).confusion for i in ids]
    sides = []
    for evaluation_id, confusion in zip(ids, confusions):
        row = evaluations.loc[evaluations["evaluation_id"] == evaluation_id].iloc[0]
        description = (f"{row['stage']} / {row['task']} / {row['classifier']} / "
                       f"{describe_configuration(row)}")
        sides.append(EvaluationPredictions.from_frames(
            evaluations, frames["predictions"], evaluation_id, confusion, description))
    return paired_comparison(*sides, confidence=confidence)


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
