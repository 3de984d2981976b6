"""Run a study: plan each stage, dispatch units to a backend, write the store.

Only this process writes ``results.sqlite``; each finished evaluation is one
transaction, keyed by a content hash, so a killed run resumes exactly where it
stopped and a re-run recomputes nothing it has.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import yaml

from ..design.classifiers import classifier_names, user_classifiers
from ..design.configs import content_id
from ..design.fingerprint import (fingerprint_differences, legacy_fingerprint,
                                  study_fingerprint, task_fingerprint)
from ..design.loaded_study import LoadedStudy
from ..design.stages import best_pipeline, plan_stage, shortlist_classifiers
from ..errors import DataError, RunError
from ..store.results_store import STORE_NAME, ResultsStore
from ..store.run_lock import RunLock
from .backends import Backend, InlineBackend
from .problem import Problem, make_problem
from .progress import Progress
from .splits import check_inner_cv, outer_splits
from .units import run_unit

__all__ = ["RunOutcome", "prepare_problems", "run_study", "evaluation_keys", "view_dropped",
           "package_version"]


@dataclass
class RunOutcome:
    """What a run did.

    ``total`` evaluations are planned; of these, this invocation ``computed`` some
    and ``reused`` others (the same content under another stage), ``already`` were
    done by an earlier invocation (resumed), and ``failed`` have a failure record.
    ``notes`` are what the run decided or found on the way (resuming, results moved
    aside, another package version, an empty shortlist), also shown as they happen.
    ``report_error`` says why the report could not be built (None when it was).
    """

    run_dir: Path
    total: int = 0
    computed: int = 0
    reused: int = 0
    already: int = 0
    failed: int = 0
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    report_error: str | None = None


def package_version() -> str:
    """The installed cohortbench version (read here so that nothing imports the package root)."""
    import importlib.metadata as md

    try:
        return md.version("cohortbench")
    except md.PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "unknown"


def evaluation_keys(stage: str, view_fp: str, task_fp: str, config, cv) -> tuple[str, str]:
    """(evaluation key, content key): the content key ignores the stage name."""
    content = content_id({"view": view_fp, "task": task_fp, "config": config.to_dict(), "cv": cv.to_dict()})
    return content_id({"stage": stage, "content": content}), content


def _stage_views(study: LoadedStudy) -> list[tuple[tuple[str, ...], str]]:
    default = study.default_modalities()
    views = []
    for stage in study.spec.stages:
        mods = [tuple(m) for m in stage.modalities] if stage.modalities else [default]
        parcs = list(stage.parcellations) if stage.parcellations else ["all"]
        views += [(m, p) for m in mods for p in parcs]
    return list(OrderedDict.fromkeys(views))


def _n_features_asked(stage) -> list[int]:
    if stage.grid is not None:
        return list(stage.grid.n_features or [])
    if stage.pipeline not in (None, "best") and stage.pipeline.n_features:
        return [stage.pipeline.n_features]
    return []


def _cap_warnings(study: LoadedStudy, views: dict) -> list[str]:
    """Say where ``n_features`` exceeds a view's features (the engine caps k)."""
    default = study.default_modalities()
    warnings = []
    for stage in study.spec.stages:
        asked = _n_features_asked(stage)
        mods = [tuple(m) for m in stage.modalities] if stage.modalities else [default]
        parcs = list(stage.parcellations) if stage.parcellations else ["all"]
        for m in mods:
            for p in parcs:
                available = views[(m, p)].X.shape[1]
                too_big = sorted(k for k in asked if k > available)
                if too_big:
                    warnings.append(
                        f"stage '{stage.name}': n_features {', '.join(map(str, too_big))} is more than the "
                        f"{available} features of {'+'.join(m)}/{p}; those selections keep all {available} "
                        "(the cap is recorded as n_features_used)"
                    )
    return warnings


def _check_inner_cv(study: LoadedStudy, problem: Problem) -> None:
    cv = study.cv
    check_inner_cv(problem.y, problem.n_eval, cv.outer, cv.seed, cv.inner, problem.task,
                   problem.classes, cv.reduce_inner_k)


