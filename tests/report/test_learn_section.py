"""The learn stage's figure and section (report/learn_section.py), through the data drawn."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cohortbench.analyse.learn_tables import curve_projections, learning_curve_table
from cohortbench.report.learn_section import curve_labels, learning_curve_figure, x_axis_label

from ..analyse.test_learn_tables import DECISIONS, KINDS, SIZES, evaluations


def _nulls(frame: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = [{"evaluation_id": key, "permutation": i, "accuracy": float(a)}
            for key in frame["evaluation_id"] for i, a in enumerate(rng.uniform(0.3, 0.6, 5))]
    return pd.DataFrame(rows)


def test_the_figure_draws_points_means_fits_and_the_null_band():
    frame = evaluations()
    nulls = _nulls(frame)
    curve = learning_curve_table(frame, KINDS, DECISIONS, with_ids=True)
    projections = curve_projections(curve, DECISIONS, n_boot=100)
    fig, data = learning_curve_figure(curve, projections, nulls, task="2-class",
                                      outer="stratified-kfold:5")
    assert fig.axes[0].get_xlabel() == x_axis_label("stratified-kfold:5") == \
        "Training-set size (the mean training set of stratified-kfold:5)"
    assert x_axis_label("loo") == "Training-set size (subjects - 1, with leave-one-out)"
    repeats = data[data["mark"] == "repeat"]
    assert len(repeats) == len(curve) and set(repeats["curve"]) == {"A+B", "A"}
    np.testing.assert_allclose(sorted(repeats["value"]), sorted(curve["accuracy"]))
    means = data[data["mark"] == "mean"]
    for label in ("A+B", "A"):
        mine = means[means["curve"] == label]
        assert mine["n_subjects"].tolist() == SIZES
        np.testing.assert_allclose(mine["n_train"], np.array(SIZES) * 0.8)
        expected = curve[curve["modalities"] == label].groupby("n_subjects")["accuracy"].mean()
        np.testing.assert_allclose(mine["value"], expected.to_numpy())
        assert (mine["low"] <= mine["value"]).all() and (mine["value"] <= mine["high"]).all()
        fit = data[(data["mark"] == "fit") & (data["curve"] == label)]
        # from the smallest size to the farthest projection asked for
        assert fit["n_subjects"].min() == 10 and fit["n_subjects"].max() == 70
        assert (fit["low"] <= fit["value"] + 1e-12).all()
    # the null band of a size pools every shuffled-label accuracy of that size
    band = data[data["mark"] == "null"].set_index("n_subjects")
    size_of = dict(zip(curve["evaluation_id"], curve["n_subjects"]))
    for size in SIZES:
        values = nulls.loc[nulls["evaluation_id"].map(size_of) == size, "accuracy"]
        assert band.loc[size, "value"] == values.mean()
        assert band.loc[size, "low"] == np.quantile(values, 0.05)
        assert band.loc[size, "high"] == np.quantile(values, 0.95)


def test_a_curve_without_projection_has_no_fitted_line():
    frame = evaluations()
    frame.loc[frame["n_subjects"] == 30, "p_value"] = 0.6
    curve = learning_curve_table(frame, KINDS, DECISIONS, with_ids=True)
    projections = curve_projections(curve, DECISIONS, n_boot=50)
    _, data = learning_curve_figure(curve, projections, _nulls(frame).iloc[:0], task="t")
    assert set(data["mark"]) == {"repeat", "mean"}  # no fit, no null band without nulls


def test_curves_are_named_by_what_differs_between_them():
    base = {"modalities": "A+B", "parcellation": "all", "classifier": "MLR_L2",
            "row_scaling": "standard", "imputation": "none", "column_scaling": "standard",
            "feature_selection": "none", "n_features": None, "dim_reduction": "none",
            "search": "none"}
    assert curve_labels([base, {**base, "modalities": "A"}]) == ["A+B", "A"]
    assert curve_labels([base, {**base, "classifier": "KNN"}]) == ["A+B, MLR_L2", "A+B, KNN"]
    assert curve_labels([base, {**base, "row_scaling": "none"}]) == [
        "A+B, row standard", "A+B, row none"]
