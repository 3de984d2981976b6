"""The learn stage's tables from exported evaluations (analyse/learn_tables.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohortbench.analyse.learn_tables import (
    LEARNING_CURVE_COLUMNS,
    PROJECTION_COLUMNS,
    curve_projections,
    learn_tables,
    learning_curve_table,
    projection_table,
)
from cohortbench.analyse.learning_curve import project_learning_curve
from cohortbench.design.configs import content_id
from cohortbench.design.seeding import stable_int

SIZES = [10, 15, 20, 25, 30]
KINDS = {"screen": {"kind": "standard", "cross_stage": True},
         "learn": {"kind": "learn", "cross_stage": False}}
DECISIONS = [{"stage": "learn", "kind": "learning_curve",
              "payload": {"outer": "stratified-kfold:5", "seed": 11, "project_to": [40, 70]}}]


def evaluations() -> pd.DataFrame:
    """A screen row and two learn curves (modality sets) from a known power law plus noise."""
    rng = np.random.default_rng(0)
    rows = [{"evaluation_id": "s0", "stage": "screen", "subset": None, "modalities": "A+B",
             "n_subjects": 30, "accuracy": 0.7}]
    for modalities, a in (("A+B", 0.9), ("A", 0.8)):
        for size in SIZES:
            for repeat in range(1 if size == 30 else 6):
                n_train = size * 4 / 5
                accuracy = a - 1.2 * n_train ** -0.7 + rng.normal(0, 0.03)
                rows.append({"evaluation_id": f"{modalities}-{size}-{repeat}", "stage": "learn",
                             "subset": f"size={size}/repeat={repeat}", "modalities": modalities,
                             "n_subjects": size, "accuracy": accuracy})
    frame = pd.DataFrame(rows)
    frame = frame.assign(
        task="2-class", classifier="MLR_L2", row_scaling="standard", imputation="none",
        column_scaling="standard", feature_selection="none",
        n_features=pd.array([pd.NA] * len(frame), dtype="Int64"), dim_reduction="none",
        search="none", parcellation="all", balanced_accuracy=frame["accuracy"] - 0.01,
        null_mean=0.5, null_std=0.05, p_value=0.02)
    return frame


def test_the_curve_table_reads_sizes_repeats_and_training_sizes():
    table = learning_curve_table(evaluations(), KINDS, DECISIONS)
    assert list(table.columns) == list(LEARNING_CURVE_COLUMNS)
    assert set(table["stage"]) == {"learn"} and len(table) == 2 * (4 * 6 + 1)
    # stratified 5-fold: the training sets average 4/5 of the subjects
    np.testing.assert_allclose(table["n_train"], table["n_subjects"].astype(float) * 0.8)
    first = table[table["modalities"] == "A+B"]
    assert first["repeat"].tolist() == [r for s in SIZES for r in range(1 if s == 30 else 6)]
    assert table["balanced_accuracy"].round(12).equals(
        (table["accuracy"] - 0.01).round(12))
    with_ids = learning_curve_table(evaluations(), KINDS, DECISIONS, with_ids=True)
    assert with_ids.columns[0] == "evaluation_id" and with_ids["evaluation_id"].iloc[0] == "A+B-10-0"


def test_without_a_learn_stage_or_a_subset_column_there_is_nothing():
    frame = evaluations()
    assert learn_tables(frame, {"screen": KINDS["screen"]}, DECISIONS) == {}
    old = frame.drop(columns=["subset"])  # an older store: no subset recorded
    assert learning_curve_table(old, KINDS, DECISIONS).empty
    assert list(projection_table([]).columns) == list(PROJECTION_COLUMNS)


def test_projections_are_seeded_by_the_study_seed_and_the_curve():
    table = learning_curve_table(evaluations(), KINDS, DECISIONS)
    first = curve_projections(table, DECISIONS, n_boot=200)
    again = curve_projections(table, DECISIONS, n_boot=200)
    assert [k["modalities"] for k, _ in first] == ["A+B", "A"]
    for (_, a), (_, b) in zip(first, again):
        pd.testing.assert_frame_equal(a.projection, b.projection)
    # the documented seed: SeedSequence([study seed, stable_int(content_id(curve keys))])
    key, result = first[0]
    plain = {k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in key.items()}
    rng = np.random.default_rng(np.random.SeedSequence([11, stable_int(content_id(plain))]))
    rows = table[table["modalities"] == "A+B"]
    expected = project_learning_curve(rows, rng=rng, project_to=[40, 70], n_boot=200)
    pd.testing.assert_frame_equal(result.projection, expected.projection)
    other = curve_projections(table, [{**DECISIONS[0], "payload": {
        **DECISIONS[0]["payload"], "seed": 12}}], n_boot=200)
    assert not np.allclose(other[0][1].projection["low"], result.projection["low"])


def test_the_projection_table_has_one_row_per_curve_and_target():
    frame = evaluations()
    tables = learn_tables(frame, KINDS, DECISIONS, n_boot=200)
    projection = tables["projection"]
    assert list(projection.columns) == list(PROJECTION_COLUMNS)
    assert projection["n_subjects"].tolist() == [40, 70, 40, 70]
    assert projection["extrapolated"].tolist() == ["no", "yes"] * 2  # 70 > 2 x 30
    assert set(projection["status"]) == {"projected"}
    assert projection["note"].iloc[1].startswith("beyond twice the largest measured size")
    np.testing.assert_allclose(projection["n_train"], projection["n_subjects"] * 0.8)
    # the curve with more signal is projected higher; the truth (a - b n^-c) is inside
    by = projection.set_index(["modalities", "n_subjects"])
    assert by.loc[("A+B", 40), "predicted_accuracy"] > by.loc[("A", 40), "predicted_accuracy"]
    for modalities, a in (("A+B", 0.9), ("A", 0.8)):
        truth = a - 1.2 * 32 ** -0.7
        assert by.loc[(modalities, 40), "low"] <= truth <= by.loc[(modalities, 40), "high"]
    assert projection["gain_low"].le(projection["gain_per_10"]).all()
    assert projection["n_features"].isna().all()


@pytest.mark.parametrize("p_value, status", [(0.5, "not_above_null"), (0.02, "projected")])
def test_a_curve_not_above_the_null_at_the_whole_cohort_is_not_projected(p_value, status):
    frame = evaluations()
    frame.loc[(frame["stage"] == "learn") & (frame["n_subjects"] == 30), "p_value"] = p_value
    projection = learn_tables(frame, KINDS, DECISIONS, n_boot=100)["projection"]
    assert set(projection["status"]) == {status}
    assert projection["predicted_accuracy"].isna().all() == (status != "projected")
