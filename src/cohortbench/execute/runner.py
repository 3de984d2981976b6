"""Run a study: ask each stage's kind for its plan, execute it, write the store.

The runner holds no stage logic: a stage's kind (:mod:`cohortbench.design.stage_kinds`)
turns the study and the earlier stages' results into a :class:`StagePlan`; the
runner finds which evaluations the store already has (by key, or by content under
another stage), sends the others to a backend in units, joins split units, writes
each finished evaluation in one transaction, and hands the stage's results back to
its kind for the decisions later stages need. Only this process writes
``results.sqlite``, so a killed run resumes exactly where it stopped.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..design.classifiers import classifier_names, user_classifiers
from ..design.configs import content_id
from ..design.fingerprint import study_fingerprint
from ..design.loaded_study import LoadedStudy
from ..design.plans import Decision, StageContext, StagePlan
from ..design.stage_kinds import stage_kind
from ..errors import RunError
from ..store.results_store import ResultsStore
from ..store.run_lock import RunLock
from .backends import Backend, InlineBackend
from .fold_records import finish_records, record_functions
from .preparation import Prepared, prepare, prepare_problems, view_dropped
from .problem import make_problem
from .progress import Progress
from .run_directory import check_same_study, package_version, write_resolved_study
from .units import reference_reason, run_unit

__all__ = ["RunOutcome", "prepare_problems", "run_study", "evaluation_keys", "view_dropped",
           "package_version"]


@dataclass
class RunOutcome:
    """What a run did.

    ``total`` evaluations are planned; of these, this invocation ``computed`` some
    and ``reused`` others (the same content under another stage), ``already`` were
    done by an earlier invocation (resumed), and ``failed`` have a failure record.
    ``notes`` are what the run decided or found on the way (resuming, results moved
    aside, another package version, a fast path handing work to the reference
    engine), also shown as they happen. ``report_error`` says why the report could
    not be built (None when it was).
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


def evaluation_keys(stage: str, problem_content: dict, config, cv,
                    records: tuple[str, ...] = ()) -> tuple[str, str]:
    """(evaluation key, content key): the content key ignores the stage name.

    ``problem_content`` is :attr:`Problem.content` (the view's and the task's
    fingerprints, and a subset's when restricted); requested records are part of
    the content, since a result without them is not the same result.
    """
    content = {**problem_content, "config": config.to_dict(), "cv": cv.to_dict()}
    if records:
        content["records"] = list(records)
    content_key = content_id(content)
    return content_id({"stage": stage, "content": content_key}), content_key


# A part of a sharded unit holds at least this many label vectors (networks of one
# split are trained in stacks across label vectors: smaller parts stack less).
_MIN_LABEL_VECTORS = 8


