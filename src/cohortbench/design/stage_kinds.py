"""Stage kinds: how a stage of the study file becomes a plan, and what it decides.

A stage kind owns three things, and nothing else knows them:

- ``plan(context) -> StagePlan``: the evaluations to run (and the decisions taken
  to choose them, e.g. the best pipeline of the previous stage);
- ``conclude(context, results) -> tuple[Decision, ...]``: the choices its finished
  results make for later stages (e.g. a shortlist);
- ``cross_stage``: whether its evaluations may enter analyses across stages.

The built-in kind ``standard`` runs every stage of the published study (screen,
refine, tune, enrich differ only in what they vary). A new kind is registered with
:func:`register_stage_kind` and chosen in the study file with ``kind:``; its own
settings go under the stage's ``options:`` and are validated by the kind's
``options`` model. See ``docs/architecture.md``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import RunError, StudyError
from .plans import Decision, StageContext, StagePlan
from .stages import best_pipeline, plan_stage, shortlist_classifiers

__all__ = ["StageKind", "register_stage_kind", "unregister_stage_kind", "stage_kind",
           "stage_kind_names", "check_stage_kinds", "plan_standard", "STANDARD"]

STANDARD = "standard"


@dataclass(frozen=True)
class StageKind:
    """A kind of stage (see the module docstring).

    Attributes
    ----------
    name : str
        What ``kind:`` says in the study file.
    plan : callable
        ``plan(context: StageContext) -> StagePlan``.
    conclude : callable, optional
        ``conclude(context, results: DataFrame) -> tuple[Decision, ...]``.
    cross_stage : bool
        False keeps the kind's evaluations out of best-of-N, top performers,
        per-step tests and later stages' ``pipeline: best``.
    options : pydantic model class, optional
        Validates the stage's ``options:`` mapping (None: the kind takes none).
    about : str
        One sentence for the report: what a stage of this kind does.
    check : callable, optional
        ``check(study: LoadedStudy, index: int) -> None``: refuses, with one
        :class:`~cohortbench.errors.StudyError` sentence, what a stage of this kind
        cannot do with the study's data (e.g. a size too small for the CV); run by
        ``load_study`` once the tasks are resolved, so ``validate`` says it too.
    on_load : callable, optional
        ``on_load(spec, cohort, index) -> tuple[str, ...]``, called by
        :func:`~cohortbench.design.loaded_study.load_study` for each stage of this
        kind once the data are read: it may refuse the stage (a ``StudyError`` whose
        message starts with the key path, e.g. ``stages[4].options.of: ...``) and may
        add modalities its plans need to ``cohort.modalities`` (e.g. one map alone);
        it returns the names of the modalities it added, which stay out of the
        study's default modalities.
    """

    name: str
    plan: Callable[[StageContext], StagePlan]
    conclude: Callable[[StageContext, pd.DataFrame], tuple[Decision, ...]] | None = None
    cross_stage: bool = True
    options: type | None = None
    about: str = ""
    check: Callable[[Any, int], None] | None = None
    on_load: Callable | None = None


_KINDS: dict[str, StageKind] = {}


def register_stage_kind(kind: StageKind) -> None:
    """Make a stage kind available to study files (``kind: <name>``)."""
    if not isinstance(kind, StageKind):
        raise TypeError(f"register_stage_kind takes a StageKind, got {kind!r}.")
    if kind.name == STANDARD and STANDARD in _KINDS:
        raise ValueError("'standard' is the built-in stage kind; register yours under another name.")
    _KINDS[kind.name] = kind


def unregister_stage_kind(name: str) -> None:
    """Remove a registered stage kind (the built-in ones stay)."""
    if name == STANDARD:
        raise ValueError("'standard' is the built-in stage kind and cannot be removed.")
    _KINDS.pop(name, None)


def stage_kind_names() -> tuple[str, ...]:
    return tuple(_KINDS)


def check_stage_kinds(study) -> None:
    """Run every stage kind's ``check`` against a loaded study (see :class:`StageKind`)."""
    for index, stage in enumerate(study.spec.stages):
        kind = stage_kind(stage)
        if kind.check is not None:
            kind.check(study, index)


