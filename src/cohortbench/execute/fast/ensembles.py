"""Random forest, XGBoost and LightGBM fits equal to the plain estimators, faster.

The fast engine fits the same small (train, test) matrices with many label vectors
and hyperparameter settings; the label-free work of each fit is done once here:

- ``RandomForestClassifier``: most of a small forest's time is per-tree overhead
  (cloning, parameter introspection, two ``RandomState``s, joblib). Each tree is
  grown by scikit-learn's own Cython criterion, splitter, ``Tree`` and
  ``DepthFirstTreeBuilder``, set up as ``DecisionTreeClassifier._fit`` sets them
  up, from the random streams ``BaseForest.fit`` uses (tree seeds
  ``RandomState(random_state).randint(MAX_INT)``; bootstrap counts from
  ``RandomState(seed).randint(0, n, n)``; the splitter's one draw from a fresh
  ``RandomState(seed)``), cached per ``(random_state, n)``. Probabilities are
  summed tree by tree and divided by the number of trees, as ``predict_proba``
  does with ``n_jobs=1``.
- ``XGBClassifier``: the ``QuantileDMatrix`` (cuts and bins; no labels involved
  without weights) is built once and relabelled with ``set_label``; ``xgb.train``
  and the estimator's own ``predict`` do the rest.
- ``LGBMClassifier``: the binned ``Dataset`` is built once per set of
  dataset-relevant parameters (``min_child_samples`` is one: LightGBM pre-filters
  unsplittable features with it) and relabelled with ``set_label``, as LightGBM's
  maintainers advise for the same features with other targets (issue #6311).

Both boosters spend most of a fit in their C++ split search, so their gain is the
construction only. ``MLPClassifier`` is trained in stacks by :mod:`.mlp_batch`.

The paths use library internals checked by ``tests/execute/fast/test_ensembles.py``
against the versions in ``_sklearn_compat.TESTED_VERSIONS``; elsewhere :func:`covers` is False and
the plain estimator is fitted. Not thread-safe: one :class:`SharedMatrices` per thread.
"""

from __future__ import annotations

import copy
import inspect
import math
import numbers

import numpy as np
from sklearn.base import clone

from ._sklearn_compat import tested_version

__all__ = ["SharedMatrices", "covers", "fit_predict"]

_MAX_INT = np.iinfo(np.int32).max
_RAND_R_MAX = 2147483647  # sklearn/tree/_utils.pxd: the splitter's randint bound
_STREAM_CACHE_SIZE = 64


_version_ok = tested_version


def _load_forest_api():
    """scikit-learn's tree-building internals, or None where untested/missing."""
    if not _version_ok("sklearn"):
        return None
    try:
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.tree._classes import CRITERIA_CLF, DENSE_SPLITTERS
        from sklearn.tree._tree import DepthFirstTreeBuilder, Tree
    except ImportError:  # pragma: no cover - depends on the installed scikit-learn
        return None
    return {"cls": RandomForestClassifier, "criteria": CRITERIA_CLF,
            "splitter": DENSE_SPLITTERS["best"], "tree": Tree, "builder": DepthFirstTreeBuilder}


def _load_xgb_api():
    if not _version_ok("xgboost"):
        return None
    import xgboost

    allowed = set(inspect.signature(xgboost.XGBModel.__init__).parameters) - {"self", "kwargs"}
    return {"module": xgboost, "cls": xgboost.XGBClassifier, "allowed": allowed}


def _load_lgbm_api():
    if not _version_ok("lightgbm"):
        return None
    try:
        import lightgbm
        from lightgbm.basic import _choose_param_value, _ConfigAliases
        from lightgbm.callback import record_evaluation
    except ImportError:  # pragma: no cover - depends on the installed LightGBM
        return None
    allowed = (set(inspect.signature(lightgbm.LGBMClassifier.__init__).parameters)
               - {"self", "kwargs"}) | {"verbose"}
    return {"module": lightgbm, "cls": lightgbm.LGBMClassifier, "allowed": allowed,
            "choose": _choose_param_value, "aliases": _ConfigAliases,
            "record": record_evaluation}


