"""Turn a :class:`PipelineConfig` into a scikit-learn ``Pipeline`` (SPEC section 3).

Steps, in this order and with these names (only the ones the configuration
uses are present; ``clf`` always is):

=========== =======================================================
``row``       :class:`RowScaler` (``standard`` / ``minmax``), per map block
``impute``    ``SimpleImputer(strategy="mean" | "median")``
``harmonize`` :class:`ComBatHarmonizer` (``harmonize: combat``)
``confounds`` :class:`ConfoundRemover` (``confounds: [...]``); ``drop_side``
              when the configuration harmonizes without confounds
``scale``     ``StandardScaler()`` / ``MinMaxScaler()``
``select`` ``SelectKBest(f_classif, k=k)`` /
           ``RFE(SVR(kernel="linear"), n_features_to_select=k, step=1)``
``reduce`` ``PCA()`` / ``LinearDiscriminantAnalysis()``
``clf``    the registered classifier
=========== =======================================================

Search parameters are therefore addressed as ``clf__<name>``.

The side steps (issue 21) exist only in a configuration that uses them
(``PipelineConfig.uses_side_data``); the engine then fits the pipeline on
``[X | side]`` (:meth:`~cohortbench.execute.problem.Problem.features_for`), the row
scaler leaves the side columns alone (``n_side``), and the last side step drops them,
so column scaling, selection, reduction and the classifier see features only. Row
scaling comes before imputation here, as it always has (the row scaler ignores NaN);
``docs/harmonization.md`` lists the order.
"""

from __future__ import annotations

from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.feature_selection import RFE, SelectKBest, f_classif
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVR

from ..design.classifiers import make_classifier
from ..design.configs import PipelineConfig
from .row_scaling import RowScaler
from .side_columns import side_steps

__all__ = ["build_pipeline", "CLASSIFIER_STEP"]

CLASSIFIER_STEP = "clf"


def build_pipeline(config: PipelineConfig, *, blocks, n_classes: int,
                   n_features_available: int, random_state: int,
                   side_layout=None) -> tuple[Pipeline, int]:
    """A fresh, unfitted pipeline for one configuration.

    Parameters
    ----------
    config : PipelineConfig
        The steps (its ``search`` field is handled by the caller).
    blocks : sequence of (start, stop)
        Map blocks of the feature matrix, for row scaling.
    n_classes : int
        Number of classes of the task (LDA keeps at most ``n_classes - 1``
        components by its own default; checked here to be at least 2).
    n_features_available : int
        Width of the feature matrix; the selector's k is capped at it.
    random_state : int
        Seed of the classifier.
    side_layout : SideLayout, optional
        The problem's side block (:mod:`.side_columns`); required, and used, only
        when ``config`` has side steps.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
    n_features_used : int
        The number of features the selector keeps (k, capped at
        ``n_features_available``), or ``n_features_available`` without a selector.
    """
    if n_classes < 2:
        raise ValueError(f"A classification task needs at least 2 classes; got {n_classes}.")
    steps = []
    n_side = 0
    if config.uses_side_data:
        if side_layout is None:
            raise ValueError("confounds and harmonize need the problem's side columns "
                             "(data.covariates, data.batch).")
        n_side = side_layout.n_side
    if config.row_scaling != "none":
        steps.append(("row", RowScaler(method=config.row_scaling, blocks=blocks, n_side=n_side)))
    if config.imputation != "none":
        steps.append(("impute", SimpleImputer(strategy=config.imputation)))
    if config.uses_side_data:
        steps += side_steps(side_layout, confounds=config.confounds, harmonize=config.harmonize,
                            preserve=config.preserve, unseen_site=config.unseen_site)
    if config.column_scaling == "standard":
        steps.append(("scale", StandardScaler()))
    elif config.column_scaling == "minmax":
        steps.append(("scale", MinMaxScaler()))
    n_used = n_features_available
    if config.feature_selection != "none":
        n_used = min(int(config.n_features), n_features_available)
        if config.feature_selection == "kbest":
            steps.append(("select", SelectKBest(f_classif, k=n_used)))
        else:
            steps.append(("select", RFE(SVR(kernel="linear"), n_features_to_select=n_used,
                                        step=1)))
    if config.dim_reduction == "pca":
        steps.append(("reduce", PCA()))
    elif config.dim_reduction == "lda":
        steps.append(("reduce", LinearDiscriminantAnalysis()))
    steps.append((CLASSIFIER_STEP, make_classifier(config.classifier, random_state)))
    return Pipeline(steps), n_used