def stage_kind(stage) -> StageKind:
    """The kind of a study-file stage (its ``kind:``, default ``standard``)."""
    name = getattr(stage, "kind", None) or STANDARD
    if name not in _KINDS:
        close = difflib.get_close_matches(name, list(_KINDS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise StudyError(f"stage '{stage.name}': unknown kind '{name}'{hint}; the kinds are "
                         f"{', '.join(_KINDS)}.")
    return _KINDS[name]


# --------------------------------------------------------------------------- standard
def _classifiers(context: StageContext) -> list[str]:
    from .classifiers import classifier_names

    stage = context.stage
    if stage.classifiers == "all":
        return list(classifier_names())
    if stage.classifiers == "shortlist":
        index = context.study.spec.shortlist_source(context.index)
        source = context.study.spec.stages[index]
        shortlist = list(context.decisions[(source.name, "shortlist")].payload["classifiers"])
        if not shortlist:
            _refuse_empty_shortlist(context, index, context.results[source.name])
        return shortlist
    return list(stage.classifiers)


def plan_standard(context: StageContext) -> StagePlan:
    study, stage = context.study, context.stage
    decisions = []
    best = None
    if stage.pipeline == "best":
        source, results = context.previous_results()
        if results is None:
            raise StudyError(f"stage '{stage.name}': `pipeline: best` needs an earlier stage "
                             "whose results can be compared.")
        best, why = best_pipeline(results, study.spec.metric)
        shown = ", ".join(f"{k} {v}" for k, v in best.items() if v not in (None, "none"))
        decisions.append(Decision(
            stage=stage.name, kind="pipeline",
            payload={"pipeline": best, "why": why, "from_stage": source},
            text=(f"Stage '{stage.name}' uses the best pipeline of stage '{source}' "
                  f"({shown or 'every step none'}): the highest mean {study.spec.metric} "
                  f"({why['mean_' + study.spec.metric]:.3f}) over its classifiers and tasks, "
                  f"among {why['n_pipelines_compared']} pipelines.")))
    planned = plan_stage(stage, context.index, classifiers=_classifiers(context),
                         tasks=list(study.tasks), default_modalities=study.default_modalities(),
                         imputation=study.imputation, best=best)
    return StagePlan(stage=stage.name, kind=STANDARD, evaluations=tuple(planned),
                     decisions=tuple(decisions))


def _conclude_standard(context: StageContext, results: pd.DataFrame) -> tuple[Decision, ...]:
    from .classifiers import classifier_names

    stage, spec = context.stage, context.study.spec
    if stage.shortlist is None:
        return ()
    metric = spec.metric
    order = list(classifier_names())
    shortlist, reasons = shortlist_classifiers(stage.shortlist, results, order, metric)
    rule = stage.shortlist.model_dump(exclude_none=True)
    if "min_accuracy" in rule:
        text = f"best {metric} >= {rule['min_accuracy']} on every task of the stage"
    else:
        text = "the classifiers listed in shortlist.keep"
    payload = {"classifiers": shortlist, "rule": text, "reasons": reasons}
    if "min_accuracy" in rule:
        payload["min_accuracy"] = rule["min_accuracy"]
    decision = Decision(stage=stage.name, kind="shortlist", payload=payload,
                        text=(f"Stage '{stage.name}' shortlists "
                              f"{', '.join(shortlist) or 'no classifier'} ({text})."))
    return (decision,)


def _refuse_empty_shortlist(context: StageContext, index: int, results: pd.DataFrame) -> None:
    """Stop, in one sentence, before a stage would run on an empty shortlist.

    Raised when the stage after the screen is planned, that is as soon as the
    screen has finished; the screen's results and its decision are already stored.
    """
    spec = context.study.spec
    stage = spec.stages[index]
    metric = spec.metric
    later = [s.name for i, s in enumerate(spec.stages) if i > index
             and s.classifiers == "shortlist" and spec.shortlist_source(i) == index]
    if not later:
        return
    best = results.groupby(["classifier", "task"])[metric].max().unstack()
    worst = best.min(axis=1).sort_values(ascending=False)
    shown = "; ".join(
        f"{clf} " + ", ".join(f"{task} {best.loc[clf, task]:.2f}" for task in best.columns)
        for clf in worst.index[:6])
    top = list(worst.index[:2])
    raise RunError(
        f"stage '{stage.name}' shortlisted no classifier for stage(s) {', '.join(later)}: no "
        f"classifier reached {metric} {stage.shortlist.min_accuracy} on every task (best "
        f"{metric} per task: {shown}); name the classifiers to keep in stage '{stage.name}' "
        f"(shortlist: {{keep: [{', '.join(top)}]}}) or lower its shortlist.min_accuracy (the "
        f"best classifier reaches {worst.iloc[0]:.2f} on its worst task), then run the same "
        "command again: the finished evaluations are kept.")


register_stage_kind(StageKind(
    name=STANDARD, plan=plan_standard, conclude=_conclude_standard,
    about="Classifiers, pipelines, searches, modalities and parcellations, as the stage lists "
          "them (the published study's screen, refine, tune and enrich stages)."))

# The built-in kinds other than `standard` are defined in their own modules and register
# themselves on import (after the names above exist, which they use); importing them here
# makes them known wherever stage kinds are looked up (load_study, the runner).
from . import importance_stage as _importance_stage  # noqa: E402,F401
from . import learn_stage as _learn_stage  # noqa: E402,F401
