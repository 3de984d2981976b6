"""In-fold confound removal: residualize every feature on covariates (SPEC section 3).

Per feature, a linear regression with intercept on the chosen covariates is fitted on
the training rows only (:class:`~sklearn.linear_model.LinearRegression`, one
multi-output fit) and its prediction is subtracted from training and held-out rows
alike. Held-out rows are never seen by the fit, and the labels never are.

The covariates arrive as trailing side columns of X (see :mod:`.side_columns`); this
step consumes them and returns the feature columns only, so every later step sees
features only. With no covariates it only drops the side columns (no centring), which
is how a pipeline with side data but no ``confounds:`` ends its side block.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.linear_model import LinearRegression
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import (
    FLOAT_DTYPES,
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

__all__ = ["ConfoundRemover", "split_side"]


def split_side(estimator, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split X into (features, side block) for an estimator with an ``n_side`` parameter.

    Raises
    ------
    ValueError
        When X has no feature column left before the side block.
    """
    n_features = X.shape[1] - estimator.n_side
    if n_features < 1:
        raise ValueError(
            f"{type(estimator).__name__} needs at least 1 feature column before its "
            f"n_side={estimator.n_side} side columns; X has {X.shape[1]} feature(s)."
        )
    return X[:, :n_features], X[:, n_features:]


def side_indices(estimator, columns, name: str) -> np.ndarray:
    """Validate side-block column indices (relative to the side block) as an int array."""
    idx = np.asarray(columns if columns is not None else (), dtype=object).ravel()
    if not all(isinstance(i, Integral) and not isinstance(i, bool) for i in idx):
        raise ValueError(f"{name} of {type(estimator).__name__} must be integers; got {columns!r}.")
    idx = idx.astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= estimator.n_side):
        raise ValueError(
            f"{name} of {type(estimator).__name__} must index the side block "
            f"[0, {estimator.n_side}); got {columns!r}."
        )
    if len(set(idx.tolist())) != idx.size:
        raise ValueError(f"{name} of {type(estimator).__name__} repeats a column: {columns!r}.")
    return idx


class ConfoundRemover(TransformerMixin, BaseEstimator):
    """Residualize features on covariates carried in trailing side columns, then drop them.

    Parameters
    ----------
    n_side : int, default=0
        Number of trailing side columns of X (covariates, site code). They are
        removed from the output.
    covariate_columns : sequence of int, default=()
        Side-block columns (0 = first side column) regressed out of every feature.
        Empty: the features are returned unchanged, only the side columns are dropped.

    Attributes
    ----------
    n_features_in_ : int
        Width of X in ``fit`` (features + side columns).
    n_features_out_ : int
        Number of feature columns returned.
    regression_ : LinearRegression or None
        The per-feature regressions (``coef_`` of shape (n_features_out_, k),
        ``intercept_`` of shape (n_features_out_,)), fitted on the training rows;
        None without covariates.

    Notes
    -----
    The residual keeps nothing of the fitted intercept, so on the training rows
    every feature has mean 0 after this step. NaN is refused: impute before.
    """

    _parameter_constraints: dict = {
        "n_side": [Interval(Integral, 0, None, closed="left")],
        "covariate_columns": ["array-like"],
    }

    def __init__(self, n_side=0, covariate_columns=()):
        self.n_side = n_side
        self.covariate_columns = covariate_columns

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the regressions of every feature on the covariates (training rows only).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features + n_side)
        y : ignored
            Labels are never used.

        Returns
        -------
        self : ConfoundRemover
        """
        X = validate_data(self, X, dtype=FLOAT_DTYPES)
        features, side = split_side(self, X)
        columns = side_indices(self, self.covariate_columns, "covariate_columns")
        self.n_features_out_ = features.shape[1]
        self.regression_ = (LinearRegression().fit(side[:, columns], features)
                            if columns.size else None)
        return self

    def transform(self, X):
        """Residuals of the features; the side columns are dropped.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features + n_side)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=FLOAT_DTYPES, reset=False)
        features, side = split_side(self, X)
        if self.regression_ is None:
            return features.copy()
        columns = side_indices(self, self.covariate_columns, "covariate_columns")
        return features - self.regression_.predict(side[:, columns])

    def get_feature_names_out(self, input_features=None):
        """The feature names (the side columns are not output)."""
        check_is_fitted(self)
        names = _check_feature_names_in(self, input_features)
        return np.asarray(names[: self.n_features_out_], dtype=object)
