"""Learning curves: an inverse power law fitted to accuracy by training-set size, projected.

Input: a tidy table of per-(size, repeat) results of one curve (one task, classifier,
pipeline and modality set): ``n_subjects`` (subsample size), ``n_train`` (training-set size
of its outer CV: ``n_subjects - 1`` with leave-one-out), ``repeat``, ``accuracy``; optional
``null_mean``, ``null_std``, ``p_value`` (the permutation test of that subsample).

The method, written down (user-facing version: ``docs/learning_curves.md``):

- **Points**: per size, the mean accuracy over its repeats.
- **Model**: ``acc(n) = a - b * n**(-c)`` of the training-set size ``n`` (Mukherjee et al.
  2003, J Comput Biol 10:119), bounds ``0 <= a <= 1``, ``0 <= b <= 100``,
  ``0.1 <= c <= 10`` (the range of the decay rate in Figueroa et al. 2012's fitting code).
- **Weights** (Figueroa et al. 2012, BMC Med Inform Decis Mak 12:8): weighted nonlinear
  least squares, minimising ``sum_j w_j * (mean_j - acc(n_j))**2`` with ``w_j = j / m``, where
  the ``m`` sizes are numbered ``j = 1..m`` from the smallest: the largest size weighs 1, the
  smallest ``1/m``. Figueroa et al. give more weight to the points with larger samples since
  the purpose is to predict performance at still larger ones; implementations derived from
  their code weight by ``n_j / n_max``, the same for sizes evenly spaced from the step and
  close for the default ladder (see ``docs/learning_curves.md``).
- **Fit**: a profile over a grid of ``c`` (for fixed ``c`` the model is linear in ``a, b``)
  gives the start of ``scipy.optimize.least_squares`` (trust-region reflective, bounds).
- **Intervals**: a bootstrap over repeats, widened by each point's binomial variance. For
  each of ``n_boot`` replicates: at every size the repeats are resampled with replacement
  and averaged; then one standard normal draw ``z`` (per replicate) is taken and every
  size's mean moves by ``z * sqrt(p~_j (1 - p~_j) / N)``, the binomial standard deviation of
  that size's accuracy as a proportion over the ``N`` subjects of the cohort
  (``p~_j = (N * mean_j + 1) / (N + 2)``, so that a point at 0 or 1 keeps some
  uncertainty); the curve is refitted and the projections recomputed; the interval is the
  percentile interval at ``level``. Why ``N`` and one shared draw: the mean over repeats of
  any size averages predictions over all ``N`` subjects (every subsample is drawn from
  them), so its subject-sampling noise is that of a proportion over ``N`` subjects, and it
  is the same subjects at every size -- an easy or hard cohort lifts or lowers the whole
  curve. The resampling of repeats says how much the curve depends on which subjects fell
  into the subsamples; the binomial term is the noise of the cohort's own subjects, which
  the repeats cannot show (at the whole cohort every repeat is the same subsample).
  Both are **conditional on this cohort** in the sense that they know nothing of how the
  subjects you would recruit differ from these (site, referral, protocol), nor of a curve
  that is not a power law.
- **Headline numbers**: the expected gain of accuracy from ``N`` to ``N + 10`` subjects
  (``N`` = the largest measured size) and the accuracy at each ``project_to`` size (default
  ``N + 10, N + 20, 2N``). A projection beyond twice the largest measured size is flagged
  ``extrapolated``. Sizes map to training sizes as the measured ones do (``n - 1`` with
  leave-one-out, ``n * (K - 1) / K`` with K folds).
- **No projection** (status and note say which): fewer than ``MIN_SIZES`` sizes; at the
  largest size the accuracy is not above the permutation null (median ``p_value`` of its
  rows above ``alpha``, or else ``(accuracy - null_mean) / null_std`` below the one-sided
  normal quantile of ``1 - alpha``); the fit fails (not identifiable); the fitted curve rises
  by less than ``flat_tolerance`` across the measured sizes (flat).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from cohortbench.analyse.power_law import (
    PowerLawFit,
    figueroa_weights,
    fit_power_law,
    power_law,
)

__all__ = [
    "power_law",
    "figueroa_weights",
    "fit_power_law",
    "PowerLawFit",
    "curve_points",
    "project_learning_curve",
    "LearningCurveProjection",
    "default_project_to",
    "MIN_SIZES",
    "STATUSES",
]

#: Fewest distinct sizes to fit three parameters with one left to check them.
MIN_SIZES = 4
#: ``status`` values of :class:`LearningCurveProjection`.
STATUSES = ("projected", "too_few_sizes", "not_above_null", "not_identifiable", "flat")
_REQUIRED = ("n_subjects", "n_train", "repeat", "accuracy")


def curve_points(curve: pd.DataFrame) -> pd.DataFrame:
    """Per size: mean accuracy and its spread over repeats, binomial sd, null, weight.

    Returns
    -------
    DataFrame
        ``n_subjects, n_train, n_repeats, mean_accuracy, sd_accuracy`` (ddof=1; 0 for one
        repeat), ``binomial_sd``, ``weight`` (Figueroa's ``j/m``), ``null_mean``,
        ``null_std`` (means over the size's rows; NaN without a permutation test), sorted by
        size.
    """
    missing = [c for c in _REQUIRED if c not in curve.columns]
    if missing:
        raise ValueError(f"The learning-curve table lacks the column(s) {', '.join(missing)}.")
    if curve.empty:
        raise ValueError("The learning-curve table has no rows.")
    cohort = int(curve["n_subjects"].max())
    rows = []
    for size, group in curve.groupby("n_subjects", sort=True):
        acc = group["accuracy"].to_numpy(dtype=np.float64)
        # Laplace-smoothed accuracy: a point at 0 or 1 keeps some uncertainty
        p_tilde = (cohort * acc.mean() + 1) / (cohort + 2)
        rows.append({
            "n_subjects": int(size), "n_train": float(group["n_train"].mean()),
            "n_repeats": len(acc), "mean_accuracy": float(acc.mean()),
            "sd_accuracy": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
            "binomial_sd": float(np.sqrt(p_tilde * (1 - p_tilde) / cohort)),
            "null_mean": _column_mean(group, "null_mean"),
            "null_std": _column_mean(group, "null_std"),
        })
    points = pd.DataFrame(rows)
    points.insert(6, "weight", figueroa_weights(points["n_train"]))
    return points


def _column_mean(group: pd.DataFrame, column: str) -> float:
    if column not in group.columns:
        return float("nan")
    values = pd.to_numeric(group[column], errors="coerce").dropna()
    return float(values.mean()) if len(values) else float("nan")


def default_project_to(largest: int) -> tuple[int, ...]:
    """``N + 10, N + 20, 2N`` (distinct, ascending)."""
    return tuple(sorted({largest + 10, largest + 20, 2 * largest}))


def _train_size(points: pd.DataFrame):
    """Map subject counts to training sizes as the measured sizes do."""
    n, t = points["n_subjects"].to_numpy(float), points["n_train"].to_numpy(float)
    gap = n - t
    if np.allclose(gap, gap[-1]):
        return lambda sizes: np.asarray(sizes, dtype=np.float64) - gap[-1]
    ratio = t[-1] / n[-1]
    return lambda sizes: np.asarray(sizes, dtype=np.float64) * ratio


def _above_null(curve: pd.DataFrame, points: pd.DataFrame, alpha: float):
    """(above, p or z, kind) at the largest size; ``above`` is None without a null."""
    largest = curve[curve["n_subjects"] == points["n_subjects"].iloc[-1]]
    if "p_value" in largest.columns:
        p = pd.to_numeric(largest["p_value"], errors="coerce").dropna()
        if len(p):
            value = float(p.median())
            return value <= alpha, value, "p"
    last = points.iloc[-1]
    if np.isfinite(last["null_mean"]) and np.isfinite(last["null_std"]) and last["null_std"] > 0:
        z = (last["mean_accuracy"] - last["null_mean"]) / last["null_std"]
        return bool(z >= norm.ppf(1 - alpha)), float(z), "z"
    return None, float("nan"), ""


@dataclass(frozen=True, eq=False)
class LearningCurveProjection:
    """A fitted learning curve, its projections and what may be said about them.

    Attributes
    ----------
    points : DataFrame
        :func:`curve_points` plus ``low``, ``high``: the interval of each size's mean
        (bootstrap over repeats plus the binomial term).
    projection : DataFrame
        One row per ``project_to`` size: ``n_subjects, n_train, predicted_accuracy, low,
        high, gain_per_10, gain_low, gain_high, extrapolated, note``; the values are NaN
        when no projection is made (``note`` says why).
    band : DataFrame
        ``n_subjects, n_train, fit, low, high`` on a grid from the smallest measured size to
        the largest projected one (the fitted curve and its band, for figures); empty when
        no projection is made.
    params : tuple of float or None
        ``(a, b, c)`` of the fit on the measured means.
    gain_per_10, gain_low, gain_high : float or None
        Expected accuracy gain from ``current_size`` to ``current_size + 10`` subjects.
    current_size : int
        The largest measured size (the cohort).
    status : str
        One of :data:`STATUSES`.
    note : str
        Why no projection is made ("" when projected).
    level : float
        Coverage level of the intervals.
    warnings : tuple of str
    """

    points: pd.DataFrame
    projection: pd.DataFrame
    band: pd.DataFrame
    params: tuple[float, float, float] | None
    gain_per_10: float | None
    gain_low: float | None
    gain_high: float | None
    current_size: int
    status: str
    note: str
    level: float
    warnings: tuple[str, ...]

    @property
    def projected(self) -> bool:
        return self.status == "projected"


def _bootstrap_means(curve: pd.DataFrame, points: pd.DataFrame, n_boot: int,
                     rng: np.random.Generator) -> np.ndarray:
    """(n_boot, m) resampled means per size, each widened by its binomial term.

    The binomial term is one standard normal draw per replicate, shared by every size,
    times each size's ``binomial_sd``: all subsamples come from the same N subjects, so
    whether the cohort is easy or hard moves every point the same way.
    """
    means = np.empty((n_boot, len(points)))
    for k, size in enumerate(points["n_subjects"]):
        acc = curve.loc[curve["n_subjects"] == size, "accuracy"].to_numpy(np.float64)
        means[:, k] = acc[rng.integers(0, len(acc), size=(n_boot, len(acc)))].mean(axis=1)
    means += rng.standard_normal((n_boot, 1)) * points["binomial_sd"].to_numpy()[None, :]
    return means


def _refuse(points, sizes, train_size, current, status, note, level, warnings):
    projection = pd.DataFrame({
        "n_subjects": sizes, "n_train": train_size(sizes), "predicted_accuracy": np.nan,
        "low": np.nan, "high": np.nan, "gain_per_10": np.nan, "gain_low": np.nan,
        "gain_high": np.nan, "extrapolated": [s > 2 * current for s in sizes], "note": note})
    band = pd.DataFrame(columns=["n_subjects", "n_train", "fit", "low", "high"])
    return LearningCurveProjection(points=points, projection=projection, band=band,
                                   params=None, gain_per_10=None, gain_low=None,
                                   gain_high=None, current_size=current, status=status,
                                   note=note, level=level, warnings=tuple(warnings))


def project_learning_curve(curve: pd.DataFrame, *, rng: np.random.Generator,
                           project_to: Sequence[int] | None = None, level: float = 0.9,
                           n_boot: int = 1000, alpha: float = 0.05,
                           flat_tolerance: float = 0.01) -> LearningCurveProjection:
    """Fit one learning curve and project it, with bootstrap intervals (module docstring).

    Parameters
    ----------
    curve : DataFrame
        Per-(size, repeat) rows: ``n_subjects, n_train, repeat, accuracy`` and optionally
        ``null_mean, null_std, p_value``.
    rng : numpy.random.Generator
        Drives the bootstrap (pass a seeded one: same seed, same intervals).
    project_to : sequence of int, optional
        Subject counts to project to; default ``N + 10, N + 20, 2N``.
    level : float
        Coverage of the intervals (percentile bootstrap).
    n_boot : int
        Bootstrap replicates.
    alpha : float
        Level of the check against the permutation null at the largest size.
    flat_tolerance : float
        The curve is flat when the fit rises by less than this over the measured sizes.

    Returns
    -------
    LearningCurveProjection
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level}.")
    points = curve_points(curve)
    current = int(points["n_subjects"].iloc[-1])
    sizes = sorted({int(s) for s in (project_to or default_project_to(current))})
    train_size = _train_size(points)
    warnings = []
    tail = (1 - level) / 2
    boot_means = _bootstrap_means(curve, points, n_boot, rng)
    points = points.assign(low=np.quantile(boot_means, tail, axis=0),
                           high=np.quantile(boot_means, 1 - tail, axis=0))

    def refuse(status, note):
        return _refuse(points, sizes, train_size, current, status, note, level, warnings)

    if len(points) < MIN_SIZES:
        return refuse("too_few_sizes", f"No projection: the curve has {len(points)} size(s); "
                      f"at least {MIN_SIZES} are needed to fit and check a three-parameter "
                      "curve.")
    above, stat, kind = _above_null(curve, points, alpha)
    if above is None:
        warnings.append("No permutation test at the largest size: the curve was not checked "
                        "against chance.")
    elif not above:
        shown = f"p = {stat:.2g}" if kind == "p" else f"Z = {stat:.2f}"
        return refuse("not_above_null",
                      f"No projection: at {current} subjects the accuracy "
                      f"({points['mean_accuracy'].iloc[-1]:.2f}) is not above the permutation "
                      f"null ({shown}), so there is no learning to extrapolate.")
    x, y = points["n_train"].to_numpy(), points["mean_accuracy"].to_numpy()
    try:
        fit = fit_power_law(x, y)
    except ValueError as error:
        return refuse("not_identifiable", f"No projection: the power law could not be fitted "
                      f"to these points ({error}).")
    rise = float(fit.predict(x[-1]) - fit.predict(x[0]))
    if rise < flat_tolerance:
        return refuse("flat", f"No projection: the fitted curve rises by only {100 * rise:.1f} "
                      f"points from {int(points['n_subjects'].iloc[0])} to {current} subjects, "
                      "so no gain can be projected from it.")
    if fit.rank < 3:
        return refuse("not_identifiable", "No projection: the power law's parameters are not "
                      "identifiable from these points.")

    params = np.empty((n_boot, 3))
    failed = 0
    for i in range(n_boot):
        try:
            f = fit_power_law(x, boot_means[i])
            params[i] = (f.a, f.b, f.c)
        except ValueError:
            params[i] = np.nan
            failed += 1
    params = params[np.all(np.isfinite(params), axis=1)]
    if len(params) < 0.9 * n_boot:
        return refuse("not_identifiable", f"No projection: the power law could not be refitted "
                      f"in {failed} of {n_boot} bootstrap samples.")

    def predict_all(t):
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        return params[:, [0]] - params[:, [1]] * t[None, :] ** -params[:, [2]]

    def interval(draws):
        return np.quantile(draws, tail, axis=0), np.quantile(draws, 1 - tail, axis=0)

    t_now, t_next = train_size([current, current + 10])
    gain = float(fit.predict(t_next) - fit.predict(t_now))
    gain_draws = predict_all(t_next)[:, 0] - predict_all(t_now)[:, 0]
    gain_low, gain_high = (float(v) for v in interval(gain_draws))
    t_sizes = train_size(sizes)
    low, high = interval(predict_all(t_sizes))
    extrapolated = [s > 2 * current for s in sizes]
    notes = []
    for s, far in zip(sizes, extrapolated):
        if far:
            text = (f"beyond twice the largest measured size ({current}): it rests on the "
                    "fitted curve alone")
            warnings.append(f"The projection to {s} subjects is {text}.")
            notes.append(text)
        else:
            notes.append("")
    projection = pd.DataFrame({
        "n_subjects": sizes, "n_train": t_sizes, "predicted_accuracy": fit.predict(t_sizes),
        "low": low, "high": high, "gain_per_10": gain, "gain_low": gain_low,
        "gain_high": gain_high, "extrapolated": extrapolated, "note": notes})
    grid = np.unique(np.round(np.linspace(points["n_subjects"].iloc[0], max(sizes), 60)))
    band_low, band_high = interval(predict_all(train_size(grid)))
    band = pd.DataFrame({"n_subjects": grid.astype(int), "n_train": train_size(grid),
                         "fit": fit.predict(train_size(grid)), "low": band_low,
                         "high": band_high})
    return LearningCurveProjection(
        points=points, projection=projection, band=band, params=(fit.a, fit.b, fit.c),
        gain_per_10=gain, gain_low=gain_low, gain_high=gain_high, current_size=current,
        status="projected", note="", level=level, warnings=tuple(warnings))
