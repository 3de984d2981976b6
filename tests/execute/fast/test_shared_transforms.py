"""Shared transforms equal, bit for bit, what the reference Pipeline computes."""

import numpy as np
import pytest
from sklearn.feature_selection import RFE, SelectKBest, f_classif
from sklearn.svm import SVR

from cohortbench.design.configs import PipelineConfig
from cohortbench.execute.fast.shared_transforms import (FoldTransforms, LabelTransforms,
                                                        ViewTransforms, computed,
                                                        kbest_order, kbest_support)
from cohortbench.execute.pipelines import build_pipeline
from cohortbench.execute.row_scaling import RowScaler

BLOCKS = ((0, 10), (10, 25), (25, 40))


def _data(seed=0, n=16):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 40)) * rng.uniform(0.5, 5, size=40) + rng.uniform(0, 9, size=40)
    X *= rng.uniform(0.8, 1.2, size=(n, 1))
    y = np.arange(n) % 3
    return X, y


def _reference_features(config, X, y, train, test):
    """The matrices the reference pipeline hands its classifier."""
    pipeline, _ = build_pipeline(config, blocks=BLOCKS, n_classes=3,
                                 n_features_available=X.shape[1], random_state=0)
    steps = pipeline[:-1]
    if len(steps) == 0:
        return X[train], X[test]
    return steps.fit_transform(X[train], y[train]), steps.transform(X[test])


def _shared_features(config, X, y, train, test):
    fold = FoldTransforms(ViewTransforms(X, BLOCKS), train, test)
    prefix = (config.row_scaling, config.imputation, config.column_scaling)
    labels = LabelTransforms(fold, y[train], {prefix: config.n_features or 1})
    item = fold.prefix(*prefix)
    key = prefix
    if config.feature_selection != "none":
        item = labels.selected(prefix, config.feature_selection, config.n_features)[1]
        key = prefix + (config.feature_selection, config.n_features)
    if config.dim_reduction == "pca":
        item = (labels if config.feature_selection != "none" else fold).pca(key, item)
    elif config.dim_reduction == "lda":
        item = labels.lda(key, item)
    return item.value


@pytest.mark.parametrize("row", ["none", "standard", "minmax"])
@pytest.mark.parametrize("column", ["none", "standard", "minmax"])
@pytest.mark.parametrize("selection,reduction", [("none", "none"), ("none", "pca"),
                                                 ("kbest", "lda"), ("rfe", "pca"),
                                                 ("kbest", "none")])
def test_shared_chain_is_bit_identical_to_the_pipeline(row, column, selection, reduction):
    X, y = _data()
    train, test = np.arange(1, 16), np.array([0])
    config = PipelineConfig("SVM_LIN", row_scaling=row, column_scaling=column,
                            feature_selection=selection,
                            n_features=None if selection == "none" else 7,
                            dim_reduction=reduction)
    want = _reference_features(config, X, y, train, test)
    got = _shared_features(config, X, y, train, test)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b, strict=True)


def test_imputation_is_shared_and_exact():
    X, y = _data(1)
    X[[2, 5], [3, 30]] = np.nan
    train, test = np.arange(4, 16), np.arange(4)
    config = PipelineConfig("MLR_L2", row_scaling="standard", imputation="median",
                            column_scaling="standard")
    for a, b in zip(_shared_features(config, X, y, train, test),
                    _reference_features(config, X, y, train, test)):
        np.testing.assert_array_equal(a, b)


def test_row_scaling_once_per_view_equals_per_fold_scaling():
    X, _ = _data(2)
    X[3, 4] = np.nan
    for method in ("standard", "minmax"):
        whole = ViewTransforms(X, BLOCKS).row_scaled(method).value
        for rows in (np.arange(1, 16), np.array([0]), np.array([5, 9])):
            np.testing.assert_array_equal(
                whole[rows], RowScaler(method, BLOCKS).fit_transform(X[rows]))


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")
@pytest.mark.parametrize("k", [1, 3, 10, 39, 40])
def test_kbest_support_equals_selectkbest_with_ties(k):
    X, y = _data(3)
    X[:, 5] = X[:, 6]          # identical scores: a tie SelectKBest breaks by order
    X[:, 7] = 1.0              # constant column: NaN score, ranked lowest
    scores = computed(f_classif, X, y).value[0]
    expected = SelectKBest(f_classif, k=k).fit(X, y).get_support()
    np.testing.assert_array_equal(kbest_support(kbest_order(scores), k), expected)


def test_rfe_selected_matrices_equal_sklearn_rfe_for_each_k():
    X, y = _data(4, n=20)
    train, test = np.arange(2, 20), np.arange(2)
    fold = FoldTransforms(ViewTransforms(X, BLOCKS), train, test)
    prefix = ("standard", "none", "standard")
    labels = LabelTransforms(fold, y[train], {prefix: 3})
    scaled_train = fold.prefix(*prefix).value[0]
    for k in (3, 12, 30):
        got = labels.selected(prefix, "rfe", k)[1].value[0]
        mask = RFE(SVR(kernel="linear"), n_features_to_select=k).fit(
            scaled_train, y[train]).support_
        np.testing.assert_array_equal(got, scaled_train[:, mask])
    assert len([key for key in labels.items if key[0] == "rfe"]) == 1  # one path for all k


def test_items_are_shared_and_record_warnings():
    X, y = _data(5)
    X[:, 0] = 2.0  # constant column: f_classif warns
    fold = FoldTransforms(ViewTransforms(X, BLOCKS), np.arange(1, 16), np.array([0]))
    labels = LabelTransforms(fold, y[1:], {})
    prefix = ("none", "none", "none")
    assert fold.prefix(*prefix) is fold.prefix(*prefix)
    first = labels.selected(prefix, "kbest", 5)[0]
    assert first is labels.selected(prefix, "kbest", 9)[0]  # one F-score ranking for all k
    assert any(w.startswith("UserWarning: Features [0] are constant") for w in first.warnings)
    assert first.seconds > 0


def test_selected_k_above_width_warns_like_sklearn():
    X, y = _data(6)
    X[:, 1] = np.nan  # all-NaN column: the imputer drops it, 39 columns reach the selector
    fold = FoldTransforms(ViewTransforms(X, BLOCKS), np.arange(1, 16), np.array([0]))
    prefix = ("none", "mean", "none")
    labels = LabelTransforms(fold, y[1:], {prefix: 40})
    item = labels.selected(prefix, "kbest", 40)[1]
    assert item.value[0].shape == (15, 39)
    assert any("k=40 is greater than n_features=39" in w for w in item.warnings)
    item = labels.selected(prefix, "rfe", 40)[1]
    assert any("n_features_to_select=40 > n_features=39" in w for w in item.warnings)
