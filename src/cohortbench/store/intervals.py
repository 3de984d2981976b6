"""95 % intervals for the accuracy and the balanced accuracy of one evaluation.

Choices (write them down once, here; ``docs/interpreting.md`` says the same in words):

- **One observation per distinct evaluated subject.** ``train_only`` subjects are never
  predicted (SPEC section 2), so they never enter. With repeated k-fold each subject is
  predicted R times; it still counts once, through its *mean correctness* over the R
  repeats (a number in [0, 1]). Counting n × R predictions would pretend to R times more
  subjects than the cohort has and shrink the interval by about sqrt(R).
- **Accuracy** gets a binomial interval over those n subjects. Wilson's score interval
  (default; Newcombe 1998) or Clopper–Pearson (``method="exact"``). When the number of
  correct subjects ``k`` is a whole number (leave-one-out, plain k-fold) the bounds are
  exactly ``scipy.stats.binomtest(k, n).proportion_ci(confidence, method)``. With repeated
  k-fold ``k`` (the sum of the mean correctnesses) may be fractional; the same formulas are
  then evaluated at p̂ = k / n with n = the number of subjects: Wilson's closed form, and
  for ``exact`` the Beta-quantile form of Clopper–Pearson, ``Beta(α/2; k, n-k+1)`` and
  ``Beta(1-α/2; k+1, n-k)``, which equals it at whole k and is continuous in k.
- **Balanced accuracy** gets the central interval of its posterior distribution
  (Brodersen, Ong, Stephan & Buhmann 2010, "The balanced accuracy and its posterior
  distribution", ICPR): with a flat Beta(1, 1) prior the recall of class c is
  Beta(k_c + 1, n_c - k_c + 1), where n_c subjects of class c were evaluated and k_c of
  them were classified correctly; the balanced accuracy is the mean of the C recalls, whose
  distribution is the convolution of the C Betas scaled by 1/C. The convolution is computed
  deterministically: each Beta is cut into ``GRID_BINS`` bins of [0, 1] with exact masses
  (differences of its CDF), the masses are convolved, and the quantiles are read off the
  cumulative sum with linear interpolation inside a bin (no Monte Carlo). With repeated
  k-fold, k_c is the class's sum of per-subject mean correctness (fractional; the Beta is
  still proper). Classes with no evaluated subject are left out, as
  ``sklearn.metrics.balanced_accuracy_score`` does. At the edges (every subject right)
  a central posterior interval need not contain the observed value (e.g. 1.0): it is the
  posterior's, shrunk towards 0.5 by the prior.
- The pooled confusion matrix stored with an evaluation (rows = true class, summed over the
  R repeats) is enough for both intervals: k = trace / R and k_c = diagonal / R, because
  summing mean correctness over a class's subjects gives its diagonal entry divided by R
  (:func:`intervals_from_confusion`).

The module lives in the store layer because every stored evaluation carries its intervals
as columns, derived from its confusion matrix when it is written (and when an older store,
which has no such columns, is read).

**These intervals are a lower bound on the uncertainty.** They treat the n subjects'
outcomes as independent, but cross-validated predictions are not: the training sets of
different folds share almost all their subjects (Varoquaux 2018, "Cross-validation
failure: small sample sizes lead to large error bars", NeuroImage 180:68; Bengio &
Grandvalet 2004 show no unbiased estimator of the CV variance exists). The true
uncertainty of a cross-validated accuracy is larger.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import signal, special, stats

__all__ = [
    "Interval",
    "EvaluationIntervals",
    "accuracy_interval",
    "balanced_accuracy_interval",
    "balanced_accuracy_posterior_interval",
    "evaluation_intervals",
    "intervals_from_confusion",
    "GRID_BINS",
]

#: Bins of [0, 1] per class recall in the numerical convolution. With 4096 (width 2.4e-4)
#: the bounds agree with exact quantiles to ~1e-6 or better (the tests allow 2e-6 to 2e-5)
#: in 3-5 ms per evaluation; 16384 bins cost 9-16 ms for no visible gain at 3 decimals.
GRID_BINS = 2**12

_METHODS = ("wilson", "exact")
# Sums of 0/1 correctness that differ from a whole number by rounding only.
_WHOLE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Interval:
    """A point estimate and its central interval.

    Attributes
    ----------
    estimate : float
        The observed value (accuracy, or mean of the per-class recalls).
    low, high : float
        The interval's bounds.
    confidence : float
        E.g. 0.95.
    method : str
        ``"wilson"``, ``"exact"`` (Clopper–Pearson) or ``"brodersen-posterior"``.
    n_subjects : int
        Distinct evaluated subjects behind it.
    """

    estimate: float
    low: float
    high: float
    confidence: float
    method: str
    n_subjects: int


@dataclass(frozen=True)
class EvaluationIntervals:
    """Both intervals of one evaluation (what the store's ``*_ci_low/high`` columns hold)."""

    accuracy: Interval
    balanced_accuracy: Interval


def _check_confidence(confidence: float) -> float:
    confidence = float(confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1; got {confidence}.")
    return confidence


def _check_method(method: str) -> None:
    if method not in _METHODS:
        raise ValueError(f"method must be one of {', '.join(_METHODS)}; got {method!r}.")


def _check_correctness(correct, name: str = "correct_per_subject") -> np.ndarray:
    values = np.asarray(correct, dtype=float).ravel()
    if values.size == 0:
        raise ValueError(f"{name} is empty: an interval needs at least one evaluated subject.")
    if not np.all(np.isfinite(values)) or values.min() < 0.0 or values.max() > 1.0:
        raise ValueError(f"{name} must hold one mean correctness in [0, 1] per subject.")
    return values


def _wilson(k: float, n: int, confidence: float) -> tuple[float, float]:
    # Newcombe (1998) eq. 3, the form scipy uses, valid for fractional k.
    p = k / n
    z = special.ndtri(0.5 + 0.5 * confidence)
    denom = 2.0 * (n + z**2)
    center = (2.0 * n * p + z**2) / denom
    delta = z / denom * np.sqrt(4.0 * n * p * (1.0 - p) + z**2)
    low = 0.0 if k <= 0 else center - delta
    high = 1.0 if k >= n else center + delta
    return float(max(low, 0.0)), float(min(high, 1.0))


def _clopper_pearson(k: float, n: int, confidence: float) -> tuple[float, float]:
    # The Beta-quantile form of Clopper-Pearson; continuous in k.
    alpha = 1.0 - confidence
    low = 0.0 if k <= 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k >= n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def accuracy_interval(correct_per_subject, confidence: float = 0.95,
                      method: str = "wilson") -> Interval:
    """Binomial interval of the accuracy over the distinct evaluated subjects.

    Parameters
    ----------
    correct_per_subject : array-like of float, shape (n_subjects,)
        One value per distinct evaluated subject: 1/0 (right/wrong) for leave-one-out or
        plain k-fold, the subject's mean correctness over the R repeats for repeated
        k-fold. Never include ``train_only`` subjects and never one value per repeat.
    confidence : float, default 0.95
    method : {"wilson", "exact"}
        Wilson score interval, or Clopper–Pearson.

    Returns
    -------
    Interval
        ``estimate`` is the mean correctness (the pooled accuracy). For a whole number of
        correct subjects the bounds equal
        ``scipy.stats.binomtest(k, n).proportion_ci(confidence, method)``.

    Raises
    ------
    ValueError
        Empty input, values outside [0, 1], an unknown ``method`` or ``confidence``.
    """
    confidence = _check_confidence(confidence)
    _check_method(method)
    values = _check_correctness(correct_per_subject)
    k, n = float(values.sum()), int(values.size)
    low, high = _accuracy_bounds(k, n, confidence, method)
    return Interval(k / n, low, high, confidence, method, n)


def _accuracy_bounds(k: float, n: int, confidence: float, method: str) -> tuple[float, float]:
    # A binomial interval depends on the per-subject correctness only through k and n.
    whole = round(k)
    if abs(k - whole) <= _WHOLE_TOLERANCE:
        ci = stats.binomtest(int(whole), n).proportion_ci(confidence_level=confidence,
                                                          method=method)
        return float(ci.low), float(ci.high)
    if method == "wilson":
        return _wilson(k, n, confidence)
    return _clopper_pearson(k, n, confidence)


def _binned_beta(a: float, b: float, bins: int) -> np.ndarray:
    # Exact probability of each of ``bins`` equal bins of [0, 1].
    cdf = stats.beta.cdf(np.linspace(0.0, 1.0, bins + 1), a, b)
    cdf[0], cdf[-1] = 0.0, 1.0
    return np.diff(cdf)


def _quantiles_of_binned_sum(masses: np.ndarray, width: float, n_terms: int,
                             levels) -> np.ndarray:
    # Bin i of one recall stands for its midpoint (i + 1/2) w, so entry j of the convolution
    # of n_terms of them stands for the point (j + n_terms/2) w; its mass is spread evenly
    # over the width-w bin around that point, making the CDF piecewise linear.
    masses = np.clip(masses, 0.0, None)
    cdf = np.cumsum(masses)
    cdf /= cdf[-1]
    left = (np.arange(masses.size) + n_terms / 2.0 - 0.5) * width
    out = []
    for level in levels:
        j = int(np.searchsorted(cdf, level, side="left"))
        j = min(j, masses.size - 1)
        below = cdf[j - 1] if j > 0 else 0.0
        inside = (level - below) / masses[j] if masses[j] > 0 else 0.5
        out.append(left[j] + float(np.clip(inside, 0.0, 1.0)) * width)
    return np.asarray(out)


def balanced_accuracy_posterior_interval(successes, totals, confidence: float = 0.95,
                                         *, bins: int = GRID_BINS) -> tuple[float, float]:
    """Central interval of the mean of independent Beta(k_c + 1, n_c - k_c + 1) recalls.

    Parameters
    ----------
    successes : array-like of float, shape (n_classes,)
        k_c, correctly classified subjects of each class (fractional with repeated k-fold).
    totals : array-like of int, shape (n_classes,)
        n_c, evaluated subjects of each class (each > 0).
    confidence : float, default 0.95
    bins : int
        Bins of [0, 1] per recall in the numerical convolution.

    Returns
    -------
    (low, high) : tuple of float
    """
    confidence = _check_confidence(confidence)
    k = np.asarray(successes, dtype=float).ravel()
    n = np.asarray(totals, dtype=float).ravel()
    if k.size == 0 or k.size != n.size:
        raise ValueError("successes and totals need one entry per class, and at least one class.")
    if np.any(n <= 0) or np.any(k < -_WHOLE_TOLERANCE) or np.any(k > n + _WHOLE_TOLERANCE):
        raise ValueError("each class needs totals > 0 and 0 <= successes <= totals.")
    k = np.clip(k, 0.0, n)
    masses = np.ones(1)
    for k_c, n_c in zip(k, n):
        masses = signal.fftconvolve(masses, _binned_beta(k_c + 1.0, n_c - k_c + 1.0, bins))
    alpha = 1.0 - confidence
    low, high = _quantiles_of_binned_sum(masses, 1.0 / bins, k.size, (alpha / 2, 1 - alpha / 2))
    return float(low / k.size), float(high / k.size)


def balanced_accuracy_interval(y_true, y_pred=None, *, correct=None,
                               confidence: float = 0.95) -> Interval:
    """Brodersen et al. (2010) posterior interval of the balanced accuracy.

    Parameters
    ----------
    y_true : array-like, shape (n_subjects,)
        True class of each distinct evaluated subject (no ``train_only`` subjects).
    y_pred : array-like, shape (n_subjects,), optional
        Predicted class of each subject (leave-one-out or plain k-fold).
    correct : array-like of float, shape (n_subjects,), optional
        Instead of ``y_pred``: each subject's mean correctness over the repeats of
        repeated k-fold (the stored majority vote would lose this).
    confidence : float, default 0.95

    Returns
    -------
    Interval
        ``estimate`` is the mean over the classes present in ``y_true`` of their mean
        correctness (equal to ``sklearn.metrics.balanced_accuracy_score`` for 0/1
        correctness); ``method`` is ``"brodersen-posterior"``.
    """
    y_true = np.asarray(y_true, dtype=object).ravel()
    if (y_pred is None) == (correct is None):
        raise ValueError("give exactly one of y_pred and correct.")
    if correct is None:
        y_pred = np.asarray(y_pred, dtype=object).ravel()
        if y_pred.shape != y_true.shape:
            raise ValueError("y_true and y_pred must have one entry per subject each.")
        correct = (y_pred == y_true).astype(float)
    correct = _check_correctness(correct, "correct")
    if correct.size != y_true.size:
        raise ValueError("y_true and correct must have one entry per subject each.")
    classes = pd.unique(y_true)
    successes = np.array([correct[y_true == c].sum() for c in classes])
    totals = np.array([np.sum(y_true == c) for c in classes], dtype=float)
    return _balanced(successes, totals, _check_confidence(confidence), int(y_true.size))


def _balanced(successes: np.ndarray, totals: np.ndarray, confidence: float,
              n_subjects: int) -> Interval:
    low, high = balanced_accuracy_posterior_interval(successes, totals, confidence)
    return Interval(float(np.mean(successes / totals)), low, high, confidence,
                    "brodersen-posterior", n_subjects)


def evaluation_intervals(predictions: pd.DataFrame, *, correct=None, confidence: float = 0.95,
                         method: str = "wilson") -> EvaluationIntervals:
    """Both intervals from the ``predictions`` rows of ONE evaluation.

    Parameters
    ----------
    predictions : pandas.DataFrame
        Columns ``subject``, ``true_label``, ``predicted_label`` (as in ``predictions.csv``),
        one row per distinct evaluated subject; ``train_only`` subjects are never there.
    correct : array-like of float, optional
        Per-subject mean correctness in row order, for repeated k-fold, where the stored
        ``predicted_label`` is a majority vote over the repeats and would misstate it.
    confidence : float, default 0.95
    method : {"wilson", "exact"}
        For the accuracy interval.

    Returns
    -------
    EvaluationIntervals
    """
    missing = [c for c in ("subject", "true_label", "predicted_label") if c not in predictions]
    if missing:
        raise ValueError(f"predictions lack the column(s) {', '.join(missing)}.")
    if predictions["subject"].duplicated().any():
        raise ValueError("predictions hold a subject twice; give the rows of one evaluation, "
                         "one per subject.")
    y_true = predictions["true_label"].to_numpy(dtype=object)
    if correct is None:
        correct = (predictions["predicted_label"].to_numpy(dtype=object) == y_true).astype(float)
    correct = _check_correctness(correct, "correct")
    if correct.size != y_true.size:
        raise ValueError("correct must hold one value per prediction row.")
    return EvaluationIntervals(
        accuracy=accuracy_interval(correct, confidence, method),
        balanced_accuracy=balanced_accuracy_interval(y_true, correct=correct,
                                                     confidence=confidence),
    )


def intervals_from_confusion(confusion, n_subjects: int, *, confidence: float = 0.95,
                             method: str = "wilson") -> EvaluationIntervals:
    """Both intervals from a stored, pooled confusion matrix.

    Parameters
    ----------
    confusion : array-like of int, shape (n_classes, n_classes)
        Rows = true class, columns = predicted class, summed over the R repeats of the
        outer CV (``EvaluationResult.confusion``); sums to R × ``n_subjects``.
    n_subjects : int
        Distinct evaluated subjects (``n_subjects`` of the evaluation).
    confidence : float, default 0.95
    method : {"wilson", "exact"}

    Returns
    -------
    EvaluationIntervals
        Equal (up to rounding) to :func:`evaluation_intervals` given each subject's mean
        correctness:
        only the totals k = trace / R and k_c = diagonal / R enter either interval.
    """
    matrix = np.asarray(confusion, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.size == 0:
        raise ValueError("confusion must be a square matrix with one row per class.")
    n_subjects = int(n_subjects)
    repeats = matrix.sum() / n_subjects if n_subjects > 0 else 0.0
    if n_subjects <= 0 or repeats < 1 or abs(repeats - round(repeats)) > _WHOLE_TOLERANCE:
        raise ValueError(f"a confusion matrix summing to {matrix.sum():g} cannot hold whole "
                         f"repeats of {n_subjects} subjects.")
    repeats = round(repeats)
    confidence = _check_confidence(confidence)
    _check_method(method)
    k = float(np.trace(matrix)) / repeats
    low, high = _accuracy_bounds(k, n_subjects, confidence, method)
    accuracy = Interval(k / n_subjects, low, high, confidence, method, n_subjects)
    totals = matrix.sum(axis=1) / repeats
    present = totals > 0
    successes = np.diag(matrix)[present] / repeats
    return EvaluationIntervals(accuracy, _balanced(successes, totals[present], confidence,
                                                   n_subjects))
