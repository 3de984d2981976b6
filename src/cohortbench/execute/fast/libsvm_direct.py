"""SVR and SVC on precomputed kernels through scikit-learn's own libsvm binding.

The fast engine calls libsvm through scikit-learn's low-level binding
(``sklearn.svm._libsvm.fit`` / ``predict``, reached through :mod:`cohortbench._compat`)
with exactly the arguments ``SVR.fit`` and ``SVC.fit``/``SVC.predict`` pass, so it
runs the same solver on the same inputs without 0.3-2 ms of estimator overhead
(validation, parameter introspection) per fit. Where the binding is switched off
(missing, an untested scikit-learn, or its signature changed: see
:func:`cohortbench._compat.libsvm_off`), the public ``SVR``/``SVC(kernel="precomputed")``
is used instead: slower, same results. The tests compare both paths bit for bit.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVC, SVR
from sklearn.utils import check_random_state

from ..._compat import libsvm_fit, libsvm_off, libsvm_predict

__all__ = ["svr_precomputed_dual", "svc_precomputed_predict"]

_C_SVC = 0  # index of "c_svc" in sklearn.svm._base.LIBSVM_IMPL
_EPSILON_SVR = 3  # index of "epsilon_svr"


def svr_precomputed_dual(K, y, *, C=1.0, epsilon=0.1, tol=1e-3, cache_size=200.0):
    """Fit an epsilon-SVR on a precomputed kernel; return ``(support, dual_coef, n_iter)``.

    Reproduces ``SVR(kernel="precomputed", C=C, epsilon=epsilon, tol=tol).fit(K, y)``:
    ``support`` is its ``support_`` (int32 row indices), ``dual_coef`` its
    ``dual_coef_`` (shape ``(1, n_support)``) and ``n_iter`` its ``n_iter_``.

    Parameters
    ----------
    K : ndarray of shape (n, n), float64, C-contiguous
        Kernel (Gram) matrix of the training rows.
    y : ndarray of shape (n,), float64
        Regression targets.
    C, epsilon, tol, cache_size : float
        SVR's parameters (scikit-learn's defaults).

    Returns
    -------
    support : ndarray of shape (n_support,)
    dual_coef : ndarray of shape (1, n_support)
    n_iter : int
        libsvm's iteration count (how hard the problem was).
    """
    out = libsvm_fit(
        K, y, svm_type=_EPSILON_SVR, kernel="precomputed", degree=3,
        gamma=0.0, coef0=0.0, tol=tol, C=C, nu=0.5, epsilon=epsilon,
        class_weight=np.empty(0), sample_weight=np.empty(0), shrinking=1,
        probability=0, cache_size=cache_size, max_iter=-1, random_seed=0,
    )
    if out is not None:
        return out[0], out[3], int(out[8][0])
    model = SVR(kernel="precomputed", C=C, epsilon=epsilon, tol=tol,
                cache_size=cache_size).fit(K, y)
    return model.support_, model.dual_coef_, int(model.n_iter_)


def _direct_svc_applies(params: dict) -> bool:
    """The settings under which SVC.fit/predict reduce to the two libsvm calls below."""
    return (params["class_weight"] is None and not params["break_ties"]
            and params["probability"] in ("deprecated", False))


def svc_precomputed_predict(estimator: SVC, k_train, y, k_test) -> np.ndarray:
    """``clone(estimator).set_params(kernel="precomputed").fit(k_train, y).predict(k_test)``.

    Parameters
    ----------
    estimator : SVC
        Supplies every parameter but the kernel.
    k_train : ndarray of shape (n, n)
    y : ndarray of shape (n,)
        Class labels.
    k_test : ndarray of shape (m, n)

    Returns
    -------
    ndarray of shape (m,)
        Predicted labels (values of ``y``).
    """
    params = estimator.get_params()
    if _direct_svc_applies(params) and libsvm_off() is None:
        # What SVC._validate_targets, BaseLibSVM.fit and BaseSVC.predict do.
        classes, codes = np.unique(np.asarray(y).ravel(), return_inverse=True)
        if len(classes) < 2:
            raise ValueError("The number of classes has to be greater than one; got "
                             f"{len(classes)} class")
        seed = check_random_state(params["random_state"]).randint(np.iinfo("i").max)
        out = libsvm_fit(
            np.ascontiguousarray(k_train, dtype=np.float64),
            np.asarray(codes, dtype=np.float64, order="C"),
            svm_type=_C_SVC, kernel="precomputed", degree=params["degree"], gamma=0.0,
            coef0=params["coef0"], tol=params["tol"], C=params["C"], nu=0.0,
            epsilon=0.0, class_weight=np.ones(len(classes)),
            sample_weight=np.empty(0), shrinking=params["shrinking"], probability=0,
            cache_size=params["cache_size"], max_iter=params["max_iter"],
            random_seed=seed)
        if out is not None:
            (support, support_vectors, n_support, dual_coef, intercept, prob_a, prob_b,
             fit_status, _) = out
            if fit_status == 1:
                warnings.warn(
                    "Solver terminated early (max_iter=%i)."
                    "  Consider pre-processing your data with"
                    " StandardScaler or MinMaxScaler." % params["max_iter"],
                    ConvergenceWarning)
            if not (np.isfinite(intercept).all() and np.isfinite(dual_coef).all()):
                raise ValueError(
                    "The dual coefficients or intercepts are not finite."
                    " The input data may contain large values and need to be"
                    " preprocessed.")
            predicted = libsvm_predict(
                np.ascontiguousarray(k_test, dtype=np.float64), support, support_vectors,
                n_support, dual_coef, intercept, prob_a, prob_b, svm_type=_C_SVC,
                kernel="precomputed", degree=params["degree"], coef0=params["coef0"],
                gamma=0.0, cache_size=params["cache_size"])
            return classes.take(np.asarray(predicted, dtype=np.intp))
    model = clone(estimator).set_params(kernel="precomputed")
    return model.fit(k_train, y).predict(k_test)
