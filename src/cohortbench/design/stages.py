"""Stages of a study: expand each into planned evaluations; decide between stages.

A stage may depend on the previous stage's outcome (``classifiers: shortlist``,
``pipeline: best``). Those decisions are computed here from the previous stage's
results (a DataFrame with the export columns) so they are deterministic and can be
recorded and re-derived on resume.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import StudyError
from .configs import PipelineConfig, content_id
from .plans import PlannedEvaluation
from .side_options import SIDE_STEPS, side_fields
from .vocabulary import STEP_FIELDS

__all__ = [
    "PlannedEvaluation",
    "STEP_KEYS",
    "plan_stage",
    "shortlist_classifiers",
    "best_pipeline",
    "stage_needs_previous",
]

STEP_KEYS = STEP_FIELDS


def stage_needs_previous(stage) -> bool:
    return stage.classifiers == "shortlist" or stage.pipeline == "best"


def _pipeline_steps(stage, best: dict | None) -> list[dict]:
    if stage.grid is not None:
        return stage.grid.expand()
    if stage.pipeline == "best":
        if best is None:
            raise StudyError(f"stage '{stage.name}': `pipeline: best` needs a previous stage with results.")
        return [dict(best)]
    steps = {k: "none" for k in STEP_KEYS}
    steps["n_features"] = None
    if stage.pipeline is not None:
        steps.update(stage.pipeline.steps())
    return [steps]


def plan_stage(
    stage,
    stage_index: int,
    *,
    classifiers: list[str],
    tasks: list[str],
    default_modalities: tuple[str, ...],
    imputation: str,
    best: dict | None = None,
) -> list[PlannedEvaluation]:
    """Expand one stage into planned evaluations, in a fixed order.

    Order: modality combination, parcellation, task, classifier, pipeline, search.
    ``position`` encodes (stage index, order) so exports sort the same way whatever
    order evaluations finish in.
    """
    modality_sets = [tuple(m) for m in stage.modalities] if stage.modalities else [tuple(default_modalities)]
    parcellations = list(stage.parcellations) if stage.parcellations else ["all"]
    stage_tasks = list(stage.tasks) if stage.tasks else list(tasks)
    searches = list(stage.search) if stage.search else ["none"]
    pipelines = _pipeline_steps(stage, best)
    planned = []
    for mods in modality_sets:
        for parc in parcellations:
            for task in stage_tasks:
                for clf in classifiers:
                    for steps in pipelines:
                        for search in searches:
                            config = PipelineConfig(
                                classifier=clf,
                                row_scaling=steps["row_scaling"],
                                imputation=imputation,
                                column_scaling=steps["column_scaling"],
                                feature_selection=steps["feature_selection"],
                                n_features=steps.get("n_features"),
                                dim_reduction=steps["dim_reduction"],
                                search=search,
                                **side_fields(steps),
                            )
                            planned.append(PlannedEvaluation(
                                stage=stage.name,
                                stage_index=stage_index,
                                position=stage_index * 10_000_000 + len(planned),
                                task=task,
                                modalities=mods,
                                parcellation=parc,
                                config=config,
                            ))
    return planned


def shortlist_classifiers(rule, results: pd.DataFrame, order: list[str], metric: str) -> tuple[list[str], dict]:
    """Apply a stage's ``shortlist`` rule to its results.

    A classifier is kept when its best ``metric`` over its configurations reaches
    ``min_accuracy`` on every task of the stage (a classifier with a failed or
    missing task is not kept); or when ``keep`` lists it.

    Returns
    -------
    names : list of str, in registry order
    reasons : dict, classifier -> "kept (accuracy: 2-class 0.900, ...)" or "dropped (...)"
    """
    if rule is None:
        raise StudyError("`classifiers: shortlist` needs a `shortlist:` rule on the previous stage.")
    present = [c for c in order if c in set(results["classifier"])]
    tasks = sorted(set(results["task"]))
    best = results.groupby(["classifier", "task"])[metric].max()
    reasons = {}
    kept = []
    keep = getattr(rule, "keep", None)
    threshold = getattr(rule, "min_accuracy", None)
    for clf in present:
        scores = {t: (float(best[(clf, t)]) if (clf, t) in best.index else None) for t in tasks}
        if keep:
            ok = clf in keep
        else:
            ok = all(s is not None and s >= threshold for s in scores.values())
        shown = ", ".join(f"{t} {'failed' if v is None else f'{v:.3f}'}" for t, v in scores.items())
        reasons[clf] = f"{'kept' if ok else 'dropped'} ({metric}: {shown})"
        if ok:
            kept.append(clf)
    if keep:
        kept = [c for c in keep if c in order] if not present else [c for c in order if c in keep]
    return kept, reasons


def best_pipeline(results: pd.DataFrame, metric: str) -> tuple[dict, dict]:
    """The best pipeline (steps only) of a stage, across its classifiers and tasks.

    Pipelines are ranked by their mean ``metric`` over every classifier and task,
    ties broken by mean Z-score, then by first appearance in the stage. The side
    steps (``harmonize``, ``confounds``) are part of a pipeline when the results
    have them (a study using them); the best one's are passed on where not ``none``.
    """
    if results.empty:
        raise StudyError("`pipeline: best` found no finished results in the previous stage.")
    df = results.copy()
    df["n_features"] = df["n_features"].astype("Float64")
    keys = list(STEP_KEYS) + [k for k in SIDE_STEPS if k in df.columns]
    df["_pipeline"] = [
        content_id({k: (None if pd.isna(r[k]) else r[k]) for k in keys})
        for _, r in df[keys].astype(object).iterrows()
    ]
    first = {pid: i for i, pid in reversed(list(enumerate(df["_pipeline"])))}
    agg = df.groupby("_pipeline").agg(score=(metric, "mean"), z=("z_score", "mean"))
    agg["z"] = agg["z"].fillna(-np.inf)
    agg["first"] = [first[p] for p in agg.index]
    agg = agg.sort_values(["score", "z", "first"], ascending=[False, False, True])
    winner = agg.index[0]
    row = df[df["_pipeline"] == winner].iloc[0]
    steps = {k: row[k] for k in STEP_KEYS}
    steps["n_features"] = None if pd.isna(steps["n_features"]) else int(steps["n_features"])
    for k in SIDE_STEPS:
        if k in df.columns and not pd.isna(row[k]) and str(row[k]) != "none":
            steps[k] = str(row[k])
    why = {
        "mean_" + metric: round(float(agg.loc[winner, "score"]), 4),
        "mean_z": None if not np.isfinite(agg.loc[winner, "z"]) else round(float(agg.loc[winner, "z"]), 3),
        "n_pipelines_compared": int(len(agg)),
    }
    return steps, why
