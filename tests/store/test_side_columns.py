"""The side steps (harmonize, confounds) are columns of frames and exports only when used."""

from __future__ import annotations

import pandas as pd

from cohortbench.store import EvaluationResult, ResultsStore, export_csvs
from cohortbench.store.export import EVALUATION_COLUMNS, EVALUATION_EXTRA_COLUMNS

SUBJECTS = ("s1", "s2", "s3", "s4")
TRUE = ("A", "B", "A", "B")


def result(i: int) -> EvaluationResult:
    return EvaluationResult(
        task="t", classes=("A", "B"), config_id=f"c{i}", view_fingerprint="v", folds_id="f",
        accuracy=0.5, balanced_accuracy=0.5, f1_macro=0.5, confusion=((1, 1), (1, 1)),
        subjects=SUBJECTS, true_labels=TRUE, predicted_labels=("A", "A", "B", "B"))


def meta(i: int, **side) -> dict:
    return {"position": i, "stage": "s", "stage_index": 0, "task": "t", "classifier": "KNN",
            "row_scaling": "none", "imputation": "none", "column_scaling": "none",
            "feature_selection": "none", "n_features": None, "dim_reduction": "none",
            "search": "none", "modalities": "m", "parcellation": "all", **side}


def test_no_side_step_no_column(tmp_path):
    with ResultsStore.open(tmp_path / "run") as store:
        store.write_result("e0", meta(0), result(0))
        store.write_result("e1", meta(1, subset="size=2"), result(1))  # other extras: no column
        frame = store.evaluations_frame()
        assert "harmonize" not in frame and "confounds" not in frame
        paths = export_csvs(store, tmp_path / "out")
    header = paths["evaluations"].read_text().splitlines()[0].split(",")
    assert header == [*EVALUATION_COLUMNS, *EVALUATION_EXTRA_COLUMNS]


def test_side_steps_read_none_where_unset_and_are_written_last(tmp_path):
    with ResultsStore.open(tmp_path / "run") as store:
        store.write_result("e0", meta(0), result(0))
        store.write_result("e1", meta(1, confounds="age+sex"), result(1))
        frame = store.evaluations_frame()
        assert frame["confounds"].tolist() == ["none", "age+sex"] and "harmonize" not in frame
        paths = export_csvs(store, tmp_path / "out")
    exported = pd.read_csv(paths["evaluations"])
    assert list(exported.columns) == [*EVALUATION_COLUMNS, *EVALUATION_EXTRA_COLUMNS, "confounds"]
    assert exported["confounds"].tolist() == ["none", "age+sex"]
