"""Stage planning and the decisions between stages."""

from __future__ import annotations

import pandas as pd
import pytest

from cohortbench.design.stages import best_pipeline, plan_stage, shortlist_classifiers
from cohortbench.design.study_file import study_from_mapping
from cohortbench.errors import StudyError

BASE = {
    "name": "s",
    "data": {"maps": {"A": "a.tsv"}, "participants": "p.tsv"},
    "tasks": {"t1": {"classes": {"x": {"g": 1}, "y": {"g": 2}}},
              "t2": {"classes": {"x": {"g": 1}, "z": {"g": 3}}}},
}


def _study(stages):
    return study_from_mapping(dict(BASE, stages=stages), base_dir="/tmp")


def test_refine_grid_of_the_spec_plans_297_configurations_per_classifier_and_task():
    study = _study([{"name": "refine", "classifiers": ["MLR_L2", "SVM_LIN"], "grid": {
        "row_scaling": ["none", "standard", "minmax"], "column_scaling": ["none", "standard", "minmax"],
        "feature_selection": ["none", "kbest", "rfe"], "n_features": [10, 25, 50, 100, 150],
        "dim_reduction": ["none", "pca", "lda"]}}])
    planned = plan_stage(study.stages[0], 1, classifiers=["MLR_L2", "SVM_LIN"], tasks=["t1", "t2"],
                         default_modalities=("A",), imputation="none")
    assert len(planned) == 297 * 2 * 2
    assert len({(p.task, p.config.id) for p in planned}) == len(planned)
    assert [p.position for p in planned] == sorted(p.position for p in planned)
    assert all(p.position // 10_000_000 == 1 for p in planned)


def test_stage_modalities_parcellations_tasks_and_search():
    study = _study([{"name": "enrich", "classifiers": ["MLR_L2"], "search": ["grid", "random"],
                     "modalities": [["A"], ["A", "B"]], "parcellations": ["GM", "all"], "tasks": ["t2"]}])
    planned = plan_stage(study.stages[0], 0, classifiers=["MLR_L2"], tasks=["t1", "t2"],
                         default_modalities=("A",), imputation="mean")
    assert len(planned) == 2 * 2 * 1 * 2
    assert {p.task for p in planned} == {"t2"}
    assert {p.config.search for p in planned} == {"grid", "random"}
    assert {p.config.imputation for p in planned} == {"mean"}
    assert {p.meta()["modalities"] for p in planned} == {"A", "A+B"}


def _results(rows):
    return pd.DataFrame(rows, columns=["classifier", "task", "accuracy", "z_score", "row_scaling",
                                       "column_scaling", "feature_selection", "n_features", "dim_reduction"])


def test_shortlist_keeps_classifiers_reaching_the_threshold_on_every_task():
    study = _study([{"name": "screen", "shortlist": {"min_accuracy": 0.6}}])
    res = _results([
        ("SVM_LIN", "t1", 0.7, 2, "standard", "standard", "none", None, "none"),
        ("SVM_LIN", "t2", 0.6, 2, "standard", "standard", "none", None, "none"),
        ("KNN", "t1", 0.9, 3, "standard", "standard", "none", None, "none"),
        ("KNN", "t2", 0.59, 1, "standard", "standard", "none", None, "none"),
        ("MLR_L2", "t1", 0.8, 3, "standard", "standard", "none", None, "none"),
        ("MLR_L2", "t2", 0.8, 3, "standard", "standard", "none", None, "none"),
    ])
    order = ["KNN", "MLR_L2", "SVM_LIN"]
    kept, reasons = shortlist_classifiers(study.stages[0].shortlist, res, order, "accuracy")
    assert kept == ["MLR_L2", "SVM_LIN"]
    assert reasons["KNN"] == "dropped (accuracy: t1 0.900, t2 0.590)"
    assert reasons["MLR_L2"].startswith("kept")
    keep = _study([{"name": "screen", "shortlist": {"keep": ["SVM_LIN", "KNN"]}}]).stages[0].shortlist
    kept, _ = shortlist_classifiers(keep, res, order, "accuracy")
    assert kept == ["KNN", "SVM_LIN"]


def test_best_pipeline_by_mean_metric_then_z_then_order():
    res = _results([
        ("A", "t1", 0.7, 1.0, "standard", "none", "none", None, "none"),
        ("A", "t1", 0.7, 2.0, "minmax", "none", "none", None, "none"),
        ("A", "t1", 0.6, 5.0, "none", "none", "kbest", 10, "none"),
    ])
    steps, why = best_pipeline(res, "accuracy")
    assert steps["row_scaling"] == "minmax"  # tie on accuracy broken by Z
    assert why["n_pipelines_compared"] == 3
    res.loc[1, "z_score"] = 1.0
    steps, _ = best_pipeline(res, "accuracy")
    assert steps["row_scaling"] == "standard"  # full tie: first in the stage's order
    with pytest.raises(StudyError):
        best_pipeline(res.iloc[0:0], "accuracy")
