"""What a per-fold record that reads the fitted model gets from the fast engine.

The fast engine shares its transforms and fits its classifiers its own way, so it has
no fitted scikit-learn ``Pipeline`` to hand a record. For a record registered with
``needs_model=True`` (the importance stage's activation patterns) it computes instead
a :class:`~cohortbench.execute.activation.FoldModelParts` per (label vector, outer
fold): the training rows as they enter column scaling and the selector's mask, read
from the shared items the configuration's predictions came from, and the classifier's
decision values on its own training input, from the plain scikit-learn classifier
refitted on that input with the parameters the fold used. The inputs being the
reference engine's bit for bit, that refit is the reference's classifier, so the
activations are the reference's (one extra classifier fit per fold; the transforms
stay shared).
"""

from __future__ import annotations

import warnings

import numpy as np

from ...design.classifiers import make_classifier
from ...design.configs import PipelineConfig
from ..activation import (
    FoldModelParts,
    classifier_decision_values,
    decision_scheme,
    is_linear_classifier,
)
from .shared_transforms import kbest_support

__all__ = ["fold_model_parts"]


def fold_model_parts(config: PipelineConfig, seed: int, chain: list, y_train,
                     params: dict | None, n_classes: int) -> FoldModelParts:
    """The :class:`FoldModelParts` of one configuration on one outer training set.

    Parameters
    ----------
    config : PipelineConfig
    seed : int
        The classifier's ``random_state`` (the study seed, as the reference's).
    chain : list of Item
        The configuration's shared items (:func:`.config_fits.feature_chain`),
        computed: row scaling, rows, imputation, column scaling, then the selector's
        ranking and selection, then the reduction; the last holds the classifier's
        ``(train, test)``.
    y_train : ndarray of int
        The training labels of this label vector.
    params : dict or None
        The hyperparameters the fold's search chose (None without a search).
    n_classes : int
        Classes of the task.
    """
    entering = np.asarray(chain[2].value[0], dtype=np.float64)
    selected = None
    if config.feature_selection != "none":
        ranking = chain[4].value
        k = chain[5].value[0].shape[1]
        selected = (kbest_support(ranking, k) if config.feature_selection == "kbest"
                    else ranking.support(k))
    estimator = make_classifier(config.classifier, seed)
    if params:
        estimator.set_params(**params)
    train = chain[-1].value[0]
    with warnings.catch_warnings():  # the configuration's own fit has said them already
        warnings.simplefilter("ignore")
        estimator.fit(train, y_train)
    classes_seen = tuple(int(c) for c in estimator.classes_)
    if not is_linear_classifier(estimator):
        return FoldModelParts(entering, None, decision_scheme(estimator, n_classes),
                              classes_seen, selected)
    values, scheme = classifier_decision_values(estimator, train, n_classes)
    return FoldModelParts(entering, values, scheme, classes_seen, selected)
