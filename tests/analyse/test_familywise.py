import numpy as np
import pandas as pd
import pytest

from cohortbench.analyse import FAMILYWISE_EXPLANATION, familywise_best


def _evaluations(specs, task="3-class", stage="refine", n_permutations=4):
    rows = []
    for evaluation_id, accuracy, z, p in specs:
        rows.append({"evaluation_id": evaluation_id, "stage": stage, "task": task,
                     "classifier": "MLR_L2", "row_scaling": "standard",
                     "column_scaling": "standard", "feature_selection": "none",
                     "n_features": np.nan, "dim_reduction": evaluation_id,
                     "search": "none", "modalities": "qT1", "parcellation": "all",
                     "accuracy": accuracy, "z_score": z, "p_value": p,
                     "n_permutations": n_permutations, "folds_id": f"f-{task}"})
    return pd.DataFrame(rows)


def _nulls(table):
    return pd.DataFrame([{"evaluation_id": e, "permutation": i, "accuracy": a}
                         for e, values in table.items() for i, a in enumerate(values)])


HAND = {  # permutation:  0     1     2     3
    "A": [0.5, 0.8, 0.3, 0.4],
    "B": [0.6, 0.2, 0.7, 0.4],
    "C": [0.4, 0.3, 0.5, 0.65],
}


def test_hand_counted_familywise_p():
    evaluations = _evaluations([("A", 0.6, 1.0, 0.4), ("B", 0.7, 2.0, 0.2),
                                ("C", 0.7, 3.0, 0.2)])
    result = familywise_best(evaluations, _nulls(HAND))
    assert len(result) == 1
    row = result.iloc[0]
    # B and C tie on accuracy; C has the higher Z.
    assert row["evaluation_id"] == "C"
    assert row["n_configurations"] == 3 and row["n_permutations"] == 4
    # Maxima per shuffle: 0.6, 0.8, 0.7, 0.65 -> two of them (0.8, 0.7) reach 0.7.
    assert row["familywise_p"] == pytest.approx(3 / 5)
    assert row["p_value"] == pytest.approx(0.2) and row["z_score"] == 3.0
    assert row["null_max_mean"] == pytest.approx((0.6 + 0.8 + 0.7 + 0.65) / 4)
    assert "reduction C" in row["configuration"]


def test_ties_on_accuracy_and_z_fall_back_to_order_and_tasks_are_separate():
    first = _evaluations([("A", 0.6, 1.0, 0.4), ("B", 0.7, 2.0, 0.2), ("C", 0.7, 2.0, 0.2)])
    second = _evaluations([("D", 0.9, 5.0, 0.01)], task="SvF")
    nulls = _nulls({**HAND, "D": [0.1, 0.2, 0.3, 0.95]})
    result = familywise_best(pd.concat([first, second], ignore_index=True), nulls)
    assert list(result["task"]) == ["3-class", "SvF"]
    assert list(result["evaluation_id"]) == ["B", "D"]
    assert result.loc[1, "familywise_p"] == pytest.approx(2 / 5)


def test_unpaired_nulls_are_refused():
    evaluations = _evaluations([("A", 0.6, 1.0, 0.4), ("B", 0.7, 2.0, 0.2)])
    short = _nulls({"A": HAND["A"], "B": HAND["B"][:3]})
    with pytest.raises(ValueError, match="not paired"):
        familywise_best(evaluations, short)
    mixed = evaluations.copy()
    mixed.loc[1, "n_permutations"] = 3
    with pytest.raises(ValueError, match="different permutation counts"):
        familywise_best(mixed, _nulls(HAND))
    folds = evaluations.copy()
    folds.loc[1, "folds_id"] = "other"
    with pytest.raises(ValueError, match="different folds"):
        familywise_best(folds, _nulls(HAND))
    with pytest.raises(ValueError, match="accuracy"):
        familywise_best(evaluations, _nulls(HAND), metric="f1_macro")


def test_no_permutations_gives_nan_not_a_crash():
    evaluations = _evaluations([("A", 0.6, np.nan, np.nan)], n_permutations=0)
    result = familywise_best(evaluations, _nulls({}).reindex(
        columns=["evaluation_id", "permutation", "accuracy"]))
    assert np.isnan(result.loc[0, "familywise_p"]) and result.loc[0, "evaluation_id"] == "A"


def test_explanation_is_one_sentence():
    assert FAMILYWISE_EXPLANATION.count(". ") == 0 and FAMILYWISE_EXPLANATION.endswith(".")
