"""Activation patterns of a fitted pipeline on one outer fold (issue 20, part B).

The primary importance statistic is the **activation pattern** of Haufe et al.
(2014, NeuroImage 87:96-110): for a linear model with decision values
``s = W x + b``, the forward model ``A = Cov(x) W^T Cov(s)^-1`` says how each
feature co-varies with what the model extracts, whereas the weights ``W`` also
carry noise-cancelling ("suppressor") terms and depend on the features' units.
For one decision function ``A`` is proportional to ``Cov(x, s)``; we standardise
it to the **correlation** ``corr(x_j, s_k)`` over the training rows, so that it
is unit-free and comparable across maps, folds and label vectors.

Choices other engines must reproduce:

- **Which features**: the original features *as they enter column scaling*,
  i.e. after row scaling and imputation (the pipeline's ``row`` and ``impute``
  steps), whether or not a ``scale`` step follows. Column scaling, selection
  (``kbest``/``rfe``) and reduction (``pca``/``lda``) are part of the model;
  every original feature gets a value, selected or not.
- **Which rows**: the outer fold's training rows (hybrid train-only rows
  included), the rows the model was fitted on.
- **Which decision values** (one activation row per decision function):

  ======================  =====================================================
  2 classes               the one decision function (positive favours class
                          code 1): 1 row, named ``"<class 1> vs <class 0>"``
  > 2 classes, SVC        the K(K-1)/2 one-vs-one functions libsvm fits (pairs
                          (0,1), (0,2), ..., (1,2), ...; positive favours the
                          first class of the pair), named ``"<a> vs <b>"``.
                          scikit-learn's default ``decision_function_shape=
                          "ovr"`` turns them into vote counts plus a squashed
                          confidence: not linear in x, so it is not used
  > 2 classes, others     ``decision_function`` columns, one per class (the
                          class logits of a multinomial logistic regression),
                          named by the class
  ======================  =====================================================

- **Which pipelines**: those whose classifier is linear, recognised by the
  scikit-learn convention of a ``decision_function`` and a ``coef_`` attribute
  (``MLR_*``, ``SVM_LIN``, user-registered linear models); every other step of a
  :func:`~cohortbench.execute.pipelines.build_pipeline` pipeline is affine after
  the reference point. Non-linear classifiers (KNN, RF, boosters, MLP, kernel
  SVMs) get **no** activation (``kind="not-linear"``): a pattern is a property of
  a linear backward model, and the training-row outputs of a flexible model
  (a 1-NN, a deep forest) reproduce the training labels, so their correlation
  with a feature is the univariate feature-label correlation, not the model's.
- **Degenerate values**: a feature (or decision function) constant over the
  training rows, by scikit-learn's near-constant test, has activation 0; a
  feature's missing values (no imputation) are left out pairwise. A fold whose
  classifier did not see every class gets all-NaN rows (``kind="missing-class"``).
- **Selection mask**: ``get_support()`` of the ``select`` step; selection comes
  after column scaling, which keeps the columns, so the mask indexes the
  original features directly.
- **Raw weights** (secondary, never the primary statistic): the affine map from
  the features entering column scaling to the decision values, read off by
  probing the fitted steps with unit vectors (exact for affine steps).

**Another engine** (one that does not fit a scikit-learn ``Pipeline``, e.g. the
fast engine) computes, per outer fold and label vector, a :class:`FoldModelParts`
and gets the same :class:`FoldImportance` from :func:`fold_importance_from_parts`:

- ``entering``: the fold's training rows (train-only rows included, in the order of
  the fold's ``train`` indices) after row scaling and imputation, before column
  scaling, shape ``(n_train, p)``, NaN where a value is missing and not imputed;
- ``decision_values``: the fitted model's linear decision values on those same
  rows, shape ``(n_train, n_functions)``, in the scheme above (one column for two
  classes; the K(K-1)/2 one-vs-one columns of libsvm for an SVC; one column per
  class otherwise) — None when the classifier is not linear;
- ``classes_seen``: the label codes the classifier was fitted on (``classes_``);
- ``selected``: the selector's mask over the p original features, or None.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from itertools import combinations

import numpy as np

__all__ = [
    "FoldImportance",
    "FoldModelParts",
    "activation_pattern",
    "classifier_decision_values",
    "decision_function_names",
    "decision_scheme",
    "fold_importance",
    "fold_importance_from_parts",
    "is_linear_classifier",
    "raw_weights",
    "split_pipeline",
]

#: Pipeline steps applied before the reference point (the features as they enter column
#: scaling); names as in :mod:`cohortbench.execute.pipelines`. The side steps come before
#: column scaling too (they consume the side columns, so what follows sees features only).
PRE_SCALING_STEPS = ("row", "impute", "harmonize", "confounds", "drop_side")


@dataclass(frozen=True)
class FoldImportance:
    """What one outer fold of one label vector records for importance.

    Attributes
    ----------
    kind : {"linear", "not-linear", "missing-class"}
        ``"linear"``: ``activation`` holds values. ``"not-linear"``: the classifier
        has no linear decision function, ``activation`` is None. ``"missing-class"``:
        the training rows lacked a class, ``activation`` is all NaN.
    scheme : {"binary", "per-class", "one-vs-one"}
        How the decision functions (rows of ``activation``) are defined; see
        :func:`decision_function_names`.
    activation : ndarray of shape (n_functions, n_features), float64, or None
    selected : ndarray of shape (n_features,), bool, or None
        The selector's mask, None without a ``select`` step.
    weights : ndarray of shape (n_functions, n_features), float64, or None
        Raw weights on the features entering column scaling, only when asked for
        and the pipeline is linear.
    """

    kind: str
    scheme: str
    activation: np.ndarray | None
    selected: np.ndarray | None = None
    weights: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class FoldModelParts:
    """What an engine without a fitted ``Pipeline`` provides for one fold's importance.

    Attributes
    ----------
    entering : ndarray of shape (n_train, p)
        The training rows as they enter column scaling (after row scaling and
        imputation).
    decision_values : ndarray of shape (n_train, n_functions), or None
        The linear decision values on the same rows; None for a classifier that is
        not linear.
    scheme : {"binary", "one-vs-one", "per-class"}
        How the columns of ``decision_values`` are defined (:func:`decision_scheme`).
    classes_seen : tuple of int
        The label codes the classifier was fitted on.
    selected : ndarray of shape (p,), bool, or None
        The selector's mask, None without a selector.
    """

    entering: np.ndarray
    decision_values: np.ndarray | None
    scheme: str
    classes_seen: tuple
    selected: np.ndarray | None = None


def fold_importance_from_parts(parts: FoldModelParts, *, n_classes: int) -> FoldImportance:
    """The :class:`FoldImportance` of one fold from an engine's :class:`FoldModelParts`.

    Gives what :func:`fold_importance` gives for the same fitted model (without raw
    weights, which need the fitted steps).
    """
    selected = None if parts.selected is None else np.asarray(parts.selected, dtype=bool)
    if parts.decision_values is None:
        return FoldImportance("not-linear", parts.scheme, None, selected)
    if tuple(int(c) for c in parts.classes_seen) != tuple(range(n_classes)):
        empty = np.full((_n_functions(parts.scheme, n_classes), parts.entering.shape[1]), np.nan)
        return FoldImportance("missing-class", parts.scheme, empty, selected)
    activation = activation_pattern(parts.entering, parts.decision_values)
    return FoldImportance("linear", parts.scheme, activation, selected)


def _near_constant(sum_squares: np.ndarray, mean: np.ndarray, n) -> np.ndarray:
    """scikit-learn's test of a (near-)constant column from its centred sum of squares."""
    # Same bound as sklearn.preprocessing._data._is_constant_feature, written on the
    # variance var = sum_squares / n.
    eps = np.finfo(np.float64).eps
    var = sum_squares / np.maximum(n, 1)
    return var <= n * eps * var + (n * np.abs(mean) * eps) ** 2


