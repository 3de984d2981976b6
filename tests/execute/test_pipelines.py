"""build_pipeline: SPEC order, step names, defaults and the k cap."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.feature_selection import RFE, SelectKBest, f_classif
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC, SVR

from cohortbench.design.configs import PipelineConfig
from cohortbench.execute import RowScaler
from cohortbench.execute.pipelines import build_pipeline

pytestmark = pytest.mark.usefixtures("one_thread")

BLOCKS = ((0, 20), (20, 40), (40, 60))


def _build(config, n_features=60):
    return build_pipeline(config, blocks=BLOCKS, n_classes=3,
                          n_features_available=n_features, random_state=11)


def test_all_steps_in_spec_order_with_their_names():
    config = PipelineConfig("SVM_LIN", row_scaling="standard", imputation="median",
                            column_scaling="minmax", feature_selection="kbest", n_features=10,
                            dim_reduction="pca")
    pipeline, n_used = _build(config)
    assert [name for name, _ in pipeline.steps] == ["row", "impute", "scale", "select",
                                                    "reduce", "clf"]
    row, impute, scale, select, reduce, clf = (step for _, step in pipeline.steps)
    assert isinstance(row, RowScaler) and row.method == "standard" and row.blocks == BLOCKS
    assert isinstance(impute, SimpleImputer) and impute.strategy == "median"
    assert isinstance(scale, MinMaxScaler)
    assert isinstance(select, SelectKBest) and select.k == 10 and select.score_func is f_classif
    assert isinstance(reduce, PCA) and reduce.get_params() == PCA().get_params()
    assert isinstance(clf, SVC) and clf.kernel == "linear" and clf.random_state == 11
    assert n_used == 10


def test_defaults_only_the_classifier():
    pipeline, n_used = _build(PipelineConfig("KNN"))
    assert [name for name, _ in pipeline.steps] == ["clf"]
    assert n_used == 60


@pytest.mark.parametrize("option, cls", [("standard", StandardScaler),
                                         ("minmax", MinMaxScaler)])
def test_column_scalers_are_library_defaults(option, cls):
    pipeline, _ = _build(PipelineConfig("KNN", column_scaling=option))
    step = pipeline.named_steps["scale"]
    assert type(step) is cls and step.get_params() == cls().get_params()


def test_rfe_uses_a_linear_svr_one_feature_at_a_time():
    pipeline, n_used = _build(PipelineConfig("KNN", feature_selection="rfe", n_features=25))
    rfe = pipeline.named_steps["select"]
    assert isinstance(rfe, RFE) and rfe.step == 1 and rfe.n_features_to_select == 25
    assert isinstance(rfe.estimator, SVR) and rfe.estimator.kernel == "linear"
    assert rfe.estimator.get_params() == SVR(kernel="linear").get_params()
    assert n_used == 25


def test_lda_is_the_default_lda():
    pipeline, _ = _build(PipelineConfig("KNN", dim_reduction="lda"))
    lda = pipeline.named_steps["reduce"]
    assert lda.get_params() == LinearDiscriminantAnalysis().get_params()


@pytest.mark.parametrize("selector", ["kbest", "rfe"])
def test_k_is_capped_at_the_available_features(selector):
    pipeline, n_used = _build(PipelineConfig("KNN", feature_selection=selector,
                                             n_features=150), n_features=40)
    assert n_used == 40
    step = pipeline.named_steps["select"]
    assert (step.k if selector == "kbest" else step.n_features_to_select) == 40


def test_search_parameters_are_addressed_through_clf():
    pipeline, _ = _build(PipelineConfig("SVM_RBF"))
    pipeline.set_params(clf__C=0.1, clf__gamma=0.01)
    assert pipeline.named_steps["clf"].C == 0.1


def test_every_build_is_fresh():
    config = PipelineConfig("KNN", row_scaling="minmax")
    a, _ = _build(config)
    b, _ = _build(config)
    assert a is not b and a.named_steps["row"] is not b.named_steps["row"]


def test_pipeline_fits_and_lda_keeps_at_most_k_minus_1_components(ref_problem):
    config = PipelineConfig("SVM_LIN", row_scaling="standard", column_scaling="standard",
                            feature_selection="kbest", n_features=10, dim_reduction="lda")
    pipeline, _ = build_pipeline(config, blocks=ref_problem.blocks, n_classes=3,
                                 n_features_available=60, random_state=0)
    pipeline.fit(ref_problem.X, ref_problem.y)
    assert pipeline[:-1].transform(ref_problem.X).shape == (24, 2)
    assert set(pipeline.predict(ref_problem.X)) <= {0, 1, 2}


def test_imputation_step_fills_missing_values(ref_problem_nan):
    config = PipelineConfig("KNN", row_scaling="standard", imputation="mean")
    pipeline, _ = build_pipeline(config, blocks=ref_problem_nan.blocks, n_classes=3,
                                 n_features_available=60, random_state=0)
    pipeline.fit(ref_problem_nan.X, ref_problem_nan.y)
    assert np.isnan(ref_problem_nan.X).any()
    assert not np.isnan(pipeline[:-1].transform(ref_problem_nan.X)).any()


def test_a_single_class_is_refused():
    with pytest.raises(ValueError, match="2 classes"):
        build_pipeline(PipelineConfig("KNN"), blocks=BLOCKS, n_classes=1,
                       n_features_available=60, random_state=0)
