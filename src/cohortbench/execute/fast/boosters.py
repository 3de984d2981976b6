"""XGBoost and LightGBM fits equal to the plain estimators', sharing their binned data.

- ``XGBClassifier``: the ``QuantileDMatrix`` (cuts and bins; no labels involved
  without weights) is built once and relabelled with ``set_label``; ``xgb.train``
  and the estimator's own ``predict`` do the rest.
- ``LGBMClassifier``: the binned ``Dataset`` is built once per set of
  dataset-relevant parameters (``min_child_samples`` is one: LightGBM pre-filters
  unsplittable features with it) and relabelled with ``set_label``, as LightGBM's
  maintainers advise for the same features with other targets (issue #6311).

Both boosters spend most of a fit in their C++ split search, so their gain is the
construction only. The libraries' internals used are reached through
:mod:`cohortbench._compat` and checked by ``tests/execute/fast/test_ensembles.py``
against the versions in :data:`cohortbench._compat.TESTED_VERSIONS`; elsewhere the
shared data is switched off (:func:`xgb_off`, :func:`lgbm_off`) and the plain
estimator is fitted.
"""

from __future__ import annotations

import copy

import numpy as np
from sklearn.base import clone

from ..._compat import (
    LGBM_SHARED,
    XGB_SHARED,
    lgbm_fit_params,
    lgbm_predict_params,
    lightgbm_internals,
    off_reason,
    set_xgb_booster,
    xgboost_internals,
)
from .shared_matrices import SharedMatrices, is_int, plain_fit_predict

__all__ = ["xgb_off", "lgbm_off", "booster_class", "covers_xgb", "covers_lgbm",
           "xgb_fit_predict", "lgbm_fit_predict"]

# Loaded on first use (importing XGBoost and LightGBM takes a while); None = switched off.
_LOADERS = {"xgb": xgboost_internals, "lgbm": lightgbm_internals}
_APIS: dict = {}


def _api(kind: str):
    if kind not in _APIS:
        _APIS[kind] = _LOADERS[kind]()
    return _APIS[kind]


def xgb_off() -> str | None:
    """Why XGBoost's shared data is off here (switched off), or None when it is used."""
    return off_reason(XGB_SHARED, _api("xgb") is not None)


def lgbm_off() -> str | None:
    """Why LightGBM's shared data is off here (switched off), or None when it is used."""
    return off_reason(LGBM_SHARED, _api("lgbm") is not None)


def booster_class(kind: str):
    """``XGBClassifier`` (``"xgb"``) or ``LGBMClassifier`` (``"lgbm"``) while on, else None."""
    api = _api(kind)
    return None if api is None else api["cls"]


def covers_xgb(estimator) -> bool:
    """True when :func:`xgb_fit_predict` reproduces this exact ``XGBClassifier``."""
    params = estimator.get_params()
    allowed = _api("xgb")["allowed"]
    return (set(params) <= allowed and params["objective"] == "binary:logistic"
            and params["booster"] in (None, "gbtree") and params["tree_method"] in (None, "hist")
            and params["device"] in (None, "cpu") and params["n_jobs"] == 1
            and is_int(params["random_state"]) and params["eval_metric"] is None
            and params["callbacks"] is None and params["early_stopping_rounds"] is None
            and params["enable_categorical"] is False and params["feature_types"] is None
            and params["feature_weights"] is None)


def covers_lgbm(estimator) -> bool:
    """True when :func:`lgbm_fit_predict` reproduces this exact ``LGBMClassifier``."""
    params = estimator.get_params()
    allowed = _api("lgbm")["allowed"]
    verbose = params.get("verbose", None)
    return (set(params) <= allowed and is_int(verbose) and verbose < 0
            and params["objective"] is None and params["class_weight"] is None
            and params["boosting_type"] == "gbdt" and params["n_jobs"] == 1
            and is_int(params["random_state"]))


