"""Support vector classifiers from precomputed kernels, bit for bit equal to ``SVC``.

scikit-learn's libsvm computes a dense kernel entry with the BLAS ``ddot`` of the
two rows (``Kernel::dot`` in its ``svm.cpp``) and then applies the kernel formula
in plain double arithmetic:

- training (``Kernel::kernel_*``): linear ``dot``; polynomial
  ``powi(gamma*dot + coef0, degree)``; RBF
  ``exp(-gamma*((x_square[i] + x_square[j]) - 2*dot))`` with ``x_square[i] = dot(x_i, x_i)``;
  sigmoid ``tanh(gamma*dot + coef0)``;
- prediction (``Kernel::k_function``): the same, except RBF, which is
  ``exp(-gamma * ddot(x - sv, x - sv))``.

:class:`DotProducts` computes those ``ddot`` values once per transformed training
set with the same BLAS routine (SciPy's, which scikit-learn's libsvm calls) and
derives each kernel with libm's ``exp``/``tanh`` (Python's ``math``), so
``SVC(kernel="precomputed")`` sees exactly the kernel values ``SVC(kernel=...)``
computes internally and returns the same dual coefficients and predictions. One
:class:`DotProducts` serves the four SVM kernels and every label vector that uses
the same transformed training rows.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg.blas import ddot
from sklearn.svm import SVC

from .libsvm_direct import svc_precomputed_predict

__all__ = ["DotProducts", "covers_svc", "fit_predict_svc", "libsvm_gram", "libsvm_powi"]

_KERNELS = ("linear", "poly", "rbf", "sigmoid")


def libsvm_powi(base: float, times: int) -> float:
    """libsvm's integer power by repeated squaring (same rounding as its ``powi``)."""
    tmp, ret = base, 1.0
    t = times
    while t > 0:
        if t % 2 == 1:
            ret *= tmp
        tmp = tmp * tmp
        t //= 2
    return ret


def libsvm_gram(rows: np.ndarray) -> np.ndarray:
    """The linear kernel of ``rows`` exactly as libsvm computes it: one ``ddot`` per pair.

    Parameters
    ----------
    rows : ndarray of shape (n, d), float64, C-contiguous

    Returns
    -------
    ndarray of shape (n, n), symmetric
    """
    n = len(rows)
    gram = np.empty((n, n))
    for i in range(n):
        row = rows[i]
        for j in range(i, n):
            gram[i, j] = gram[j, i] = ddot(row, rows[j])
    return gram


def covers_svc(estimator) -> bool:
    """True when ``estimator`` is a plain ``SVC`` whose kernel this module reproduces."""
    if type(estimator) is not SVC:
        return False
    params = estimator.get_params()
    return params["kernel"] in _KERNELS and (
        params["gamma"] in ("scale", "auto") or isinstance(params["gamma"], (int, float)))


class DotProducts:
    """The libsvm ``ddot`` values of one transformed (train, test) pair.

    Parameters
    ----------
    train : ndarray of shape (n_train, d)
    test : ndarray of shape (n_test, d)
        Rows as the classifier receives them (copied to C order, as ``SVC`` does).
    """

    def __init__(self, train: np.ndarray, test: np.ndarray):
        self.train = np.ascontiguousarray(train, dtype=np.float64)
        self.test = np.ascontiguousarray(test, dtype=np.float64)
        self.train_dots = libsvm_gram(self.train)
        self.test_dots = np.array([[ddot(t, r) for r in self.train] for t in self.test],
                                  dtype=np.float64).reshape(len(self.test), len(self.train))
        self._test_sq_dist = None
        self._kernels: dict[tuple, tuple] = {}
        variance = self.train.var()
        # SVC's gamma="scale" on the same (C-ordered) training matrix.
        self.gamma_scale = 1.0 / (self.train.shape[1] * variance) if variance != 0 else 1.0

    def gamma(self, gamma) -> float:
        """Resolve ``gamma`` as ``SVC.fit`` does (``scale``, ``auto`` or a number)."""
        if gamma == "scale":
            return self.gamma_scale
        if gamma == "auto":
            return 1.0 / self.train.shape[1]
        return float(gamma)

    def _test_distances(self) -> np.ndarray:
        if self._test_sq_dist is None:
            self._test_sq_dist = np.array(
                [[ddot(t - r, t - r) for r in self.train] for t in self.test],
                dtype=np.float64).reshape(len(self.test), len(self.train))
        return self._test_sq_dist

    def kernels(self, kernel: str, gamma: float, degree: int, coef0: float):
        """``(K_train, K_test)`` exactly as libsvm evaluates ``kernel`` (cached, read-only).

        Searches fit many values of C (and label vectors) with one kernel, so each
        kernel is computed once per parameter setting.

        Parameters
        ----------
        kernel : {"linear", "poly", "rbf", "sigmoid"}
        gamma : float
            Already resolved (see :meth:`gamma`).
        degree : int
        coef0 : float

        Returns
        -------
        K_train : ndarray of shape (n_train, n_train)
        K_test : ndarray of shape (n_test, n_train)
        """
        key = (kernel, gamma, degree, coef0) if kernel != "linear" else (kernel,)
        cached = self._kernels.get(key)
        if cached is None:
            cached = self._kernels[key] = self._kernels_of(kernel, gamma, degree, coef0)
            for matrix in cached:
                matrix.flags.writeable = False
        return cached

    def _kernels_of(self, kernel: str, gamma: float, degree: int, coef0: float):
        if kernel == "linear":
            return self.train_dots, self.test_dots
        if kernel == "poly":
            def f(d):
                return libsvm_powi(gamma * d + coef0, degree)
            return _apply(f, self.train_dots), _apply(f, self.test_dots)
        if kernel == "sigmoid":
            def f(d):
                return math.tanh(gamma * d + coef0)
            return _apply(f, self.train_dots), _apply(f, self.test_dots)
        if kernel == "rbf":
            square = np.diag(self.train_dots)
            n = len(square)
            k_train = np.empty((n, n))
            for i in range(n):
                for j in range(n):
                    k_train[i, j] = math.exp(
                        -gamma * ((square[i] + square[j]) - 2 * self.train_dots[i, j]))
            k_test = _apply(lambda s: math.exp(-gamma * s), self._test_distances())
            return k_train, k_test
        raise ValueError(f"kernel {kernel!r} is not reproduced here.")


def _apply(func, values: np.ndarray) -> np.ndarray:
    """Apply a scalar function in libm's double arithmetic (not NumPy's SIMD ufuncs)."""
    return np.array([func(v) for v in values.ravel().tolist()],
                    dtype=np.float64).reshape(values.shape)


def fit_predict_svc(estimator: SVC, dots: DotProducts, y_train) -> np.ndarray:
    """Fit ``estimator`` on its kernel computed from ``dots``; predict the test rows.

    Parameters
    ----------
    estimator : SVC
        An unfitted ``SVC`` accepted by :func:`covers_svc`; every parameter but the
        kernel is kept (C, tol, class_weight, random_state, ...).
    dots : DotProducts
    y_train : ndarray of shape (n_train,)

    Returns
    -------
    ndarray of shape (n_test,)
        Same as ``estimator.fit(dots.train, y_train).predict(dots.test)``.
    """
    params = estimator.get_params()
    gamma = dots.gamma(params["gamma"])
    k_train, k_test = dots.kernels(params["kernel"], gamma, int(params["degree"]),
                                   float(params["coef0"]))
    return svc_precomputed_predict(estimator, k_train, y_train, k_test)
