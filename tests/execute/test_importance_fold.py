"""The ``importance`` per-fold record: what travels per fold, what is stored, both engines."""

from __future__ import annotations

import base64
import dataclasses

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from cohortbench.design.configs import CVScheme, PipelineConfig
from cohortbench.execute.activation import (
    FoldImportance,
    FoldModelParts,
    classifier_decision_values,
    fold_importance,
    fold_importance_from_parts,
    split_pipeline,
)
from cohortbench.execute.fold_records import (
    FoldRecordInput,
    finish_records,
    record_functions,
    register_record,
    unregister_record,
)
from cohortbench.execute.importance_fold import (
    combine_importance,
    decode_fold,
    decode_importance,
    encode_fold,
    importance_fold_record,
)
from cohortbench.execute.importance_record import record_nbytes
from cohortbench.execute.pipelines import build_pipeline
from cohortbench.execute.problem import Problem

from .test_activation import BLOCKS, cohort

CONFIGS = [
    PipelineConfig("MLR_L2", row_scaling="standard", column_scaling="standard",
                   feature_selection="kbest", n_features=5, dim_reduction="pca"),
    PipelineConfig("SVM_LIN", row_scaling="minmax", column_scaling="minmax",
                   dim_reduction="lda"),
    PipelineConfig("KNN", row_scaling="standard", column_scaling="standard",
                   feature_selection="kbest", n_features=4),
]
CLASSES = ("HC", "fast", "slow")


def fitted_fold(config, n_classes=3, seed=0, train=slice(None)):
    X, y = cohort(n_classes=n_classes, seed=seed)
    pipeline, _ = build_pipeline(config, blocks=BLOCKS, n_classes=n_classes,
                                 n_features_available=X.shape[1], random_state=0)
    return pipeline.fit(X[train], y[train]), X[train], y[train]


def parts_by_hand(fitted, X_train, n_classes):
    """What another engine computes, taken here from the fitted steps one by one."""
    pre, model, classifier = split_pipeline(fitted)
    entering = pre.transform(X_train)
    values = None
    if hasattr(classifier, "coef_"):
        Z = entering if model is None else model.transform(entering)
        values, _ = classifier_decision_values(classifier, Z, n_classes)
    select = fitted.named_steps.get("select")
    scheme = "one-vs-one" if hasattr(classifier, "decision_function_shape") else "per-class"
    return FoldModelParts(entering, values, scheme, tuple(classifier.classes_),
                          None if select is None else select.get_support())


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.classifier)
def test_an_engines_parts_give_the_same_fold_importance(config):
    fitted, X, _ = fitted_fold(config)
    direct = fold_importance(fitted, X, n_classes=3)
    from_parts = fold_importance_from_parts(parts_by_hand(fitted, X, 3), n_classes=3)
    assert (direct.kind, direct.scheme) == (from_parts.kind, from_parts.scheme)
    if direct.activation is None:
        assert from_parts.activation is None
    else:
        np.testing.assert_allclose(from_parts.activation, direct.activation, rtol=1e-12,
                                   atol=1e-14)
    assert (direct.selected is None) == (from_parts.selected is None)
    if direct.selected is not None:
        assert np.array_equal(direct.selected, from_parts.selected)


def test_parts_of_a_fold_without_a_class_give_nan_rows():
    fitted, X, y = fitted_fold(CONFIGS[0], train=np.arange(36) % 3 != 2)
    parts = parts_by_hand(fitted, X, 2)
    record = fold_importance_from_parts(dataclasses.replace(parts, scheme="per-class"),
                                        n_classes=3)
    assert record.kind == "missing-class" and np.isnan(record.activation).all()
    assert record.activation.shape == (3, X.shape[1])


def test_a_fold_travels_as_float32_and_a_packed_mask():
    rng = np.random.default_rng(0)
    record = FoldImportance("linear", "per-class", rng.uniform(-1, 1, (3, 13)),
                            rng.random(13) < 0.4)
    encoded = encode_fold(record)
    assert all(isinstance(v, (str, int, list, type(None))) for v in encoded.values())
    assert len(base64.b64decode(encoded["activation"])) == 4 * 3 * 13
    assert len(base64.b64decode(encoded["selected"])) == 2  # 13 bits
    back = decode_fold(encoded)
    assert np.array_equal(back.activation, record.activation.astype(np.float32))
    assert np.array_equal(back.selected, record.selected)
    none = decode_fold(encode_fold(FoldImportance("not-linear", "binary", None, None)))
    assert none.activation is None and none.selected is None and none.kind == "not-linear"


def test_the_record_function_uses_the_fitted_pipeline_or_the_parts():
    fitted, X, y = fitted_fold(CONFIGS[0])
    fold = FoldRecordInput(0, 0, np.arange(len(X)), np.array([], int), y, np.array([], int),
                           fitted, X_train=X, classes=CLASSES)
    expected = encode_fold(fold_importance(fitted, X, n_classes=3))
    assert importance_fold_record(fold) == expected
    by_parts = dataclasses.replace(fold, fitted=None, X_train=None,
                                   model_parts=parts_by_hand(fitted, X, 3))
    assert decode_fold(importance_fold_record(by_parts)).kind == "linear"
    with pytest.raises(ValueError, match="FoldModelParts"):
        importance_fold_record(dataclasses.replace(fold, fitted=None, X_train=None))


def toy_problem(p, side=0):
    names = tuple(f"m{j // 4}:r{j % 4}" for j in range(p))
    return Problem(X=np.zeros((4, p + side)), y=np.zeros(4, int), n_eval=4, blocks=((0, p),),
                   classes=CLASSES, subjects=tuple("abcd"), task="t", view_fingerprint="v",
                   columns=names)


