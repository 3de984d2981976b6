"""L2 logistic regression (lbfgs) in the training rows' span: same trajectory, n × n data.

With n training rows and p ≫ n features, ``LogisticRegression()`` runs L-BFGS-B
on K × (p + 1) variables, yet every iterate stays in the span of the training
rows: it starts at zero and every gradient is ``G^T X + alpha W``. With ``Q``
an orthonormal basis of that span (``X^T = Q R``), the fit on ``Z = X Q = R^T``
(n columns) is the same optimisation written in other coordinates:

- the objective, the gradient's 2-norm and every inner product L-BFGS-B uses
  (its update pairs, the line search's directional derivatives, the first
  step ``1 / ||g||``) are unchanged by an orthonormal change of basis, so the
  iterates are ``Q``-images of the primal ones;
- the one coordinate-dependent test, ``max |g_i| <= tol`` on the projected
  gradient, is evaluated on the *primal* gradient ``g Q^T`` at every new
  iterate (in scikit-learn's order: the iteration limit is tested first), and
  SciPy's own test is switched off (``gtol = 0``);
- the relative-reduction test (``ftol``), the iteration limit, ``maxls = 50``,
  the loss (scikit-learn's ``LinearModelLoss``, the same code), ``sw_sum = n``,
  ``l2_reg_strength = 1 / (C n)`` and the ConvergenceWarning
  (``_check_optimize_result``) are scikit-learn's.

Predictions are ``argmax(Z_test V^T + b)`` (``> 0`` for two classes), which
equals ``X_test W^T + b`` because ``W = V Q^T`` lies in the span.

What differs is rounding only (products over n instead of p terms). It can, in
principle, flip a stopping test taken right at its threshold or a prediction
whose two best classes tie to the last digits; the fast engine's allowed
disagreement (at most one subject in an evaluation, in at most 1 % of
evaluations) covers it, and the benchmark reports what it measured.
"""

from __future__ import annotations

import math

import numpy as np

from ..._compat import ROW_SPACE, logistic_internals, off_reason

__all__ = ["covers_logistic", "RowSpace", "fit_predict_logistic", "rowspace_off"]


def rowspace_off() -> str | None:
    """Why the row-space fit is off here (switched off), or None when it runs."""
    return off_reason(ROW_SPACE, logistic_internals() is not None)


def covers_logistic(estimator, n_train: int, n_features: int) -> bool:
    """True for a default-style ``LogisticRegression`` (lbfgs, L2) on p > n + 1 features."""
    from sklearn.linear_model import LogisticRegression

    if (type(estimator) is not LogisticRegression or n_features <= n_train + 1
            or rowspace_off() is not None):
        return False
    params = estimator.get_params()
    C = params["C"]
    return bool(params["solver"] == "lbfgs" and params.get("penalty") == "deprecated"
            and params["l1_ratio"] in (0, 0.0) and params["class_weight"] is None
            and params["fit_intercept"] is True and not params["warm_start"]
            and not params["dual"] and params["verbose"] == 0
            and isinstance(C, (int, float)) and math.isfinite(C) and C > 0
            and isinstance(params["max_iter"], int) and params["max_iter"] > 0)


class RowSpace:
    """The training rows' span of one (train, test) pair, shared by every fit on it.

    Parameters
    ----------
    train : ndarray of shape (n, p)
    test : ndarray of shape (m, p)
    """

    def __init__(self, train: np.ndarray, test: np.ndarray):
        self.train, self.test = train, test
        q, r = np.linalg.qr(np.asarray(train, dtype=np.float64).T)
        self.q = q                                     # (p, n), orthonormal columns
        self.z_train = np.ascontiguousarray(r.T)       # X_train Q
        self.z_test = np.asarray(test, dtype=np.float64) @ q


