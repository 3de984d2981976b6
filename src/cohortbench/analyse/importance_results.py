"""The results of ``importance`` stages: map contributions and region importance (issue 20).

An ``importance`` stage (:mod:`cohortbench.design.importance_stage`) records, as a
decision of kind ``importance``, which evaluation it examined per task and what each
of its own evaluations is (a view without a map, a map alone, the evaluation with
activation patterns). :func:`collect_importance` reads that decision with the
exported tables and the stored records and returns everything the exports and the
report show:

- **map contributions** (``map_contributions.csv``), one row per view: its accuracy
  with the 95 % interval, the ``change`` against the evaluation examined (accuracy
  of the view minus accuracy of the full view, as a fraction: -0.09 is 9 points
  lower), the exact McNemar p of the two on the same subjects
  (:mod:`cohortbench.analyse.paired`; empty when they are not paired, e.g. other
  subjects under ``drop-subjects``) and the view's permutation p;
- **region importance** (``importance.csv``), from each activation record:
  :func:`~cohortbench.analyse.importance.importance_table` in the long form of
  :func:`~cohortbench.analyse.importance.importance_export`; the per-map and per-ROI
  aggregates; the stability of the selected features
  (:func:`~cohortbench.analyse.stability.nogueira_stability`) when the pipeline selects.

:func:`importance_from_store` does the reading for the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..execute.importance_fold import RECORD_NAME, decode_importance
from ..execute.importance_record import ImportanceRecord
from .importance import importance_by, importance_export, importance_table, survivors
from .paired import EvaluationPredictions, paired_comparison
from .verdicts import format_p
from .stability import Stability, nogueira_stability

__all__ = ["CONTRIBUTION_COLUMNS", "IMPORTANCE_COLUMNS", "ImportanceTarget",
           "ImportanceResults", "collect_importance", "importance_from_store",
           "importance_stages", "record_summary", "stability_text", "contribution_sentence"]

#: The columns of ``map_contributions.csv``: the issue's contract first, then context.
CONTRIBUTION_COLUMNS = (
    "evaluation_id", "task", "kind", "map_or_modality", "accuracy", "ci_low", "ci_high",
    "change", "mcnemar_p", "p_value",
    "stage", "level", "modalities", "parcellation", "balanced_accuracy",
    "balanced_accuracy_ci_low", "balanced_accuracy_ci_high", "n_subjects",
    "full_evaluation_id", "full_accuracy", "only_full", "only_view",
)
#: The columns of ``importance.csv``.
IMPORTANCE_COLUMNS = ("evaluation_id", "task", "class", "map", "roi", "statistic", "value",
                      "p_value", "p_familywise")
DECISION_KIND = "importance"


@dataclass(frozen=True)
class ImportanceTarget:
    """One task's examined configuration and the evaluations of the importance stage about it.

    Attributes
    ----------
    stage, task : str
    source_evaluation : str
        The evaluation examined (in the stage ``source_stage``).
    source_stage, configuration, parcellation : str
    modalities, maps : tuple of str
        Of the examined view.
    views : tuple of dict
        Part A: ``{kind, level, name, modalities}`` per view.
    regions_evaluation : str or None
        Part B's evaluation id (None when not planned or not finished).
    regions_outer : str or None
        Part B's outer CV.
    """

    stage: str
    task: str
    source_evaluation: str
    source_stage: str
    configuration: str
    parcellation: str
    modalities: tuple[str, ...]
    maps: tuple[str, ...]
    views: tuple = ()
    regions_evaluation: str | None = None
    regions_outer: str | None = None


@dataclass(frozen=True, eq=False)
class ImportanceResults:
    """Everything the exports and the report show of a run's importance stages.

    Attributes
    ----------
    targets : tuple of ImportanceTarget
    contributions : DataFrame
        :data:`CONTRIBUTION_COLUMNS`.
    export : DataFrame
        :data:`IMPORTANCE_COLUMNS` (``importance.csv``).
    records, tables, by_map, stability, survival : dict
        Part B's evaluation id -> its :class:`ImportanceRecord`, its
        :func:`importance_table`, its per-map aggregate (None when not linear), its
        selection :class:`Stability` (None without a selector) and the
        :func:`survivors` summary (None when not linear).
    formed_modalities : dict
        Modality name -> its one map, for the modalities formed for the views.
    """

    targets: tuple = ()
    contributions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(CONTRIBUTION_COLUMNS)))
    export: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(IMPORTANCE_COLUMNS)))
    records: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)
    by_map: dict = field(default_factory=dict)
    stability: dict = field(default_factory=dict)
    survival: dict = field(default_factory=dict)
    formed_modalities: dict = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.targets)


def importance_stages(decisions) -> list[dict]:
    """The stored decisions of kind ``importance`` (one per importance stage)."""
    return [d for d in decisions or () if d.get("kind") == DECISION_KIND
            and isinstance(d.get("payload"), dict)]


def _joined(modalities) -> str:
    return "+".join(modalities)


def _row(evaluations: pd.DataFrame, evaluation_id: str):
    rows = evaluations[evaluations["evaluation_id"] == evaluation_id]
    return None if rows.empty else rows.iloc[0]


def _stage_row(frame: pd.DataFrame, task: str, modalities, parcellation: str):
    rows = frame[(frame["task"] == task) & (frame["modalities"] == _joined(modalities))
                 & (frame["parcellation"] == parcellation)]
    return None if rows.empty else rows.iloc[0]


def _targets(decision: dict, evaluations: pd.DataFrame, records: dict) -> list[ImportanceTarget]:
    stage = decision["stage"]
    own = evaluations[evaluations["stage"] == stage]
    with_record = own[[RECORD_NAME in (records.get(i) or {}) for i in own["evaluation_id"]]]
    out = []
    for target in decision["payload"].get("targets") or []:
        regions = target.get("regions") or None
        row = None
        if regions:
            row = _stage_row(with_record, target["task"], regions["modalities"],
                             target["parcellation"])
        out.append(ImportanceTarget(
            stage=stage, task=target["task"], source_evaluation=target["source_evaluation"],
            source_stage=target.get("source_stage", ""),
            configuration=target.get("configuration", ""),
            parcellation=target["parcellation"], modalities=tuple(target["modalities"]),
            maps=tuple(target.get("maps") or ()), views=tuple(target.get("views") or ()),
            regions_evaluation=None if row is None else str(row["evaluation_id"]),
            regions_outer=None if not regions else regions.get("outer")))
    return out


def _float(value) -> float:
    return float("nan") if value is None or pd.isna(value) else float(value)


def _contributions(target: ImportanceTarget, evaluations, predictions) -> list[dict]:
    full = _row(evaluations, target.source_evaluation)
    own = evaluations[evaluations["stage"] == target.stage]
    if target.regions_evaluation is not None:  # part B has no part A view's modalities
        own = own[own["evaluation_id"] != target.regions_evaluation]
    rows = []
    for view in target.views:
        row = _stage_row(own, target.task, view["modalities"], target.parcellation)
        if row is None:
            continue  # failed or not run yet: the report lists what is missing
        mcnemar, only_full, only_view = float("nan"), np.nan, np.nan
        if full is not None and predictions is not None and not predictions.empty:
            compared = paired_comparison(
                EvaluationPredictions.from_frames(evaluations, predictions, full["evaluation_id"]),
                EvaluationPredictions.from_frames(evaluations, predictions, row["evaluation_id"]))
            if compared.comparable:
                mcnemar, only_full, only_view = compared.p_value, compared.b, compared.c
        full_accuracy = np.nan if full is None else _float(full["accuracy"])
        rows.append({
            "evaluation_id": row["evaluation_id"], "task": target.task, "kind": view["kind"],
            "map_or_modality": view["name"], "accuracy": _float(row["accuracy"]),
            "ci_low": _float(row.get("accuracy_ci_low")),
            "ci_high": _float(row.get("accuracy_ci_high")),
            "change": _float(row["accuracy"]) - full_accuracy, "mcnemar_p": mcnemar,
            "p_value": _float(row.get("p_value")), "stage": target.stage,
            "level": view["level"], "modalities": _joined(view["modalities"]),
            "parcellation": target.parcellation,
            "balanced_accuracy": _float(row.get("balanced_accuracy")),
            "balanced_accuracy_ci_low": _float(row.get("balanced_accuracy_ci_low")),
            "balanced_accuracy_ci_high": _float(row.get("balanced_accuracy_ci_high")),
            "n_subjects": row.get("n_subjects"), "full_evaluation_id": target.source_evaluation,
            "full_accuracy": full_accuracy, "only_full": only_full, "only_view": only_view,
        })
    return rows


def collect_importance(evaluations: pd.DataFrame, predictions: pd.DataFrame | None,
                       decisions, records: dict) -> ImportanceResults:
    """Map contributions and region importance of every ``importance`` stage of a run.

    Parameters
    ----------
    evaluations, predictions : DataFrame
        The exported ``evaluations`` and ``predictions`` tables (every stage: the
        evaluation examined lives in another stage).
    decisions : sequence of dict
        The run's decisions ``{stage, kind, payload}``.
    records : dict
        Evaluation id -> ``{record name: stored value}`` (the importance stages'
        evaluations at least).

    Returns
    -------
    ImportanceResults
        Empty (false) when the run has no importance stage.
    """
    chosen = importance_stages(decisions)
    if not chosen or evaluations is None or evaluations.empty:
        return ImportanceResults()
    targets, contributions, exports = [], [], []
    decoded, tables, by_map, stability, survival, formed = {}, {}, {}, {}, {}, {}
    for decision in chosen:
        formed.update(decision["payload"].get("formed_modalities") or {})
        for target in _targets(decision, evaluations, records):
            targets.append(target)
            contributions += _contributions(target, evaluations, predictions)
            key = target.regions_evaluation
            if key is None:
                continue
            record = decode_importance(records[key][RECORD_NAME])
            table = importance_table(record)
            decoded[key], tables[key] = record, table
            linear = record.kind == "linear"
            by_map[key] = importance_by(record, "map") if linear else None
            survival[key] = survivors(table, record.n_permutations) if linear else None
            stability[key] = (None if record.selected is None
                              else nogueira_stability(record.selected))
            exports.append(importance_export(table, evaluation_id=key, task=target.task))
    contribution_frame = pd.DataFrame(contributions, columns=list(CONTRIBUTION_COLUMNS))
    export = (pd.concat(exports, ignore_index=True) if exports
              else pd.DataFrame(columns=list(IMPORTANCE_COLUMNS)))
    return ImportanceResults(tuple(targets), contribution_frame, export, decoded, tables,
                             by_map, stability, survival, formed)


def importance_from_store(store, frames: dict | None = None) -> ImportanceResults:
    """:func:`collect_importance` of a results store (reads only what it needs).

    Parameters
    ----------
    store : ResultsStore
    frames : dict, optional
        The store's :func:`~cohortbench.store.export.export_frames`, when the caller
        has them already.
    """
    from ..store.export import export_frames

    decisions = store.decisions()
    chosen = importance_stages(decisions)
    if not chosen:
        return ImportanceResults()
    frames = frames if frames is not None else export_frames(store)
    evaluations = frames["evaluations"]
    stages = {d["stage"] for d in chosen}
    ids = evaluations.loc[evaluations["stage"].isin(stages), "evaluation_id"]
    records = {key: store.records(key) for key in ids}
    return collect_importance(evaluations, frames["predictions"], decisions, records)


def stability_text(result: Stability) -> str:
    """One sentence on the stability of the selected features."""
    if result is None or np.isnan(result.estimate):
        return ""
    return (f"Selection stability (Nogueira et al. 2018) over {result.n_sets} outer folds: "
            f"{result.estimate:.2f} [{result.ci_low:.2f}, {result.ci_high:.2f}] (1 = the same "
            f"{result.mean_size:.0f} features in every fold, 0 = no more alike than chance).")



def record_summary(record: ImportanceRecord) -> str:
    """What the record holds, in a few words (decision functions, folds, shuffles)."""
    if record.kind != "linear":
        return "no activation pattern (the classifier is not linear)"
    folds = record.real_folds.shape[0]
    return (f"{len(record.function_names)} decision function(s) x {len(record.feature_names):,} "
            f"features, {folds} outer folds, {record.n_permutations} shuffles")



def _named(row) -> str:
    name = row["map_or_modality"]
    return f"the {name} maps" if row["level"] == "modality" else f"the {name} map"


def _interval(row) -> str:
    if pd.isna(row["ci_low"]):
        return f"{row['accuracy']:.3f}"
    return f"{row['accuracy']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def contribution_sentence(contributions: pd.DataFrame, task: str, alpha: float = 0.05) -> str:
    """Part A of one task in plain words: the costliest removal, the best map alone.

    E.g. "Task 3-class: without the Na maps accuracy falls by 9 points, from 0.800 to
    0.710 [0.53, 0.85] (McNemar p = 0.12: not distinguishable on these subjects); ..."
    """
    part = contributions[contributions["task"] == task]
    if part.empty:
        return f"Task {task}: no view without a map or with one map alone has finished."
    full = part["full_accuracy"].iloc[0]
    out = [f"Task {task}"]
    left = part[part["kind"] == "leave-out"].sort_values("change", kind="stable")
    if not left.empty:
        row = left.iloc[0]
        points = abs(100 * row["change"])
        verb = ("falls" if row["change"] < 0 else "rises") if points >= 0.05 else "stays"
        amount = f" by {points:.0f} points" if verb != "stays" else ""
        p = row["mcnemar_p"]
        test = ("McNemar p not available: the two were not evaluated on the same subjects "
                "and folds" if pd.isna(p) else
                f"McNemar p = {format_p(p)}: "
                + ("a difference on these subjects" if p < alpha else
                   "not distinguishable on these subjects"))
        out.append(f": without {_named(row)} accuracy {verb}{amount}, from {full:.3f} to "
                   f"{_interval(row)} ({test})")
        others = 100 * left["change"].iloc[1:]
        if len(others):
            out.append(f"; the other removals change it by {others.min():+.0f} to "
                       f"{others.max():+.0f} points")
        significant = left[left["mcnemar_p"] < alpha]
        if len(significant) == 0:
            out.append("; no removal changes the predictions detectably (McNemar p >= "
                       f"{alpha:g} for all {len(left)})")
    alone = part[part["kind"] == "only"].sort_values("accuracy", ascending=False, kind="stable")
    if not alone.empty:
        row = alone.iloc[0]
        out.append(f". Alone, {_named(row)} reach{'es' if row['level'] == 'map' else ''} "
                   f"{_interval(row)} (permutation p = {format_p(row['p_value'])})")
    return "".join(out) + "."