def test_combine_keeps_fold_means_real_folds_and_real_masks():
    rng = np.random.default_rng(1)
    L, F, C, p = 4, 5, 3, 8
    full = rng.uniform(-1, 1, (L, F, C, p))
    full[2, 3] = np.nan  # a fold that missed a class
    masks = rng.random((L, F, p)) < 0.5
    values = [[encode_fold(FoldImportance("linear", "per-class", full[v, f], masks[v, f]))
               for f in range(F)] for v in range(L)]
    stored = combine_importance(values, toy_problem(p))
    assert stored["format"] == "importance-npz"
    record = decode_importance(stored)
    as32 = full.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(record.fold_means, np.nanmean(as32, axis=1), rtol=1e-6)
    np.testing.assert_array_equal(record.real_folds, as32[0].astype(np.float32))
    np.testing.assert_array_equal(record.selected, masks[0])
    assert record.function_names == CLASSES and record.feature_names[1] == "m0:r1"
    assert record.n_permutations == L - 1


def test_side_columns_are_not_features():
    rng = np.random.default_rng(2)
    values = [[encode_fold(FoldImportance("linear", "binary", rng.uniform(-1, 1, (1, 10)),
                                          None)) for _ in range(3)] for _ in range(2)]
    problem = dataclasses.replace(toy_problem(8, side=2), classes=("a", "b"))
    assert decode_importance(combine_importance(values, problem)).fold_means.shape == (2, 1, 8)


def test_finish_records_applies_the_combine_once_and_leaves_others_alone():
    register_record("rows", lambda fold: len(fold.train))
    try:
        rng = np.random.default_rng(3)
        fold = encode_fold(FoldImportance("linear", "binary", rng.uniform(-1, 1, (1, 8)), None))
        stored = finish_records({"importance": [[fold] * 2] * 3, "rows": [[7, 7]] * 3},
                                dataclasses.replace(toy_problem(8), classes=("a", "b")))
        assert stored["rows"] == [[7, 7]] * 3
        assert decode_importance(stored["importance"]).fold_means.shape == (3, 1, 8)
        assert set(record_functions(["importance"])) == {"importance"}
    finally:
        unregister_record("rows")


def test_what_is_kept_is_about_a_nineteenth_on_the_published_shape():
    sizes = record_nbytes(51, 30, 2988, 1)
    assert sizes["full"] / sizes["compact"] > 18


# ------------------------------------------------------------------- both engines
def _activations64(fold):
    """A test-only record: each fold's activation in float64, to compare engines at 1e-8."""
    if fold.fitted is not None:
        record = fold_importance(fold.fitted, fold.X_train, n_classes=len(fold.classes))
    else:
        record = fold_importance_from_parts(fold.model_parts, n_classes=len(fold.classes))
    return {"activation": None if record.activation is None else record.activation.tolist(),
            "selected": None if record.selected is None else record.selected.tolist()}


RFE_SEARCH = PipelineConfig("MLR_L2", row_scaling="standard", column_scaling="standard",
                            feature_selection="rfe", n_features=6, search="grid")


@pytest.mark.parametrize("config", CONFIGS + [RFE_SEARCH], ids=lambda c: c.id)
def test_the_fast_engine_gives_the_reference_activations_and_masks(config):
    from cohortbench.execute.units import run_unit

    X, y = cohort(n_classes=3, n=24)
    problem = Problem(X=X, y=y, n_eval=len(y), blocks=BLOCKS, classes=CLASSES,
                      subjects=tuple(f"s{i}" for i in range(len(y))), task="t",
                      view_fingerprint="v", columns=tuple(f"m:{j}" for j in range(X.shape[1])))
    cv = CVScheme(outer="stratified-kfold:4", inner="stratified-kfold:3", permutations=3, seed=0)
    register_record("activations64", _activations64, needs_model=True)
    try:
        functions = record_functions(["activations64"])
        with threadpool_limits(limits=1):  # tiny matrices: more BLAS threads only spin
            fast = run_unit(problem, [config], cv, "fast", records=[("activations64",)],
                            record_functions=functions)[0]
            reference = run_unit(problem, [config], cv, "reference",
                                 records=[("activations64",)], record_functions=functions)[0]
    finally:
        unregister_record("activations64")
    assert fast.result.engine.startswith("fast") and fast.note is None, fast.note
    assert fast.result.predicted_labels == reference.result.predicted_labels
    for vector_f, vector_r in zip(fast.result.records["activations64"],
                                  reference.result.records["activations64"]):
        for fold_f, fold_r in zip(vector_f, vector_r):
            assert fold_f["selected"] == fold_r["selected"]
            if fold_r["activation"] is None:  # not a linear classifier: no pattern in either
                assert fold_f["activation"] is None
                continue
            np.testing.assert_allclose(fold_f["activation"], fold_r["activation"], rtol=1e-8,
                                       atol=1e-12)
    assert len(fast.result.records["activations64"][0]) == 4


def test_a_worker_process_learns_which_records_need_the_model():
    from cohortbench.execute.fold_records import ensure_records, needs_a_model

    register_record("model64", _activations64, needs_model=True)
    register_record("rows", lambda fold: len(fold.train))
    try:
        sent = record_functions(["model64", "rows"])
    finally:
        unregister_record("model64")
        unregister_record("rows")
    assert needs_a_model(["model64", "rows"]) == ()  # as in a fresh worker process
    ensure_records(sent)
    try:
        assert needs_a_model(["model64", "rows"]) == ("model64",)
    finally:
        unregister_record("model64")
        unregister_record("rows")
