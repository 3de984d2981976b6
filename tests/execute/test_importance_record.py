"""The compact importance record: what it keeps, its size, and its round trip."""

from __future__ import annotations

import numpy as np
import pytest

from cohortbench.execute.activation import FoldImportance
from cohortbench.execute.importance_record import (
    ImportanceAccumulator,
    compact_importance,
    record_from_bytes,
    record_nbytes,
    record_to_bytes,
)

FEATURES = tuple(f"{m}:roi{r}" for m in ("qT1", "FA") for r in range(5))


def full_arrays(L=6, F=4, C=3, seed=0):
    rng = np.random.default_rng(seed)
    A = np.tanh(rng.normal(size=(L, F, C, len(FEATURES))))
    masks = rng.random(size=(L, F, len(FEATURES))) < 0.4
    weights = rng.normal(size=(F, C, len(FEATURES)))
    return A, masks, weights


def test_compact_keeps_fold_means_of_every_label_vector_and_real_folds():
    A, masks, weights = full_arrays()
    record = compact_importance(A, feature_names=FEATURES, function_names=("a", "b", "c"),
                                selected=masks, weights=weights)
    assert record.fold_means.dtype == np.float32 and record.fold_means.shape == (6, 3, 10)
    np.testing.assert_allclose(record.fold_means, A.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(record.real_folds, A[0], rtol=1e-6)
    np.testing.assert_array_equal(record.selected, masks[0])
    np.testing.assert_allclose(record.weights_mean, weights.mean(axis=0), rtol=1e-6)
    assert record.n_permutations == 5


def test_accumulator_in_any_order_equals_compact():
    A, masks, weights = full_arrays()
    L, F = A.shape[:2]
    acc = ImportanceAccumulator(FEATURES, ("x", "y", "z"), L, F)
    order = np.random.default_rng(1).permutation(L * F)
    for index in order:
        label, fold = divmod(int(index), F)
        acc.add(label, fold, FoldImportance("linear", "per-class", A[label, fold],
                                            masks[label, fold],
                                            weights[fold] if label == 0 else None))
    got = acc.record()
    want = compact_importance(A, feature_names=FEATURES, function_names=("x", "y", "z"),
                              selected=masks, weights=weights)
    assert got.function_names == ("x", "y", "z")
    np.testing.assert_allclose(got.fold_means, want.fold_means, rtol=1e-6)
    np.testing.assert_array_equal(got.real_folds, want.real_folds)
    np.testing.assert_array_equal(got.selected, want.selected)
    np.testing.assert_allclose(got.weights_mean, want.weights_mean, rtol=1e-6)


def test_accumulator_skips_missing_class_folds_and_refuses_gaps():
    acc = ImportanceAccumulator(FEATURES, ("a", "b"), 2, 2)
    ones, nan = np.ones((1, 10)), np.full((1, 10), np.nan)
    acc.add(0, 0, FoldImportance("linear", "binary", ones))
    acc.add(0, 1, FoldImportance("missing-class", "binary", nan))
    acc.add(1, 0, FoldImportance("linear", "binary", -ones))
    with pytest.raises(ValueError, match="Fold 1 of label vector 1 was not added"):
        acc.record()
    with pytest.raises(ValueError, match="added twice"):
        acc.add(0, 0, FoldImportance("linear", "binary", ones))
    acc.add(1, 1, FoldImportance("linear", "binary", ones))
    record = acc.record()
    assert record.function_names == ("b vs a",)
    np.testing.assert_array_equal(record.fold_means[:, 0, 0], [1.0, 0.0])


def test_non_linear_record_keeps_only_masks():
    acc = ImportanceAccumulator(FEATURES, ("a", "b"), 2, 1)
    mask = np.arange(10) < 3
    acc.add(0, 0, FoldImportance("not-linear", "binary", None, mask))
    acc.add(1, 0, FoldImportance("not-linear", "binary", None, ~mask))
    record = acc.record()
    assert record.kind == "not-linear" and record.fold_means is None
    np.testing.assert_array_equal(record.selected, mask[None])


@pytest.mark.parametrize("with_masks", [True, False])
def test_bytes_round_trip(with_masks):
    A, masks, weights = full_arrays(F=3)
    record = compact_importance(A, feature_names=FEATURES, function_names=("a", "b", "c"),
                                selected=masks if with_masks else None,
                                weights=weights if with_masks else None)
    back = record_from_bytes(record_to_bytes(record))
    assert back.feature_names == FEATURES and back.function_names == ("a", "b", "c")
    assert back.kind == "linear"
    np.testing.assert_array_equal(back.fold_means, record.fold_means)
    np.testing.assert_array_equal(back.real_folds, record.real_folds)
    if with_masks:
        np.testing.assert_array_equal(back.selected, masks[0])
        np.testing.assert_array_equal(back.weights_mean, record.weights_mean)
    else:
        assert back.selected is None and back.weights_mean is None


def test_sizes_on_the_published_shape():
    # 30 LOO folds x (1 + 50) label vectors x 9 maps x 332 ROIs, float32.
    one = record_nbytes(51, 30, 2988, 1)
    assert one["full"] == 30 * 51 * 2988 * 4 == 18_286_560
    assert one["compact"] == (51 + 30) * 2988 * 4 + 30 * 374
    three = record_nbytes(51, 30, 2988, 3, selector=False)
    assert three == {"full": 3 * 18_286_560, "compact": 3 * 81 * 2988 * 4}
    # The serialised record is the arrays plus a small header.
    rng = np.random.default_rng(0)
    names = tuple(f"m{j // 332}:r{j % 332}" for j in range(2988))
    A = rng.normal(size=(51, 30, 1, 2988)).astype(np.float32)
    blob = record_to_bytes(compact_importance(A, feature_names=names, function_names=("b vs a",),
                                              selected=rng.random((30, 2988)) < 0.1))
    assert one["compact"] < len(blob) < one["compact"] + 50_000
