"""One (train, test) pair's label-free library data, shared by every ensemble fit on it.

Used by :mod:`.forests` (float32 copies for scikit-learn's tree builder) and
:mod:`.boosters` (XGBoost's ``QuantileDMatrix``, LightGBM's ``Dataset``); each
representation is built on first use. Not thread-safe: one :class:`SharedMatrices`
per thread.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import clone

__all__ = ["SharedMatrices", "plain_fit_predict", "is_int"]


def is_int(value) -> bool:
    """An integer that is not a bool (how the fast paths accept seeds and counts)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class SharedMatrices:
    """Label-free work for one (train, test) pair, shared by every fit on it.

    Parameters
    ----------
    train : ndarray of shape (n_train, n_features)
    test : ndarray of shape (n_test, n_features)
        The matrices exactly as the estimator would receive them. They are kept
        by reference and must not be modified afterwards.

    Notes
    -----
    Construction is free; each library's representation (float32 copies for
    trees, XGBoost's ``QuantileDMatrix``, LightGBM's ``Dataset``) is built on
    first use.
    """

    def __init__(self, train: np.ndarray, test: np.ndarray):
        self.train = np.asarray(train)
        self.test = np.asarray(test)
        self._forest = None
        self._built: dict = {}

    def forest_inputs(self):
        """``(train, test)`` as float32 for the tree builder, or None if not finite."""
        if self._forest is None:
            train = np.asfortranarray(self.train, dtype=np.float32)
            test = np.ascontiguousarray(self.test, dtype=np.float32)
            finite = bool(np.isfinite(train).all() and np.isfinite(test).all())
            self._forest = (train, test) if finite else False
        return self._forest or None

    def built(self, key: tuple, make):
        """The object cached under ``key`` (a library's matrix), made by ``make()`` once."""
        if key not in self._built:
            self._built[key] = make()
        return self._built[key]


def plain_fit_predict(estimator, shared: SharedMatrices, y_train) -> np.ndarray:
    """``clone(estimator).fit(train, y_train).predict(test)`` as int64 codes."""
    predicted = clone(estimator).fit(shared.train, y_train).predict(shared.test)
    return np.asarray(predicted, dtype=np.int64)
