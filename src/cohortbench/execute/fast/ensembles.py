"""Random forest, XGBoost and LightGBM fits equal to the plain estimators, faster.

The fast engine fits the same small (train, test) matrices with many label vectors
and hyperparameter settings; the label-free work of each fit is done once
(:class:`SharedMatrices`) and each library's fit is reproduced by :mod:`.forests`
(``RandomForestClassifier``) or :mod:`.boosters` (``XGBClassifier``,
``LGBMClassifier``). This module picks the path for an estimator: :func:`covers`
says whether one applies, :func:`fit_predict` fits through it or plainly.
``MLPClassifier`` is trained in stacks by :mod:`.mlp_batch`.
"""

from __future__ import annotations

import numpy as np

from ..._compat import ENSEMBLE_CLASSES
from . import boosters, forests
from .shared_matrices import SharedMatrices, plain_fit_predict

__all__ = ["SharedMatrices", "covers", "fit_predict", "ensemble_kind"]

_COVERS = {"forest": forests.covers_forest, "xgb": boosters.covers_xgb,
           "lgbm": boosters.covers_lgbm}
_FIT_PREDICT = {"forest": forests.forest_fit_predict, "xgb": boosters.xgb_fit_predict,
                "lgbm": boosters.lgbm_fit_predict}


def ensemble_kind(estimator) -> str | None:
    """``"forest"``, ``"xgb"`` or ``"lgbm"`` for an exact ensemble class (not a subclass).

    Recognised by name, so that neither XGBoost nor LightGBM is imported for
    other estimators.
    """
    cls = type(estimator)
    return ENSEMBLE_CLASSES.get((cls.__module__, cls.__name__))


def _kind(estimator) -> str | None:
    """Which fast path reproduces ``estimator``'s exact type, if it is on."""
    kind = ensemble_kind(estimator)
    if kind is None:
        return None
    cls = forests.forest_class() if kind == "forest" else boosters.booster_class(kind)
    return kind if cls is not None and type(estimator) is cls else None


def covers(estimator) -> bool:
    """True when :func:`fit_predict` reproduces ``estimator`` through a shared path.

    Parameters
    ----------
    estimator : object
        An unfitted estimator.

    Returns
    -------
    bool
        True for an exact ``RandomForestClassifier``, ``XGBClassifier`` or
        ``LGBMClassifier`` (not a subclass) with ``n_jobs=1``, an integer
        ``random_state`` and otherwise supported parameters, while its path is on
        (tested library versions). Otherwise the caller should fit the
        estimator itself (:func:`fit_predict` would, too).
    """
    kind = _kind(estimator)
    if kind is None:
        return False
    try:
        return bool(_COVERS[kind](estimator))
    except Exception:  # any surprise means: not reproduced here
        return False


def fit_predict(estimator, shared: SharedMatrices, y_train: np.ndarray) -> np.ndarray:
    """``estimator.fit(shared.train, y_train).predict(shared.test)``, sharing work.

    Parameters
    ----------
    estimator : object
        An unfitted estimator; it is not modified. One that :func:`covers`
        rejects, or a label vector outside the fast path (a single class;
        XGBoost labels that are not ``0..K-1``; non-finite data for a forest), is
        fitted plainly, with the plain estimator's errors and warnings.
    shared : SharedMatrices
    y_train : ndarray of shape (n_train,)
        Integer class codes; any subset of codes may be present.

    Returns
    -------
    ndarray of shape (n_test,), int64
        The predicted class codes.
    """
    y_train = np.asarray(y_train)
    if not covers(estimator):
        return plain_fit_predict(estimator, shared, y_train)
    return _FIT_PREDICT[_kind(estimator)](estimator, shared, y_train)
