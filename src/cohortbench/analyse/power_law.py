"""The inverse power-law learning curve and its Figueroa-weighted fit.

``acc(n) = a - b * n**(-c)`` of the training-set size ``n`` (Mukherjee et al. 2003, J Comput
Biol 10:119), bounds ``0 <= a <= 1``, ``0 <= b <= 100``, ``0.1 <= c <= 10`` (the decay rate's
range in Figueroa et al. 2012's fitting code). Weighted nonlinear least squares as in
Figueroa et al. (2012, BMC Med Inform Decis Mak 12:8): minimise
``sum_j w_j * (y_j - acc(n_j))**2`` with ``w_j = j / m`` for the ``m`` sizes numbered from
the smallest. A profile over a grid of ``c`` (for fixed ``c`` the model is linear in
``a, b``) gives the start of ``scipy.optimize.least_squares`` (trust-region reflective,
bounds), so the fit does not depend on a hand-picked starting point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

__all__ = ["power_law", "figueroa_weights", "fit_power_law", "PowerLawFit"]

# (lower, upper) bounds of (a, b, c)
_LOWER = np.array([0.0, 0.0, 0.1])
_UPPER = np.array([1.0, 100.0, 10.0])
_C_GRID = np.geomspace(_LOWER[2], _UPPER[2], 41)


def power_law(n, a: float, b: float, c: float):
    """``a - b * n**(-c)``, the inverse power-law learning curve."""
    return a - b * np.power(np.asarray(n, dtype=np.float64), -c)


def figueroa_weights(n_train) -> np.ndarray:
    """Figueroa et al.'s weights ``j / m`` (``j`` = rank of the size among the ``m`` sizes).

    Parameters
    ----------
    n_train : array-like of distinct training sizes (any order)

    Returns
    -------
    ndarray, same order as ``n_train``
    """
    n_train = np.asarray(n_train, dtype=np.float64)
    ranks = np.argsort(np.argsort(n_train)) + 1
    return ranks / len(n_train)


@dataclass(frozen=True)
class PowerLawFit:
    """Parameters of ``acc(n) = a - b * n**(-c)`` fitted by weighted least squares."""

    a: float
    b: float
    c: float
    weighted_sse: float
    rank: int  # numerical rank of the weighted Jacobian at the solution (3 when identified)

    def predict(self, n_train) -> np.ndarray:
        return power_law(n_train, self.a, self.b, self.c)


def _start(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Best (a, b, c) over a grid of c, (a, b) by weighted linear least squares, clipped."""
    u = x[None, :] ** -_C_GRID[:, None]  # one row per c of the grid
    w = w / w.sum()
    u_bar, y_bar = u @ w, float(y @ w)
    var = ((u - u_bar[:, None]) ** 2) @ w
    cov = ((u - u_bar[:, None]) * (y - y_bar)) @ w
    b = np.clip(np.divide(-cov, var, out=np.zeros_like(var), where=var > 0),
                _LOWER[1], _UPPER[1])
    a = np.clip(y_bar + b * u_bar, _LOWER[0], _UPPER[0])
    sse = ((a[:, None] - b[:, None] * u - y) ** 2) @ w
    best = int(np.argmin(sse))
    return np.array([a[best], b[best], _C_GRID[best]])


def fit_power_law(n_train, accuracy, weights=None) -> PowerLawFit:
    """Fit ``a - b * n**(-c)`` to points by bounded weighted least squares.

    Parameters
    ----------
    n_train : array-like of shape (m,)
        Training-set sizes (> 0).
    accuracy : array-like of shape (m,)
        Mean accuracy at each size.
    weights : array-like of shape (m,), optional
        Weights of the squared residuals; default :func:`figueroa_weights`.

    Returns
    -------
    PowerLawFit

    Raises
    ------
    ValueError
        Fewer than 3 points, a size <= 0, or non-finite values; or a fit that fails.
    """
    x = np.asarray(n_train, dtype=np.float64)
    y = np.asarray(accuracy, dtype=np.float64)
    if len(x) < 3 or len(x) != len(y):
        raise ValueError("A power-law fit needs at least 3 (size, accuracy) points of equal "
                         f"length; got {len(x)} sizes and {len(y)} accuracies.")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and np.all(x > 0)):
        raise ValueError("Sizes must be positive and accuracies finite.")
    w = figueroa_weights(x) if weights is None else np.asarray(weights, dtype=np.float64)
    root_w = np.sqrt(w)

    def residuals(p):
        return root_w * (p[0] - p[1] * x ** -p[2] - y)

    def jacobian(p):
        u = x ** -p[2]
        return root_w[:, None] * np.column_stack([np.ones_like(x), -u, p[1] * u * np.log(x)])

    solution = least_squares(residuals, _start(x, y, w), jac=jacobian, bounds=(_LOWER, _UPPER),
                             method="trf", x_scale="jac")
    if solution.status <= 0 or not np.all(np.isfinite(solution.x)):
        raise ValueError(f"The power-law fit failed: {solution.message}")
    singular = np.linalg.svd(jacobian(solution.x), compute_uv=False)
    rank = int(np.sum(singular > singular[0] * 1e-10)) if singular[0] > 0 else 0
    a, b, c = (float(v) for v in solution.x)
    return PowerLawFit(a=a, b=b, c=c, weighted_sse=float(2 * solution.cost), rank=rank)
