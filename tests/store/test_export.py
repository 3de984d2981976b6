"""The CSV contract of SPEC section 8: columns, formatting, determinism."""

from __future__ import annotations

import csv
import random

import pandas as pd
import pytest

from cohortbench.errors import RunError
from cohortbench.store import ResultsStore, export_csvs, export_frames
from cohortbench.store.export import (
    EVALUATION_COLUMNS,
    EVALUATION_EXTRA_COLUMNS,
    NULL_COLUMNS,
    PREDICTION_COLUMNS,
)

from .test_results_store import SUBJECTS, make_meta, make_result

SPEC_EVALUATION_COLUMNS = [
    "evaluation_id", "stage", "task", "classifier", "row_scaling", "column_scaling",
    "feature_selection", "n_features", "dim_reduction", "search", "modalities",
    "parcellation", "n_subjects", "accuracy", "balanced_accuracy", "f1_macro",
    "n_permutations", "null_mean", "null_std", "z_score", "p_value", "seconds",
    "accuracy_ci_low", "accuracy_ci_high", "numerically_reliable",
]
EXTRAS = ["imputation", "n_features_used", "config_id", "view_fingerprint", "folds_id", "engine",
          "cohortbench_version", "balanced_accuracy_ci_low", "balanced_accuracy_ci_high",
          "unreliable_fraction", "subset"]


def fill(run_dir, order) -> ResultsStore:
    store = ResultsStore.open(run_dir)
    for i in order:
        store.write_result(f"eval{i:03d}", make_meta(i), make_result(i))
    store.write_result("noperm", make_meta(99, n_permutations=0), make_result(5, permutations=0))
    store.write_failure("failed", make_meta(50), "boom", "tb")  # never exported
    return store


def read_rows(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.fixture
def exported(tmp_path):
    with fill(tmp_path / "run", range(6)) as store:
        paths = export_csvs(store, tmp_path / "csv")
        frames = export_frames(store)
    return paths, frames


def test_files_and_exact_columns(exported, tmp_path):
    paths, _ = exported
    assert {k: p.name for k, p in paths.items()} == {
        "evaluations": "evaluations.csv", "predictions": "predictions.csv",
        "nulls": "nulls.csv"}
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == [
        "evaluations.csv", "nulls.csv", "predictions.csv"]  # no temporary files left
    assert list(EVALUATION_COLUMNS) == SPEC_EVALUATION_COLUMNS
    assert list(EVALUATION_EXTRA_COLUMNS) == EXTRAS
    assert read_rows(paths["evaluations"])[0] == SPEC_EVALUATION_COLUMNS + EXTRAS
    assert read_rows(paths["predictions"])[0] == list(PREDICTION_COLUMNS) == [
        "evaluation_id", "subject", "true_label", "predicted_label"]
    assert read_rows(paths["nulls"])[0] == list(NULL_COLUMNS) == [
        "evaluation_id", "permutation", "accuracy"]


def test_rows_and_formatting(exported):
    paths, _ = exported
    rows = read_rows(paths["evaluations"])
    header, body = rows[0], rows[1:]
    table = [dict(zip(header, row)) for row in body]
    assert [r["evaluation_id"] for r in table] == [f"eval{i:03d}" for i in range(6)] + ["noperm"]
    # n_features: an integer with a selector, empty without; never "10.0"
    assert [r["n_features"] for r in table[:4]] == ["", "10", "", "10"]
    assert [r["n_features_used"] for r in table[:2]] == ["", "10"]
    assert [r["n_subjects"] for r in table[:2]] == ["6", "6"]
    assert table[0]["f1_macro"] == "0.30000000000000004"  # full repr precision
    assert float(table[1]["balanced_accuracy"]) == make_result(1).balanced_accuracy
    assert float(table[2]["null_std"]) == make_result(2).null_std
    assert table[-1]["z_score"] == "" and table[-1]["p_value"] == ""  # no permutation test
    assert table[-1]["n_permutations"] == "0"
    assert table[0]["modalities"] == "qT1+DTI" and table[0]["search"] == "none"

    predictions = read_rows(paths["predictions"])[1:]
    assert len(predictions) == 7 * len(SUBJECTS)
    assert predictions[0] == ["eval000", SUBJECTS[0], "HC", "HC"]
    nulls = read_rows(paths["nulls"])[1:]
    assert len(nulls) == 6 * 4
    assert [row[1] for row in nulls[:4]] == ["0", "1", "2", "3"]
    assert float(nulls[5][2]) == make_result(1).null_accuracies[1]


def test_bytes_are_deterministic_whatever_the_write_order(tmp_path):
    order = list(range(12))
    random.Random(7).shuffle(order)
    with fill(tmp_path / "a", range(12)) as in_order, fill(tmp_path / "b", order) as shuffled:
        first = export_csvs(in_order, tmp_path / "out_a")
        second = export_csvs(shuffled, tmp_path / "out_b")
        again = export_csvs(in_order, tmp_path / "out_a")  # overwriting is fine too
    for name in first:
        data = first[name].read_bytes()
        assert data == second[name].read_bytes() == again[name].read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf") and b"\r" not in data
        assert data.endswith(b"\n")


def test_frames_match_the_files(exported):
    paths, frames = exported
    for name, frame in frames.items():
        from_file = pd.read_csv(paths[name], dtype=str, keep_default_na=False)
        assert list(from_file.columns) == list(frame.columns)
        assert len(from_file) == len(frame)
    assert list(frames["evaluations"]["evaluation_id"][:2]) == ["eval000", "eval001"]
    assert str(frames["evaluations"]["n_features"].dtype) == "Int64"


def test_empty_store_exports_headers_only(tmp_path):
    with ResultsStore.open(tmp_path / "run") as store:
        paths = export_csvs(store, tmp_path / "csv")
    assert paths["evaluations"].read_text() == ",".join(SPEC_EVALUATION_COLUMNS + EXTRAS) + "\n"
    assert paths["nulls"].read_text() == "evaluation_id,permutation,accuracy\n"


def test_unwritable_output_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with ResultsStore.open(tmp_path / "run") as store:
        with pytest.raises(RunError, match="Cannot write the CSV files to"):
            export_csvs(store, blocker / "csv")
