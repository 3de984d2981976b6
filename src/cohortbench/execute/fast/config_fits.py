"""One configuration on one split: its chain of shared transforms, then its classifier.

Used by the engine for the outer folds and by :mod:`.nested_search` for the inner
folds of a hyperparameter search, so that both fit exactly what the reference
``Pipeline`` fits.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.svm import SVC

from ..._compat import (
    FAST_PATHS,
    FOREST_BUILDER,
    LGBM_SHARED,
    LIBSVM_BINDING,
    MLP_STACKS,
    ROW_SPACE,
    SAGA_LANES,
    SVR_SOLVER,
    XGB_SHARED,
    libsvm_off,
)
from ...design.classifiers import make_classifier
from ...design.configs import PipelineConfig
from . import boosters, ensembles, forests
from .kernel_svm import DotProducts, covers_svc, fit_predict_svc
from .logistic_rowspace import (
    RowSpace,
    covers_logistic,
    fit_predict_logistic,
    rowspace_off,
)
from .mlp_batch import MLPJob, covers_mlp, stacks_off
from .rfe_path import solver_off
from .saga_batch import SagaJob, covers_saga, lanes_off
from .shared_transforms import FoldTransforms, Item, LabelTransforms, computed

__all__ = ["FAST_CLASSIFIERS", "feature_chain", "classify", "classify_steps", "paths_off"]

FAST_CLASSIFIERS = ("SVM_LIN", "SVM_POLY", "SVM_RBF", "SVM_SIG",
                    "MLR_L2", "MLR_L1", "MLR_ENET", "KNN", "RF", "XGB", "LGBM", "MLP")


def feature_chain(config: PipelineConfig, fold: FoldTransforms,
                  labels: LabelTransforms) -> list[Item]:
    """The shared items one configuration's features pass through, last = its matrices.

    Parameters
    ----------
    config : PipelineConfig
    fold : FoldTransforms
        The (outer or inner) split's label-free transforms.
    labels : LabelTransforms
        Its label-dependent transforms, for the training labels of this fit.

    Returns
    -------
    list of Item
        Row scaling, rows, imputation, column scaling, then selection and
        reduction when the configuration has them; the last holds
        ``(train, test)`` as the classifier receives them.
    """
    prefix = (config.row_scaling, config.imputation, config.column_scaling)
    chain = [fold.view.row_scaled(config.row_scaling), fold.rows(config.row_scaling),
             fold.imputed(config.row_scaling, config.imputation), fold.prefix(*prefix)]
    label_dependent = False
    key = prefix
    if config.feature_selection != "none":
        k = min(int(config.n_features), fold.view.X.shape[1])
        chain.extend(labels.selected(prefix, config.feature_selection, k))
        label_dependent = True
        key = prefix + (config.feature_selection, k)
    if config.dim_reduction == "pca":
        owner = labels if label_dependent else fold
        chain.append(owner.pca(key, chain[-1]))
    elif config.dim_reduction == "lda":
        chain.append(labels.lda(key, chain[-1]))
    return chain


def classify(config: PipelineConfig, seed: int, features: Item, y_train,
             params: dict | None = None):
    """Fit the configuration's classifier on ``features``; predict the test rows.

    Parameters
    ----------
    config : PipelineConfig
    seed : int
        The classifier's ``random_state`` (the study seed, as in the reference).
    features : Item
        ``(train, test)`` matrices, the last item of :func:`feature_chain`.
    y_train : ndarray of int
    params : dict, optional
        Hyperparameters set on the classifier (no ``clf__`` prefix), as a search
        sets them on the reference pipeline.

    Returns
    -------
    own : Item
        The predicted codes of the test rows; its time and warnings are this fit's alone.
    used : list of Item
        Shared items the fit relied on (kernel products), for apportioning time.
    """
    return _fit_now(config, _estimator(config, seed, params), features, y_train)


def _estimator(config: PipelineConfig, seed: int, params: dict | None):
    estimator = make_classifier(config.classifier, seed)
    if params:
        estimator.set_params(**params)
    return estimator


def _fit_now(config: PipelineConfig, estimator, features: Item, y_train):
    """:func:`classify` with the estimator already made."""
    train, test = features.value
    if covers_svc(estimator) and _finite(features):
        dots = _derived(features, "dots", DotProducts)
        return computed(fit_predict_svc, estimator, dots.value, y_train), [dots]
    if covers_logistic(estimator, *train.shape) and _finite(features):
        space = _derived(features, "rowspace", RowSpace)
        return computed(fit_predict_logistic, estimator, space.value, y_train), [space]
    if ensembles.covers(estimator):
        shared = _derived(features, "ensembles", ensembles.SharedMatrices)
        return computed(ensembles.fit_predict, estimator, shared.value, y_train), [shared]
    if config.classifier not in FAST_CLASSIFIERS:
        # Estimators we do not know may write into their input: hand them copies.
        train, test = np.array(train), np.array(test)
    return computed(lambda: estimator.fit(train, y_train).predict(test)), []


def classify_steps(config: PipelineConfig, seed: int, features: Item, y_train,
                   params: dict | None = None):
    """:func:`classify` as a generator that hands batchable fits to its driver.

    A covered ``MLPClassifier`` fit (:func:`.mlp_batch.covers_mlp`) or saga
    ``LogisticRegression`` fit (:func:`.saga_batch.covers_saga`) is yielded as a
    one-job list and the generator is sent ``[FitOutcome]``, so that a driver
    (:func:`.batched.run_batched`) can run many such fits together; every other
    fit runs at once, through :func:`classify`.

    Returns
    -------
    own, used
        As :func:`classify` returns them.
    """
    estimator = _estimator(config, seed, params)
    job = None
    if covers_mlp(estimator) and _finite(features):
        job = MLPJob(estimator, *features.value, y_train)
    elif covers_saga(estimator) and _finite(features):
        job = SagaJob(estimator, *features.value, y_train)
    if job is None:
        return _fit_now(config, estimator, features, y_train)
    (outcome,) = yield [job]
    if outcome.error is not None:
        raise outcome.error
    return Item(outcome.predicted, list(outcome.warnings), outcome.seconds), []


def _derived(features: Item, name: str, make) -> Item:
    """``make(train, test)`` of ``features``, computed once and cached with them."""
    item = features.derived.get(name)
    if item is None:
        item = features.derived[name] = computed(make, *features.value)
    return item


def _finite(features: Item) -> bool:
    """Whether ``features`` hold no NaN or infinity (checked once per matrix pair)."""
    item = features.derived.get("finite")
    if item is None:
        train, test = features.value
        item = features.derived["finite"] = Item(
            bool(np.isfinite(train).all() and np.isfinite(test).all()))
    return item.value


_ENSEMBLE_CHECKS = {"forest": (FOREST_BUILDER, forests.builder_off),
                    "xgb": (XGB_SHARED, boosters.xgb_off),
                    "lgbm": (LGBM_SHARED, boosters.lgbm_off)}


def paths_off(config: PipelineConfig) -> tuple[str, ...]:
    """The switched-off fast paths this configuration's fits could take, with reasons.

    Parameters
    ----------
    config : PipelineConfig

    Returns
    -------
    tuple of str
        ``"<path> off: <reason>"`` for each such path, in the order of
        :data:`cohortbench.FAST_PATHS` (empty on the tested library
        versions). The paths: RFE's ranking SVRs (compiled solver, libsvm
        binding); SVC (libsvm binding); saga ``LogisticRegression`` (lanes);
        lbfgs ``LogisticRegression`` without a reduction (row space, taken when the
        features outnumber the training rows); ``MLPClassifier`` (stacks); forests
        and boosters (their shared data). Asking runs each path's first-use
        self-check if it has not run yet in this process.
    """
    estimator = make_classifier(config.classifier, 0)
    checks = {}
    if config.feature_selection == "rfe":
        checks[LIBSVM_BINDING] = libsvm_off
        checks[SVR_SOLVER] = solver_off
    if type(estimator) is SVC:
        checks[LIBSVM_BINDING] = libsvm_off
    elif type(estimator) is LogisticRegression:
        solver = estimator.get_params()["solver"]
        if solver == "saga":
            checks[SAGA_LANES] = lanes_off
        elif solver == "lbfgs" and config.dim_reduction == "none":
            checks[ROW_SPACE] = rowspace_off
    elif type(estimator) is MLPClassifier:
        checks[MLP_STACKS] = stacks_off
    elif ensembles.ensemble_kind(estimator) is not None:
        path, check = _ENSEMBLE_CHECKS[ensembles.ensemble_kind(estimator)]
        checks[path] = check
    notes = []
    for path in FAST_PATHS:
        reason = checks[path]() if path in checks else None
        if reason is not None:
            notes.append(f"{path} off: {reason}")
    return tuple(notes)
