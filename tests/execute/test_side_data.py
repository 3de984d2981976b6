"""Problems carrying covariates and sites: the side block, sites, content keys, missing values."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cohortbench.data.views import Block, Task, View
from cohortbench.design.configs import PipelineConfig
from cohortbench.errors import DataError
from cohortbench.execute.problem import make_problem
from cohortbench.execute.side_data import study_side_data

SUBJECTS = tuple(f"s{i}" for i in range(8))


def view() -> View:
    X = np.arange(16, dtype=float).reshape(8, 2)
    return View(X=X, subjects=SUBJECTS, columns=("m:a", "m:b"), blocks=(Block("m", 0, 2),),
                modalities=("m",), parcellation="all")


def task() -> Task:
    labels = ("HC", "ALS") * 4
    return Task("t", ("HC", "ALS"), SUBJECTS[:6], labels[:6], SUBJECTS[6:], labels[6:])


def side(missing="error", age=None, covariates=("age", "sex"), batch="site"):
    clinical = pd.DataFrame({
        "age": age if age is not None else [60.0, 61, 62, 63, 64, 65, 66, 67],
        "sex": ["M", "F", "F", "M", "M", "F", "M", "F"],
        "site": ["B", "A", "B", "A", "C", "C", "A", "B"]}, index=pd.Index(SUBJECTS))
    spec = SimpleNamespace(data=SimpleNamespace(covariates=list(covariates), batch=batch,
                                                missing=missing))
    return study_side_data(SimpleNamespace(spec=spec, clinical=clinical))


def test_the_side_block_follows_the_rows_and_the_sites_group_the_shuffles():
    plain, _ = make_problem(view(), task())
    problem, left_out = make_problem(view(), task(), side=side())
    assert left_out == {}
    # age as is, sex as the indicator of the second level in sorted order (M), site codes
    # of the sorted site names (A=0, B=1, C=2); train-only rows last, as in X
    expected = np.array([[60, 1, 1], [61, 0, 0], [62, 0, 1], [63, 1, 0], [64, 1, 2],
                         [65, 0, 2], [66, 1, 0], [67, 0, 1]], dtype=float)
    np.testing.assert_array_equal(problem.side, expected)
    assert problem.side_layout.column_names == ("age", "sex=M", "site")
    assert list(problem.sites) == ["B", "A", "B", "A", "C", "C", "A", "B"]
    assert problem.shuffle_groups is problem.sites
    np.testing.assert_array_equal(problem.X, plain.X)  # X stays the features
    assert "side" not in plain.content and plain.shuffle_groups is None
    assert problem.content["side"]["batch"] == "site"
    np.testing.assert_array_equal(problem.features_for(PipelineConfig("KNN", confounds=["age"])),
                                  np.hstack([plain.X, expected]))
    assert problem.features_for(PipelineConfig("KNN")) is problem.X


def test_content_keys_differ_with_the_side_values():
    a, _ = make_problem(view(), task(), side=side())
    b, _ = make_problem(view(), task(), side=side(age=[60.0, 61, 62, 63, 64, 65, 66, 99]))
    assert a.content["side"] != b.content["side"]
    assert a.content["view"] == b.content["view"]


def test_a_missing_covariate_is_refused_or_dropped_by_the_policy():
    age = [60.0, np.nan, 62, 63, 64, 65, 66, 67]
    with pytest.raises(DataError, match=r"Covariate 'age' is missing for 1 subject\(s\) \(s1\)"):
        make_problem(view(), task(), side=side(age=age))
    problem, left_out = make_problem(view(), task(), side=side("drop-subjects", age=age))
    assert "s1" not in problem.subjects and problem.n_eval == 5
    assert left_out == {"s1": "missing age (data.covariates/batch)"}
    assert len(problem.side) == len(problem.y) == 7


def test_without_a_batch_there_are_no_sites():
    problem, _ = make_problem(view(), task(), side=side(batch=None))
    assert problem.sites is None and problem.side.shape == (8, 2)
    assert side(covariates=(), batch=None) is None