# Loaded on first use (importing XGBoost and LightGBM takes a while); None = unavailable.
_LOADERS = {"forest": _load_forest_api, "xgb": _load_xgb_api, "lgbm": _load_lgbm_api}
_CLASSES = {("sklearn.ensemble._forest", "RandomForestClassifier"): "forest",
            ("xgboost.sklearn", "XGBClassifier"): "xgb",
            ("lightgbm.sklearn", "LGBMClassifier"): "lgbm"}
_APIS: dict = {}


def _api(kind: str):
    if kind not in _APIS:
        _APIS[kind] = _LOADERS[kind]()
    return _APIS[kind]


# --------------------------------------------------------------------------- coverage
def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _covers_forest(params: dict) -> bool:
    return (params["n_jobs"] == 1 and _is_int(params["random_state"])
            and params["bootstrap"] is True and params["oob_score"] is False
            and params["warm_start"] is False and params["class_weight"] is None
            and params["max_leaf_nodes"] is None and params["ccp_alpha"] == 0.0
            and params["max_samples"] is None and params["monotonic_cst"] is None
            and params["verbose"] == 0)


def _covers_xgb(params: dict, allowed: set) -> bool:
    return (set(params) <= allowed and params["objective"] == "binary:logistic"
            and params["booster"] in (None, "gbtree") and params["tree_method"] in (None, "hist")
            and params["device"] in (None, "cpu") and params["n_jobs"] == 1
            and _is_int(params["random_state"]) and params["eval_metric"] is None
            and params["callbacks"] is None and params["early_stopping_rounds"] is None
            and params["enable_categorical"] is False and params["feature_types"] is None
            and params["feature_weights"] is None)


def _covers_lgbm(params: dict, allowed: set) -> bool:
    verbose = params.get("verbose", None)
    return (set(params) <= allowed and _is_int(verbose) and verbose < 0
            and params["objective"] is None and params["class_weight"] is None
            and params["boosting_type"] == "gbdt" and params["n_jobs"] == 1
            and _is_int(params["random_state"]))


