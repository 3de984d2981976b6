"""Activation patterns of fitted pipelines, checked against computations built by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import f_oneway
from sklearn.feature_selection import RFE
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.svm import SVC, SVR

from cohortbench.design.configs import PipelineConfig
from cohortbench.execute.activation import (
    activation_pattern,
    classifier_decision_values,
    decision_function_names,
    fold_importance,
    is_linear_classifier,
)
from cohortbench.execute.pipelines import build_pipeline

BLOCKS = ((0, 6), (6, 14))          # two maps of 6 and 8 ROIs


def cohort(n_classes=2, n=36, p=14, seed=0):
    """Rows with a class effect on a few features and per-subject offsets (for row scaling)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    X = rng.normal(size=(n, p)) + rng.normal(size=(n, 1)) * 0.5 + 3.0
    for k in range(1, n_classes):
        X[y == k, k] += 1.5
        X[y == k, 7 + k] -= 1.0
    return X, y


def fit(config, X, y, n_classes):
    pipeline, _ = build_pipeline(config, blocks=BLOCKS, n_classes=n_classes,
                                 n_features_available=X.shape[1], random_state=0)
    return pipeline.fit(X, y)


def row_standardise(X):
    """SPEC 3.1 row scaling by hand: per subject, per block, population std."""
    out = np.empty_like(X)
    for start, stop in BLOCKS:
        block = X[:, start:stop]
        sd = block.std(axis=1, keepdims=True)
        out[:, start:stop] = (block - block.mean(axis=1, keepdims=True)) / sd
    return out


def corr_rows(X, S):
    """corr(x_j, s_k) with numpy.corrcoef, one pair at a time."""
    S = S.reshape(len(S), -1)
    return np.array([[np.corrcoef(X[:, j], S[:, k])[0, 1] for j in range(X.shape[1])]
                     for k in range(S.shape[1])])


def test_pattern_through_row_and_column_scaling_and_pca_matches_hand_computation():
    X, y = cohort()
    config = PipelineConfig("MLR_L2", row_scaling="standard", column_scaling="standard",
                            dim_reduction="pca")
    pipeline = fit(config, X, y, 2)
    result = fold_importance(pipeline, X, n_classes=2)

    X_enter = row_standardise(X)                      # the reference point: after row scaling
    pca, clf = pipeline.named_steps["reduce"], pipeline.named_steps["clf"]
    Z = (X_enter - X_enter.mean(axis=0)) / X_enter.std(axis=0)
    scores = (Z - pca.mean_) @ pca.components_.T
    s = scores @ clf.coef_.ravel() + clf.intercept_[0]
    assert result.kind == "linear" and result.scheme == "binary"
    assert result.selected is None
    np.testing.assert_allclose(result.activation, corr_rows(X_enter, s), rtol=1e-9, atol=1e-12)
    # Not the raw features: the row scaling changes the pattern.
    assert not np.allclose(result.activation, corr_rows(X, s), atol=1e-3)


def test_pattern_through_lda_into_linear_svm_three_classes_uses_one_vs_one_functions():
    X, y = cohort(n_classes=3, n=45)
    config = PipelineConfig("SVM_LIN", column_scaling="standard", dim_reduction="lda")
    pipeline = fit(config, X, y, 3)
    result = fold_importance(pipeline, X, n_classes=3)

    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    lda = pipeline.named_steps["reduce"]
    D = (Z - lda.xbar_) @ lda.scalings_[:, :2]
    # libsvm's one-vs-one functions are the binary SVMs of each pair; a binary SVC's
    # positive side is its higher class code, so "a vs b" is minus it.
    expected = []
    for a, b in ((0, 1), (0, 2), (1, 2)):
        rows = np.isin(y, (a, b))
        pair = SVC(kernel="linear").fit(D[rows], y[rows])
        expected.append(-pair.decision_function(D))
    expected = np.stack(expected, axis=1)
    assert result.scheme == "one-vs-one"
    np.testing.assert_allclose(result.activation, corr_rows(X, expected), atol=1e-6)
    # Positive "a vs b" values side with a: check against the pipeline's own predictions.
    values, _ = classifier_decision_values(pipeline.named_steps["clf"], D, 3)
    np.testing.assert_allclose(values, expected, atol=1e-6)


def test_pattern_of_multinomial_logistic_after_kbest_and_its_mask():
    X, y = cohort(n_classes=3, n=45)
    config = PipelineConfig("MLR_L2", column_scaling="standard", feature_selection="kbest",
                            n_features=5)
    pipeline = fit(config, X, y, 3)
    result = fold_importance(pipeline, X, n_classes=3)

    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    F = np.array([f_oneway(*(Z[y == k, j] for k in range(3))).statistic
                  for j in range(X.shape[1])])
    keep = np.zeros(X.shape[1], dtype=bool)
    keep[np.argsort(-F)[:5]] = True
    clf = pipeline.named_steps["clf"]
    logits = Z[:, keep] @ clf.coef_.T + clf.intercept_
    assert result.scheme == "per-class" and result.activation.shape == (3, X.shape[1])
    np.testing.assert_array_equal(result.selected, keep)
    np.testing.assert_allclose(result.activation, corr_rows(X, logits), rtol=1e-9, atol=1e-12)
    # Unselected features still get a pattern (they co-vary with the decision values).
    assert np.all(np.abs(result.activation[:, ~keep]).max(axis=0) > 0)