def _units(todo, cv, engine, workers: int = 1):
    """Group planned evaluations by problem into units for the backend.

    With the fast engine and several workers, units are also split into parts
    holding ranges of label vectors (real labels + shuffles), so that a study of
    few, large units keeps many workers busy; the runner joins the parts.
    ``todo`` holds ``(key, planned, problem)`` triples. Returns ``(units, members)``:
    the arguments of :func:`run_unit` per unit, and the ``(key, planned)`` pairs each
    unit evaluates (a key is in every part of its unit).
    """
    # The reference engine balances best with one evaluation per unit. The fast
    # engine shares work within a unit: a (view, task) group, split per classifier
    # and search strategy (for load balance: strategies share only inner-fold
    # transforms, cheap next to their fits); when the group uses RFE, split per
    # scaling prefix instead, since one elimination path per (fold, label vector,
    # prefix) serves every classifier, k and reduction, and nothing costly is
    # shared across prefixes.
    def problem_key(p):
        subset = getattr(p, "subset", None)
        return (p.modalities, p.parcellation, p.task, subset.key if subset else None)

    rfe_groups = {problem_key(p) for _, p, _ in todo if p.config.feature_selection == "rfe"}
    problems = {problem_key(p): problem for _, p, problem in todo}
    groups: OrderedDict = OrderedDict()
    whole = set()  # units the fast engine hands to the reference engine: never in parts
    for key, p, problem in todo:
        gkey = problem_key(p)
        c = p.config
        if engine != "fast" or reference_reason(problem, c, cv) is not None:
            ukey = (gkey, key)
            whole.add(ukey)
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
        wanted = [tuple(getattr(p, "records", ())) for _, p in chunk]
        functions = record_functions([n for names in wanted for n in names]) if any(wanted) else {}
        for labels in ([None] if ukey in whole else ranges):
            units.append((problems[ukey[0]], configs, cv, engine, labels, user,
                          wanted if any(wanted) else None, functions))
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
    prepared = prepare(study)  # may raise before anything is written
    fingerprint = study_fingerprint(study)
    dropped = view_dropped(study)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    outcome = RunOutcome(run_dir=run_dir, warnings=list(prepared.warnings))

    def say(note: str) -> None:
        if note not in outcome.notes:
            outcome.notes.append(note)
            progress.message(note)

    with RunLock(run_dir) as lock:
        for note in check_same_study(run_dir, fingerprint, replace):
            say(note)
        with ResultsStore.open(run_dir) as store:
            if lock.took_over_stale:
                say(f"note: {run_dir} had a stale lock from a killed run; resuming it")
            already = store.count()
            if already:
                say(f"note: resuming {run_dir}: {already} evaluation(s) already in it are "
                    "reused where the study still plans them")
            for key, value in (("study_fingerprint", fingerprint),
                               ("cohortbench_version", package_version()),
                               ("study_name", study.spec.name),
                               ("study_path", str(study.path.resolve())),
                               ("cohort_summary", study.cohort.summary()),
                               ("label_cuts", {k: float(v) for k, v in study.label_cuts.items()}),
                               ("task_counts", {n: t.class_counts() for n, t in study.tasks.items()}),
                               ("warnings", list(study.cohort.warnings) + prepared.warnings),
                               ("dropped", dropped), ("engine", engine)):
                store.set_info(key, value)
            if prepared.sites:  # covariates and sites: only for studies that name them
                store.set_info("sites", prepared.sites)
            store.record_plan([stage.name for stage in study.spec.stages])
            _Execution(study, run_dir, store, backend, progress, engine, prepared, fingerprint,
                       outcome, say, expected_cost).run()
            outcome.failed = int(len(store.failures()))
    return outcome


