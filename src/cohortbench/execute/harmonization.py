"""In-fold ComBat harmonization across sites (Fortin et al. 2018 / Johnson et al. 2007).

The model, per feature g and subject j of site i:
``x_jg = alpha_g + c_j @ beta_g + gamma_ig + sqrt(delta_ig) * e_jg``, with c_j the
preserved covariates. Fitting (training rows only):

1. least squares of every feature on ``[site indicators | preserved covariates]``;
   the grand mean ``alpha_g`` is the site-size-weighted mean of the site
   coefficients and the pooled variance the mean squared residual (as neuroCombat);
2. standardize ``s = (x - alpha - c @ beta) / sqrt(var_pooled)``;
3. per site, the location/scale estimates and their empirical-Bayes shrinkage toward
   that site's priors across features: neuroCombat's own functions
   (``fit_LS_model_and_find_priors``, ``find_parametric_adjustments``), the
   reference implementation by the method's authors. Why neuroCombat and not another
   package is written in ``docs/harmonization.md``.

Applying (any rows, training or held-out, of sites seen in training):
``x* = (s - gamma*_i) / sqrt(delta*_i) * sqrt(var_pooled) + alpha + c @ beta``. Everything
used is frozen at fit; a held-out row is transformed with its own covariates and site
only, never with a label.

Site and preserved covariates come from trailing side columns of X (:mod:`.side_columns`);
they are passed through unchanged so that a later :class:`ConfoundRemover` can use and
drop them.

Rules written down here because a study depends on them:

- A site seen in training by one subject only cannot have a scale estimated: as R's
  ``sva::ComBat`` does, the whole fit then adjusts location only (``mean_only_``).
- With a single feature there is no across-feature prior: location/scale are used
  without empirical Bayes (as neuroHarmonize does).
- A site absent from the training rows is refused (:class:`DataError`) unless
  ``unseen_site="fit-unlabeled"``: that site's location/scale are then estimated, with
  the same empirical Bayes, from its own held-out rows standardized by the training
  fit — no labels, but the held-out rows of that site now influence each other
  (transductive). It needs at least 2 held-out subjects of the site.
"""

from __future__ import annotations

from itertools import pairwise
from numbers import Integral

import numpy as np
import pandas as pd
from neuroCombat.neuroCombat import (
    find_parametric_adjustments,
    fit_LS_model_and_find_priors,
)
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import FLOAT_DTYPES, check_is_fitted, validate_data

from .._compat import Interval, StrOptions, fit_context
from ..design.configs import UNSEEN_SITE_RULES
from ..errors import DataError, StudyError
from .confounds import side_indices, split_side

__all__ = [
    "ComBatHarmonizer",
    "UNSEEN_SITE_RULES",
    "check_preserved_covariates",
    "check_batch_sites",
    "check_sites_seen",
]

_EPS = np.finfo(np.float64).eps


