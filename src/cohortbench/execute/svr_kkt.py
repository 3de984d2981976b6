"""Is an RFE ranking fit numerically reliable? libsvm's optimality gap on the float64 problem.

``RFE(SVR(kernel="linear"), step=1)`` ranks features by the squared weights of a
linear SVR refitted after each elimination. libsvm solves that SVR on a float32
copy of the kernel; on raw values (kernel entries ~1e8) the rounded problem's
optimum is far from the real one once the features no longer outnumber the
subjects, and the elimination is then set by rounding, not by the data
(``benchmarks/RESULTS.md``, "What libsvm returns on unscaled values"). Both
engines keep computing those fits exactly as scikit-learn does; this module says
which of them to distrust.

The measure is libsvm's own stopping quantity, the maximal violating pair
``m(alpha) - M(alpha)`` of the dual (Fan, Chen & Lin 2005), evaluated on a freshly
formed float64 linear kernel of the fit's input rather than on libsvm's float32
copy. libsvm stops when it falls below ``tol = 1e-3`` on its copy; a fit is
**unreliable** when, divided by the range of the targets (the label codes: the
gradient is in their units), it exceeds :data:`UNRELIABLE_ABOVE` = 0.01, ten
times libsvm's own tolerance. Measured: well-scaled fits stay near 1e-3 or
below; raw-value fits of the published cohort reach ~16.

Which fits are checked: those with at most ``2 n`` features left (``n`` training
rows) on each outer training set, for the real labels and every shuffle. That is
where the dual turns degenerate and where every violating fit of the benchmark
was found; it is also cheap (one ``n x n`` kernel per fit). The fits of a
search's inner folds are not checked. Both engines call :func:`relative_violation`
on the same rows, columns and dual coefficients (the fast engine reproduces
libsvm's coefficients bit for bit), so their flags are identical.
"""

from __future__ import annotations

import numpy as np

__all__ = ["UNRELIABLE_ABOVE", "relative_violation", "checked_width", "replay_rfe_checks"]

#: A ranking fit whose relative optimality gap exceeds this is numerically unreliable.
UNRELIABLE_ABOVE = 0.01


def checked_width(n_rows: int) -> int:
    """The widest ranking fit that is checked: ``2 n`` features for ``n`` training rows."""
    return 2 * int(n_rows)


def relative_violation(X, y, coef, *, C: float = 1.0, epsilon: float = 0.1) -> float:
    """libsvm's maximal-violating-pair gap of an epsilon-SVR dual, over the targets' range.

    Parameters
    ----------
    X : ndarray of shape (n, w)
        The fit's input rows and columns (the linear kernel is ``X @ X.T``, in float64).
    y : ndarray of shape (n,)
        The targets (label codes).
    coef : ndarray of shape (n,)
        ``alpha - alpha*`` of every row (0 off the support): ``SVR.dual_coef_``
        scattered to the rows of ``SVR.support_``.
    C, epsilon : float
        The SVR's parameters (scikit-learn's defaults).

    Returns
    -------
    float
        ``(m - M) / (max(y) - min(y))``, 0 when the targets are constant.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    coef = np.asarray(coef, dtype=np.float64).ravel()
    residual = y - (X @ X.T) @ coef  # y_i - sum_j beta_j K_ij: minus the gradient, bias aside
    upper, lower = np.maximum(coef, 0.0), np.maximum(-coef, 0.0)
    # libsvm's 2n variables: alpha_i (y_t = +1, value g_i - eps) and alpha*_i (y_t = -1,
    # value g_i + eps); I_up / I_low as in Fan, Chen & Lin (2005), section 2.
    plus, minus = residual - epsilon, residual + epsilon
    up = np.concatenate([plus[upper < C], minus[lower > 0]])
    low = np.concatenate([plus[upper > 0], minus[lower < C]])
    scale = float(y.max() - y.min()) if y.size else 0.0
    if scale == 0.0 or up.size == 0 or low.size == 0:
        return 0.0
    return max(float(up.max() - low.min()), 0.0) / scale


def replay_rfe_checks(fitted, X_train, y_train) -> tuple[int, int]:
    """``(checked, unreliable)`` ranking fits of a fitted pipeline's RFE step.

    The reference engine's side: scikit-learn's ``RFE`` keeps only its last fit,
    so the fits with at most ``2 n`` features left are refitted from the masks its
    ``ranking_`` implies (the features left at width ``w`` are those ranked
    ``<= w - k + 1``), with a clone of its own estimator on the rows it was fitted on.

    Parameters
    ----------
    fitted : Pipeline or fitted search
        The fold's fitted pipeline (a search's ``best_estimator_`` is read).
    X_train, y_train : ndarray
        The rows and labels the pipeline was fitted on.

    Returns
    -------
    tuple of int
        Fits checked and fits above :data:`UNRELIABLE_ABOVE`; ``(0, 0)`` when the
        pipeline has no RFE step.
    """
    from sklearn.base import clone
    from sklearn.feature_selection import RFE

    pipeline = getattr(fitted, "best_estimator_", fitted)
    steps = [step for _, step in pipeline.steps]
    found = [i for i, step in enumerate(steps) if isinstance(step, RFE)]
    if not found:
        return 0, 0
    index = found[0]
    rfe = steps[index]
    Xt = pipeline[:index].transform(X_train) if index else np.asarray(X_train)
    Xt = np.asarray(Xt, dtype=np.float64)
    y = np.asarray(y_train)
    ranking, k = np.asarray(rfe.ranking_), int(rfe.n_features_)
    checked = unreliable = 0
    for width in range(min(len(ranking), checked_width(len(y))), k, -1):
        columns = Xt[:, ranking <= width - k + 1]
        svr = clone(rfe.estimator).fit(columns, y)
        coef = np.zeros(len(y))
        coef[svr.support_] = svr.dual_coef_[0]
        checked += 1
        unreliable += relative_violation(columns, y, coef, C=svr.C,
                                         epsilon=svr.epsilon) > UNRELIABLE_ABOVE
    return checked, int(unreliable)
