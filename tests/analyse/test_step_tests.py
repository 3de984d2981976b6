import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cohortbench.analyse import STEP_COLUMNS, benjamini_hochberg, holm, step_tests
from cohortbench.analyse.step_tests import stars_for, step_table_for_display

OTHER = ["row_scaling", "imputation", "column_scaling", "feature_selection", "n_features",
         "dim_reduction", "search", "modalities", "parcellation"]


def _by_hand(frame, step, option, k=None):
    """Pair option rows with their 'none' partner by a pandas merge, then test."""
    frame = frame.assign(n_features=frame["n_features"].fillna(-1))
    if step == "feature_selection":
        chosen = frame[(frame[step] == option) & (frame["n_features"] == k)]
        base = frame[frame[step] == "none"]
        keys = [c for c in OTHER if c not in (step, "n_features")]
    else:
        chosen = frame[frame[step] == option]
        base = frame[frame[step] == "none"]
        keys = [c for c in OTHER if c != step]
    merged = chosen.merge(base, on=keys, suffixes=("", "_none"))
    differences = np.round(merged["accuracy"] - merged["accuracy_none"], 12).to_numpy()
    p = stats.wilcoxon(differences, zero_method="wilcox").pvalue
    return len(merged), 100 * np.median(differences), p


def test_columns_pair_counts_and_hand_recomputation(make_grid):
    grid = make_grid()
    table = step_tests(grid)
    assert list(table.columns) == STEP_COLUMNS
    assert len(table) == 2 + 2 + 10 + 2
    scalers = table[table["step"] != "feature_selection"]
    assert (scalers["n_pairs"] == 99).all() and scalers["n_features"].isna().all()
    selectors = table[table["step"] == "feature_selection"]
    assert (selectors["n_pairs"] == 27).all()
    assert sorted(selectors["n_features"].tolist()) == sorted([10, 25, 50, 100, 150] * 2)
    assert list(table["option"][:4]) == ["standard", "minmax", "standard", "minmax"]
    assert list(table["option"][-2:]) == ["pca", "lda"]
    for _, row in table.iterrows():
        k = None if pd.isna(row["n_features"]) else int(row["n_features"])
        n, median, p = _by_hand(grid, row["step"], row["option"], k)
        assert row["n_pairs"] == n
        assert row["median_difference"] == pytest.approx(median)
        assert row["p_value"] == pytest.approx(p, rel=1e-12)
        assert row["stars"] == stars_for(p)
    np.testing.assert_allclose(table["p_holm"], holm(table["p_value"]))
    np.testing.assert_allclose(table["p_bh"],
                               stats.false_discovery_control(table["p_value"], method="bh"))


def test_adjustment_is_within_each_classifier_task_table(make_grid):
    grid = make_grid(classifiers=("MLR_L2", "SVM_LIN"), tasks=("3-class", "SvF"))
    table = step_tests(grid)
    assert len(table) == 4 * 16
    for _, block in table.groupby(["task", "classifier"]):
        assert len(block) == 16
        np.testing.assert_allclose(block["p_holm"], holm(block["p_value"]))
    alone = step_tests(grid[(grid["classifier"] == "SVM_LIN") & (grid["task"] == "SvF")])
    mask = (table["classifier"] == "SVM_LIN") & (table["task"] == "SvF")
    np.testing.assert_allclose(table.loc[mask, "p_bh"], alone["p_bh"])


def test_holm_and_bh_on_a_known_vector():
    p = [0.01, 0.04, 0.03, 0.005]
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(benjamini_hochberg(p), [0.02, 0.04, 0.04, 0.02])
    with_nan = holm([0.01, np.nan, 0.04])
    assert np.isnan(with_nan[1])
    np.testing.assert_allclose(with_nan[[0, 2]], [0.02, 0.04])
    assert holm([0.6, 0.7])[1] == 1.0


