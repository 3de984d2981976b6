"""The compiled SVR solver is libsvm's: same dual coefficients and iteration count, bit for bit."""

import importlib
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVR

from cohortbench import _compat
from cohortbench.execute.fast._svr_smo import svr_smo
from cohortbench.execute.fast.kernel_svm import libsvm_gram

# the package re-exports the function rfe_path under the module's name
rfe_module = importlib.import_module("cohortbench.execute.fast.rfe_path")


def _problem(seed, n, d, scale, offset):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * scale + offset * scale
    y = (np.arange(n) % 3).astype(float)
    rng.shuffle(y)
    return libsvm_gram(np.ascontiguousarray(X)), y


def _compiled(K, y, C=1.0, epsilon=0.1, tol=1e-3, max_iter=-1):
    coef = np.zeros(len(y))
    n_iter = svr_smo(K, y, C, epsilon, tol, max_iter, coef)
    support = np.flatnonzero(coef)
    return support, coef[support], n_iter


def _reference(K, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SVR(kernel="precomputed", **params).fit(K, y)
    return model.support_, model.dual_coef_[0], model.n_iter_


# well-posed, ill-conditioned (large offset, few features: shrinking and
# unshrinking both happen over thousands of iterations), one feature, more rows
@pytest.mark.parametrize("seed, n, d, scale, offset", [
    (0, 29, 40, 1.0, 0.0), (1, 29, 8, 1.0, 1.0), (2, 20, 5, 30.0, 3.0),
    (3, 12, 1, 0.1, 0.0), (4, 60, 20, 3.0, 0.5), (5, 29, 300, 0.05, 10.0)])
def test_same_alpha_and_iterations_as_libsvm(seed, n, d, scale, offset):
    K, y = _problem(seed, n, d, scale, offset)
    support, coef, n_iter = _compiled(K, y)
    ref_support, ref_coef, ref_iter = _reference(K, y)
    assert n_iter == ref_iter
    np.testing.assert_array_equal(support, ref_support)
    np.testing.assert_array_equal(coef, ref_coef)  # exact, not approximate


@pytest.mark.parametrize("C, epsilon, tol", [(0.1, 0.0, 1e-3), (10.0, 0.5, 1e-5)])
def test_same_as_libsvm_for_other_parameters(C, epsilon, tol):
    K, y = _problem(6, 25, 6, 2.0, 1.0)
    got = _compiled(K, y, C, epsilon, tol)
    ref = _reference(K, y, C=C, epsilon=epsilon, tol=tol)
    assert got[2] == ref[2]
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])


def test_iteration_limit_stops_where_libsvm_stops():
    K, y = _problem(2, 20, 5, 30.0, 3.0)
    full = _compiled(K, y)[2]
    assert full > 50
    got = _compiled(K, y, max_iter=full // 2)
    ref = _reference(K, y, max_iter=full // 2)
    assert got[2] == ref[2] == full // 2
    np.testing.assert_array_equal(got[1], ref[1])


def test_rfe_path_same_with_and_without_the_compiled_solver(monkeypatch):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20, 30)) * rng.uniform(1, 50, size=30) + 200.0  # unscaled
    y = (np.arange(20) % 3).astype(float)
    assert rfe_module._compiled_smo() is not None
    compiled = rfe_module.rfe_path(X, y, 3).eliminated
    monkeypatch.setattr(rfe_module, "_compiled_smo", lambda: None)
    library = rfe_module.rfe_path(X, y, 3).eliminated
    np.testing.assert_array_equal(compiled, library)


def test_compiled_solver_refused_where_the_installed_libsvm_rounds_otherwise(monkeypatch):
    def other_libsvm(gram, y, **params):  # what a differently compiled build could return
        support, dual_coef, n_iter = real(gram, y, **params)
        return support, dual_coef, n_iter + 1

    real = rfe_module.svr_precomputed_dual
    monkeypatch.setattr(rfe_module, "svr_precomputed_dual", other_libsvm)
    rfe_module._smo_matches_library.cache_clear()
    try:
        assert rfe_module._compiled_smo() is None
        assert "self-check" in rfe_module.solver_off()
        assert "self-check" in _compat.switched_off()[_compat.SVR_SOLVER]
        support, dual_coef, _ = rfe_module.svr_dual(*_problem(1, 29, 8, 1.0, 1.0))
        assert len(support) == dual_coef.shape[1] > 0  # the library answered
    finally:
        rfe_module._smo_matches_library.cache_clear()
    monkeypatch.undo()
    assert rfe_module._compiled_smo() is not None
    assert rfe_module.solver_off() is None