def _kind(estimator) -> str | None:
    """Which fast path reproduces ``estimator``'s exact type, if one is available."""
    cls = type(estimator)
    kind = _CLASSES.get((cls.__module__, cls.__name__))
    api = None if kind is None else _api(kind)
    return kind if api is not None and cls is api["cls"] else None


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
        ``random_state`` and otherwise supported parameters, on library versions
        this module was tested with. Otherwise the caller should fit the
        estimator itself (:func:`fit_predict` would, too).
    """
    kind = _kind(estimator)
    if kind is None:
        return False
    try:
        params = estimator.get_params()
        if kind == "forest":
            estimator._validate_params()  # invalid values: let the plain fit raise its error
            return _covers_forest(params)
        if kind == "xgb":
            return _covers_xgb(params, _api("xgb")["allowed"])
        return _covers_lgbm(params, _api("lgbm")["allowed"])
    except Exception:  # any surprise means: not reproduced here
        return False


# --------------------------------------------------------------------------- shared data
class SharedMatrices:
    """Label-free work for one (train, test) pair, shared by every fit on it.

    Parameters
    ----------
    train : ndarray of shape (n_train, n_features)
    test : ndarray of shape (n_test, n_features)
        The matrices exactly as the estimator would receive them. They are kept
        by reference and must not be modified afterwards.

    Notes
    -----
    Construction is free; each library's representation (float32 copies for
    trees, XGBoost's ``QuantileDMatrix``, LightGBM's ``Dataset``) is built on
    first use.
    """

    def __init__(self, train: np.ndarray, test: np.ndarray):
        self.train = np.asarray(train)
        self.test = np.asarray(test)
        self._forest = None
        self._built: dict = {}

    def forest_inputs(self):
        """``(train, test)`` as float32 for the tree builder, or None if not finite."""
        if self._forest is None:
            train = np.asfortranarray(self.train, dtype=np.float32)
            test = np.ascontiguousarray(self.test, dtype=np.float32)
            finite = bool(np.isfinite(train).all() and np.isfinite(test).all())
            self._forest = (train, test) if finite else False
        return self._forest or None

    def built(self, key: tuple, make):
        """The object cached under ``key`` (a library's matrix), made by ``make()`` once."""
        if key not in self._built:
            self._built[key] = make()
        return self._built[key]


def _plain(estimator, shared: SharedMatrices, y_train) -> np.ndarray:
    predicted = clone(estimator).fit(shared.train, y_train).predict(shared.test)
    return np.asarray(predicted, dtype=np.int64)


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
        return _plain(estimator, shared, y_train)
    kind = _kind(estimator)
    if kind == "forest":
        return _forest_fit_predict(estimator, shared, y_train)
    if kind == "xgb":
        return _xgb_fit_predict(estimator, shared, y_train)
    return _lgbm_fit_predict(estimator, shared, y_train)


# --------------------------------------------------------------------------- random forest
class _FirstDrawCached:
    """``RandomState(seed)`` whose first ``randint(0, RAND_R_MAX)`` comes from a cache.

    The splitter draws once (its ``rand_r_state``); any other use switches to the
    real generator, advanced past the cached draw, so the stream stays the same.
    """

    __slots__ = ("_seed", "_first", "_used", "_real")

    def __init__(self, seed: int, first: int):
        self._seed, self._first, self._used, self._real = seed, first, False, None

    def randint(self, *args, **kwargs):
        if self._real is None and not self._used and args == (0, _RAND_R_MAX) and not kwargs:
            self._used = True
            return self._first
        return self.__getattr__("randint")(*args, **kwargs)

    def __getattr__(self, name):
        if self._real is None:
            self._real = np.random.RandomState(self._seed)
            if self._used:
                self._real.randint(0, _RAND_R_MAX)
        return getattr(self._real, name)


_STREAMS: dict = {}


def _tree_streams(random_state: int, n_samples: int, n_trees: int) -> list:
    """Per tree: (seed, bootstrap counts as float64, splitter's first draw).

    Exactly what ``BaseForest.fit`` (``_set_random_states``) and
    ``_parallel_build_trees`` (``_generate_sample_indices``) draw, for the first
    ``n_trees`` trees; cached because it depends on neither labels nor data.
    """
    key = (int(random_state), n_samples)
    entries = _STREAMS.get(key)
    if entries is None or len(entries) < n_trees:
        if entries is None and len(_STREAMS) >= _STREAM_CACHE_SIZE:
            _STREAMS.pop(next(iter(_STREAMS)))
        master = np.random.RandomState(random_state)
        entries = []
        for _ in range(n_trees):
            seed = master.randint(_MAX_INT)
            indices = np.random.RandomState(seed).randint(0, n_samples, n_samples)
            counts = np.bincount(indices.astype(np.int32), minlength=n_samples)
            entries.append((seed, np.ascontiguousarray(counts, dtype=np.float64),
                            np.random.RandomState(seed).randint(0, _RAND_R_MAX)))
        _STREAMS[key] = entries
    return entries[:n_trees]


def _forest_settings(params: dict, n_samples: int, n_features: int) -> dict:
    """The builder settings ``DecisionTreeClassifier._fit`` derives from its parameters."""
    leaf = params["min_samples_leaf"]
    min_samples_leaf = leaf if _is_int(leaf) else math.ceil(leaf * n_samples)
    split = params["min_samples_split"]
    if _is_int(split):
        min_samples_split = split
    else:
        min_samples_split = max(2, math.ceil(split * n_samples))
    min_samples_split = max(min_samples_split, 2 * min_samples_leaf)
    max_features = params["max_features"]
    if max_features == "sqrt":
        max_features = max(1, int(np.sqrt(n_features)))
    elif max_features == "log2":
        max_features = max(1, int(np.log2(n_features)))
    elif max_features is None:
        max_features = n_features
    elif not _is_int(max_features):
        max_features = max(1, int(max_features * n_features)) if max_features > 0.0 else 0
    return {"min_samples_leaf": min_samples_leaf, "min_samples_split": min_samples_split,
            "max_features": max_features,
            "max_depth": _MAX_INT if params["max_depth"] is None else params["max_depth"]}


def _forest_fit_predict(estimator, shared: SharedMatrices, y_train) -> np.ndarray:
    inputs = shared.forest_inputs()
    if inputs is None:
        return _plain(estimator, shared, y_train)
    classes, proba = _forest_proba(estimator, inputs, y_train)
    return np.asarray(classes.take(np.argmax(proba, axis=1)), dtype=np.int64)


def _forest_proba(estimator, inputs, y_train):
    """``(classes_, predict_proba(test))`` of the forest ``estimator.fit`` would grow."""
    api = _api("forest")
    train, test = inputs
    n_samples, n_features = train.shape
    params = estimator.get_params()
    classes, codes = np.unique(y_train, return_inverse=True)
    n_classes = np.array([len(classes)], dtype=np.intp)
    y = np.ascontiguousarray(codes.reshape(-1, 1), dtype=np.float64)
    s = _forest_settings(params, n_samples, n_features)
    criterion_cls = api["criteria"][params["criterion"]]
    splitter_cls, tree_cls, builder_cls = api["splitter"], api["tree"], api["builder"]
    total = np.zeros((len(test), len(classes)), dtype=np.float64)
    streams = _tree_streams(params["random_state"], n_samples, params["n_estimators"])
    for seed, counts, first_draw in streams:
        # With bootstrap the counts are the sample weights: min_weight_leaf as in _fit.
        min_weight_leaf = params["min_weight_fraction_leaf"] * np.sum(counts)
        splitter = splitter_cls(criterion_cls(1, n_classes), s["max_features"],
                                s["min_samples_leaf"], min_weight_leaf,
                                _FirstDrawCached(seed, first_draw), None)
        tree = tree_cls(n_features, n_classes, 1)
        builder_cls(splitter, s["min_samples_split"], s["min_samples_leaf"], min_weight_leaf,
                    s["max_depth"], params["min_impurity_decrease"]).build(
            tree, train, y, counts, None)
        total += tree.predict(test)[:, :len(classes)]
    total /= len(streams)
    return classes, total


# --------------------------------------------------------------------------- XGBoost
def _xgb_fit_predict(estimator, shared: SharedMatrices, y_train) -> np.ndarray:
    classes = np.unique(y_train)
    n_classes = len(classes)
    if n_classes < 2 or not np.array_equal(classes, np.arange(n_classes)):
        return _plain(estimator, shared, y_train)  # XGBClassifier's own error/behaviour
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
        model._Booster = xgb.train(
            params, dtrain, model.get_num_boosting_rounds(), evals=[],
            early_stopping_rounds=None, evals_result={}, obj=None, custom_metric=None,
            verbose_eval=True, xgb_model=None, callbacks=None)
        model.objective = params["objective"]
    return model


# --------------------------------------------------------------------------- LightGBM
# Parameters that only steer training: a Dataset built under one value serves all
# (checked by the tests by comparing model strings with plain fits).
_LGBM_TRAINING_ONLY = frozenset({"objective", "num_class", "metric", "max_depth"})


def _lgbm_fit_predict(estimator, shared: SharedMatrices, y_train) -> np.ndarray:
    classes = np.unique(y_train)
    if len(classes) < 2:
        return _plain(estimator, shared, y_train)
    model, booster = _lgbm_fitted(estimator, shared, y_train)
    api = _api("lgbm")
    # As LGBMModel.predict and LGBMClassifier.predict_proba / predict.
    predict_params = model._process_params(stage="predict")
    for alias in api["aliases"].get_by_alias("data", "X", "raw_score", "start_iteration",
                                             "num_iteration", "pred_leaf", "pred_contrib"):
        predict_params.pop(alias, None)
    predict_params = api["choose"]("num_threads", predict_params, model.n_jobs)
    predict_params["num_threads"] = model._process_n_jobs(predict_params["num_threads"])
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
    model._n_classes = len(classes)
    params = model._process_params(stage="fit")
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
