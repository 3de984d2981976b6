"""How long a study will take, before it starts: a cost model from timed fits.

:func:`estimate_study` prices every planned evaluation of a study from probes of
the study's own configurations on its own data (:mod:`.cost_probe`), then lays
the runner's own units (``runner._units``) out on the workers.

The model, per (view, task) of a stage:

- an evaluation's cost is linear in outer folds x label vectors (measured:
  ``benchmarks/RESULTS.md``, "Scaling: shuffles and configurations"), so each
  configuration is priced per (fold x label vector) and multiplied by the
  evaluation's folds x (1 + permutations);
- configurations of one stratum (:func:`~.cost_probe.stratum`: classifier,
  search, scaled or unscaled, selection, reduction) cost what their
  representative cost;
- label-free work (scaling, PCA, kernel products: ``PartialEvaluation.split_seconds``)
  is paid once per outer split, which leave-one-out shares among all label vectors;
- an RFE elimination path is computed once per (fold, label vector, scaling
  prefix) and serves every k, reduction and classifier of the prefix (the fast
  engine's sharing): one path per scaling class (scaled, unscaled) is timed alone,
  charged once per prefix and split among the prefix's RFE configurations, whose
  classifier fits cost what their SelectKBest twins' (same k) cost;
- wall time: the runner's units (split by label vectors for several workers) are
  handed to ``workers`` processes in the runner's order, each to the first free
  one (list scheduling: the slowest unit bounds a stage); stages run one after
  the other. Probes are priced in CPU seconds; how busy the machine is comes from
  the probes' own wall / CPU ratio ``b``: other work worth ``L = b x cores - 1``
  processes is assumed to go on (:func:`_other_work`), so ``workers`` processes
  run ``max(1, (L + workers) / cores)`` times slower than alone on a core (more
  workers than cores included).

Stages that depend on earlier results are planned under a stated assumption
(:mod:`.assumed_plan`). Under an assumed shortlist, searches are not probed
(tuning every classifier that might be shortlisted would take as long as a small
study): a search is priced as its candidates x inner folds of the pipeline's
default fit.
"""

from __future__ import annotations

import heapq
import os
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..design.stages import PlannedEvaluation
from .assumed_plan import evaluation_key as _key
from .assumed_plan import stage_plans
from .cost_probe import (
    WorkerProbe,
    kbest_twin,
    probe_study,
    representatives,
    scaling_class,
    stratum,
    warm_up_study,
)
from .problem import make_problem
from .progress import describe_seconds
from .splits import parse_cv_scheme

__all__ = ["StageEstimate", "StudyEstimate", "describe_seconds", "estimate_study"]


@dataclass(frozen=True)
class StageEstimate:
    """The estimate of one stage.

    Attributes
    ----------
    name : str
    n_evaluations : int
        Evaluations left to compute (under ``assumption``).
    seconds : float
        Wall-clock seconds with the estimate's workers.
    cpu_seconds : float
        CPU seconds of one worker for all of it.
    assumption : str or None
        What was assumed about earlier results (the numbers are then an upper
        bound); None when the stage's plan is known.
    n_classifiers : int or None
        Classifiers assumed shortlisted, when that is the assumption.
    dominant : str or None
        The kind of configuration that takes most of the time, when one does
        (e.g. ``"RFE on unscaled values: ~70 % of the time"``).
    already_done : int
        Evaluations a resumed run already has.
    reused : int
        Of ``n_evaluations``, those an earlier stage computes (the same view, task
        and configuration): the run copies their results, at no cost.
    """

    name: str
    n_evaluations: int
    seconds: float
    cpu_seconds: float
    assumption: str | None = None
    n_classifiers: int | None = None
    dominant: str | None = None
    already_done: int = 0
    reused: int = 0


