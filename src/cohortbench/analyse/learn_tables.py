"""The tables of ``learn`` stages: the tidy learning curve and its projections.

Read from the exported evaluations (their ``subset`` column, ``size=S/repeat=R``) and the
stage's ``learning_curve`` decision (training sizes, projection targets, the study seed):

- ``learning_curve.csv``: one row per evaluation of a learn stage: the curve's keys
  (stage, task, classifier, pipeline fields, modalities, parcellation), ``n_subjects``,
  ``n_train`` (the mean outer training-set size, the curve's x-axis), ``repeat``,
  ``accuracy``, ``balanced_accuracy``, ``null_mean``, ``null_std``, ``p_value``;
- ``projection.csv``: per curve and projection target, what
  :func:`~cohortbench.analyse.learning_curve.project_learning_curve` gives:
  ``predicted_accuracy`` with its interval (``low``, ``high``), the gain per 10 subjects
  at today's size with its interval, ``extrapolated`` (``yes`` beyond twice the largest
  measured size), ``status`` and ``note`` (why nothing is projected, or the warning).

Each curve's bootstrap generator is seeded from the study seed and the curve's keys, so
the export and the report give the same intervals, run after run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..design.configs import content_id
from ..design.seeding import stable_int
from ..design.subsamples import parse_subset_key, training_size
from .learning_curve import LearningCurveProjection, project_learning_curve

__all__ = [
    "LEARN_KIND",
    "CURVE_KEYS",
    "LEARNING_CURVE_COLUMNS",
    "PROJECTION_COLUMNS",
    "LEVEL",
    "learn_stages",
    "learn_plan",
    "learning_curve_table",
    "curve_projections",
    "projection_table",
    "learn_tables",
]

LEARN_KIND = "learn"
#: What identifies one curve.
CURVE_KEYS = ("stage", "task", "classifier", "row_scaling", "imputation", "column_scaling",
              "feature_selection", "n_features", "dim_reduction", "search", "modalities",
              "parcellation")
LEARNING_CURVE_COLUMNS = CURVE_KEYS + ("n_subjects", "n_train", "repeat", "accuracy",
                                       "balanced_accuracy", "null_mean", "null_std",
                                       "p_value")
PROJECTION_COLUMNS = CURVE_KEYS + ("n_subjects", "n_train", "predicted_accuracy", "low",
                                   "high", "gain_per_10", "gain_low", "gain_high",
                                   "extrapolated", "status", "note")
#: Coverage of every interval of the tables and the report.
LEVEL = 0.9
N_BOOT = 1000


def learn_stages(stage_kinds: dict | None) -> list[str]:
    """The stages the run recorded as of kind ``learn``."""
    return [stage for stage, kind in (stage_kinds or {}).items()
            if isinstance(kind, dict) and kind.get("kind") == LEARN_KIND]


def learn_plan(decisions, stage: str) -> dict:
    """The payload of a learn stage's ``learning_curve`` decision (``{}`` when absent)."""
    for decision in decisions or ():
        if decision.get("stage") == stage and decision.get("kind") == "learning_curve":
            return dict(decision.get("payload") or {})
    return {}


def learning_curve_table(evaluations: pd.DataFrame, stage_kinds: dict | None,
                         decisions=(), *, with_ids: bool = False) -> pd.DataFrame:
    """One row per evaluation of a learn stage, in store order (module docstring).

    Parameters
    ----------
    evaluations : DataFrame
        The exported evaluations (with their ``subset`` column).
    stage_kinds : dict
        ``run_info["stage_kinds"]``.
    decisions : sequence of dict
        The stored decisions (``{stage, kind, payload}``).
    with_ids : bool
        Keep ``evaluation_id`` as the first column (to join the nulls).
    """
    stages = learn_stages(stage_kinds)
    if "subset" not in evaluations:
        evaluations = evaluations.assign(subset=None)
    rows = evaluations[evaluations["stage"].isin(stages)]
    parsed = [parse_subset_key(key) for key in rows["subset"]]
    keep = np.array([p is not None for p in parsed], dtype=bool)
    rows, parsed = rows[keep], [p for p in parsed if p is not None]
    table = rows[list(CURVE_KEYS)].reset_index(drop=True)
    outer = {stage: learn_plan(decisions, stage).get("outer", "loo") for stage in stages}
    sizes = [size for size, _ in parsed]
    table["n_subjects"] = pd.array(sizes, dtype="Int64")
    table["n_train"] = [training_size(size, outer[stage])
                        for size, stage in zip(sizes, table["stage"])]
    table["repeat"] = pd.array([repeat for _, repeat in parsed], dtype="Int64")
    for column in LEARNING_CURVE_COLUMNS[len(CURVE_KEYS) + 3:]:
        table[column] = rows[column].to_numpy(dtype=np.float64)
    if with_ids:
        table.insert(0, "evaluation_id", rows["evaluation_id"].to_numpy())
        return table[["evaluation_id", *LEARNING_CURVE_COLUMNS]]
    return table[list(LEARNING_CURVE_COLUMNS)]


def _curve_seed(seed: int, key: dict) -> np.random.Generator:
    plain = {k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in key.items()}
    return np.random.default_rng(np.random.SeedSequence([int(seed),
                                                         stable_int(content_id(plain))]))


def curve_projections(curve_table: pd.DataFrame, decisions=(), *, level: float = LEVEL,
                      n_boot: int = N_BOOT) -> list[tuple[dict, LearningCurveProjection]]:
    """Fit and project every curve of :func:`learning_curve_table`, in table order.

    Returns
    -------
    list of (keys, LearningCurveProjection)
        ``keys`` maps each of :data:`CURVE_KEYS` to the curve's value.
    """
    out = []
    if curve_table.empty:
        return out
    for values, rows in curve_table.groupby(list(CURVE_KEYS), sort=False, dropna=False):
        key = dict(zip(CURVE_KEYS, values))
        plan = learn_plan(decisions, key["stage"])
        rng = _curve_seed(plan.get("seed", 0), key)
        out.append((key, project_learning_curve(rows, rng=rng, project_to=plan.get("project_to"),
                                                level=level, n_boot=n_boot)))
    return out


def projection_table(projections: list[tuple[dict, LearningCurveProjection]]) -> pd.DataFrame:
    """``projection.csv``: one row per curve and projection target (module docstring)."""
    frames = []
    for key, result in projections:
        rows = result.projection.copy()
        rows["extrapolated"] = np.where(rows["extrapolated"].astype(bool), "yes", "no")
        rows["status"] = result.status
        for name, value in key.items():
            rows[name] = [value] * len(rows)
        frames.append(rows)
    if not frames:
        return pd.DataFrame(columns=list(PROJECTION_COLUMNS))
    table = pd.concat(frames, ignore_index=True)
    table["n_subjects"] = table["n_subjects"].astype("Int64")
    table["n_features"] = table["n_features"].astype("Int64")
    return table[list(PROJECTION_COLUMNS)]


def learn_tables(evaluations: pd.DataFrame, stage_kinds: dict | None, decisions=(), *,
                 level: float = LEVEL, n_boot: int = N_BOOT) -> dict[str, pd.DataFrame]:
    """``{"learning_curve": ..., "projection": ...}``, or ``{}`` when no stage is a learn stage."""
    if not learn_stages(stage_kinds):
        return {}
    curve = learning_curve_table(evaluations, stage_kinds, decisions)
    projections = curve_projections(curve, decisions, level=level, n_boot=n_boot)
    return {"learning_curve": curve, "projection": projection_table(projections)}
