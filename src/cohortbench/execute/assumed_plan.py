"""A study's plan before it runs: what earlier stages would decide, assumed and said.

``classifiers: shortlist`` is planned as every classifier of the shortlisting
stage (an upper bound), or as its ``keep`` list; ``pipeline: best`` as the
previous stage's pipeline that feeds the classifier the most features without
RFE (the costliest to tune but for RFE), or as its only pipeline. Each stage is
planned by its own kind, as the runner plans it from real results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ..design.classifiers import classifier_names
from ..design.plans import Decision, PlannedEvaluation, StageContext
from ..design.stage_kinds import stage_kind
from ..design.stages import STEP_KEYS
from ..errors import CohortbenchError

__all__ = ["StagePlan", "evaluation_key", "stage_plans"]


def evaluation_key(p: PlannedEvaluation) -> tuple:
    """How the estimate names an evaluation: ``(stage, task, modalities, parcellation,
    config, subset, shuffles, outer CV, records)`` (what the runner's content key depends on)."""
    subset = getattr(p, "subset", None)
    return (p.stage, p.task, p.modalities, p.parcellation, p.config,
            None if subset is None else subset.key, getattr(p, "permutations", None),
            getattr(p, "outer", None),
            tuple(getattr(p, "records", ()) or ()))


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


def _assumed_results(planned: list, metric: str, best: dict | None) -> pd.DataFrame:
    """Results a stage could have, under which ``best`` is its best pipeline."""
    rows = []
    for p in planned:
        steps = {k: getattr(p.config, k) for k in STEP_KEYS}
        rows.append({"stage": p.stage, "task": p.task, "classifier": p.config.classifier, **steps,
                     metric: float(best is not None and steps == best), "z_score": 0.0})
    return pd.DataFrame(rows, columns=["stage", "task", "classifier", *STEP_KEYS, metric, "z_score"])


def stage_plans(study, done: Callable[[PlannedEvaluation], bool] | None = None) -> list[StagePlan]:
    """Every stage's planned evaluations, assuming what earlier results would decide.

    Each stage is planned by its own kind (:mod:`~cohortbench.design.stage_kinds`),
    as the runner plans it, from results and decisions made up to match the
    assumptions: a shortlist of every classifier the shortlisting stage evaluates
    (its ``keep`` list when it has one), and results whose best pipeline is
    :func:`_assumed_best`. A stage its kind cannot plan from them is left out of
    the estimate, and says so.
    """
    spec, order = study.spec, list(classifier_names())
    results: dict = {}
    decisions: dict = {}
    notes_of: dict = {}  # stage name -> what its plan assumed
    plans, seen = [], set()
    for index, stage in enumerate(spec.stages):
        notes, n_assumed = [], None
        if getattr(stage, "classifiers", None) == "shortlist":
            source = spec.shortlist_source(index)
            if source is not None and notes_of.get(("shortlist", spec.stages[source].name)):
                notes.append(notes_of[("shortlist", spec.stages[source].name)])
                n_assumed = len(decisions[(spec.stages[source].name, "shortlist")]
                                .payload["classifiers"])
        context = StageContext(study, index, dict(results), dict(decisions))
        if getattr(stage, "pipeline", None) == "best":
            source, _ = context.previous_results()
            notes += [notes_of[("best", source)]] if notes_of.get(("best", source)) else []
        try:
            plan = stage_kind(stage).plan(context)
            planned, cross_stage = list(plan.evaluations), plan.cross_stage
        except (CohortbenchError, KeyError):
            planned, cross_stage = [], False
            notes.append("not estimated: its plan needs results this estimate cannot assume")
        if n_assumed is not None and any(s != "none" for s in getattr(stage, "search", ["none"])):
            notes.append("its searches priced as candidates x inner folds of a default fit")
        left = [p for p in planned if not (done and done(p))]
        todo = [p for p in left if evaluation_key(p)[1:] not in seen]  # the runner copies the others
        seen.update(evaluation_key(p)[1:] for p in planned)
        # a note may itself join several (an earlier stage's assumptions): each said once
        assumption = "; ".join(dict.fromkeys(part for note in notes
                                             for part in note.split("; "))) or None
        plans.append(StagePlan(stage, todo, len(planned) - len(left), assumption, n_assumed,
                               len(left) - len(todo)))
        # What later stages will read: this stage's results and its shortlist.
        if cross_stage:
            steps = [{k: getattr(p.config, k) for k in STEP_KEYS} for p in planned]
            best, why = _assumed_best(steps) if steps else (None, None)
            results[stage.name] = _assumed_results(planned, spec.metric, best)
            notes_of[("best", stage.name)] = "; ".join(t for t in (assumption, why) if t)
        rule = getattr(stage, "shortlist", None)
        if rule is not None:
            keep = getattr(rule, "keep", None)
            kept = [c for c in order if c in keep] if keep else \
                list(dict.fromkeys(p.config.classifier for p in planned))
            decisions[(stage.name, "shortlist")] = Decision(stage.name, "shortlist",
                                                            {"classifiers": kept})
            notes_of[("shortlist", stage.name)] = None if keep else (
                f"assuming all {len(kept)} classifiers of stage '{stage.name}' are shortlisted")
    return plans