@dataclass(frozen=True)
class StudyEstimate:
    """The estimate of a study, and the expected cost of each planned evaluation.

    Attributes
    ----------
    stages : tuple of StageEstimate
    workers : int
    engine : str
    probe_seconds : float
        Seconds spent timing fits (warm-up included).
    n_probe_fits : int
        Configurations x outer folds x label vectors timed.
    busy : float
        Wall / CPU seconds of the probes: 1 on an idle machine, 3 when other
        work left the probes a third of a core.
    two_processes : float or None
        Cores two of this study's processes got together while probing (several
        workers only; :class:`~.cost_probe.WorkerProbe`).
    evaluation_seconds : Mapping
        ``(stage, task, modalities, parcellation, config)`` -> expected wall
        seconds of that evaluation (its cost, scaled so that a stage's
        evaluations add up to its wall time): what the progress display counts.
    """

    stages: tuple[StageEstimate, ...]
    workers: int
    engine: str
    probe_seconds: float
    n_probe_fits: int
    busy: float = 1.0
    two_processes: float | None = None
    evaluation_seconds: Mapping = field(default_factory=dict, repr=False, compare=False)

    @property
    def seconds(self) -> float:
        """Wall-clock seconds of the whole study."""
        return sum(s.seconds for s in self.stages)

    @property
    def upper_bound(self) -> bool:
        """Whether any stage rests on an assumption about earlier results."""
        return any(s.assumption for s in self.stages)

    def expected_cost(self, planned: PlannedEvaluation) -> float:
        """Expected wall seconds of one planned evaluation.

        An evaluation the estimate did not plan (an earlier stage decided
        otherwise than assumed) is priced as the mean of its stage's evaluations
        of the same task and classifier, else of its stage.
        """
        key = _key(planned)
        if key in self.evaluation_seconds:
            return self.evaluation_seconds[key]
        like = [v for k, v in self.evaluation_seconds.items()
                if k[0] == planned.stage and k[1] == planned.task
                and k[4].classifier == planned.config.classifier]
        like = like or [v for k, v in self.evaluation_seconds.items() if k[0] == planned.stage]
        return sum(like) / len(like) if like else 0.0

    def lines(self) -> list[str]:
        """The estimate in words, one line per stage and a total."""
        who = f"{self.workers} worker{'s' if self.workers != 1 else ''}"
        out = [f"time estimate for {who} ({self.engine} engine), from {self.n_probe_fits} timed "
               f"fits of this study's data, which took {self.probe_seconds:.1f} s"
               + (f"; this machine is busy, the fits got ~{100 / self.busy:.0f} % of a core"
                  if self.busy >= 1.25 else "")
               + (f" and two processes together ~{self.two_processes:.1f} cores"
                  if self.workers > 1 and self.two_processes is not None
                  and self.two_processes < 0.8 * min(2, _cores()) else "") + ":"]
        for s in self.stages:
            out.append("  " + _stage_line(s, who))
        total = describe_seconds(self.seconds)
        known = sum(s.seconds for s in self.stages if not s.assumption)
        if self.upper_bound:
            out.append(f"  total: up to {total} with {who} (under the assumptions above; the "
                       f"stages whose plan is known: {describe_seconds(known)})")
        else:
            out.append(f"  total: about {total} with {who}")
        return out


def _n(count: int) -> str:
    return f"{count:,} evaluation{'s' if count != 1 else ''}"


def _stage_line(s: StageEstimate, who: str) -> str:
    notes = ([f"{s.reused} the same as in an earlier stage"] if s.reused else []) + \
        ([f"{s.already_done} already done"] if s.already_done else [])
    done = f" ({'; '.join(notes)})" if notes else ""
    if s.n_evaluations == 0:
        return f"stage {s.name}: nothing left to compute{done}"
    dominant = f"; {s.dominant}" if s.dominant else ""
    if s.assumption and s.n_classifiers:
        k = s.n_classifiers
        return (f"stage {s.name}: {_n(s.n_evaluations // k)} and about "
                f"{describe_seconds(s.seconds / k)} with {who} per shortlisted classifier (up to "
                f"{_n(s.n_evaluations)} and {describe_seconds(s.seconds)}, {s.assumption})"
                f"{dominant}{done}")
    if s.assumption:
        return (f"stage {s.name}: {_n(s.n_evaluations)}, up to "
                f"{describe_seconds(s.seconds)} with {who} ({s.assumption}){dominant}{done}")
    return (f"stage {s.name}: {_n(s.n_evaluations)}, about "
            f"{describe_seconds(s.seconds)} with {who}{dominant}{done}")


def _kind(config) -> str:
    """What a configuration's time is spent on, in words."""
    if config.feature_selection == "rfe":
        raw = config.row_scaling == "none" and config.column_scaling == "none"
        return "RFE on unscaled values" if raw else "RFE"
    return config.classifier + (f" with {config.search} search" if config.search != "none" else "")


def _folds(problem, cv) -> int:
    kind, k, r = parse_cv_scheme(cv.outer)
    return problem.n_eval if kind == "loo" else k * r