def test_all_zero_differences_are_undefined_not_fake(make_grid):
    grid = make_grid()
    # Row minmax changes nothing: every minmax configuration equals its 'none' partner.
    keys = ["column_scaling", "feature_selection", "n_features", "dim_reduction"]
    none_acc = grid[grid["row_scaling"] == "none"].set_index(keys)["accuracy"]
    is_minmax = grid["row_scaling"] == "minmax"
    grid.loc[is_minmax, "accuracy"] = none_acc.loc[
        pd.MultiIndex.from_frame(grid.loc[is_minmax, keys])].to_numpy()
    table = step_tests(grid)
    row = table[(table["step"] == "row_scaling") & (table["option"] == "minmax")].iloc[0]
    assert row["n_pairs"] == 99 and row["median_difference"] == 0.0
    assert np.isnan(row["p_value"]) and np.isnan(row["p_holm"]) and np.isnan(row["p_bh"])
    assert row["stars"] == "undefined"
    defined = table["p_value"].notna()
    assert defined.sum() == 15
    np.testing.assert_allclose(table.loc[defined, "p_holm"], holm(table.loc[defined, "p_value"]))
    shown = step_table_for_display(table)
    assert shown.loc[1, "p-value"] == "n/a" and shown.loc[1, "Significance"] == "undefined"


def test_rounding_makes_equal_differences_ties():
    # 2/30 - 1/30 and 1/30 - 0 differ in the last bit but are the same difference.
    accuracies = [(2 / 30, 1 / 30), (1 / 30, 0.0), (3 / 30, 2 / 30), (0.5, 0.4), (0.2, 0.3)]
    rows = []
    for i, (with_option, without) in enumerate(accuracies):
        for option, accuracy in (("standard", with_option), ("none", without)):
            rows.append({"evaluation_id": f"{option}{i}", "stage": "refine", "task": "t",
                         "classifier": "KNN", "row_scaling": option, "column_scaling": "none",
                         "feature_selection": "none", "n_features": np.nan,
                         "dim_reduction": "none", "search": "none", "modalities": f"m{i}",
                         "parcellation": "all", "accuracy": accuracy})
    table = step_tests(pd.DataFrame(rows))
    expected = stats.wilcoxon([1 / 30] * 3 + [0.1, -0.1], zero_method="wilcox").pvalue
    assert table.loc[0, "n_pairs"] == 5
    assert table.loc[0, "p_value"] == pytest.approx(expected, rel=1e-12)


def test_mismatched_folds_or_view_refuse_to_pair(make_grid):
    grid = make_grid()
    bad = grid.copy()
    bad.loc[(bad["row_scaling"] == "standard") & (bad["dim_reduction"] == "pca"),
            "folds_id"] = "other-folds"
    with pytest.raises(ValueError, match="folds_id differ"):
        step_tests(bad)
    bad = grid.copy()
    bad.loc[bad.index[5], "view_fingerprint"] = "other-view"
    with pytest.raises(ValueError, match="view_fingerprint"):
        step_tests(bad)


def test_stage_without_none_partners_gives_no_rows():
    screen = pd.DataFrame([{
        "evaluation_id": f"s{i}", "stage": "screen", "task": "2-class", "classifier": c,
        "row_scaling": "standard", "column_scaling": "standard", "feature_selection": "none",
        "n_features": pd.NA, "dim_reduction": "none", "search": "none",
        "modalities": "qT1", "parcellation": "all", "accuracy": 0.5,
    } for i, c in enumerate(["KNN", "RF", "MLP"])])
    screen["n_features"] = screen["n_features"].astype("Int64")
    table = step_tests(screen)
    assert table.empty and list(table.columns) == STEP_COLUMNS


def test_duplicate_pipelines_are_refused(make_grid):
    grid = make_grid()
    with pytest.raises(ValueError, match="same pipeline"):
        step_tests(pd.concat([grid, grid.iloc[[3]]], ignore_index=True))


def test_stars():
    assert [stars_for(p) for p in (0.0009, 0.001, 0.0099, 0.049, 0.05, np.nan)] == [
        "***", "**", "**", "*", "", "undefined"]
