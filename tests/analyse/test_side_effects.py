"""Each side-step option against its twin without it: exact McNemar, counted by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

from cohortbench.analyse.side_effects import side_step_comparisons

SUBJECTS = [f"s{i}" for i in range(10)]
TRUE = ["A", "B"] * 5


def _evaluation(eid, classifier, harmonize, confounds, right):
    row = {"evaluation_id": eid, "stage": "s", "task": "t", "classifier": classifier,
           "row_scaling": "standard", "imputation": "none", "column_scaling": "none",
           "feature_selection": "none", "n_features": None, "dim_reduction": "none",
           "search": "none", "modalities": "m", "parcellation": "all", "folds_id": "f",
           "accuracy": sum(right) / len(right), "harmonize": harmonize, "confounds": confounds}
    predictions = [{"evaluation_id": eid, "subject": s, "true_label": t,
                    "predicted_label": t if ok else ("B" if t == "A" else "A")}
                   for s, t, ok in zip(SUBJECTS, TRUE, right)]
    return row, predictions


def test_pairs_are_twins_and_counts_are_the_discordant_subjects():
    plain = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    combat = [1, 1, 1, 1, 1, 1, 1, 1, 0, 1]     # right on 4 more, wrong on none more
    both = [0, 1, 1, 1, 1, 1, 1, 1, 0, 1]
    other = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]     # another classifier: never paired with KNN's
    rows, predictions = [], []
    for eid, clf, h, c, right in [("e1", "KNN", "none", "none", plain),
                                  ("e2", "KNN", "combat", "none", combat),
                                  ("e3", "KNN", "combat", "age", both),
                                  ("e4", "SVM", "none", "age", other)]:
        row, preds = _evaluation(eid, clf, h, c, right)
        rows.append(row)
        predictions += preds
    table = side_step_comparisons(pd.DataFrame(rows), pd.DataFrame(predictions))
    pairs = {(r.evaluation_with, r.evaluation_without, r.step) for r in table.itertuples()}
    # e3 pairs with e2 (confounds) only: its harmonize twin (none, age) is not KNN's
    assert pairs == {("e2", "e1", "harmonize"), ("e3", "e2", "confounds")}
    first = table[table["evaluation_with"] == "e2"].iloc[0]
    assert (first.right_only_with, first.right_only_without) == (4, 0)
    assert first.p_value == pytest.approx(stats.binomtest(4, 4, 0.5).pvalue)
    second = table[table["evaluation_with"] == "e3"].iloc[0]
    assert (second.right_only_with, second.right_only_without) == (0, 1)
    assert second.configuration == "harmonize combat"


def test_no_side_columns_no_comparisons():
    row, preds = _evaluation("e1", "KNN", "none", "none", [1] * 10)
    frame = pd.DataFrame([row]).drop(columns=["harmonize", "confounds"])
    assert side_step_comparisons(frame, pd.DataFrame(preds)).empty