class ComBatHarmonizer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """ComBat fitted on training rows and applied to any rows; side columns pass through.

    Parameters
    ----------
    n_side : int, default=1
        Number of trailing side columns of X (at least 1: the site code).
    batch_column : int, default=0
        Side-block column (0 = first side column) holding the site code.
    preserve : sequence of int, default=()
        Side-block columns of covariates whose effects are kept (e.g. age, sex).
        Never the class label or a recoding of it (see
        :func:`check_preserved_covariates`).
    unseen_site : {"error", "fit-unlabeled"}, default="error"
        What a row from a site absent from the training rows gets: an error, or
        that site's parameters estimated from its own rows (transductive).
    site_names : sequence of str or None, default=None
        Site names indexed by code, for messages only.
    eb : bool, default=True
        Empirical-Bayes shrinkage of the site parameters (False: plain location/scale).

    Attributes
    ----------
    n_features_in_ : int
    sites_ : ndarray of float
        Site codes seen in training, sorted.
    n_per_site_ : ndarray of int
    grand_mean_ : ndarray of shape (n_features,)
    var_pooled_ : ndarray of shape (n_features,)
    beta_ : ndarray of shape (n_preserved, n_features)
        Effects of the preserved covariates.
    gamma_star_, delta_star_ : ndarray of shape (n_sites, n_features)
        Location and scale of every training site after shrinkage.
    mean_only_ : bool
        True when a training site had a single subject (scale left at 1).
    """

    _parameter_constraints: dict = {
        "n_side": [Interval(Integral, 1, None, closed="left")],
        "batch_column": [Interval(Integral, 0, None, closed="left")],
        "preserve": ["array-like"],
        "unseen_site": [StrOptions(set(UNSEEN_SITE_RULES))],
        "site_names": [None, "array-like"],
        "eb": ["boolean"],
    }

    def __init__(self, n_side=1, batch_column=0, preserve=(), unseen_site="error",
                 site_names=None, eb=True):
        self.n_side = n_side
        self.batch_column = batch_column
        self.preserve = preserve
        self.unseen_site = unseen_site
        self.site_names = site_names
        self.eb = eb

    def _columns(self):
        batch = side_indices(self, [self.batch_column], "batch_column")
        preserve = side_indices(self, self.preserve, "preserve")
        if batch[0] in preserve:
            raise ValueError("The batch column of ComBatHarmonizer cannot also be preserved.")
        return int(batch[0]), preserve

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Estimate the ComBat model on these (training) rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features + n_side)
        y : ignored
            Labels are never used.

        Returns
        -------
        self : ComBatHarmonizer
        """
        X = validate_data(self, X, dtype=FLOAT_DTYPES, ensure_min_samples=2)
        features, side = split_side(self, X)
        batch_col, preserve = self._columns()
        features = features.astype(np.float64)
        batch, covariates = side[:, batch_col], side[:, preserve].astype(np.float64)
        self.sites_, codes, counts = np.unique(batch, return_inverse=True, return_counts=True)
        self.n_per_site_ = counts
        n_sites = len(self.sites_)
        design = np.hstack([np.eye(n_sites)[codes], covariates])
        coef = np.linalg.lstsq(design, features, rcond=None)[0]
        self.grand_mean_ = (counts / len(features)) @ coef[:n_sites]
        self.beta_ = coef[n_sites:]
        var = np.mean((features - design @ coef) ** 2, axis=0)
        # A (near-)constant feature: scale 1 instead of dividing roundoff by roundoff.
        var[var <= _EPS * np.maximum(1.0, np.mean(features**2, axis=0))] = 1.0
        self.var_pooled_ = var
        standardized = (features - self.grand_mean_ - covariates @ self.beta_) / np.sqrt(var)
        self.mean_only_ = bool(np.any(counts < 2))
        self.gamma_star_, self.delta_star_ = _site_parameters(
            standardized, codes, n_sites, mean_only=self.mean_only_, eb=self.eb)
        return self

    def transform(self, X):
        """Harmonize the feature columns; side columns are returned unchanged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features + n_side)

        Returns
        -------
        ndarray of shape (n_samples, n_features + n_side)

        Raises
        ------
        DataError
            A row from a site unseen in training under ``unseen_site="error"``, or an
            unseen site with a single row under ``"fit-unlabeled"``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=FLOAT_DTYPES, reset=False)
        features, side = split_side(self, X)
        batch_col, preserve = self._columns()
        batch, covariates = side[:, batch_col], side[:, preserve].astype(np.float64)
        stand_mean = self.grand_mean_ + covariates @ self.beta_
        scale = np.sqrt(self.var_pooled_)
        standardized = (features - stand_mean) / scale
        known = np.isin(batch, self.sites_)
        index = np.searchsorted(self.sites_, np.where(known, batch, self.sites_[0]))
        gamma, delta = self.gamma_star_[index], self.delta_star_[index]
        if not known.all():
            gamma, delta = gamma.copy(), delta.copy()
            for site in np.unique(batch[~known]):
                rows = batch == site
                gamma[rows], delta[rows] = self._unseen_site(site, standardized[rows])
        out = np.array(X, dtype=np.float64, copy=True)
        out[:, : features.shape[1]] = (standardized - gamma) / np.sqrt(delta) * scale + stand_mean
        return out

    def _unseen_site(self, site: float, standardized: np.ndarray):
        name = self._site_name(site)
        if self.unseen_site == "error":
            raise DataError(
                f"Site {name} of a held-out subject has no subject in the training rows, so "
                "ComBat cannot harmonize it: use folds that keep every site in training, or "
                "set harmonize.unseen_site: fit-unlabeled (transductive)."
            )
        if len(standardized) < 2:
            raise DataError(
                f"Site {name} is unseen in training and has a single held-out subject, too "
                "few to estimate its site effect even with unseen_site: fit-unlabeled; "
                "merge the site with another or leave its subjects out."
            )
        gamma, delta = _site_parameters(standardized, np.zeros(len(standardized), dtype=int),
                                        1, mean_only=False, eb=self.eb)
        return gamma[0], delta[0]

    def _site_name(self, site: float) -> str:
        names = self.site_names
        if names is not None and float(site).is_integer() and 0 <= int(site) < len(names):
            return repr(str(names[int(site)]))
        return f"code {site:g}"