class _Execution:
    """One invocation of ``run``: the stages in order, each planned by its kind."""

    def __init__(self, study, run_dir, store, backend, progress, engine, prepared: Prepared,
                 fingerprint, outcome: RunOutcome, say, expected_cost=None):
        self.study, self.run_dir, self.store = study, run_dir, store
        self.backend, self.progress, self.engine = backend, progress, engine
        self.prepared, self.fingerprint, self.outcome, self.say = prepared, fingerprint, outcome, say
        self.version = package_version()
        self.expected_cost = expected_cost  # the time estimate's, for the ETA (issue 16)
        self.cv = study.cv
        self.content_seen: dict[str, str] = {}
        self.results: dict = {}      # stage -> finished evaluations (cross-stage kinds only)
        self.decisions: dict = {}    # (stage, kind) -> Decision
        self.kinds: dict = {}        # stage -> {"kind", "cross_stage"}

    def run(self) -> None:
        write_resolved_study(self.study, self.run_dir, [], self.fingerprint)
        for index, stage in enumerate(self.study.spec.stages):
            kind = stage_kind(stage)
            context = StageContext(self.study, index, dict(self.results), dict(self.decisions))
            plan = kind.plan(context)
            self._decide(plan.decisions)
            self.kinds[stage.name] = {"kind": plan.kind, "cross_stage": plan.cross_stage,
                                      "about": kind.about}
            self.store.set_info("stage_kinds", self.kinds)
            self._execute(plan)
            frame = self.store.evaluations_frame()
            finished = frame[frame["stage"] == stage.name]
            if plan.cross_stage:
                self.results[stage.name] = finished
            if kind.conclude is not None:
                self._decide(kind.conclude(context, finished))
            write_resolved_study(self.study, self.run_dir,
                                 [d.as_record() for d in self.decisions.values()],
                                 self.fingerprint)

    def _decide(self, decisions: tuple[Decision, ...]) -> None:
        for decision in decisions:
            self.store.set_decision(decision.stage, decision.kind, decision.payload)
            self.decisions[(decision.stage, decision.kind)] = decision

    def _view(self, modalities, parcellation):
        """A view the study's stages did not name (e.g. a map left out), built once."""
        key = (modalities, parcellation)
        if key not in self.prepared.views:
            self.prepared.views[key] = self.study.cohort.view(list(modalities), parcellation)
        return self.prepared.views[key]

    def _problem(self, planned):
        key = (planned.modalities, planned.parcellation, planned.task)
        if planned.subset is None and key in self.prepared.problems:
            return self.prepared.problems[key]
        view = self._view(planned.modalities, planned.parcellation)
        problem, _ = make_problem(view, self.study.tasks[planned.task], planned.subset,
                                  self.prepared.side)
        if planned.subset is None:
            self.prepared.problems[key] = problem
        return problem

    def _cv(self, planned):
        """The study's CV, with the evaluation's own shuffles and outer CV when it sets them."""
        changes = {}
        if planned.permutations is not None and planned.permutations != self.cv.permutations:
            changes["permutations"] = int(planned.permutations)
        outer = getattr(planned, "outer", None)
        if outer is not None and outer != self.cv.outer:
            changes["outer"] = str(outer)
        return dataclasses.replace(self.cv, **changes) if changes else self.cv

    def _meta(self, planned, problem, content_key, version) -> dict:
        return dict(planned.meta(), n_subjects=problem.n_eval,
                    n_permutations=self._cv(planned).permutations, content_key=content_key,
                    cohortbench_version=version)

    def _execute(self, plan: StagePlan) -> None:
        store, outcome = self.store, self.outcome
        to_compute, plan_entries, problems = [], [], {}
        for planned in plan.evaluations:
            problem = problems.get((planned.view_key, planned.task, planned.subset))
            if problem is None:
                problem = problems[(planned.view_key, planned.task, planned.subset)] = \
                    self._problem(planned)
            key, content_key = evaluation_keys(planned.stage, problem.content, planned.config,
                                               self._cv(planned), planned.records)
            plan_entries.append((key, planned.position))
            if store.has(key):
                self.content_seen.setdefault(content_key, key)
                outcome.already += 1
                continue
            source = self.content_seen.get(content_key) or store.find_content(content_key)
            if source is not None and store.has(source):
                # The same evaluation under another stage (this study's, or one removed
                # or renamed since): its result is this one's.
                version = store.evaluation_value(source, "cohortbench_version")
                store.write_result(key, self._meta(planned, problem, content_key, version),
                                   store.get_result(source))
                outcome.reused += 1
                continue
            self.content_seen.setdefault(content_key, key)
            to_compute.append((key, content_key, planned, problem))
        store.plan_stage(plan.stage, plan_entries)
        outcome.total += len(plan.evaluations)
        expected = None
        if self.expected_cost is not None:
            expected = sum(self.expected_cost(planned) for _, _, planned, _ in to_compute)
        self.progress.start_stage(plan.stage, len(plan.evaluations),
                                  len(plan.evaluations) - len(to_compute), expected=expected)
        self._compute(to_compute)

    def _compute(self, to_compute) -> None:
        units, members = [], []
        by_cv: dict = {}
        for key, _, planned, problem in to_compute:  # evaluations with their own shuffles
            by_cv.setdefault(self._cv(planned), []).append((key, planned, problem))
        for cv, todo in by_cv.items():
            more_units, more_members = _units(todo, cv, self.engine,
                                              getattr(self.backend, "workers", 1))
            units += more_units
            members += more_members
        by_key = {key: (content_key, problem) for key, content_key, _, problem in to_compute}
        parts_per_key = Counter(key for chunk in members for key, _ in chunk)
        parts_received: dict = {}
        finished: set = set()
        for unit_index, unit_outcomes in self.backend.run(run_unit, units):
            for (key, planned), unit_outcome in zip(members[unit_index], unit_outcomes):
                if key in finished:  # a part's fallback already gave the whole result
                    continue
                content_key, problem = by_key[key]
                if unit_outcome.note:
                    self.say(f"note: {unit_outcome.note}")
                result = unit_outcome.result
                if unit_outcome.part is not None:
                    from .fast import merge_parts

                    received = parts_received.setdefault(key, [])
                    received.append(unit_outcome.part)
                    if len(received) < parts_per_key[key]:
                        continue
                    result = merge_parts(problem, planned.config, self._cv(planned),
                                         parts_received.pop(key))
                finished.add(key)
                meta = self._meta(planned, problem, content_key, self.version)
                if unit_outcome.ok:
                    if result.records:  # e.g. fold means instead of every fold's values
                        result = dataclasses.replace(
                            result, records=finish_records(result.records, problem))
                    self.store.write_result(key, meta, result)
                    self.outcome.computed += 1
                else:
                    self.store.write_failure(key, meta, unit_outcome.error,
                                             unit_outcome.traceback)
                self.progress.advance(expected=self.expected_cost(planned)
                                      if self.expected_cost is not None else None)