def test_rfe_mask_is_on_the_original_features():
    X, y = cohort()
    config = PipelineConfig("SVM_LIN", column_scaling="minmax", feature_selection="rfe",
                            n_features=4)
    result = fold_importance(fit(config, X, y, 2), X, n_classes=2)
    Z = (X - X.min(axis=0)) / (X.max(axis=0) - X.min(axis=0))
    own = RFE(SVR(kernel="linear"), n_features_to_select=4, step=1).fit(Z, y)
    np.testing.assert_array_equal(result.selected, own.support_)
    assert result.selected.sum() == 4


def test_raw_weights_match_the_haufe_relation_and_coefficients_by_hand():
    X, y = cohort()
    config = PipelineConfig("MLR_L2", column_scaling="standard")
    pipeline = fit(config, X, y, 2)
    result = fold_importance(pipeline, X, n_classes=2, weights=True)
    clf = pipeline.named_steps["clf"]
    np.testing.assert_allclose(result.weights[0], clf.coef_[0] / X.std(axis=0), rtol=1e-9)
    # Haufe et al. (2014): Cov(x, s) = Cov(x) w for s = w.x + b.
    s = pipeline.decision_function(X)
    cov_xs = ((X - X.mean(0)) * (s - s.mean())[:, None]).mean(axis=0)
    np.testing.assert_allclose(np.cov(X.T, bias=True) @ result.weights[0], cov_xs, rtol=1e-8)


def test_raw_weights_through_pca_reproduce_the_decision_values():
    X, y = cohort(n_classes=3, n=45)
    config = PipelineConfig("MLR_L2", column_scaling="standard", dim_reduction="pca")
    pipeline = fit(config, X, y, 3)
    W = fold_importance(pipeline, X, n_classes=3, weights=True).weights
    logits = pipeline.decision_function(X)
    intercept = pipeline.decision_function(np.zeros((1, X.shape[1])))
    np.testing.assert_allclose(X @ W.T + intercept, logits, rtol=1e-8, atol=1e-9)


def test_search_object_is_unwrapped_to_its_refitted_pipeline():
    X, y = cohort()
    config = PipelineConfig("MLR_L2", column_scaling="standard")
    pipeline, _ = build_pipeline(config, blocks=BLOCKS, n_classes=2, n_features_available=14,
                                 random_state=0)
    search = GridSearchCV(pipeline, {"clf__C": [0.01, 1.0]}, cv=StratifiedKFold(3)).fit(X, y)
    direct = fold_importance(search.best_estimator_, X, n_classes=2)
    np.testing.assert_array_equal(fold_importance(search, X, n_classes=2).activation,
                                  direct.activation)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("classifier", ["KNN", "RF", "SVM_RBF", "MLP"])
def test_non_linear_classifiers_record_no_pattern(classifier):
    X, y = cohort()
    config = PipelineConfig(classifier, column_scaling="standard", feature_selection="kbest",
                            n_features=3)
    result = fold_importance(fit(config, X, y, 2), X, n_classes=2)
    assert result.kind == "not-linear" and result.activation is None
    assert result.selected.sum() == 3          # the mask is still recorded


def test_linear_classifiers_are_recognised():
    from sklearn.linear_model import LogisticRegression
    X, y = cohort()
    assert is_linear_classifier(LogisticRegression().fit(X, y))
    assert is_linear_classifier(SVC(kernel="linear").fit(X, y))
    assert not is_linear_classifier(SVC(kernel="rbf").fit(X, y))


def test_a_training_fold_without_a_class_gives_nan_rows():
    X, y = cohort(n_classes=3, n=45)
    rows = y != 2
    pipeline = fit(PipelineConfig("MLR_L2"), X[rows], y[rows], 3)
    result = fold_importance(pipeline, X[rows], n_classes=3)
    assert result.kind == "missing-class"
    assert result.activation.shape == (3, 14) and np.isnan(result.activation).all()


def test_activation_pattern_is_pairwise_complete_and_zero_for_constant_columns():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(25, 4))
    S = np.column_stack([X[:, 0] + rng.normal(size=25), rng.normal(size=25)])
    X[[2, 5, 11], 1] = np.nan
    X[:, 3] = 7.0
    A = activation_pattern(X, S)
    frame = pd.DataFrame(X)
    for k in range(2):
        expected = frame.corrwith(pd.Series(S[:, k])).to_numpy()   # pairwise deletion
        np.testing.assert_allclose(A[k, :3], expected[:3], rtol=1e-12)
    assert np.all(A[:, 3] == 0.0)
    assert np.all(activation_pattern(X[:, :1], np.ones(25)) == 0.0)   # constant decision


def test_activation_pattern_rejects_bad_shapes_and_nonfinite_decisions():
    with pytest.raises(ValueError, match="same rows"):
        activation_pattern(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        activation_pattern(np.zeros((3, 2)), np.array([0.0, np.nan, 1.0]))


def test_decision_function_names():
    assert decision_function_names(["HC", "ALS"], "binary") == ("ALS vs HC",)
    assert decision_function_names(["a", "b", "c"], "one-vs-one") == ("a vs b", "a vs c",
                                                                        "b vs c")
    assert decision_function_names(["a", "b", "c"], "per-class") == ("a", "b", "c")
