"""The confounds and harmonize steps in the design layer: texts, configurations, grids, best."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from cohortbench.design.configs import PipelineConfig, content_id
from cohortbench.design.fingerprint import fingerprint_differences
from cohortbench.design.side_options import (confounds_text, harmonize_text, parse_confounds,
                                             parse_harmonize, side_fields, side_texts)
from cohortbench.design.stages import best_pipeline, plan_stage
from cohortbench.design.study_file import study_from_mapping

BASE = {"name": "x", "data": {"maps": {"a": "a.tsv"}, "participants": "p.tsv",
                              "covariates": ["age", "sex"], "batch": "site"},
        "tasks": {"t": {"classes": {"A": {"g": 1}, "B": {"g": 2}}}}}


def study(stage: dict):
    return study_from_mapping({**BASE, "stages": [{"name": "s", **stage}]})


@pytest.mark.parametrize("preserve, unseen", list(itertools.product(
    [(), ("age",), ("age", "sex")], ["error", "fit-unlabeled"])))
def test_harmonize_texts_read_back(preserve, unseen):
    text = harmonize_text("combat", preserve, unseen)
    assert parse_harmonize(text) == {"harmonize": "combat", "preserve": preserve,
                                     "unseen_site": unseen}
    assert text.startswith("combat") and ("(" in text) == bool(preserve or unseen != "error")
    assert parse_harmonize("none") == {"harmonize": "none", "preserve": (),
                                       "unseen_site": "error"}
    with pytest.raises(ValueError):
        parse_harmonize("combat [age]")


def test_confound_texts_read_back():
    assert confounds_text(()) == "none" and parse_confounds("none") == ()
    assert parse_confounds(confounds_text(("age", "sex", "icv"))) == ("age", "sex", "icv")
    assert parse_confounds(float("nan")) == ()


def test_default_side_fields_leave_the_configuration_dict_and_id_as_before():
    plain = PipelineConfig("SVM_LIN", row_scaling="minmax", feature_selection="kbest",
                           n_features=5)
    before = {"classifier": "SVM_LIN", "row_scaling": "minmax", "imputation": "none",
              "column_scaling": "none", "feature_selection": "kbest", "n_features": 5,
              "dim_reduction": "none", "search": "none"}
    assert plain.to_dict() == before and plain.id == content_id(before)
    assert side_texts(plain) == {} and not plain.uses_side_data
    side = PipelineConfig("SVM_LIN", confounds=["age"], harmonize="combat", preserve=["sex"])
    assert side.confounds == ("age",) and hash(side)  # lists become tuples: hashable
    assert side.to_dict()["confounds"] == ["age"] and side.id != plain.id
    assert side_texts(side) == {"harmonize": "combat (preserve sex)", "confounds": "age"}
    assert PipelineConfig("SVM_LIN", **side_fields(side_texts(side))) == side
    with pytest.raises(ValueError, match="only meaningful with harmonize"):
        PipelineConfig("SVM_LIN", preserve=["age"])
    with pytest.raises(ValueError, match="harmonize must be one of"):
        PipelineConfig("SVM_LIN", harmonize="zscore")


def test_a_grid_of_side_options_expands_and_plans_configurations():
    s = study({"classifiers": ["KNN"], "grid": {
        "row_scaling": ["none", "standard"], "harmonize": ["none", "combat"],
        "confounds": ["none", ["age"], ["age", "sex"]]}})
    grid = s.stages[0].grid
    steps = grid.expand()
    assert len(steps) == grid.size() == 2 * 2 * 3
    # row scaling varies slowest, then harmonize, then confounds
    assert [(d["row_scaling"], d.get("harmonize", "none"), d.get("confounds", "none"))
            for d in steps[:6]] == [("none", h, c) for h in ("none", "combat")
                                    for c in ("none", "age", "age+sex")]
    planned = plan_stage(s.stages[0], 0, classifiers=["KNN"], tasks=["t"],
                         default_modalities=("a",), imputation="none")
    configs = [p.config for p in planned]
    assert len(set(configs)) == 12
    assert configs[5].harmonize == "combat" and configs[5].confounds == ("age", "sex")
    assert planned[5].meta()["confounds"] == "age+sex" and "harmonize" not in planned[1].meta()


def test_a_plain_stage_plans_exactly_what_it_planned_before():
    s = study({"classifiers": ["KNN"], "pipeline": {"row_scaling": "standard"}})
    (planned,) = plan_stage(s.stages[0], 0, classifiers=["KNN"], tasks=["t"],
                            default_modalities=("a",), imputation="none")
    assert planned.config == PipelineConfig("KNN", row_scaling="standard")
    assert set(planned.meta()) == {"position", "stage", "stage_index", "task", "classifier",
                                   "row_scaling", "imputation", "column_scaling",
                                   "feature_selection", "n_features", "dim_reduction", "search",
                                   "modalities", "parcellation"}


def test_the_best_pipeline_carries_its_side_steps():
    rows = []
    for i, (h, c) in enumerate(itertools.product(["none", "combat (preserve age)"],
                                                 ["none", "age+sex"])):
        rows.append({"row_scaling": "standard", "column_scaling": "none",
                     "feature_selection": "none", "n_features": None, "dim_reduction": "none",
                     "harmonize": h, "confounds": c, "accuracy": [0.5, 0.6, 0.9, 0.7][i],
                     "z_score": 1.0})
    steps, why = best_pipeline(pd.DataFrame(rows), "accuracy")
    assert steps["harmonize"] == "combat (preserve age)" and "confounds" not in steps
    assert why["n_pipelines_compared"] == 4
    assert side_fields(steps) == {"confounds": (), "harmonize": "combat",
                                  "preserve": ("age",), "unseen_site": "error"}


def test_a_store_from_before_covariates_is_compared_with_none():
    old = {"seed": 0, "data.missing": "error"}  # written before data.covariates existed
    assert fingerprint_differences(old, {**old, "data.covariates": [], "data.batch": None}) == []
    changes = fingerprint_differences(old, {**old, "data.covariates": ["age"],
                                            "data.batch": "site"})
    assert changes == ["data.covariates changed", "data.batch none → site"]
