"""Random forests equal to ``RandomForestClassifier``'s, grown without its per-tree overhead.

Most of a small forest's time is per-tree overhead (cloning, parameter
introspection, two ``RandomState``s, joblib). Each tree is grown here by
scikit-learn's own Cython criterion, splitter, ``Tree`` and
``DepthFirstTreeBuilder`` (reached through :func:`cohortbench._compat.forest_internals`),
set up as ``DecisionTreeClassifier._fit`` sets them up, from the random streams
``BaseForest.fit`` uses (tree seeds ``RandomState(random_state).randint(MAX_INT)``;
bootstrap counts from ``RandomState(seed).randint(0, n, n)``; the splitter's one
draw from a fresh ``RandomState(seed)``), cached per ``(random_state, n)``.
Probabilities are summed tree by tree and divided by the number of trees, as
``predict_proba`` does with ``n_jobs=1``.

The internals are checked by ``tests/execute/fast/test_ensembles.py`` against the
versions in :data:`cohortbench._compat.TESTED_VERSIONS`; elsewhere the builder is
switched off (:func:`builder_off`) and the plain estimator is fitted.
"""

from __future__ import annotations

import math

import numpy as np

from ..._compat import (
    FOREST_BUILDER,
    forest_internals,
    off_reason,
    validate_estimator_params,
)
from .shared_matrices import SharedMatrices, is_int, plain_fit_predict

__all__ = ["builder_off", "covers_forest", "forest_fit_predict", "forest_class"]

_MAX_INT = np.iinfo(np.int32).max
_RAND_R_MAX = 2147483647  # sklearn/tree/_utils.pxd: the splitter's randint bound
_STREAM_CACHE_SIZE = 64

# Loaded on first use; None = switched off in this process.
_API: dict = {}


def _internals():
    if "forest" not in _API:
        _API["forest"] = forest_internals()
    return _API["forest"]


def builder_off() -> str | None:
    """Why the forest builder is off here (switched off), or None when it runs."""
    return off_reason(FOREST_BUILDER, _internals() is not None)


def forest_class():
    """``RandomForestClassifier`` while the builder is on, else None."""
    internals = _internals()
    return None if internals is None else internals["cls"]


def covers_forest(estimator) -> bool:
    """True when :func:`forest_fit_predict` reproduces this ``RandomForestClassifier``.

    ``estimator`` must be of the exact class :func:`forest_class` returns.
    """
    validate_estimator_params(estimator)  # invalid values: let the plain fit raise its error
    params = estimator.get_params()
    return (params["n_jobs"] == 1 and is_int(params["random_state"])
            and params["bootstrap"] is True and params["oob_score"] is False
            and params["warm_start"] is False and params["class_weight"] is None
            and params["max_leaf_nodes"] is None and params["ccp_alpha"] == 0.0
            and params["max_samples"] is None and params["monotonic_cst"] is None
            and params["verbose"] == 0)


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
    min_samples_leaf = leaf if is_int(leaf) else math.ceil(leaf * n_samples)
    split = params["min_samples_split"]
    if is_int(split):
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
    elif not is_int(max_features):
        max_features = max(1, int(max_features * n_features)) if max_features > 0.0 else 0
    return {"min_samples_leaf": min_samples_leaf, "min_samples_split": min_samples_split,
            "max_features": max_features,
            "max_depth": _MAX_INT if params["max_depth"] is None else params["max_depth"]}


def forest_fit_predict(estimator, shared: SharedMatrices, y_train) -> np.ndarray:
    """A :func:`covers_forest` estimator's predicted codes (plainly on non-finite data)."""
    inputs = shared.forest_inputs()
    if inputs is None:
        return plain_fit_predict(estimator, shared, y_train)
    classes, proba = _forest_proba(estimator, inputs, y_train)
    return np.asarray(classes.take(np.argmax(proba, axis=1)), dtype=np.int64)


def _forest_proba(estimator, inputs, y_train):
    """``(classes_, predict_proba(test))`` of the forest ``estimator.fit`` would grow."""
    api = _internals()
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
