"""The ``importance`` stage kind: which maps and which regions drive the result (issue 20).

In the study file::

    - name: importance
      kind: importance
      options:
        of: [refine, tune]          # default: every earlier stage that compares configurations
        maps: true                  # part A: leave one map (or modality) out, or keep it alone
        regions: true               # part B: activation patterns with family-wise p-values
        resampling: "repeated-stratified-kfold:5:10"   # part B's outer CV (default: cv.outer)
      tasks: [3-class, SvF]         # default: every task with results in those stages

For each task the stage takes **the best configuration** of the stages named in
``of`` (the same rule as the report's summary, :func:`~cohortbench.design.ranking.best_position`:
highest accuracy, then Z-score, then evaluation order) and plans, on the same task,
classifier, pipeline and parcellation:

- **part A** (``maps``): for every map of the best configuration's view, the view
  without it (``leave-out``) and the map alone (``only``); when the view holds
  several modalities and one of them groups several maps, the same per modality.
  A map set that is a union of the study's modalities is evaluated as those
  modalities; otherwise each map is a modality of its own, formed when the study is
  loaded (:func:`form_map_modalities`) and named after the map (``<map>-map`` when a
  modality of another content already has the map's name). Views that hold the
  same maps are evaluated once. The study's outer CV and shuffles: every view is
  paired, subject by subject, with the best configuration itself.
- **part B** (``regions``): the best configuration again, with the per-fold
  ``importance`` record (:mod:`cohortbench.execute.importance_fold`), on the
  study's outer CV or on ``resampling`` (the extension
  ``PlannedEvaluation.outer``): stability of the selected features is only
  meaningful on resamples that differ, which leave-one-out training sets do not.

Every evaluation of the stage is kept out of the analyses that compare
configurations (``cross_stage=False``). The plan is recorded as a decision of kind
``importance`` whose payload names, per task, the evaluation examined
(``source_evaluation``), each view's role and modalities, and the modalities formed;
the analyses (:mod:`cohortbench.analyse.importance_results`) read it.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from pydantic import AfterValidator, Field, field_validator, model_validator

from ..errors import StudyError
from .configs import PipelineConfig
from .plans import Decision, PlannedEvaluation, StageContext, StagePlan
from .ranking import best_position
from .stage_kinds import StageKind, register_stage_kind
from .study_errors import no_repeats, study_error
from .study_model import StudyModel
from .study_sections import CVSection, NonEmptyStr

__all__ = ["IMPORTANCE", "RECORD", "ImportanceOptions", "form_map_modalities",
           "map_modality", "plan_importance"]

IMPORTANCE = "importance"
#: The per-fold record part B asks for (registered in ``cohortbench.execute.importance_fold``).
RECORD = "importance"
# Stage keys of the standard kind that an importance stage takes from its sources.
_NOT_TAKEN = ("classifiers", "pipeline", "grid", "search", "shortlist", "modalities",
              "parcellations")


class ImportanceOptions(StudyModel):
    """The ``options:`` of a stage of kind ``importance``.

    ``of``: the earlier stages whose best configuration per task is examined
    (default: every earlier stage whose evaluations compare configurations);
    ``maps``: leave-one-out and single-map (and modality) evaluations; ``regions``:
    activation patterns, family-wise p-values and selection frequencies;
    ``resampling``: the outer CV of the ``regions`` evaluation (default: the
    study's ``cv.outer``), e.g. ``repeated-stratified-kfold:5:10`` for a
    meaningful selection stability.
    """

    of: Annotated[list[NonEmptyStr], Field(min_length=1), AfterValidator(no_repeats)] | None = None
    maps: bool = True
    regions: bool = True
    resampling: str | None = None

    @field_validator("resampling")
    @classmethod
    def _check_resampling(cls, value: str | None) -> str | None:
        return None if value is None else CVSection._check_outer(value)

    @model_validator(mode="after")
    def _something_to_do(self) -> ImportanceOptions:
        if not (self.maps or self.regions):
            raise study_error("maps and regions are both false, so the stage has nothing to "
                              "evaluate; set one of them to true or remove the stage", "maps")
        return self


def map_modality(modalities: dict, map_name: str) -> str | None:
    """The name of the modality that holds ``map_name`` alone (None when there is none)."""
    return next((name for name, members in modalities.items()
                 if tuple(members) == (map_name,)), None)


def form_map_modalities(spec, cohort, index: int) -> tuple[str, ...]:
    """The ``on_load`` hook: check the stage and form one modality per map its views need.

    A map that no modality holds alone gets one, named after the map (``<map>-map``
    when a modality of other maps has that name); a note in ``cohort.decisions`` says
    which. Returns the names formed.
    """
    stage = spec.stages[index]
    for key in _NOT_TAKEN:
        if key in stage.model_fields_set:
            raise StudyError(
                f"stages[{index}].{key}: a stage of kind importance examines the best "
                f"configuration of the stages in options.of; remove `{key}` from stage "
                f"'{stage.name}'.")
    options = ImportanceOptions.model_validate(stage.options or {})
    earlier = [s.name for s in spec.stages[:index]]
    for name in options.of or ():
        if name not in earlier:
            raise StudyError(
                f"stages[{index}].options.of: '{name}' is not a stage before '{stage.name}'; "
                f"name earlier stages ({', '.join(earlier) or 'none yet'}).")
    if not options.maps:
        return ()
    formed = []
    for map_name in cohort.maps:
        if map_modality(cohort.modalities, map_name) is not None:
            continue
        name = map_name
        while name in cohort.modalities:
            name = f"{name}-map"
        cohort.modalities[name] = (map_name,)
        formed.append(name)
    if formed:
        cohort.decisions.append(
            f"stages[{index}] ('{stage.name}', kind importance) evaluates views that leave "
            "one map out or keep one map alone; for them each of the maps "
            f"{', '.join(cohort.modalities[n][0] for n in formed)} is also a modality of its "
            f"own ({', '.join(formed)}).")
    return tuple(formed)


# --------------------------------------------------------------------------- plan
def _sources(context: StageContext, options: ImportanceOptions) -> list[str]:
    stage = context.stage
    if options.of is None:
        names = [s.name for s in context.study.spec.stages[: context.index]
                 if s.name in context.results]
        if not names:
            raise StudyError(f"stage '{stage.name}' (kind importance) needs an earlier stage "
                             "whose evaluations compare configurations; add one before it.")
        return names
    for name in options.of:
        if name not in context.results:
            raise StudyError(f"stage '{stage.name}': options.of names '{name}', whose "
                             "evaluations are not compared across stages (its kind keeps them "
                             "apart), so it has no best configuration; name another stage.")
    return list(options.of)


def _config(row) -> PipelineConfig:
    n_features = row.get("n_features")
    return PipelineConfig(
        classifier=str(row["classifier"]), row_scaling=str(row["row_scaling"]),
        imputation=str(row.get("imputation") or "none"),
        column_scaling=str(row["column_scaling"]),
        feature_selection=str(row["feature_selection"]),
        n_features=None if n_features is None or pd.isna(n_features) else int(n_features),
        dim_reduction=str(row["dim_reduction"]), search=str(row.get("search") or "none"))


def _view_modalities(row, cohort) -> tuple[str, ...]:
    names = tuple(str(row["modalities"]).split("+"))
    unknown = [n for n in names if n not in cohort.modalities]
    if unknown:
        raise StudyError(f"evaluation {row['evaluation_key']}: its modalities "
                         f"'{row['modalities']}' are not the study's ({', '.join(unknown)} is "
                         "unknown); the importance stage cannot rebuild its view.")
    return names


def _as_modalities(kept: list[str], view: tuple[str, ...], modalities: dict) -> tuple[str, ...]:
    """The maps ``kept`` (in view order) named as the view's modalities when they are a union
    of them, else each map by the modality that holds it alone."""
    whole = [m for m in view if set(modalities[m]) <= set(kept)]
    if sorted(x for m in whole for x in modalities[m]) == sorted(kept):
        return tuple(whole)
    return tuple(map_modality(modalities, m) for m in kept)


def _views(view: tuple[str, ...], modalities: dict) -> list[dict]:
    """Part A's views of ``view``: per map, then per modality of several maps."""
    maps = list(dict.fromkeys(m for name in view for m in modalities[name]))
    if len(maps) < 2:
        return []
    groups = [("map", m, [m]) for m in maps]
    if len(view) > 1:
        groups += [("modality", name, list(modalities[name])) for name in view
                   if len(modalities[name]) > 1]
    out = []
    for level, name, members in groups:
        rest = [m for m in maps if m not in members]
        for kind, kept in (("leave-out", rest), ("only", members)):
            out.append({"kind": kind, "level": level, "name": name,
                        "modalities": list(_as_modalities(kept, view, modalities))})
    return out


def _describe(config: PipelineConfig) -> str:
    parts = [f"row {config.row_scaling}", f"column {config.column_scaling}"]
    if config.feature_selection != "none":
        parts.append(f"selection {config.feature_selection}-{config.n_features}")
    if config.dim_reduction != "none":
        parts.append(f"reduction {config.dim_reduction}")
    if config.search != "none":
        parts.append(f"search {config.search}")
    return f"{config.classifier} ({', '.join(parts)})"


def plan_importance(context: StageContext) -> StagePlan:
    """The plan of an ``importance`` stage (see the module docstring)."""
    study, stage, index = context.study, context.stage, context.index
    options = ImportanceOptions.model_validate(stage.options or {})
    sources = _sources(context, options)
    frame = pd.concat([context.results[s] for s in sources], ignore_index=True)
    tasks = list(stage.tasks) if stage.tasks else list(dict.fromkeys(frame["task"]))
    outer = None if options.resampling in (None, study.cv.outer) else options.resampling
    planned, targets, seen, missing = [], [], {}, []
    modalities = study.cohort.modalities

    def add(task, view, parcellation, config, records=(), outer=None):
        key = (task, tuple(view), parcellation, records, outer)
        if key not in seen:
            seen[key] = len(planned)
            planned.append(PlannedEvaluation(
                stage=stage.name, stage_index=index, position=index * 10_000_000 + len(planned),
                task=task, modalities=tuple(view), parcellation=parcellation, config=config,
                records=records, outer=outer))

    for task in tasks:
        rows = frame[frame["task"] == task].reset_index(drop=True)
        if rows.empty:
            missing.append(task)
            continue
        best = rows.iloc[best_position(rows, "accuracy")]
        config, parcellation = _config(best), str(best["parcellation"])
        view = _view_modalities(best, study.cohort)
        target = {"task": task, "source_stage": str(best["stage"]),
                  "source_evaluation": str(best["evaluation_key"]),
                  "configuration": _describe(config), "pipeline": config.to_dict(),
                  "modalities": list(view), "parcellation": parcellation,
                  "maps": list(dict.fromkeys(m for n in view for m in modalities[n])),
                  "views": [], "regions": None}
        if options.regions:
            add(task, view, parcellation, config, (RECORD,), outer)
            target["regions"] = {"modalities": list(view),
                                 "outer": options.resampling or study.cv.outer}
        if options.maps:
            target["views"] = _views(view, modalities)
            for entry in target["views"]:
                add(task, entry["modalities"], parcellation, config)
        targets.append(target)
    if not targets:
        raise StudyError(f"stage '{stage.name}': the stages it examines ({', '.join(sources)}) "
                         f"have no finished evaluation of task(s) {', '.join(tasks)}.")
    formed = {name: list(modalities[name]) for name in study.formed_modalities}
    text = (f"Stage {stage.name} examines the best configuration per task of stage(s) "
            f"{', '.join(sources)} (highest accuracy, then Z-score): "
            + "; ".join(f"{t['task']}: {t['configuration']} on {'+'.join(t['modalities'])}/"
                        f"{t['parcellation']} from stage {t['source_stage']}" for t in targets)
            + ".")
    if options.maps:
        text += (" It evaluates each without one map or modality, and each map or modality "
                 "alone, on the same subjects and folds.")
    if options.regions:
        text += (" It re-evaluates each with activation patterns recorded"
                 + (f" on {options.resampling}" if options.resampling else "") + ".")
    if missing:
        text += f" Task(s) {', '.join(missing)} have no result in those stages."
    payload = {"text": text, "of": sources, "targets": targets, "formed_modalities": formed,
               "resampling": options.resampling}
    decision = Decision(stage=stage.name, kind=IMPORTANCE, payload=payload, text=text)
    return StagePlan(stage=stage.name, kind=IMPORTANCE, evaluations=tuple(planned),
                     decisions=(decision,), cross_stage=False)


register_stage_kind(StageKind(
    name=IMPORTANCE, plan=plan_importance, cross_stage=False, options=ImportanceOptions,
    on_load=form_map_modalities,
    about="Which maps and which regions drive the best configuration of each task: the "
          "accuracy without each map or modality and with it alone, and each region's "
          "activation pattern with a family-wise p-value over every region and map."))
