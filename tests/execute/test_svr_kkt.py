"""The numerical reliability of RFE's ranking fits: the measure, and the same flag in both engines."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.svm import SVR

from cohortbench.design.configs import CVScheme, PipelineConfig
from cohortbench.execute.reference_engine import evaluate_reference
from cohortbench.execute import svr_kkt
from cohortbench.execute.svr_kkt import UNRELIABLE_ABOVE, relative_violation
from cohortbench.execute.units import run_unit

from .conftest import make_synthetic_problem


def _gap(X, y):
    svr = SVR(kernel="linear").fit(X, y)
    coef = np.zeros(len(y))
    coef[svr.support_] = svr.dual_coef_[0]
    return relative_violation(X, y, coef)


def test_a_well_scaled_fit_meets_libsvms_tolerance_and_a_raw_one_does_not():
    rng = np.random.default_rng(0)
    y = (np.arange(20) % 2).astype(float)
    scaled = rng.normal(size=(20, 12))
    assert _gap(scaled, y) <= 2e-3 < UNRELIABLE_ABOVE  # libsvm's tol 1e-3, float32 kernel
    raw = 1e4 + rng.normal(size=(20, 12))  # kernel entries ~1e9: float32 rounds them by ~60
    assert _gap(raw, y) > 100 * UNRELIABLE_ABOVE


def test_the_gap_is_zero_at_an_exact_optimum_and_scale_free_in_the_targets():
    # one row, one feature: beta = 0 is optimal when |y| <= epsilon (no violating pair)
    assert relative_violation(np.ones((2, 1)), np.array([0.0, 0.05]), np.zeros(2)) == 0.0
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(10, 4)), rng.normal(size=10)
    coef = rng.uniform(-0.5, 0.5, 10)
    # targets and dual twice as large, epsilon too: the same relative gap
    assert relative_violation(X, 2 * y, 2 * coef, C=2.0, epsilon=0.2) == pytest.approx(
        relative_violation(X, y, coef))


@pytest.fixture(scope="module")
def problem():
    return make_synthetic_problem(class_sizes=(8, 8), n_blocks=1, block_size=20, seed=3)


CV = CVScheme(outer="stratified-kfold:3", permutations=2, seed=0)


@pytest.mark.parametrize("threshold, reliable", [(UNRELIABLE_ABOVE, True), (9.5e-4, False)])
def test_both_engines_give_the_same_flag_and_fraction(problem, monkeypatch, threshold,
                                                      reliable):
    # Raw values of a large magnitude trip the flag (above), but their libsvm fits
    # can take 1e8 iterations; a lowered threshold trips it on these quick fits,
    # whose gaps lie just under libsvm's own tolerance (1e-3), some above 9.5e-4.
    monkeypatch.setattr(svr_kkt, "UNRELIABLE_ABOVE", threshold)
    config = PipelineConfig("KNN", column_scaling="standard", feature_selection="rfe",
                            n_features=4)
    reference = evaluate_reference(problem, config, CV)
    fast = run_unit(problem, [config], CV, engine="fast")[0].result
    assert fast.engine == "fast"
    assert reference.numerically_reliable is reliable
    assert fast.numerically_reliable is reference.numerically_reliable
    assert fast.unreliable_fraction == reference.unreliable_fraction
    if reliable:
        assert reference.unreliable_fraction == 0.0
    else:
        assert 0.0 < reference.unreliable_fraction < 1.0
    assert fast.predicted_labels == reference.predicted_labels  # and still exact


def test_without_rfe_there_is_nothing_to_flag(problem):
    config = PipelineConfig("KNN", feature_selection="kbest", n_features=4)
    for result in (evaluate_reference(problem, config, CV),
                   run_unit(problem, [config], CV, engine="fast")[0].result):
        assert result.numerically_reliable is None and result.unreliable_fraction is None