def prepare_problems(study: LoadedStudy) -> tuple[dict, list[str]]:
    """Build every (view, task) problem the study needs; raise on bad input.

    Everything that can reject the input happens here, before a run directory is
    touched: missing-value policy, empty classes after dropping subjects, and
    whether the inner CV can stratify.
    """
    warnings = []
    problems = {}
    searching = any(any(s != "none" for s in (st.search or ["none"])) for st in study.spec.stages)
    views = {}
    for mods, parc in _stage_views(study):
        view = views[(mods, parc)] = study.cohort.view(list(mods), parc)
        for name, task in study.tasks.items():
            problem, left_out = make_problem(view, task)
            if left_out:
                warnings.append(
                    f"task '{name}' on {'+'.join(mods)}/{parc}: {len(left_out)} subject(s) left out "
                    f"({', '.join(sorted(left_out)[:5])}{'…' if len(left_out) > 5 else ''})"
                )
            counts = {c: int((problem.y[: problem.n_eval] == i).sum()) for i, c in enumerate(problem.classes)}
            small = [c for c, n in counts.items() if n < 2]
            if small:
                raise DataError(
                    f"task '{name}', class '{small[0]}' has {counts[small[0]]} subject(s) in view "
                    f"{'+'.join(mods)}/{parc}; each class needs at least 2 — check the class conditions "
                    "or the missing-value policy (data.missing)"
                )
            if searching:
                _check_inner_cv(study, problem)
            else:  # the outer CV alone must still be possible (e.g. K <= subjects)
                outer_splits(problem.y, problem.n_eval, study.cv.outer, study.cv.seed)
            problems[(mods, parc, name)] = problem
    return problems, warnings + _cap_warnings(study, views)


def view_dropped(study: LoadedStudy) -> dict[str, dict[str, str]]:
    """View label (``qT1+DTI/GM``) -> subjects the missing-value policy leaves out, and why."""
    out = {}
    for mods, parc in _stage_views(study):
        dropped = study.cohort.view(list(mods), parc).dropped
        if dropped:
            out[f"{'+'.join(mods)}/{parc}"] = dict(dropped)
    return out


def write_resolved_study(study: LoadedStudy, run_dir: Path, decisions: list[dict],
                         fingerprint: dict) -> None:
    """Write ``RUN_DIR/study.yaml``: the study as run, version, data fingerprints, decisions."""
    doc = study.spec.to_yaml_dict()
    doc["resolved"] = {
        "cohortbench_version": package_version(),
        "study_file": str(study.path.resolve()),
        "data_fingerprints": {role: f["digest"] for role, f in fingerprint["files"].items()},
        "label_cuts": {k: float(v) for k, v in study.label_cuts.items()},
        "decisions": decisions,
    }
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    fd, tmp = tempfile.mkstemp(dir=run_dir, prefix=".study.", suffix=".yaml")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the user's umask decides
    os.replace(tmp, run_dir / "study.yaml")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: What --replace moves aside (everything a run writes in its directory).
_RUN_FILES = (STORE_NAME, f"{STORE_NAME}-wal", f"{STORE_NAME}-shm", "study.yaml",
              "report.html", "figures", "export")


