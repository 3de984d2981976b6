"""Importance statistics over folds and shuffles, checked by brute force and on planted effects."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from cohortbench.analyse.importance import (
    importance_by,
    importance_export,
    importance_table,
    max_statistic_p,
    permutation_p,
    split_feature_name,
    survivors,
)
from cohortbench.design.configs import PipelineConfig
from cohortbench.execute.importance_record import compact_importance

from ._importance_cohorts import nested_importance, planted_cohort

FEATURES = tuple(f"{m}:r{r}" for m in ("qT1", "FA", "TSC") for r in range(4))


def brute_p(T):
    """Permutation and max-statistic p written as loops over label vectors and elements."""
    L = T.shape[0]
    flat = T.reshape(L, -1)
    p, p_fw = np.empty(flat.shape[1]), np.empty(flat.shape[1])
    for j in range(flat.shape[1]):
        count = count_max = 1
        for i in range(1, L):
            count += flat[i, j] >= flat[0, j]
            count_max += max(flat[i]) >= flat[0, j]
        p[j], p_fw[j] = count / L, count_max / L
    return p.reshape(T.shape[1:]), p_fw.reshape(T.shape[1:])


@pytest.mark.parametrize("seed", range(4))
def test_p_values_equal_brute_force(seed):
    rng = np.random.default_rng(seed)
    T = np.abs(rng.normal(size=(20, 3, 7)))
    T[0, 1, 2] = 3.5                                      # one extreme element
    T[5, 0, 0] = T[0, 0, 0]                               # an exact tie counts as >=
    p, p_fw = brute_p(T)
    np.testing.assert_array_equal(permutation_p(T), p)
    np.testing.assert_array_equal(max_statistic_p(T), p_fw)
    assert np.all(max_statistic_p(T) >= permutation_p(T))
    assert permutation_p(T).min() >= 1 / 20


def test_nan_elements_get_nan_p_and_never_count_in_the_null():
    T = np.array([[0.5, np.nan], [0.2, 0.9], [np.nan, 0.1]])
    np.testing.assert_array_equal(permutation_p(T), [1 / 3, np.nan])
    np.testing.assert_array_equal(max_statistic_p(T), [2 / 3, np.nan])


def test_split_feature_name():
    assert split_feature_name("qT1:ctx:lh") == ("qT1", "ctx:lh")
    assert split_feature_name("plain") == ("", "plain")


def simulated_activations(L=40, F=5, C=2, effect=(), seed=0):
    """Null activations around 0; ``effect`` features get a shift under the real labels."""
    rng = np.random.default_rng(seed)
    A = np.tanh(0.2 * rng.normal(size=(L, F, C, len(FEATURES))))
    for j in effect:
        A[0, :, :, j] += 0.6
    return A


def test_table_from_the_compact_record_equals_brute_force_on_full_arrays():
    A = simulated_activations(effect=(4,))
    masks = np.random.default_rng(2).random(size=(A.shape[0], A.shape[1], len(FEATURES))) < 0.5
    record = compact_importance(A, feature_names=FEATURES, function_names=("a", "b"),
                                selected=masks)
    table = importance_table(record)
    assert list(table["function"][:2]) == ["a", "a"] and len(table) == 2 * len(FEATURES)
    means = A.mean(axis=1)                                # float64 over every fold
    p, p_fw = brute_p(np.abs(means))
    np.testing.assert_allclose(table["mean_activation"], means[0].ravel(), rtol=1e-6)
    np.testing.assert_array_equal(table["p_value"], p.ravel())
    np.testing.assert_array_equal(table["p_familywise"], p_fw.ravel())
    np.testing.assert_allclose(table["fold_low"], np.percentile(A[0], 2.5, axis=0).ravel(),
                               rtol=1e-6)
    np.testing.assert_allclose(table["selection_frequency"],
                               np.tile(masks[0].mean(axis=0), 2))
    planted = table[table["feature"] == FEATURES[4]]
    assert planted["p_familywise"].max() == 1 / A.shape[0]
    assert table.loc[table["feature"] != FEATURES[4], "p_familywise"].min() > 1 / A.shape[0]
    assert set(planted["map"]) == {"FA"} and set(planted["roi"]) == {"r0"}


def test_aggregates_by_map_and_roi_equal_brute_force():
    A = simulated_activations(effect=(8, 9, 10, 11))       # the whole TSC map
    record = compact_importance(A, feature_names=FEATURES, function_names=("a", "b"))
    by_map = importance_by(record, "map")
    assert list(by_map["map"]) == ["qT1", "FA", "TSC"]
    means = np.abs(A.mean(axis=1))                         # (L, C, p)
    T = np.stack([means[:, :, 4 * m:4 * m + 4].mean(axis=(1, 2)) for m in range(3)], axis=1)
    p, p_fw = brute_p(T)
    np.testing.assert_allclose(by_map["mean_abs_activation"], T[0], rtol=1e-6)
    np.testing.assert_array_equal(by_map["p_value"], p)
    np.testing.assert_array_equal(by_map["p_familywise"], p_fw)
    assert by_map.set_index("map").loc["TSC", "p_familywise"] == 1 / A.shape[0]
    by_roi = importance_by(record, "roi")
    assert list(by_roi["roi"]) == ["r0", "r1", "r2", "r3"]
    assert list(by_roi["n_features"]) == [3, 3, 3, 3]
    T_roi = np.stack([means[:, :, [r, 4 + r, 8 + r]].mean(axis=(1, 2)) for r in range(4)], 1)
    np.testing.assert_allclose(by_roi["mean_abs_activation"], T_roi[0], rtol=1e-6)
    with pytest.raises(ValueError, match="level"):
        importance_by(record, "modality")


def test_without_shuffles_p_columns_are_nan():
    record = compact_importance(simulated_activations(L=1), feature_names=FEATURES,
                                function_names=("a", "b"))
    table = importance_table(record)
    assert table["p_familywise"].isna().all() and table["mean_activation"].notna().all()


def test_non_linear_table_has_selection_only():
    record = compact_importance(None, feature_names=FEATURES, function_names=(),
                                selected=np.eye(len(FEATURES), dtype=bool)[:3])
    table = importance_table(record)
    assert len(table) == len(FEATURES) and table["mean_activation"].isna().all()
    np.testing.assert_allclose(table["selection_frequency"][:3], 1 / 3)
    with pytest.raises(ValueError, match="not linear"):
        importance_by(record, "map")


def test_export_rows_follow_the_csv_contract():
    A = simulated_activations(L=5, effect=(0,))
    record = compact_importance(A, feature_names=FEATURES, function_names=("a", "b"),
                                selected=np.ones((5, 5, len(FEATURES)), dtype=bool))
    out = importance_export(importance_table(record), evaluation_id="e1", task="2-class")
    assert list(out.columns) == ["evaluation_id", "task", "class", "map", "roi", "statistic",
                                 "value", "p_value", "p_familywise"]
    counts = out["statistic"].value_counts()
    assert counts["mean_activation"] == 2 * len(FEATURES)
    assert counts["selection_frequency"] == len(FEATURES)     # once per feature
    assert "mean_weight" not in counts                        # not recorded: left out
    assert out.loc[out["statistic"] == "selection_frequency", "p_value"].isna().all()


def test_a_strong_planted_effect_gets_a_small_familywise_p():
    rng = np.random.default_rng(5)
    X, y, names, _ = planted_cohort(rng, n=40, n_maps=2, n_rois=12,
                                    effect=((0, [3]),), shift=2.0)
    config = PipelineConfig("MLR_L2", column_scaling="standard", feature_selection="kbest",
                            n_features=5)
    splitter = StratifiedKFold(5, shuffle=True, random_state=0)
    table = importance_table(nested_importance(X, y, names, config, splitter, 39))
    row = table.set_index("feature").loc["m0:r3"]
    assert row["p_familywise"] <= 0.05 and row["selection_frequency"] == 1.0
    others = table[table["feature"] != "m0:r3"]
    assert (others["p_familywise"] > 0.05).all()


def test_survivors_counts_and_says_so_plainly():
    A = simulated_activations(effect=(4,))
    table = importance_table(compact_importance(A, feature_names=FEATURES,
                                                function_names=("a", "b")))
    found = survivors(table, n_permutations=A.shape[0] - 1)
    assert found["n_tests"] == 2 * len(FEATURES)
    assert found["n_surviving"] == int((table["p_familywise"] < 0.05).sum()) == 2
    assert found["sentence"].startswith("2 of 24 feature tests survive")
    null = importance_table(compact_importance(simulated_activations(), feature_names=FEATURES,
                                               function_names=("a", "b")))
    none = survivors(null, n_permutations=39)
    assert none["n_surviving"] == 0 and none["min_possible_p"] == 1 / 40
    assert none["sentence"].startswith("None of 24 feature tests survives")
    assert "no p can be below 0.025" in none["sentence"]
