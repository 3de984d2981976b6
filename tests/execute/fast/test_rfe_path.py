"""The RFE path equals scikit-learn's RFE(SVR(kernel="linear"), step=1) for every k."""

import numpy as np
import pytest
from sklearn.feature_selection import RFE
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from cohortbench.execute.fast.kernel_svm import libsvm_gram
from cohortbench.execute.fast.libsvm_direct import svr_precomputed_dual
from cohortbench.execute.fast.rfe_path import RFEPath, rfe_path
from cohortbench.execute.row_scaling import RowScaler


def _scaled_cohort(seed, n, p, n_blocks=3):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 20, size=(1, p)) + rng.uniform(0, 50, size=p)
    X[:, :8] += y[:, None] * 2.0
    X *= rng.uniform(0.8, 1.2, size=(n, 1))
    bounds = np.linspace(0, p, n_blocks + 1).astype(int)
    blocks = list(zip(bounds[:-1], bounds[1:]))
    X = RowScaler("standard", blocks).fit_transform(X)
    return StandardScaler().fit_transform(X), y


def _sklearn_support(X, y, k):
    return RFE(SVR(kernel="linear"), n_features_to_select=k, step=1).fit(X, y).support_


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_masks_equal_sklearn_for_every_k_on_scaled_data(seed):
    X, y = _scaled_cohort(seed, 29, 300)
    path = rfe_path(X, y, 5)
    for k in (5, 10, 50, 150):
        np.testing.assert_array_equal(path.support(k), _sklearn_support(X, y, k))


def test_masks_equal_sklearn_in_every_regime():
    X, y = _scaled_cohort(7, 18, 60)
    for every, exact_below, hard in ((1, 0, 10**9), (7, 0, 10**9), (64, None, 1000),
                                     (64, 0, 0), (64, 60, 1000)):
        path = rfe_path(X, y, 3, recompute_every=every, exact_below=exact_below,
                        hard_iterations=hard)
        for k in (3, 10, 25):
            np.testing.assert_array_equal(path.support(k), _sklearn_support(X, y, k))


def test_masks_equal_sklearn_on_unscaled_data():
    rng = np.random.default_rng(3)
    y = np.arange(20) % 2
    # Raw values (no scaling): libsvm needs many more iterations per fit here.
    X = rng.normal(size=(20, 40)) * rng.uniform(1, 10, size=40) + 50.0
    X[:, :4] += y[:, None] * 2.0
    path = rfe_path(X, y, 4)
    for k in (4, 12):
        np.testing.assert_array_equal(path.support(k), _sklearn_support(X, y, k))


def test_constant_columns_tie_broken_by_lowest_index_like_sklearn():
    X, y = _scaled_cohort(4, 15, 30)
    X[:, [3, 11, 20]] = 0.0  # three exactly-zero importances: a 3-way tie
    path = rfe_path(X, y, 2)
    assert list(path.eliminated[:3]) == [3, 11, 20]
    for k in (2, 27, 28):
        np.testing.assert_array_equal(path.support(k), _sklearn_support(X, y, k))


def test_support_for_k_at_or_above_width_keeps_everything_and_below_k_min_is_refused():
    X, y = _scaled_cohort(5, 12, 10)
    path = rfe_path(X, y, 4)
    assert path.support(10).all() and path.support(12).all()
    assert path.support(4).sum() == 4 and path.k_min == 4
    with pytest.raises(ValueError, match="stops at 4"):
        path.support(3)


def test_input_checks():
    with pytest.raises(ValueError, match="at least 2"):
        rfe_path(np.ones((5, 1)), np.arange(5), 1)
    X = np.ones((5, 4))
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        rfe_path(X, np.arange(5), 1)


def test_private_libsvm_call_matches_public_svr():
    X, y = _scaled_cohort(6, 20, 50)
    K = X @ X.T
    support, dual, n_iter = svr_precomputed_dual(K, y.astype(float))
    model = SVR(kernel="precomputed").fit(K, y)
    np.testing.assert_array_equal(support, model.support_)
    np.testing.assert_array_equal(dual, model.dual_coef_)
    assert n_iter == model.n_iter_


def test_path_object_is_plain_data():
    path = RFEPath(n_features=4, eliminated=np.array([2, 0]))
    np.testing.assert_array_equal(path.support(2), [False, True, False, True])
    np.testing.assert_array_equal(path.support(3), [True, True, False, True])


def test_exact_regime_kernel_is_libsvm_own_bit_for_bit():
    X, y = _scaled_cohort(8, 15, 12)
    support, dual, _ = svr_precomputed_dual(libsvm_gram(X), y.astype(float))
    model = SVR(kernel="linear").fit(X, y)
    np.testing.assert_array_equal(support, model.support_)
    np.testing.assert_array_equal(dual, model.dual_coef_)
    np.testing.assert_array_equal((dual @ X[support])[0], model.coef_[0])
