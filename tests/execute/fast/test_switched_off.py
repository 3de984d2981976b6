"""A fast path that switches itself off gives the reference's results, and the record says so."""

import importlib

import lightgbm
import pytest
import sklearn
import xgboost

from cohortbench import _compat
from cohortbench.design.configs import CVScheme, PipelineConfig
from cohortbench.execute.fast import (
    boosters,
    evaluate_fast,
    evaluate_fast_part,
    forests,
    merge_parts,
    mlp_batch,
    saga_batch,
)
from cohortbench.execute.reference_engine import evaluate_reference

from ..conftest import make_synthetic_problem

rfe_module = importlib.import_module("cohortbench.execute.fast.rfe_path")
pytestmark = pytest.mark.usefixtures("one_thread")

_UNTESTED = "scikit-learn 1.10.0 is not a tested version"
_CV = CVScheme(outer="stratified-kfold:4", permutations=1, seed=4)


def _problem():
    # 16 subjects, 24 features: MLR_L2 takes the row space (p > n + 1).
    return make_synthetic_problem(class_sizes=(6, 5, 5), block_size=8, seed=3)


def _signature_changed(monkeypatch):
    monkeypatch.setattr(_compat, "_libsvm_broken", "the signature of sklearn.svm._libsvm.fit "
                                                   "changed")


def _self_check_fails(module, name):
    return lambda monkeypatch: monkeypatch.setattr(module, name, lambda: False)


def _untested(package, version, cache):
    def patch(monkeypatch):
        if cache is not None:
            monkeypatch.setattr(*cache, {})  # loaded again, under the patched version
        monkeypatch.setattr(package, "__version__", version)
    return patch


# path -> (a configuration taking it, how to switch it off, the reason recorded)
CASES = {
    _compat.LIBSVM_BINDING: (
        PipelineConfig("SVM_RBF", row_scaling="standard", column_scaling="standard"),
        _signature_changed, "the signature of sklearn.svm._libsvm.fit changed"),
    _compat.SVR_SOLVER: (
        PipelineConfig("KNN", column_scaling="standard", feature_selection="rfe",
                       n_features=5),
        _self_check_fails(rfe_module, "_smo_matches_library"),
        "it differs from the installed libsvm on the first-use self-check"),
    _compat.SAGA_LANES: (
        PipelineConfig("MLR_L1", row_scaling="standard", column_scaling="standard"),
        _self_check_fails(saga_batch, "_lanes_match_library"),
        "they differ from the installed scikit-learn's saga on the first-use self-check"),
    _compat.MLP_STACKS: (
        PipelineConfig("MLP", column_scaling="standard", dim_reduction="pca"),
        _self_check_fails(mlp_batch, "_stacks_match_library"),
        "they differ from the installed scikit-learn and BLAS on the first-use self-check"),
    _compat.FOREST_BUILDER: (
        PipelineConfig("RF", row_scaling="standard", feature_selection="kbest", n_features=4),
        _untested(sklearn, "1.10.0", (forests, "_API")), _UNTESTED),
    _compat.XGB_SHARED: (
        PipelineConfig("XGB", column_scaling="minmax", dim_reduction="pca"),
        _untested(xgboost, "4.0.0", (boosters, "_APIS")),
        "XGBoost 4.0.0 is not a tested version"),
    _compat.LGBM_SHARED: (
        PipelineConfig("LGBM", row_scaling="standard", feature_selection="kbest",
                       n_features=10),
        _untested(lightgbm, "5.0.0", (boosters, "_APIS")),
        "LightGBM 5.0.0 is not a tested version"),
    _compat.ROW_SPACE: (
        PipelineConfig("MLR_L2", row_scaling="standard", column_scaling="standard"),
        _untested(sklearn, "1.10.0", None), _UNTESTED),
}


def _same_results(fast, reference):
    got, want = fast.to_dict(), reference.to_dict()
    return {k: (got[k], want[k]) for k in want
            if k not in ("seconds", "engine") and got[k] != want[k]}