def _primal_inf_norm(grad: np.ndarray, q: np.ndarray, n_classes: int, binary: bool) -> float:
    """``max |g_i|`` of the primal gradient whose row-space coordinates are ``grad``."""
    if binary:
        coef, intercept = grad[:-1], grad[-1:]
        primal = q @ coef
    else:
        g = grad.reshape((n_classes, -1), order="F")
        coef, intercept = g[:, :-1], g[:, -1]
        primal = coef @ q.T
    return float(max(np.max(np.abs(primal)), np.max(np.abs(intercept))))


def fit_predict_logistic(estimator, space: RowSpace, y_train: np.ndarray) -> np.ndarray:
    """Fit ``estimator`` (see :func:`covers_logistic`) in the row space; predict the test rows.

    Parameters
    ----------
    estimator : LogisticRegression
    space : RowSpace
    y_train : ndarray of int

    Returns
    -------
    ndarray of shape (m,)
        The predicted labels (values of ``y_train``).
    """
    classes = np.unique(y_train)
    if len(classes) < 2:  # scikit-learn's own error
        return estimator.fit(space.train, y_train).predict(space.test)
    coef, intercept, _ = fit_rowspace(estimator, space, y_train)
    if len(classes) == 2:
        scores = space.z_test @ coef[0] + intercept[0]
        return classes[(scores > 0).astype(np.intp)]
    scores = space.z_test @ coef.T + intercept
    return classes[np.argmax(scores, axis=1)]


def fit_rowspace(estimator, space: RowSpace, y_train: np.ndarray):
    """The row-space fit: ``(coef, intercept, n_iter)``, ``coef`` in row-space coordinates.

    ``coef @ space.q.T`` is the primal ``coef_`` (shape ``(1, p)`` for two classes,
    ``(K, p)`` otherwise), as ``LogisticRegression.fit`` would give it up to rounding.
    """
    from scipy import optimize

    sk = logistic_internals()
    classes = np.unique(y_train)
    params = estimator.get_params()
    tol, max_iter = params["tol"], params["max_iter"]
    z, n = space.z_train, space.z_train.shape[0]
    binary = len(classes) == 2
    if binary:
        loss = sk.linear_loss(base_loss=sk.binomial(), fit_intercept=True)
        target = (y_train == classes[1]).astype(np.float64)
        w0 = np.zeros(z.shape[1] + 1)
    else:
        loss = sk.linear_loss(base_loss=sk.multinomial(n_classes=len(classes)),
                              fit_intercept=True)
        target = np.searchsorted(classes, y_train).astype(np.float64)
        w0 = np.zeros((len(classes), z.shape[1] + 1), order="F").ravel(order="F")
    args = (z, target, None, 1.0 / (params["C"] * n), 1)
    last = {}

    def func(w):
        value, grad = loss.loss_gradient(w, *args)
        last["x"], last["grad"] = w.copy(), grad
        return value, grad

    state = {"iterations": 0, "converged": False}

    def stop_test(intermediate_result):
        state["iterations"] += 1
        if state["iterations"] >= max_iter:
            return  # SciPy stops on the limit first, as it would in the primal
        x = intermediate_result.x
        grad = last["grad"] if np.array_equal(last["x"], x) else func(x)[1]
        if _primal_inf_norm(grad, space.q, len(classes), binary) <= tol:
            state["converged"] = True
            raise StopIteration

    _, grad0 = func(w0)
    if _primal_inf_norm(grad0, space.q, len(classes), binary) <= tol:
        w, n_iter = w0, 0  # L-BFGS-B converges at the start point
    else:
        result = optimize.minimize(
            func, w0, method="L-BFGS-B", jac=True, callback=stop_test,
            options={"maxiter": max_iter, "maxls": 50, "gtol": 0.0,
                     "ftol": 64 * np.finfo(float).eps})
        if state["converged"]:
            n_iter = state["iterations"]
        else:
            n_iter = sk.check_result("lbfgs", result, max_iter, extra_warning_msg=sk.message)
        w = result.x
    if binary:
        return w[None, :-1], w[-1:], n_iter
    coef = w.reshape((len(classes), -1), order="F")
    return coef[:, :-1], coef[:, -1], n_iter