def _check_same_study(run_dir: Path, fingerprint: dict, replace: bool) -> list[str]:
    """Refuse a run directory holding another study's results (or move them aside).

    Called under the run lock, before anything is written. Returns notes to show.
    """
    if not (run_dir / STORE_NAME).exists():
        return []
    with ResultsStore.open(run_dir, create=False) as store:  # reads, never writes
        old = store.get_info("study_fingerprint")
        n_done = store.count()
        old_version = store.get_info("cohortbench_version")
    if replace:
        return [_move_aside(run_dir)]
    if old is None and n_done:
        study_yaml = run_dir / "study.yaml"
        doc = yaml.safe_load(study_yaml.read_text(encoding="utf-8")) if study_yaml.exists() else None
        old = legacy_fingerprint(doc) if isinstance(doc, dict) else None
        if old is None:
            raise RunError(f"{run_dir} holds results of a study it did not record (written by "
                           "an earlier cohortbench without its study.yaml); run with a new --out, "
                           "or add --replace to move the old results aside and start afresh.")
    changes = fingerprint_differences(old or {}, fingerprint)
    if changes:
        shown = "; ".join(changes[:4]) + (f"; and {len(changes) - 4} more" if len(changes) > 4 else "")
        raise RunError(f"{run_dir} holds the results of a different study ({shown}); run with a "
                       "new --out, or add --replace to move the old results aside (into "
                       f"{run_dir / 'replaced'}) and start afresh.")
    version = package_version()
    if old_version and old_version != version:
        return [f"warning: {run_dir} was started with cohortbench {old_version} and this is "
                f"{version}; each evaluation records the version that computed it "
                "(cohortbench_version in evaluations.csv)"]
    return []


