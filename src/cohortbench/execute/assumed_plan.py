"""A study's plan before it runs: what earlier stages would decide, assumed and said.

``classifiers: shortlist`` is planned as every classifier of the shortlisting
stage (an upper bound), or as its ``keep`` list; ``pipeline: best`` as the
previous stage's pipeline that feeds the classifier the most features without
RFE (the costliest to tune but for RFE), or as its only pipeline. The runner
makes the same plans from results (:func:`~cohortbench.design.stages.plan_stage`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..design.classifiers import classifier_names
from ..design.stages import PlannedEvaluation, plan_stage

__all__ = ["StagePlan", "evaluation_key", "stage_plans"]


def evaluation_key(p: PlannedEvaluation) -> tuple:
    """``(stage, task, modalities, parcellation, config)``: how the estimate names an evaluation."""
    return (p.stage, p.task, p.modalities, p.parcellation, p.config)


def _describe_steps(steps: dict) -> str:
    sel = steps["feature_selection"]
    sel = "no selection" if sel == "none" else f"{sel} k = {steps.get('n_features')}"
    red = "no reduction" if steps["dim_reduction"] == "none" else steps["dim_reduction"]
    return (f"row scaling {steps['row_scaling']}, column scaling {steps['column_scaling']}, "
            f"{sel}, {red}")


def _assumed_best(steps: list[dict]) -> tuple[dict, str | None]:
    """The pipeline assumed for ``pipeline: best``: exact when there is one to choose from."""
    unique = list({repr(sorted(s.items())): s for s in steps}.values())
    if len(unique) == 1:
        return unique[0], None
    # The widest input without RFE costs most to tune (saga, networks and trees
    # scale with the features; an RFE path inside every inner fold is the exception).
    pool = [s for s in unique if s["feature_selection"] != "rfe"] or unique
    best = max(pool, key=lambda s: (s["dim_reduction"] == "none", s["feature_selection"] == "none",
                                    s.get("n_features") or 0,
                                    s["row_scaling"] != "none" and s["column_scaling"] != "none"))
    return best, f"`pipeline: best` taken as {_describe_steps(best)}"


@dataclass
class StagePlan:
    """A stage's evaluations as the estimate plans them.

    ``todo`` are to compute; ``reused`` more are left to do but computed by an
    earlier stage (the runner copies them); ``already_done`` a resumed run has.
    ``assumption`` says what was assumed about earlier results (None when the
    plan is known); ``n_classifiers`` the classifiers assumed shortlisted.
    """

    stage: object
    todo: list
    already_done: int
    assumption: str | None
    n_classifiers: int | None
    reused: int = 0


def stage_plans(study, done: Callable[[PlannedEvaluation], bool] | None) -> list[StagePlan]:
    """Every stage's planned evaluations, assuming what earlier results would decide."""
    order = list(classifier_names())
    shortlist: tuple[list[str], str | None] = ([], None)
    previous: tuple[list[dict], str | None] = ([], None)
    plans, seen = [], set()
    for index, stage in enumerate(study.spec.stages):
        notes, n_assumed = [], None
        if stage.classifiers == "all":
            classifiers = order
        elif stage.classifiers == "shortlist":
            classifiers, why = shortlist
            if why:
                notes.append(why)
                n_assumed = len(classifiers)
        else:
            classifiers = list(stage.classifiers)
        best = None
        if stage.pipeline == "best":
            best, why = _assumed_best(previous[0]) if previous[0] else (None, None)
            notes += [t for t in (previous[1], why) if t]
        planned = plan_stage(stage, index, classifiers=classifiers, tasks=list(study.tasks),
                             default_modalities=study.default_modalities(),
                             imputation=study.imputation, best=best) if classifiers else []
        left = [p for p in planned if not (done and done(p))]
        todo = [p for p in left if evaluation_key(p)[1:] not in seen]  # the runner copies the others
        seen.update(evaluation_key(p)[1:] for p in planned)
        if n_assumed is not None and any(s != "none" for s in stage.search):
            notes.append("its searches priced as candidates x inner folds of a default fit")
        plans.append(StagePlan(stage, todo, len(planned) - len(left),
                                "; ".join(dict.fromkeys(notes)) or None, n_assumed,
                                len(left) - len(todo)))
        if stage.shortlist is not None:
            keep = getattr(stage.shortlist, "keep", None)
            if keep:
                shortlist = ([c for c in order if c in keep], None)
            else:
                shortlist = (classifiers, f"assuming all {len(classifiers)} classifiers of stage "
                                          f"'{stage.name}' are shortlisted")
        steps = [best] if best is not None else ([] if stage.pipeline == "best" else stage.steps())
        previous = (steps, "; ".join(notes) if stage.pipeline == "best" else None)
    return plans
