"""Stability of feature selection over resamples (Nogueira, Sechidis & Brown 2018).

S. Nogueira, K. Sechidis, G. Brown, "On the Stability of Feature Selection
Algorithms", JMLR 18(174):1-54, 2018. For ``M`` selected sets over ``d`` features
(a binary matrix ``Z``, one row per set), with ``p_f`` the fraction of sets that
select feature ``f``, ``k_i`` the size of set ``i`` and ``k̄`` their mean:

- the estimate (their Definition 4)::

      Φ = 1 - [ (1/d) Σ_f M/(M-1) p_f (1 - p_f) ] / [ (k̄/d) (1 - k̄/d) ]

  1 when every set is the same, about 0 for sets drawn at random (it corrects
  for chance), and it reduces to Kuncheva's index when every ``k_i`` is equal;
- its variance (their Theorem 8, the asymptotic normality of Φ)::

      v = 4/M² Σ_i (φ_i - φ̄)²,
      φ_i = [ (1/d) Σ_f Z_if p_f - k_i k̄ / d² + Φ/2 (2 k_i k̄ / d² - k_i/d - k̄/d + 1) ]
            / [ (k̄/d)(1 - k̄/d) ]

  and the (1 - α) interval ``Φ ± z_{1-α/2} √v`` (their Corollary 9).

It is meaningful on resamples that differ (e.g. repeated stratified k-fold); the
training sets of leave-one-out share all but one subject, which makes any
selector look stable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

__all__ = ["Stability", "nogueira_stability"]


@dataclass(frozen=True)
class Stability:
    """Nogueira's stability estimate with its variance and interval.

    Attributes
    ----------
    estimate, variance, ci_low, ci_high : float
        NaN when undefined (fewer than 2 sets, or every set empty or full).
    n_sets, n_features : int
        M and d.
    mean_size : float
        k̄, the mean number of features selected.
    alpha : float
        The interval covers 1 - alpha.
    """

    estimate: float
    variance: float
    ci_low: float
    ci_high: float
    n_sets: int
    n_features: int
    mean_size: float
    alpha: float


def nogueira_stability(selected, alpha: float = 0.05) -> Stability:
    """Stability of the selected sets, its variance and (1 - alpha) interval.

    Parameters
    ----------
    selected : array-like of shape (M, d), bool or 0/1
        One row per resample (e.g. outer fold), True = selected.
    alpha : float, default=0.05
        In (0, 1).

    Returns
    -------
    Stability
    """
    Z = np.asarray(selected)
    if Z.ndim != 2:
        raise ValueError(f"Selected sets must be a 2-D (sets, features) array; got {Z.shape}.")
    if not np.isin(Z, (0, 1)).all():
        raise ValueError("Selected sets must be boolean (or 0/1).")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha}.")
    Z = Z.astype(np.float64)
    M, d = Z.shape
    sizes = Z.sum(axis=1)
    k_bar = float(sizes.mean()) if M else float("nan")
    nan = float("nan")
    if M < 2 or d == 0 or k_bar in (0.0, float(d)):
        return Stability(nan, nan, nan, nan, M, d, k_bar, alpha)
    freq = Z.mean(axis=0)
    denominator = (k_bar / d) * (1.0 - k_bar / d)
    estimate = 1.0 - (M / (M - 1)) * np.mean(freq * (1.0 - freq)) / denominator
    phi = ((Z @ freq) / d - sizes * k_bar / d**2
           + estimate / 2.0 * (2.0 * sizes * k_bar / d**2 - sizes / d - k_bar / d + 1.0))
    phi /= denominator
    variance = 4.0 / M**2 * np.sum((phi - phi.mean()) ** 2)
    half = norm.ppf(1.0 - alpha / 2.0) * np.sqrt(variance)
    return Stability(float(estimate), float(variance), float(estimate - half),
                     float(estimate + half), M, d, k_bar, alpha)