def _site_parameters(standardized: np.ndarray, codes: np.ndarray, n_sites: int, *,
                     mean_only: bool, eb: bool) -> tuple[np.ndarray, np.ndarray]:
    """Location/scale of every site from standardized data, with or without EB shrinkage.

    neuroCombat works on (features, samples) matrices and an ``info_dict``; only the
    entries its two functions read are built here.
    """
    info = {"n_batch": n_sites, "ref_level": None,
            "batch_info": [list(np.flatnonzero(codes == i)) for i in range(n_sites)]}
    design = np.eye(n_sites)[codes]
    s_data = standardized.T
    if eb and standardized.shape[1] >= 2:
        with np.errstate(divide="ignore", invalid="ignore"):
            priors = fit_LS_model_and_find_priors(s_data, design, info, mean_only)
            gamma, delta = find_parametric_adjustments(s_data, priors, info, mean_only)
        gamma, delta = np.asarray(gamma, dtype=np.float64), np.asarray(delta, dtype=np.float64)
        # Degenerate priors (e.g. a site whose scale estimates are all equal) give
        # non-finite posteriors: that site keeps its plain location/scale estimates.
        bad = ~(np.isfinite(gamma).all(axis=1) & np.isfinite(delta).all(axis=1))
        if not bad.any():
            return gamma, delta
        plain_gamma, plain_delta = _site_parameters(standardized, codes, n_sites,
                                                    mean_only=mean_only, eb=False)
        gamma[bad], delta[bad] = plain_gamma[bad], plain_delta[bad]
        return gamma, delta
    gamma = np.vstack([standardized[codes == i].mean(axis=0) for i in range(n_sites)])
    if mean_only:
        return gamma, np.ones_like(gamma)
    delta = np.vstack([standardized[codes == i].var(axis=0, ddof=1) for i in range(n_sites)])
    delta[delta == 0] = 1.0          # as neuroCombat's convert_zeroes
    return gamma, delta


# ---------------------------------------------------------------------------------------
# Checks the study runs before any fit (one sentence each).


def check_preserved_covariates(covariates_frame: pd.DataFrame, labels, task: str = "the task",
                               key: str = "harmonize.preserve") -> None:
    """Refuse a preserved covariate that recodes the class label.

    Preserving the label (or a recoding of it) in ComBat needs the held-out subjects'
    labels at transform time: it leaks them (Nieto et al. 2024). A covariate counts as
    a recoding when it is not constant and either is constant within every class (the
    label, a renaming of it, or a merge of its classes such as ``group`` in a 3-class
    task), or, if numeric, takes value ranges that do not overlap between classes (a
    score the label was cut from).

    Parameters
    ----------
    covariates_frame : DataFrame
        The preserved covariates, one row per subject (same order as ``labels``).
    labels : array-like
        Class of every subject.
    task : str
        Task name, for the message.
    key : str
        Study key, for the message.

    Raises
    ------
    StudyError
    """
    labels = np.asarray(labels)
    classes = np.unique(labels)
    if len(labels) != len(covariates_frame):
        raise ValueError(f"{len(labels)} labels but {len(covariates_frame)} covariate rows.")
    for name in covariates_frame.columns:
        series = covariates_frame[name]
        values = series.astype(str).to_numpy()
        if len(np.unique(values)) < 2 or len(classes) < 2:
            continue
        within = all(len(np.unique(values[labels == c])) == 1 for c in classes)
        separated = False
        if not within and pd.api.types.is_numeric_dtype(series) \
                and not pd.api.types.is_bool_dtype(series):
            numbers = series.to_numpy(dtype=np.float64)
            ranges = sorted((numbers[labels == c].min(), numbers[labels == c].max())
                            for c in classes)
            separated = all(hi < lo for (_, hi), (lo, _) in pairwise(ranges))
        if within or separated:
            how = "is constant within each class" if within else "separates the classes"
            raise StudyError(
                f"{key}: covariate {name!r} {how} of {task}, so it recodes the label and "
                "preserving it would leak held-out labels; remove it from harmonize.preserve."
            )


def check_batch_sites(sites, column: str = "the batch column") -> None:
    """Refuse a batch column with fewer than two sites (nothing to harmonize).

    Raises
    ------
    DataError
    """
    values = pd.Series(np.asarray(sites, dtype=object))
    if values.isna().any():
        raise DataError(
            f"{column} is empty for {int(values.isna().sum())} subject(s): every subject "
            "needs a site; fill it in or drop those subjects."
        )
    names = [str(name) for name in np.unique(values.astype(str))]
    if len(names) < 2:
        which = f"the single site {names[0]!r}" if names else "no site"
        raise DataError(
            f"{column} holds {which} for every subject of the task: there is nothing to "
            "harmonize or leave out; remove the batch setting or add subjects of other sites."
        )


def check_sites_seen(sites, folds, unseen_site: str = "error",
                     column: str = "the batch column") -> None:
    """Refuse folds whose test rows come from a site absent from their training rows.

    Under ``unseen_site="fit-unlabeled"`` such a site is allowed when the fold holds
    at least two of its subjects out.

    Raises
    ------
    DataError
    """
    sites = np.asarray(sites).astype(str)
    for number, (train, test) in enumerate(folds):
        seen = set(sites[np.asarray(train)])
        held = sites[np.asarray(test)]
        for site in map(str, np.unique(held)):
            if site in seen:
                continue
            if unseen_site == "error":
                raise DataError(
                    f"Outer fold {number} tests site {site!r} ({column}) with none of its "
                    "subjects in training, so ComBat cannot harmonize it: use another "
                    "cv.outer or set harmonize.unseen_site: fit-unlabeled (transductive)."
                )
            if int(np.sum(held == site)) < 2:
                raise DataError(
                    f"Outer fold {number} tests a single subject of site {site!r}, unseen in "
                    "training: fit-unlabeled needs at least 2 of its subjects held out "
                    "together; use cv.outer: leave-site-out or merge the site."
                )
