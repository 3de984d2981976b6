"""The summary on constructed results: verdicts, family-wise p across stages, comparisons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohortbench.report.summary import build_summary

N = 20


def evaluation(eid, stage, accuracy, *, p, task="dx", classifier="KNN", row="standard",
               search="none", modalities="A+B", permutations=19, folds="f1", reliable=pd.NA):
    return {"evaluation_id": eid, "stage": stage, "task": task, "classifier": classifier,
            "row_scaling": row, "imputation": "none", "column_scaling": "standard",
            "feature_selection": "none", "n_features": np.nan, "dim_reduction": "none",
            "search": search, "modalities": modalities, "parcellation": "all",
            "n_subjects": N, "accuracy": accuracy, "balanced_accuracy": accuracy,
            "accuracy_ci_low": accuracy - 0.2, "accuracy_ci_high": min(1.0, accuracy + 0.15),
            "balanced_accuracy_ci_low": accuracy - 0.2,
            "balanced_accuracy_ci_high": min(1.0, accuracy + 0.15), "f1_macro": accuracy,
            "n_permutations": permutations, "null_mean": 0.5, "null_std": 0.1,
            "z_score": (accuracy - 0.5) / 0.1, "p_value": p, "seconds": 1.0,
            "folds_id": folds, "numerically_reliable": reliable}


def nulls_for(frame: pd.DataFrame, values: dict) -> pd.DataFrame:
    rows = []
    for eid, nulls in values.items():
        rows += [{"evaluation_id": eid, "permutation": i, "accuracy": a}
                 for i, a in enumerate(nulls)]
    return pd.DataFrame(rows, columns=["evaluation_id", "permutation", "accuracy"])


def predictions_for(frame: pd.DataFrame, right: dict) -> pd.DataFrame:
    rows = []
    for eid, correct in right.items():
        for i in range(N):
            truth = "a" if i % 2 else "b"
            rows.append({"evaluation_id": eid, "subject": f"s{i:02d}", "true_label": truth,
                         "predicted_label": truth if i in correct else ("b" if truth == "a" else "a")})
    return pd.DataFrame(rows)


def test_the_best_across_stages_is_judged_against_the_best_of_all():
    frame = pd.DataFrame([evaluation("e1", "screen", 0.60, p=0.4),
                          evaluation("e2", "refine", 0.85, p=0.05, row="none"),
                          evaluation("e3", "refine", 0.55, p=0.5, row="minmax")])
    nulls = nulls_for(frame, {"e1": [0.5] * 19, "e2": [0.5] * 18 + [0.6],
                              "e3": [0.55] * 18 + [0.9]})  # e3 beats 0.85 once: fw p = 2/20
    summary = build_summary(frame, nulls, None)
    (task,) = summary["tasks"]
    assert task["verdict_key"] == "above-chance-alone"
    assert dict(task["rows"])["Family-wise p (best of 3)"] == "0.100"
    assert "KNN: row none" in dict(task["rows"])["Best configuration"]
    assert summary["shuffle_warning"] is None
    assert "the smallest possible p-value is 1/20 = 0.050" in summary["intro"]


def test_too_few_shuffles_is_said_first():
    frame = pd.DataFrame([evaluation("e1", "screen", 0.9, p=0.25, permutations=3)])
    summary = build_summary(frame, nulls_for(frame, {"e1": [0.5, 0.5, 0.5]}), None)
    assert summary["shuffle_warning"].startswith("Only 3 shuffled-label runs per evaluation")
    assert summary["tasks"][0]["verdict_key"] == "too-few-shuffles"


def test_stages_kept_out_of_comparisons_are_left_out():
    frame = pd.DataFrame([evaluation("e1", "screen", 0.6, p=0.3),
                          evaluation("e2", "learn", 0.99, p=0.05)])
    nulls = nulls_for(frame, {"e1": [0.5] * 19, "e2": [0.5] * 19})
    summary = build_summary(frame, nulls, None,
                            stage_kinds={"learn": {"kind": "learn", "cross_stage": False}})
    assert "(stage screen)" in dict(summary["tasks"][0]["rows"])["Best configuration"]


def test_best_against_the_starting_pipeline_and_tuned_against_untuned():
    frame = pd.DataFrame([evaluation("e1", "screen", 0.5, p=0.5),
                          evaluation("e2", "refine", 0.8, p=0.05, row="none"),
                          evaluation("e3", "refine", 0.7, p=0.1, row="none", search="grid")])
    nulls = nulls_for(frame, {e: [0.5] * 19 for e in ("e1", "e2", "e3")})
    right = {"e1": set(range(10)), "e2": set(range(16)), "e3": set(range(14))}
    summary = build_summary(frame, nulls, predictions_for(frame, right))
    (comparison,) = summary["comparisons"]
    assert "the best configuration" in comparison and "starting pipeline" in comparison
    assert comparison.endswith("This comparison is optimistic: the best was chosen on the "
                               "same subjects.")
    # 6 subjects right only with the best, none only with the start: p = 2 / 2**6
    assert "0.031" in comparison


def test_an_unreliable_best_is_flagged():
    frame = pd.DataFrame([evaluation("e1", "refine", 0.9, p=0.05, reliable=False)])
    summary = build_summary(frame, nulls_for(frame, {"e1": [0.5] * 19}), None)
    assert any("numerically unreliable" in note for note in summary["tasks"][0]["notes"])


@pytest.mark.parametrize("permutations", [0, 1])
def test_no_or_one_shuffle_does_not_crash(permutations):
    frame = pd.DataFrame([evaluation("e1", "screen", 0.7, p=np.nan if not permutations else 0.5,
                                     permutations=permutations)])
    nulls = nulls_for(frame, {"e1": [0.5] * permutations})
    summary = build_summary(frame, nulls, None)
    assert summary["tasks"][0]["verdict_key"] == "too-few-shuffles"
