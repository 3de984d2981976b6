"""A unit hands configurations the fast engine has no path for to the reference engine."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cohortbench.design.configs import CVScheme, PipelineConfig
from cohortbench.execute.reference_engine import evaluate_reference
from cohortbench.execute.side_columns import encode_side_columns
from cohortbench.execute.units import (SIDE_STEPS_ENGINE, SITE_FOLDS_ENGINE, reference_reason,
                                       run_unit)

from .conftest import make_synthetic_problem


@pytest.fixture(scope="module")
def problem():
    base = make_synthetic_problem(class_sizes=(9, 9), n_blocks=2, block_size=6, seed=4)
    rng = np.random.default_rng(0)
    import pandas as pd

    frame = pd.DataFrame({"age": rng.normal(60, 8, 18), "site": np.tile(["A", "B", "C"], 6)})
    values, layout = encode_side_columns(frame, ["age"], "site")
    return dataclasses.replace(base, side=values, side_layout=layout,
                               shuffle_groups=frame["site"].to_numpy(str))


CV = CVScheme(outer="stratified-kfold:3", inner="stratified-kfold:2", permutations=3, seed=1)


def test_reasons():
    plain = make_synthetic_problem(class_sizes=(4, 4))
    with_sites = dataclasses.replace(plain, shuffle_groups=np.array(list("AB") * 4))
    assert reference_reason(plain, PipelineConfig("KNN"), CV) is None
    assert reference_reason(with_sites, PipelineConfig("KNN"), CV) is None  # shuffles: both
    assert reference_reason(with_sites, PipelineConfig("KNN", search="grid"), CV) == "site folds"
    assert reference_reason(with_sites, PipelineConfig("KNN"),
                            dataclasses.replace(CV, outer="leave-site-out")) == "site folds"
    assert reference_reason(plain, PipelineConfig("KNN", confounds=["age"]), CV) == "side steps"


def test_the_unit_hands_over_says_why_and_matches_the_reference_engine(problem):
    configs = [PipelineConfig("KNN", column_scaling="standard"),
               PipelineConfig("KNN", column_scaling="standard", harmonize="combat",
                              confounds=["age"]),
               PipelineConfig("KNN", column_scaling="standard", search="random")]
    cv = dataclasses.replace(CV, permutations=1)
    outcomes = run_unit(problem, configs, cv, engine="fast")
    assert [o.result.engine for o in outcomes] == ["fast", SIDE_STEPS_ENGINE, SITE_FOLDS_ENGINE]
    assert outcomes[0].note is None
    assert "confound removal or harmonization" in outcomes[1].note
    assert "split by site" in outcomes[2].note
    for config, outcome in zip(configs, outcomes):
        expected = evaluate_reference(problem, config, cv)
        assert outcome.result.predicted_labels == expected.predicted_labels
        assert outcome.result.null_accuracies == expected.null_accuracies
    # by the reference engine itself, the record says plain "reference"
    (alone,) = run_unit(problem, configs[1:2], cv, engine="reference")
    assert alone.result.engine == "reference" and alone.note is None


def test_a_unit_in_parts_evaluates_a_handed_over_configuration_whole(problem):
    configs = [PipelineConfig("KNN"), PipelineConfig("KNN", confounds=["age"])]
    outcomes = run_unit(problem, configs, CV, engine="fast", label_vectors=(0, 2))
    assert outcomes[0].part is not None and outcomes[0].result is None
    assert outcomes[1].result is not None and len(outcomes[1].result.null_accuracies) == 3


def test_the_fast_engine_keeps_every_record_itself_and_equal_to_the_reference():
    from cohortbench.execute.fold_records import register_record, unregister_record

    plain = make_synthetic_problem(class_sizes=(6, 6), n_blocks=2, block_size=5, seed=2)
    config = PipelineConfig("MLR_L2", column_scaling="standard")
    cv = dataclasses.replace(CV, permutations=2)
    register_record("rows", lambda fold: [len(fold.train), int(fold.y_train.sum())])
    try:
        fast, model = run_unit(plain, [config, config], cv, engine="fast",
                               records=[("rows",), ("importance",)], record_functions={})
        reference = evaluate_reference(plain, config, cv, ("rows",))
    finally:
        unregister_record("rows")
    # a record that needs no model, and one read from the fitted model (model_parts)
    assert fast.result.engine == "fast" and fast.note is None
    assert fast.result.records == reference.records
    assert len(fast.result.records["rows"]) == 1 + cv.permutations
    assert model.result.engine == "fast" and model.note is None
    assert len(model.result.records["importance"]) == 1 + cv.permutations