def xgb_fit_predict(estimator, shared: SharedMatrices, y_train) -> np.ndarray:
    """A :func:`covers_xgb` estimator's predicted codes, sharing ``shared``'s binned data."""
    classes = np.unique(y_train)
    n_classes = len(classes)
    if n_classes < 2 or not np.array_equal(classes, np.arange(n_classes)):
        # XGBClassifier's own error or behaviour.
        return plain_fit_predict(estimator, shared, y_train)
    return np.asarray(_xgb_fitted(estimator, shared, y_train).predict(shared.test),
                      dtype=np.int64)


def _xgb_fitted(estimator, shared: SharedMatrices, y_train):
    """A clone of ``estimator`` fitted as ``XGBClassifier.fit`` would, on the shared matrix."""
    n_classes = len(np.unique(y_train))
    xgb = _api("xgb")["module"]
    model = clone(estimator)
    with xgb.config_context(verbosity=model.verbosity):
        # As XGBClassifier.fit: parameters, objective switch, then train.
        model.n_classes_ = n_classes
        params = model.get_xgb_params()
        if n_classes > 2:
            params["objective"] = "multi:softprob"
            params["num_class"] = n_classes
        missing = model.missing
        key = ("xgb", "nan" if missing is None or np.isnan(missing) else float(missing),
               model.max_bin, model.n_jobs)
        dtrain = shared.built(key, lambda: xgb.QuantileDMatrix(
            data=shared.train, label=None, missing=missing, enable_categorical=False,
            feature_types=None, ref=None, nthread=model.n_jobs, max_bin=model.max_bin))
        dtrain.set_label(y_train)
        set_xgb_booster(model, xgb.train(
            params, dtrain, model.get_num_boosting_rounds(), evals=[],
            early_stopping_rounds=None, evals_result={}, obj=None, custom_metric=None,
            verbose_eval=True, xgb_model=None, callbacks=None))
        model.objective = params["objective"]
    return model


# Parameters that only steer training: a Dataset built under one value serves all
# (checked by the tests by comparing model strings with plain fits).
_LGBM_TRAINING_ONLY = frozenset({"objective", "num_class", "metric", "max_depth"})


def lgbm_fit_predict(estimator, shared: SharedMatrices, y_train) -> np.ndarray:
    """A :func:`covers_lgbm` estimator's predicted codes, sharing ``shared``'s ``Dataset``."""
    classes = np.unique(y_train)
    if len(classes) < 2:
        return plain_fit_predict(estimator, shared, y_train)
    model, booster = _lgbm_fitted(estimator, shared, y_train)
    # As LGBMModel.predict and LGBMClassifier.predict_proba / predict.
    predict_params = lgbm_predict_params(model, _api("lgbm"))
    result = booster.predict(shared.test, raw_score=False, start_iteration=0, num_iteration=None,
                             pred_leaf=False, pred_contrib=False, validate_features=False,
                             **predict_params)
    if len(classes) == 2:
        result = np.vstack((1.0 - result, result)).transpose()
    return np.asarray(classes.take(np.argmax(result, axis=1)), dtype=np.int64)


def _lgbm_fitted(estimator, shared: SharedMatrices, y_train):
    """``(model, booster)``: the parameters and booster ``LGBMClassifier.fit`` would make."""
    classes, codes = np.unique(y_train, return_inverse=True)
    api = _api("lgbm")
    lgb = api["module"]
    model = clone(estimator)
    # As LGBMClassifier.fit / LGBMModel.fit (label-encoded y, no eval_metric).
    params = lgbm_fit_params(model, len(classes))
    metric = params["metric"]
    params["metric"] = [m for m in ([metric] if isinstance(metric, (str, type(None)))
                                    else metric) if m is not None]
    key = ("lgbm",) + tuple(sorted((k, repr(v)) for k, v in params.items()
                                   if k not in _LGBM_TRAINING_ONLY))

    def make():
        dataset = lgb.Dataset(shared.train, label=codes, params=copy.deepcopy(params))
        return dataset.construct()

    dataset = shared.built(key, make)
    dataset.set_label(codes)
    booster = lgb.train(params=params, train_set=dataset, num_boost_round=model.n_estimators,
                        valid_sets=[], valid_names=None, feval=[], init_model=None,
                        callbacks=[api["record"]({})])
    return model, booster