def _move_aside(run_dir: Path) -> str:
    """Move a run's files into ``RUN_DIR/replaced/<time>/`` (never deletes them)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = run_dir / "replaced" / stamp
    suffix = 1
    while target.exists():
        target, suffix = run_dir / "replaced" / f"{stamp}-{suffix}", suffix + 1
    target.mkdir(parents=True)
    for name in _RUN_FILES:
        if (run_dir / name).exists():
            shutil.move(str(run_dir / name), str(target / name))
    return f"note: moved the previous results of {run_dir} to {target} (--replace)"


# A part of a sharded unit holds at least this many label vectors (networks of one
# split are trained in stacks across label vectors: smaller parts stack less).
_MIN_LABEL_VECTORS = 8


def _units(todo, problems, cv, engine, workers: int = 1):
    """Group planned evaluations by (view, task) into units for the backend.

    With the fast engine and several workers, units are also split into parts
    holding ranges of label vectors (real labels + shuffles), so that a study of
    few, large units keeps many workers busy; the runner joins the parts.
    Returns ``(units, members)``: the arguments of :func:`run_unit` per unit, and
    the ``(key, planned)`` pairs each unit evaluates (a key is in every part of its
    unit).
    """
    # The reference engine balances best with one evaluation per unit. The fast
    # engine shares work within a unit: a (view, task) group, split per classifier
    # and search strategy (for load balance: strategies share only inner-fold
    # transforms, cheap next to their fits); when the group uses RFE, split per
    # scaling prefix instead, since one elimination path per (fold, label vector,
    # prefix) serves every classifier, k and reduction, and nothing costly is
    # shared across prefixes.
    rfe_groups = {(p.modalities, p.parcellation, p.task) for _, p in todo if p.config.feature_selection == "rfe"}
    groups: OrderedDict = OrderedDict()
    for key, p in todo:
        gkey = (p.modalities, p.parcellation, p.task)
        c = p.config
        if engine != "fast":
            ukey = (gkey, key)
        elif gkey in rfe_groups:
            ukey = (gkey, c.row_scaling, c.imputation, c.column_scaling)
        else:
            ukey = (gkey, c.classifier, c.search)
        groups.setdefault(ukey, []).append((key, p))
    ranges = [None]  # every label vector
    if engine == "fast" and workers > 1 and groups:
        n_vectors = 1 + cv.permutations
        n_parts = min(math.ceil(4 * workers / len(groups)), n_vectors // _MIN_LABEL_VECTORS)
        if n_parts > 1:
            ranges = [(int(r[0]), int(r[-1]) + 1)
                      for r in np.array_split(np.arange(n_vectors), n_parts)]
    units, members = [], []
    for ukey, chunk in groups.items():
        configs = [p.config for _, p in chunk]
        user = user_classifiers(c.classifier for c in configs)
        for labels in ranges:
            units.append((problems[ukey[0]], configs, cv, engine, labels, user))
            members.append(chunk)
    return units, members


def _check_sendable(backend) -> None:
    """Refuse, in one sentence, user classifiers that worker processes cannot receive."""
    if getattr(backend, "name", "") != "local":  # in-process, or Dask (cloudpickle)
        return
    import pickle

    for name, entry in user_classifiers(classifier_names()).items():
        try:
            pickle.dumps(entry)
        except Exception:  # noqa: BLE001 - any pickling failure means the same thing
            raise RunError(
                f"classifier '{name}' cannot be sent to worker processes (its factory "
                "or search space cannot be pickled, e.g. a lambda or a function defined "
                "inside another): define the factory at the top level of a module, or "
                "run with --jobs 1") from None


def run_study(study: LoadedStudy, run_dir: Path, *, backend: Backend | None = None,
              progress: Progress | None = None, engine: str = "fast",
              replace: bool = False, expected_cost=None) -> RunOutcome:
    """Run (or resume) every stage of ``study`` into ``run_dir``.

    Parameters
    ----------
    study : LoadedStudy
    run_dir : Path
        Created if absent; a second concurrent run on it is refused, and so is a
        directory holding another study's results (see :mod:`~cohortbench.design.fingerprint`).
    backend : Backend, optional
        Where units run (default: in this process).
    progress : Progress, optional
    engine : {'fast', 'reference'}
    replace : bool
        Move results already in ``run_dir`` aside (``RUN_DIR/replaced/<time>``) and
        start afresh.
    expected_cost : callable, optional
        PlannedEvaluation -> expected seconds (``StudyEstimate.expected_cost``), for
        the progress display's time left.

    Returns
    -------
    RunOutcome
    """
    backend = backend or InlineBackend()
    progress = progress or Progress()
    _check_sendable(backend)  # before anything is written
    problems, warnings = prepare_problems(study)  # may raise before anything is written
    fingerprint = study_fingerprint(study)
    dropped = view_dropped(study)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    outcome = RunOutcome(run_dir=run_dir, warnings=list(warnings))
    metric = study.spec.metric
    order = list(classifier_names())
    version = package_version()
    task_fps = {name: task_fingerprint(t) for name, t in study.tasks.items()}
    def say(note: str) -> None:
        outcome.notes.append(note)
        progress.message(note)

    with RunLock(run_dir) as lock:
        for note in _check_same_study(run_dir, fingerprint, replace):
            say(note)
        with ResultsStore.open(run_dir) as store:
            if lock.took_over_stale:
                say(f"note: {run_dir} had a stale lock from a killed run; resuming it")
            already = store.count()
            if already:
                say(f"note: resuming {run_dir}: {already} evaluation(s) already in it are "
                    "reused where the study still plans them")
            store.set_info("study_fingerprint", fingerprint)
            store.set_info("cohortbench_version", version)
            store.set_info("study_name", study.spec.name)
            store.set_info("study_path", str(study.path.resolve()))
            store.set_info("cohort_summary", study.cohort.summary())
            store.set_info("label_cuts", {k: float(v) for k, v in study.label_cuts.items()})
            store.set_info("task_counts", {n: t.class_counts() for n, t in study.tasks.items()})
            store.set_info("warnings", list(study.cohort.warnings) + warnings)
            store.set_info("dropped", dropped)
            store.set_info("engine", engine)
            store.record_plan([stage.name for stage in study.spec.stages])
            _run_stages(study, run_dir, store, backend, progress, engine, problems, task_fps,
                        fingerprint, outcome, order, metric, version, say, expected_cost)
            outcome.failed = int(len(store.failures()))
    return outcome


def _run_stages(study, run_dir, store, backend, progress, engine, problems, task_fps,
                fingerprint, outcome, order, metric, version, say, expected_cost=None) -> None:
    cv = study.cv
    decisions: list[dict] = []
    write_resolved_study(study, run_dir, decisions, fingerprint)
    content_seen: dict[str, str] = {}
    shortlist = None
    prev_results = None
    stages = study.spec.stages
    for index, stage in enumerate(stages):
        if stage.classifiers == "all":
            classifiers = order
        elif stage.classifiers == "shortlist":
            classifiers = shortlist
        else:
            classifiers = list(stage.classifiers)
        best = None
        if stage.pipeline == "best":
            best, why = best_pipeline(prev_results, metric)
            decision = {"stage": stage.name, "kind": "pipeline", "payload": {"pipeline": best, "why": why,
                        "from_stage": stages[index - 1].name}}
            store.set_decision(stage.name, "pipeline", decision["payload"])
            decisions.append(decision)
        planned = plan_stage(stage, index, classifiers=classifiers, tasks=list(study.tasks),
                             default_modalities=study.default_modalities(),
                             imputation=study.imputation, best=best)
        todo = []
        plan_entries = []
        for p in planned:
            problem = problems[(p.modalities, p.parcellation, p.task)]
            key, content = evaluation_keys(p.stage, problem.view_fingerprint, task_fps[p.task], p.config, cv)
            plan_entries.append((key, p.position))
            if store.has(key):
                content_seen.setdefault(content, key)
                outcome.already += 1
                continue
            source = content_seen.get(content) or store.find_content(content)
            if source is not None and store.has(source):
                # The same evaluation under another stage (this study's, or one removed
                # or renamed since): its result is this one's.
                meta = dict(p.meta(), n_subjects=problem.n_eval, n_permutations=cv.permutations,
                            content_key=content,
                            cohortbench_version=store.evaluation_value(source, "cohortbench_version"))
                store.write_result(key, meta, store.get_result(source))
                outcome.reused += 1
                continue
            content_seen.setdefault(content, key)
            todo.append((key, content, p))
        store.plan_stage(stage.name, plan_entries)
        outcome.total += len(planned)
        cost = expected_cost or (lambda p: None)  # the time estimate's model, for the ETA (issue 16)
        progress.start_stage(stage.name, len(planned), len(planned) - len(todo),
                             expected=sum(cost(p) for *_, p in todo) if expected_cost else None)
        units, members = _units([(k, p) for k, _, p in todo], problems, cv, engine,
                                getattr(backend, "workers", 1))
        contents = {k: c for k, c, _ in todo}
        n_parts = Counter(key for chunk in members for key, _ in chunk)
        parts: dict = {}
        written: set = set()
        for i, outcomes in backend.run(run_unit, units):
            for (key, p), out in zip(members[i], outcomes):
                if key in written:  # a part's fallback already gave the whole result
                    continue
                problem = problems[(p.modalities, p.parcellation, p.task)]
                meta = dict(p.meta(), n_subjects=problem.n_eval, n_permutations=cv.permutations,
                            content_key=contents[key], cohortbench_version=version)
                if "part" in out:
                    from .fast import merge_parts

                    got = parts.setdefault(key, [])
                    got.append(out["part"])
                    if len(got) < n_parts[key]:
                        continue
                    out = {"ok": True, "result": merge_parts(problem, p.config, cv,
                                                             parts.pop(key))}
                written.add(key)
                if out["ok"]:
                    store.write_result(key, meta, out["result"])
                    outcome.computed += 1
                else:
                    store.write_failure(key, meta, out["error"], out["traceback"])
                progress.advance(expected=cost(p))
        frame = store.evaluations_frame()
        prev_results = frame[frame["stage"] == stage.name]
        if stage.shortlist is not None:
            shortlist, reasons = shortlist_classifiers(stage.shortlist, prev_results, order, metric)
            rule = stage.shortlist.model_dump(exclude_none=True)
            if "min_accuracy" in rule:
                text = f"best {metric} >= {rule['min_accuracy']} on every task of the stage"
            else:
                text = "the classifiers listed in shortlist.keep"
            payload = {"classifiers": shortlist, "rule": text, "reasons": reasons}
            if "min_accuracy" in rule:
                payload["min_accuracy"] = rule["min_accuracy"]
            store.set_decision(stage.name, "shortlist", payload)
            decisions.append({"stage": stage.name, "kind": "shortlist", "payload": payload})
            if not shortlist:
                say(f"warning: stage '{stage.name}' shortlisted no classifier")
        write_resolved_study(study, run_dir, decisions, fingerprint)