def activation_pattern(X_entering_scaling, decision_values) -> np.ndarray:
    """Correlation of every feature with every decision function over the same rows.

    Parameters
    ----------
    X_entering_scaling : array-like of shape (n_rows, n_features)
        The training rows' features after row scaling and imputation (NaN = missing:
        left out pairwise, feature by feature).
    decision_values : array-like of shape (n_rows,) or (n_rows, n_functions)
        The model's decision values on the same rows (finite).

    Returns
    -------
    ndarray of shape (n_functions, n_features), float64
        ``corr(x_j, s_k)`` (Pearson) in [-1, 1]; 0 where the feature or the decision
        function is constant over the rows, or where fewer than 2 rows have the feature.
    """
    X = np.asarray(X_entering_scaling, dtype=np.float64)
    S = np.asarray(decision_values, dtype=np.float64)
    if S.ndim == 1:
        S = S[:, None]
    if X.ndim != 2 or S.ndim != 2 or X.shape[0] != S.shape[0]:
        raise ValueError(f"Need X (n, p) and decision values (n,) or (n, k) on the same rows; "
                         f"got {X.shape} and {S.shape}.")
    if not np.all(np.isfinite(S)):
        raise ValueError("Decision values must be finite.")
    present = np.isfinite(X)
    counts = present.sum(axis=0).astype(np.float64)                      # (p,)
    with np.errstate(invalid="ignore", divide="ignore"):
        x_mean = np.where(present, X, 0.0).sum(axis=0) / counts
    Xc = np.where(present, X - x_mean, 0.0)
    s_mean = S.mean(axis=0)
    Sc = S - s_mean
    # Rows missing feature j shift the decision values' mean over j's rows; since Xc
    # sums to 0 over those rows the cross-product needs no correction, the variance does.
    mask = present.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        s_shift = (Sc.T @ mask) / counts                                 # (k, p)
    cov = Sc.T @ Xc                                                      # (k, p)
    ss_x = np.einsum("ij,ij->j", Xc, Xc)                                 # (p,)
    ss_s = (Sc * Sc).T @ mask - counts * s_shift ** 2                    # (k, p)
    dead = (counts < 2) | _near_constant(ss_x, x_mean, counts)
    dead_s = _near_constant(ss_s, s_mean[:, None] + s_shift, counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.sqrt(ss_x[None, :] * ss_s)
    corr = np.where(dead[None, :] | dead_s | ~np.isfinite(corr), 0.0, corr)
    return np.clip(corr, -1.0, 1.0)


def is_linear_classifier(estimator) -> bool:
    """Whether ``estimator`` has a linear decision function (``decision_function`` + ``coef_``).

    ``coef_`` is scikit-learn's attribute of linear models; ``SVC`` only has it with
    ``kernel="linear"``, the boosters only with a linear booster.
    """
    return hasattr(estimator, "decision_function") and hasattr(estimator, "coef_")


def decision_scheme(estimator, n_classes: int) -> str:
    """``"binary"``, ``"one-vs-one"`` (libsvm SVC/NuSVC, > 2 classes) or ``"per-class"``."""
    if n_classes == 2:
        return "binary"
    # libsvm's classifiers are the ones with a decision_function_shape switch.
    return "one-vs-one" if hasattr(estimator, "decision_function_shape") else "per-class"


def decision_function_names(class_names, scheme: str) -> tuple[str, ...]:
    """Names of the decision functions (activation rows), in row order.

    ``"binary"``: ``("<c1> vs <c0>",)``; ``"one-vs-one"``: ``"<a> vs <b>"`` for the
    pairs in libsvm's order; ``"per-class"``: the class names. A positive value
    favours the first class named.
    """
    names = [str(c) for c in class_names]
    if scheme == "binary":
        return (f"{names[1]} vs {names[0]}",)
    if scheme == "one-vs-one":
        return tuple(f"{a} vs {b}" for a, b in combinations(names, 2))
    if scheme == "per-class":
        return tuple(names)
    raise ValueError(f"Unknown decision scheme {scheme!r}.")


def _n_functions(scheme: str, n_classes: int) -> int:
    return len(decision_function_names(range(n_classes), scheme))


def classifier_decision_values(estimator, Z, n_classes: int) -> tuple[np.ndarray, str]:
    """The linear decision values of a fitted classifier on its own input ``Z``.

    Parameters
    ----------
    estimator : fitted classifier
        Linear (see :func:`is_linear_classifier`), or an ``SVC`` on a precomputed
        linear kernel, whose ``decision_function`` is linear in the features too.
    Z : array-like
        What the classifier takes (the pipeline's transformed rows, or kernel rows).
    n_classes : int
        Classes of the task.

    Returns
    -------
    values : ndarray of shape (n_rows, n_functions)
    scheme : str
        See :func:`decision_scheme`.
    """
    scheme = decision_scheme(estimator, n_classes)
    if scheme == "one-vs-one" and estimator.decision_function_shape != "ovo":
        # A shallow copy shares the fitted arrays; only the output shape differs.
        estimator = copy.copy(estimator)
        estimator.decision_function_shape = "ovo"
    values = np.asarray(estimator.decision_function(Z), dtype=np.float64)
    return (values[:, None] if values.ndim == 1 else values), scheme


def split_pipeline(fitted):
    """``(pre, model, classifier)`` of a fitted pipeline or search object.

    ``pre`` holds the ``row``/``impute`` steps (or None), ``model`` the steps between
    them and the classifier (or None), ``classifier`` the last step. A search object
    (``GridSearchCV``, ``RandomizedSearchCV``, ``TPESearchCV``) is replaced by its
    refitted ``best_estimator_``.
    """
    pipeline = getattr(fitted, "best_estimator_", fitted)
    names = [name for name, _ in pipeline.steps]
    n_pre = 0
    while n_pre < len(names) - 1 and names[n_pre] in PRE_SCALING_STEPS:
        n_pre += 1
    pre = pipeline[:n_pre] if n_pre else None
    model = pipeline[n_pre:-1] if len(names) - 1 > n_pre else None
    return pre, model, pipeline[-1]


def _selection_mask(fitted) -> np.ndarray | None:
    pipeline = getattr(fitted, "best_estimator_", fitted)
    selector = pipeline.named_steps.get("select")
    return None if selector is None else np.asarray(selector.get_support(), dtype=bool)


def raw_weights(model, classifier, n_features: int, n_classes: int,
                chunk: int = 512) -> np.ndarray:
    """Weights of the affine map from the features entering column scaling to the decision values.

    Parameters
    ----------
    model : fitted Pipeline or None
        The steps between imputation and the classifier (all affine).
    classifier : fitted linear classifier
    n_features, n_classes : int
    chunk : int
        Unit vectors probed at once (bounds memory on thousands of features).

    Returns
    -------
    ndarray of shape (n_functions, n_features)
        ``W[k, j] = s_k(e_j) - s_k(0)``: exact for affine steps up to rounding.
    """
    def values(rows):
        Z = rows if model is None else model.transform(rows)
        return classifier_decision_values(classifier, Z, n_classes)[0]

    origin = values(np.zeros((1, n_features)))
    columns = []
    for start in range(0, n_features, chunk):
        stop = min(start + chunk, n_features)
        probe = np.zeros((stop - start, n_features))
        probe[np.arange(stop - start), np.arange(start, stop)] = 1.0
        columns.append(values(probe) - origin)
    return np.concatenate(columns, axis=0).T


def fold_importance(fitted, X_train, *, n_classes: int, weights: bool = False) -> FoldImportance:
    """Activation pattern (and selection mask) of one fitted outer-fold pipeline.

    Parameters
    ----------
    fitted : Pipeline or search object
        Built by :func:`~cohortbench.execute.pipelines.build_pipeline` and fitted on
        ``X_train`` (directly or through :func:`~cohortbench.execute.search.fit_with_search`).
    X_train : ndarray of shape (n_train, n_features)
        The outer fold's training rows as given to ``fit`` (not row-scaled).
    n_classes : int
        Classes of the task (label codes ``0..n_classes-1``).
    weights : bool, default=False
        Also return the raw weights (secondary; costs one probe per feature).

    Returns
    -------
    FoldImportance
    """
    pre, model, classifier = split_pipeline(fitted)
    X_train = np.asarray(X_train, dtype=np.float64)
    X_enter = X_train if pre is None else np.asarray(pre.transform(X_train), dtype=np.float64)
    selected = _selection_mask(fitted)
    scheme = decision_scheme(classifier, n_classes)
    if not is_linear_classifier(classifier):
        return FoldImportance("not-linear", scheme, None, selected)
    if not np.array_equal(np.asarray(classifier.classes_), np.arange(n_classes)):
        empty = np.full((_n_functions(scheme, n_classes), X_enter.shape[1]), np.nan)
        return FoldImportance("missing-class", scheme, empty, selected)
    Z = X_enter if model is None else model.transform(X_enter)
    values, scheme = classifier_decision_values(classifier, Z, n_classes)
    activation = activation_pattern(X_enter, values)
    W = raw_weights(model, classifier, X_enter.shape[1], n_classes) if weights else None
    return FoldImportance("linear", scheme, activation, selected, W)