def _price(todo: list, problem, cv, times: Mapping, paths: Mapping, *, coarse: bool = False,
           parts: Mapping | None = None) -> dict:
    """CPU seconds of each planned evaluation of one (view, task), from the probes.

    ``times``: configuration -> (per split, per pair) seconds (:class:`~.cost_probe.ProbeTimes`);
    ``paths``: scaling class -> seconds of one RFE elimination path (fast engine;
    empty for the reference engine, whose RFE configurations are probed as they are);
    ``parts``: evaluation key -> the number of units (label-vector parts) it is
    computed in, each of which pays the label-free work of its splits again.
    """
    reps = representatives([p.config for p in todo], coarse)
    shared = bool(paths)
    own = {}
    for key, rep in reps.items():
        path_priced = shared and rep.feature_selection == "rfe" and rep.search == "none"
        own[key] = times[kbest_twin(rep) if path_priced else rep]
    users = Counter((p.config.row_scaling, p.config.imputation, p.config.column_scaling)
                    for p in todo if p.config.feature_selection == "rfe" and p.config.search == "none")
    loo = parse_cv_scheme(cv.outer)[0] == "loo"
    pairs = _folds(problem, cv) * (1 + cv.permutations)
    costs = {}
    for p in todo:
        c = p.config
        split, pair = own[stratum(c, coarse)]
        if shared and c.feature_selection == "rfe" and c.search == "none":
            # one path per (split, label vector, prefix), shared by the prefix's RFE configurations
            pair += paths[scaling_class(c)] / users[(c.row_scaling, c.imputation, c.column_scaling)]
        # Leave-one-out folds are the same for every label vector (label-free work is
        # shared by them); stratified folds follow the labels, so each pair has its own.
        splits = problem.n_eval * (parts or {}).get(_key(p), 1) if loo else pairs
        costs[_key(p)] = splits * split + pairs * pair
    return costs


def _makespan(costs: list[float], workers: int, start: float = 0.0) -> float:
    """Finish time of ``costs`` handed in order to the first free of ``workers``.

    Each worker is free from ``start`` (its own start-up).
    """
    free = [start] * max(1, min(workers, len(costs) or 1))
    for cost in costs:
        heapq.heappush(free, heapq.heappop(free) + cost)
    return max(free)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _other_work(busy: float, cores: int) -> float:
    """Processes' worth of other work on the machine, from how busy the probes found it.

    Sharing ``cores`` fairly with ``L`` others, one process runs ``busy = (L + 1) /
    cores`` times slower than alone, so ``L = busy x cores - 1``; but ``busy = 1``
    only says that a core was free (``L`` up to ``cores - 1``). Read as idle at
    ``busy = 1``, the formula is reached linearly by ``busy = 1.25`` (small
    measurement noise near 1 must not halve the gain of more workers).
    """
    ramp = min(1.0, max(0.0, (busy - 1.0) / 0.25))
    return max(0.0, busy * cores - 1 - (cores - 1) * (1 - ramp))


def _slowdown(workers: int, busy: float, two: float | None) -> float:
    """How many times slower than alone on a core each of ``workers`` processes runs.

    One worker: as slow as the probes ran (``busy``). Several: they share what two
    processes got together (``two`` cores, :class:`~.cost_probe.WorkerProbe`),
    scaled to ``min(workers, cores)``; unmeasured, a fair share of the cores with
    the other work the probes met (:func:`_other_work`).
    """
    cores = _cores()
    if workers == 1:
        return busy
    if two is None:
        return max(1.0, (_other_work(busy, cores) + workers) / cores)
    capacity = min(two, min(2, cores)) * min(workers, cores) / min(2, cores)
    return max(1.0, workers / max(capacity, 1e-3))


def _dominant(todo: list, costs: dict) -> str | None:
    by_kind: Counter = Counter()
    for p in todo:
        by_kind[_kind(p.config)] += costs[_key(p)]
    total = sum(by_kind.values())
    if not total or len(by_kind) < 2:  # one kind of configuration: nothing to single out
        return None
    kind, cost = by_kind.most_common(1)[0]
    share = cost / total
    return f"{kind}: ~{share:.0%} of the time".replace("%", " %") if share >= 0.6 else None


