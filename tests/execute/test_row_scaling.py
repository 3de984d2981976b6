"""RowScaler: per-subject scaling within map blocks, and the estimator contract."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from cohortbench.execute import RowScaler


def _expected_failed_checks(estimator):
    # Every common check applies to RowScaler and passes (it is a one-to-one,
    # NaN-tolerant, float-preserving transformer). Checks that could not apply
    # would be listed here as {"check_name": "reason"}; none are needed.
    return {}


@parametrize_with_checks(
    [RowScaler(), RowScaler(method="minmax"), RowScaler(method="none")],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture
def X():
    rng = np.random.default_rng(0)
    X = rng.normal(loc=5.0, scale=3.0, size=(6, 7))
    X[2, :3] = 4.0                       # constant row in the first block
    X[3, 1] = np.nan                     # missing value in the first block
    X[4, 5] = np.nan                     # missing value in the second block
    return X


BLOCKS = ((0, 3), (3, 7))


def test_standard_matches_nan_aware_population_formula(X):
    out = RowScaler("standard", BLOCKS).fit_transform(X)
    for start, stop in BLOCKS:
        block = X[:, start:stop]
        mean = np.nanmean(block, axis=1, keepdims=True)
        std = np.nanstd(block, axis=1, keepdims=True)   # ddof=0: population std
        std[std == 0] = 1.0
        np.testing.assert_allclose(out[:, start:stop], (block - mean) / std, rtol=1e-12)
    assert np.isnan(out[3, 1]) and np.isnan(out[4, 5])
    assert np.isnan(out).sum() == 2
    np.testing.assert_array_equal(out[2, :3], 0.0)    # zero std left as 1


def test_standard_is_standardscaler_applied_to_each_subject(X):
    out = RowScaler("standard", BLOCKS).fit_transform(X)
    for i in range(X.shape[0]):
        for start, stop in BLOCKS:
            values = X[i, start:stop].reshape(-1, 1)
            expected = StandardScaler().fit_transform(values).ravel()
            np.testing.assert_array_equal(out[i, start:stop], expected)


def test_minmax_is_minmaxscaler_applied_to_each_subject(X):
    out = RowScaler("minmax", BLOCKS).fit_transform(X)
    for i in range(X.shape[0]):
        for start, stop in BLOCKS:
            values = X[i, start:stop].reshape(-1, 1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                expected = MinMaxScaler().fit_transform(values).ravel()
            np.testing.assert_array_equal(out[i, start:stop], expected)
    assert np.nanmin(out) == 0.0 and np.nanmax(out) == pytest.approx(1.0)
    np.testing.assert_array_equal(out[2, :3], 0.0)    # zero range maps to 0 like MinMaxScaler
    assert np.isnan(out[3, 1])


def test_none_returns_a_float_copy(X):
    scaler = RowScaler("none", BLOCKS).fit(X)
    out = scaler.transform(X)
    np.testing.assert_array_equal(out, X)
    assert out is not X


def test_blocks_are_scaled_independently_and_rows_use_only_their_own_values(X):
    scaler = RowScaler("standard", BLOCKS).fit(X)
    base = scaler.transform(X)
    changed = X.copy()
    changed[:, 3:] *= 100.0                # rescale the second block only
    changed[0] += 7.0                      # shift subject 0 only
    out = scaler.transform(changed)
    np.testing.assert_allclose(out[1:, :3], base[1:, :3])
    np.testing.assert_allclose(out[1:, 3:], base[1:, 3:])
    np.testing.assert_allclose(out[0], base[0], atol=1e-12)   # a shift does not matter
    # Transforming a subset of rows gives the same rows: nothing is shared across subjects.
    np.testing.assert_array_equal(scaler.transform(X[[4, 1]]), base[[4, 1]])


def test_whole_row_is_one_block_by_default(X):
    out = RowScaler("standard").fit_transform(X)
    np.testing.assert_allclose(np.nanmean(out, axis=1), 0.0, atol=1e-12)
    assert RowScaler().fit(X).blocks_ == ((0, 7),)


def test_blocks_may_be_given_in_any_order():
    X = np.arange(12.0).reshape(2, 6) ** 2
    a = RowScaler("minmax", [(2, 6), (0, 2)]).fit_transform(X)
    b = RowScaler("minmax", [(0, 2), (2, 6)]).fit_transform(X)
    np.testing.assert_array_equal(a, b)


def test_all_nan_block_of_a_row_stays_nan():
    X = np.array([[1.0, 2.0, np.nan, np.nan], [1.0, 3.0, 2.0, 5.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = RowScaler("standard", [(0, 2), (2, 4)]).fit_transform(X)
    assert np.isnan(out[0, 2:]).all()
    np.testing.assert_allclose(out[0, :2], [-1.0, 1.0])


@pytest.mark.parametrize("blocks, message", [
    ([(0, 3)], "end at column 3"),
    ([(0, 3), (4, 7)], "gap"),
    ([(0, 4), (3, 7)], "overlaps"),
    ([(0, 0), (0, 7)], "empty"),
    ([(0, 3, 5)], "pair"),
    ([(0.0, 7.0)], "integers"),
])
def test_bad_blocks_are_refused_at_fit(X, blocks, message):
    with pytest.raises(ValueError, match=message):
        RowScaler(blocks=blocks).fit(X)


def test_unknown_method_is_refused(X):
    with pytest.raises(ValueError, match="method"):
        RowScaler(method="robust").fit(X)


def test_transform_needs_fit_and_the_same_width(X):
    with pytest.raises(NotFittedError):
        RowScaler().transform(X)
    scaler = RowScaler().fit(X)
    with pytest.raises(ValueError, match="features"):
        scaler.transform(X[:, :5])


def test_infinite_values_are_refused(X):
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        RowScaler().fit(X)


@pytest.mark.parametrize("method", ["standard", "minmax"])
def test_vectorised_rows_are_bit_identical_to_the_sklearn_scalers(method):
    """scale_rows repeats the scalers' arithmetic; it must equal them to the last bit."""
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    from cohortbench.execute.row_scaling import scale_rows

    rng = np.random.default_rng(7)
    for trial in range(300):
        n, m = rng.integers(1, 30), rng.integers(1, 350)
        X = rng.normal(rng.normal(0, 100), 1, size=(n, m + 4)) * 10.0 ** rng.integers(-3, 5)
        if trial % 3 == 0:
            X[rng.random(X.shape) < 0.1] = np.nan
        if trial % 7 == 0:
            X[0, :] = 3.3          # a constant row
        if trial % 11 == 0:
            X[-1, :] = np.nan      # an all-missing row
        block = X[:, 2:2 + m]     # a strided slice, as RowScaler passes it
        scaler = StandardScaler() if method == "standard" else MinMaxScaler()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = scaler.fit_transform(block.T).T
        np.testing.assert_array_equal(scale_rows(block, method), expected)
