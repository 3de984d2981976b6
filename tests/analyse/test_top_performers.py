import numpy as np
import pandas as pd
import pytest

from cohortbench.analyse import top_performers


def _rows(classifier, row_scaling, selection, k, results, stage="refine"):
    return [{"evaluation_id": f"{classifier}-{row_scaling}-{selection}{k}-{task}",
             "stage": stage, "task": task, "classifier": classifier,
             "row_scaling": row_scaling, "column_scaling": "standard",
             "feature_selection": selection, "n_features": np.nan if k is None else k,
             "dim_reduction": "none", "search": "none", "modalities": "qT1",
             "parcellation": "all", "accuracy": accuracy, "z_score": z}
            for task, (accuracy, z) in results.items()]


@pytest.fixture
def evaluations():
    rows = []
    # passes both tiers
    rows += _rows("MLR_L2", "standard", "none", None,
                  {"3-class": (0.73, 3.0), "SvF": (0.75, 2.5), "2-class": (0.2, -1)})
    # passes the top tier only (SvF below 0.70)
    rows += _rows("MLR_L2", "standard", "kbest", 50,
                  {"3-class": (0.8, 3.0), "SvF": (0.65, 2.1), "2-class": (0.9, 4)})
    # fails: Z too low on SvF
    rows += _rows("MLR_L2", "minmax", "none", None,
                  {"3-class": (0.8, 3.0), "SvF": (0.7, 1.9), "2-class": (0.9, 4)})
    # fails: accuracy too low on 3-class
    rows += _rows("SVM_LIN", "none", "kbest", 10,
                  {"3-class": (0.59, 3.0), "SvF": (0.9, 5.0), "2-class": (0.9, 4)})
    # passes top tier, other classifier; missing Z on 2-class is irrelevant
    rows += _rows("SVM_LIN", "standard", "rfe", 50,
                  {"3-class": (0.6, 2.0), "SvF": (0.6, 2.0), "2-class": (0.9, np.nan)})
    # not run on SvF: not eligible
    rows += _rows("SVM_LIN", "minmax", "rfe", 10, {"3-class": (0.9, 9.0)})
    # another stage with the same pipeline: a different configuration
    rows += _rows("MLR_L2", "standard", "none", None,
                  {"3-class": (0.1, 0.0), "SvF": (0.1, 0.0)}, stage="screen")
    return pd.DataFrame(rows)


def test_tiers(evaluations):
    top, _ = top_performers(evaluations, tasks=["3-class", "SvF"], stage="refine")
    assert len(top) == 3
    assert list(top["classifier"]) == ["MLR_L2", "MLR_L2", "SVM_LIN"]  # worst-task accuracy order
    assert list(top["strict"]) == [True, False, False]
    assert top.loc[0, "accuracy_3-class"] == 0.73 and top.loc[2, "z_SvF"] == 2.0
    assert top.loc[1, "feature_selection"] == "kbest" and top.loc[1, "n_features"] == 50


def test_option_frequencies(evaluations):
    _, frequencies = top_performers(evaluations, tasks=["3-class", "SvF"], stage="refine")
    def count(tier, step, option, classifier=None):
        rows = frequencies[(frequencies["tier"] == tier) & (frequencies["step"] == step)
                           & (frequencies["option"] == option)]
        if classifier:
            rows = rows[rows["classifier"] == classifier]
        return rows["count"].sum(), rows["fraction"].sum()
    assert count("top", "row_scaling", "standard") == (3, pytest.approx(1.0))
    assert count("top", "row_scaling", "minmax") == (0, 0.0)  # seen but absent: listed as 0
    assert count("top", "feature_selection", "kbest", "MLR_L2") == (1, pytest.approx(1 / 3))
    assert count("top", "n_features", "50") == (2, pytest.approx(2 / 3))
    assert count("top", "n_features", "none") == (1, pytest.approx(1 / 3))
    assert count("strict", "feature_selection", "none") == (1, pytest.approx(1.0))
    assert count("strict", "feature_selection", "rfe") == (0, 0.0)
    for (tier, step), block in frequencies.groupby(["tier", "step"]):
        assert block["fraction"].sum() == pytest.approx(1.0)
    options = frequencies[(frequencies["tier"] == "top")
                          & (frequencies["step"] == "n_features")]["option"].unique()
    assert list(options) == ["none", "10", "50"]


def test_thresholds_are_parameters(evaluations):
    top, _ = top_performers(evaluations, tasks=["3-class"], min_accuracy=0.75, min_z=None,
                            strict_accuracy=0.85, stage="refine")
    assert sorted(top["accuracy_3-class"]) == [0.8, 0.8, 0.9]
    assert top["strict"].sum() == 1
    both_stages, _ = top_performers(evaluations, tasks=["3-class", "SvF"], min_accuracy=0.0,
                                    min_z=None)
    assert (both_stages["stage"] == "screen").sum() == 1


def test_unknown_task_is_refused(evaluations):
    with pytest.raises(ValueError, match="'4-class'"):
        top_performers(evaluations, tasks=["4-class"])
    with pytest.raises(ValueError, match="at least one task"):
        top_performers(evaluations, tasks=[])