def test_every_path_that_can_switch_off_has_a_case():
    assert set(CASES) == set(_compat.FAST_PATHS)


@pytest.mark.parametrize("path", list(CASES))
def test_a_switched_off_path_gives_the_reference_results_and_is_named(path, monkeypatch):
    config, switch, reason = CASES[path]
    problem = _problem()
    (on,) = evaluate_fast(problem, [config], _CV)
    assert on.engine == "fast" and _compat.switched_off() == {}
    switch(monkeypatch)
    (off,) = evaluate_fast(problem, [config], _CV)
    assert not _same_results(off, evaluate_reference(problem, config, _CV))
    assert off.engine == f"fast; {path} off: {reason}"
    assert _compat.switched_off() == {path: reason}  # and logged once


def test_stacks_switched_off_train_no_stack(monkeypatch):
    problem = _problem()
    config = PipelineConfig("MLP", column_scaling="standard", dim_reduction="lda")
    stacked = []
    real = mlp_batch.fit_predict_mlps
    monkeypatch.setattr(mlp_batch, "fit_predict_mlps", lambda jobs: stacked.extend(jobs)
                        or real(jobs))
    evaluate_fast(problem, [config], _CV)
    assert len(stacked) == 2 * 4  # label vectors x outer folds
    stacked.clear()
    monkeypatch.setattr(mlp_batch, "_stacks_match_library", lambda: False)
    evaluate_fast(problem, [config], _CV)
    assert stacked == []


def test_the_record_names_every_path_a_configuration_could_take(monkeypatch):
    # On an untested scikit-learn, RFE's ranking SVRs and the SVC lose both paths.
    problem = _problem()
    config = PipelineConfig("SVM_LIN", row_scaling="standard", feature_selection="rfe",
                            n_features=6)
    monkeypatch.setattr(sklearn, "__version__", "1.10.0")
    (result,) = evaluate_fast(problem, [config], _CV)
    assert not _same_results(result, evaluate_reference(problem, config, _CV))
    assert result.engine == (f"fast; libsvm binding off: {_UNTESTED}; "
                             f"SVR solver off: {_UNTESTED}")


def test_a_path_off_in_one_part_is_named_in_the_merged_record(monkeypatch):
    problem = _problem()
    config = PipelineConfig("MLR_L1", row_scaling="standard", column_scaling="standard")
    (first,) = evaluate_fast_part(problem, [config], _CV, (0, 1))
    monkeypatch.setattr(saga_batch, "_lanes_match_library", lambda: False)
    (second,) = evaluate_fast_part(problem, [config], _CV, (1, 2))
    assert first.paths_off == ()
    merged = merge_parts(problem, config, _CV, [second, first])
    assert merged.engine == ("fast; saga lanes off: they differ from the installed "
                             "scikit-learn's saga on the first-use self-check")
    assert not _same_results(merged, evaluate_reference(problem, config, _CV))


def test_user_estimators_keep_fast_fallback_and_name_their_paths(monkeypatch):
    from sklearn.neighbors import NearestCentroid

    from cohortbench.design.classifiers import (
        SearchSpace,
        register_classifier,
        unregister_classifier,
    )

    register_classifier("CENTROID_T", lambda random_state: NearestCentroid(), SearchSpace())
    try:
        problem = _problem()
        config = PipelineConfig("CENTROID_T", column_scaling="standard",
                                feature_selection="rfe", n_features=5)
        (on,) = evaluate_fast(problem, [config], _CV)
        assert on.engine == "fast-fallback"
        monkeypatch.setattr(rfe_module, "_smo_matches_library", lambda: False)
        (off,) = evaluate_fast(problem, [config], _CV)
        assert off.engine == ("fast-fallback; SVR solver off: it differs from the installed "
                              "libsvm on the first-use self-check")
        assert not _same_results(off, on)
    finally:
        unregister_classifier("CENTROID_T")