def estimate_study(study, problems: Mapping, *, engine: str = "fast", workers: int = 1,
                   done: Callable[[PlannedEvaluation], bool] | None = None) -> StudyEstimate:
    """Estimate each stage's evaluations and time, from timed fits of the study's data.

    Parameters
    ----------
    study : LoadedStudy
    problems : mapping
        ``(modalities, parcellation, task)`` -> Problem, as
        :func:`~cohortbench.execute.runner.prepare_problems` returns them.
    engine : {'fast', 'reference'}
    workers : int
        Worker processes the run will use.
    done : callable, optional
        Whether a planned evaluation is already in the run directory (resuming);
        those are counted, not priced.

    Returns
    -------
    StudyEstimate
        Nothing is written anywhere; the probes take a few seconds on the demo
        studies (``probe_seconds`` says how long).
    """
    t0 = time.perf_counter()
    cv = study.cv
    plans = stage_plans(study, done)
    problems = _problems(study, problems, plans)
    groups = [_by_problem(plan.todo) for plan in plans]
    # Several workers: time a worker's start while this process probes (see WorkerProbe).
    worker = WorkerProbe() if workers > 1 and any(groups) else None
    warm = warm_up_study(groups, problems, cv, engine) if any(groups) else 0.0
    times, paths, n_fits, busy = probe_study(plans, groups, problems, cv, engine)
    started, two = worker.result() if worker is not None else (0.0, None)
    probe_seconds = time.perf_counter() - t0
    startup = warm + started if workers > 1 else 0.0  # one worker: this process, warm
    slowdown = _slowdown(workers, busy, two)
    stages, per_evaluation = [], {}
    for plan, by_problem in zip(plans, groups):
        stage, costs = _stage_estimate(plan, by_problem, problems, cv, engine, workers, times,
                                       paths, startup if not any(s.cpu_seconds for s in stages) else 0.0,
                                       slowdown)
        stages.append(stage)
        per_evaluation.update(costs)
    return StudyEstimate(stages=tuple(stages), workers=workers, engine=engine,
                         probe_seconds=probe_seconds, n_probe_fits=n_fits, busy=busy,
                         two_processes=two,
                         evaluation_seconds=per_evaluation)


def problem_key(p: PlannedEvaluation) -> tuple:
    """The problem a planned evaluation runs on: view, task, and subset if any."""
    return (p.modalities, p.parcellation, p.task, p.subset.key if p.subset is not None else None)


def _by_problem(todo: list) -> OrderedDict[tuple, list]:
    groups: OrderedDict = OrderedDict()
    for p in todo:
        groups.setdefault(problem_key(p), []).append(p)
    return groups


def _problems(study, whole: Mapping, plans) -> dict:
    """Every problem the plans need: a task's whole problem, or a subset's own."""
    out: dict = {}
    for plan in plans:
        for p in plan.todo:
            key = problem_key(p)
            if key not in out:
                out[key] = whole[key[:3]] if p.subset is None else make_problem(
                    study.cohort.view(list(p.modalities), p.parcellation),
                    study.tasks[p.task], p.subset)[0]
    return out


def _stage_estimate(plan, by_problem, problems, cv, engine: str, workers: int, times: dict,
                    paths: dict, startup: float, slowdown: float) -> tuple[StageEstimate, dict]:
    """One stage's estimate, and each of its evaluations' share of the stage's wall time."""
    from .runner import (
        _units,  # the runner's own grouping (same layer; not a public API)
    )

    units, chunks = _units([(i, p, problems[problem_key(p)]) for i, p in enumerate(plan.todo)],
                           cv, engine, workers)
    n_parts = Counter(_key(p) for chunk in chunks for _, p in chunk)
    costs: dict = {}
    for pkey, members in by_problem.items():
        mine = {c: t for (k, c), t in times.items() if k == pkey}
        mine_paths = {cls: t for (k, cls), t in paths.items() if k == pkey}
        costs.update(_price(members, problems[pkey], cv, mine, mine_paths,
                            coarse=plan.n_classifiers is not None, parts=n_parts))
    unit_costs = []
    for args, chunk in zip(units, chunks):
        labels = args[4]
        share = 1.0 if labels is None else (labels[1] - labels[0]) / (1 + cv.permutations)
        unit_costs.append(share * sum(costs[_key(p)] for _, p in chunk))
    wall = _makespan(unit_costs, workers, startup) * slowdown if unit_costs else 0.0
    total = sum(costs.values())
    # what the progress display counts down: the evaluations' shares of the wall time
    shares = {k: v * wall / total for k, v in costs.items()} if total else dict.fromkeys(costs, 0.0)
    stage = StageEstimate(
        name=plan.stage.name, n_evaluations=len(plan.todo) + plan.reused, seconds=wall,
        cpu_seconds=total + startup * min(workers, len(unit_costs)), assumption=plan.assumption,
        n_classifiers=plan.n_classifiers, dominant=_dominant(plan.todo, costs),
        already_done=plan.already_done, reused=plan.reused)
    return stage, shares
