"""The ``learn`` stage kind: learning curves on class-stratified subsamples (issue 19).

A stage with ``kind: learn`` evaluates its classifiers, pipeline, modality sets,
parcellations and tasks (the stage's usual keys) on subsamples of each task's subjects,
so that the analyses can fit a learning curve and project the gain from recruiting
more subjects (:mod:`cohortbench.analyse.learn_tables`). Its own settings go under
``options:`` (:class:`LearnOptions`).

What it plans, written down:

- **Pool**: the task's own subjects present in every view of the stage (every
  modality set and parcellation, after a ``drop-subjects`` policy), so that every
  curve of the stage is measured on the same subsamples (paired). Hybrid ``train_only``
  subjects are not used: the curve is that of the task's own subjects.
- **Sizes**: ``options.sizes`` (subject counts, or fractions of the pool given as
  floats, ``1.0`` = the pool), or by default the ladder of
  :func:`~cohortbench.design.subsamples.size_ladder` from the smallest size the CV
  allows to the whole pool. A size too small for the CV is refused, naming the class.
- **Subsamples**: ``options.repeats`` per size (default 20), drawn by
  :func:`~cohortbench.design.subsamples.stratified_subsample` (seeded by the study
  seed, task, size and repeat). At the whole pool every repeat would be the same
  subset, so it is planned once (repeat 0).
- **Shuffles**: each subsample is a :class:`~cohortbench.design.plans.Subset` keyed
  ``size=S/repeat=R``: its labels are shuffled among its own subjects (class counts
  kept), seeded by the task and the key, the same for every configuration and modality
  set; ``options.permutations`` of them (default: the study's).
- **Cross-stage**: none of its evaluations enters best-of-N, top performers, per-step
  tests, the summary or a later ``pipeline: best``.
- **Decision** ``learning_curve``: the sizes, repeats, shuffles, training sizes and
  projection targets, recorded so that exports and the report read them back.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, Field

from ..errors import StudyError
from .plans import Decision, PlannedEvaluation, StageContext, StagePlan, Subset
from .stage_kinds import StageKind, plan_standard, register_stage_kind
from .study_errors import no_repeats, study_error
from .study_model import StudyModel
from .subsamples import (
    check_sizes,
    resolve_sizes,
    size_ladder,
    stratified_subsample,
    subset_key,
    training_size,
)

__all__ = ["LEARN", "LearnOptions", "learn_options", "learn_pool", "learn_sizes",
           "plan_learn", "check_learn"]

LEARN = "learn"
DEFAULT_REPEATS = 20


def _size(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise study_error(f"must be a subject count (e.g. 20) or a fraction of the cohort "
                          f"(e.g. 0.5), got {value!r}")
    if isinstance(value, int) and value < 2:
        raise study_error(f"a subsample needs at least 2 subjects, got {value}")
    if isinstance(value, float) and not 0 < value <= 1:
        raise study_error(f"a fraction of the cohort must be in (0, 1], got {value}; write a "
                          "subject count as a whole number (e.g. 20)")
    return value


class LearnOptions(StudyModel):
    """The ``options:`` of a ``learn`` stage (module docstring).

    Attributes
    ----------
    sizes : list of int or float, optional
        Subject counts (whole numbers) or fractions of the pool (``0.5``; ``1.0`` is the
        whole pool). Default: from the smallest size the CV allows to the whole pool.
    repeats : int
        Subsamples per size (the whole pool is evaluated once).
    permutations : int, optional
        Label shuffles per subsample (default: the study's ``permutations``).
    project_to : list of int, optional
        Subject counts to project to (default: N + 10, N + 20 and 2N).
    """

    sizes: Annotated[list[Annotated[int | float, AfterValidator(_size)]], Field(min_length=1),
                     AfterValidator(no_repeats)] | None = None
    repeats: Annotated[int, Field(ge=1)] = DEFAULT_REPEATS
    permutations: Annotated[int, Field(ge=0)] | None = None
    project_to: Annotated[list[Annotated[int, Field(ge=2)]], Field(min_length=1),
                          AfterValidator(no_repeats)] | None = None


def learn_options(stage) -> LearnOptions:
    """The validated options of a ``learn`` stage."""
    return LearnOptions.model_validate(stage.options or {})


def _views(study, stage) -> list[tuple[tuple[str, ...], str]]:
    modality_sets = ([tuple(m) for m in stage.modalities] if stage.modalities
                     else [tuple(study.default_modalities())])
    parcellations = list(stage.parcellations) if stage.parcellations else ["all"]
    return [(m, p) for m in modality_sets for p in parcellations]


def learn_pool(study, stage, task_name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The task's subjects present in every view of the stage, and their classes.

    Returns
    -------
    subjects, labels : tuple of str
        In the task's order.
    """
    task = study.tasks[task_name]
    present = None
    for modalities, parcellation in _views(study, stage):
        subjects = set(study.cohort.view(list(modalities), parcellation).subjects)
        present = subjects if present is None else present & subjects
    pairs = [(s, c) for s, c in zip(task.subjects, task.labels) if s in present]
    return tuple(s for s, _ in pairs), tuple(c for _, c in pairs)


def _inner(study, stage) -> str | None:
    return study.spec.cv.inner if any(s != "none" for s in stage.search) else None


def learn_sizes(study, stage, task_name: str, labels) -> tuple[int, ...]:
    """The sizes of a task's curve: the options' (checked against the CV) or the ladder.

    Raises
    ------
    StudyError
        A size outside the pool or too small for the CV (naming the class), or a pool
        too small for the CV at any size.
    """
    options = learn_options(stage)
    classes, counts = np.unique(np.asarray(labels), return_counts=True)
    total = int(counts.sum())
    cv = study.spec.cv
    kwargs = dict(task=task_name, outer=cv.outer, inner=_inner(study, stage),
                  reduce_inner_k=cv.reduce_inner_k)
    if options.sizes is not None:
        sizes = resolve_sizes(options.sizes, total)
    else:
        sizes = size_ladder(counts, cv.outer, kwargs["inner"],
                            reduce_inner_k=cv.reduce_inner_k)
        if not sizes:
            sizes = (total,)  # too small even whole: check_sizes says why, naming the class
    check_sizes(sizes, counts, [str(c) for c in classes], **kwargs)
    return tuple(sizes)


def check_learn(study, index: int) -> None:
    """Refuse a ``learn`` stage its data cannot support, in one sentence (``StageKind.check``)."""
    stage = study.spec.stages[index]
    where = f"{study.path.name}: stages[{index}]"
    if stage.grid is not None:
        raise StudyError(f"{where}.grid: a learn stage measures one pipeline per classifier; "
                         "give it `pipeline:` (steps or best) instead of a grid.")
    if stage.shortlist is not None:
        raise StudyError(f"{where}.shortlist: a learn stage shortlists nothing (its "
                         "evaluations are on subsamples); remove the key.")
    for task_name in stage.tasks or list(study.tasks):
        if task_name not in study.tasks:
            continue  # the standard checks name an unknown task
        try:
            learn_sizes(study, stage, task_name, study.tasks[task_name].labels)
        except StudyError as exc:
            raise StudyError(f"{where}.options.sizes: {exc}") from None


def _describe(stage_name: str, sizes: dict, options: LearnOptions, permutations: int,
              outer: str) -> str:
    parts = [f"task {task} at {', '.join(map(str, s))} subjects" for task, s in sizes.items()]
    x_axis = ("n - 1 with leave-one-out" if outer == "loo"
              else f"the mean training set of {outer}")
    return (f"Stage '{stage_name}' measures learning curves on class-stratified subsamples: "
            f"{'; '.join(parts)} ({options.repeats} subsamples per size, the whole cohort "
            f"once; {permutations} label shuffles within each); the x-axis of its curves is "
            f"the training-set size ({x_axis}).")


def plan_learn(context: StageContext) -> StagePlan:
    """The evaluations of a ``learn`` stage: every configuration on every subsample."""
    study, stage = context.study, context.stage
    options = learn_options(stage)
    base = plan_standard(context)  # configurations, views and tasks; `pipeline: best`
    seed, outer = study.spec.seed, study.spec.cv.outer
    subsets: dict[str, list[Subset]] = {}
    sizes: dict[str, list[int]] = {}
    pools: dict[str, int] = {}
    for task_name in dict.fromkeys(p.task for p in base.evaluations):
        subjects, labels = learn_pool(study, stage, task_name)
        try:
            task_sizes = learn_sizes(study, stage, task_name, labels)
        except StudyError as exc:
            raise StudyError(f"stage '{stage.name}': {exc}") from None
        sizes[task_name], pools[task_name] = list(task_sizes), len(subjects)
        subsets[task_name] = []
        for size in task_sizes:
            for repeat in range(1 if size == len(subjects) else options.repeats):
                index = stratified_subsample(labels, size, seed=seed, task=task_name,
                                             repeat=repeat)
                subsets[task_name].append(Subset(tuple(subjects[i] for i in index),
                                                 key=subset_key(size, repeat)))
    planned = []
    for evaluation in base.evaluations:
        for subset in subsets[evaluation.task]:
            planned.append(PlannedEvaluation(
                stage=stage.name, stage_index=context.index,
                position=context.index * 10_000_000 + len(planned), task=evaluation.task,
                modalities=evaluation.modalities, parcellation=evaluation.parcellation,
                config=evaluation.config, subset=subset, permutations=options.permutations))
    permutations = (study.spec.permutations if options.permutations is None
                    else options.permutations)
    pipeline_from = next((d.payload["from_stage"] for d in base.decisions
                          if d.kind == "pipeline"), None)
    payload = {
        "sizes": sizes,
        "n_train": {t: [training_size(s, outer) for s in v] for t, v in sizes.items()},
        "pool": pools, "repeats": options.repeats, "permutations": permutations,
        "project_to": options.project_to, "outer": outer, "seed": seed,
        "pipeline_from": pipeline_from,
        "text": _describe(stage.name, sizes, options, permutations, outer),
    }
    decision = Decision(stage=stage.name, kind="learning_curve", payload=payload,
                        text=payload["text"])
    return StagePlan(stage=stage.name, kind=LEARN, evaluations=tuple(planned),
                     decisions=(*base.decisions, decision), cross_stage=False)


register_stage_kind(StageKind(
    name=LEARN, plan=plan_learn, cross_stage=False, options=LearnOptions, check=check_learn,
    about="Learning curves: the pipeline is evaluated on class-stratified subsamples of "
          "growing size, and a curve fitted through them projects what more subjects would "
          "bring."))
