"""Checks before a run with sites: unseen sites in outer and inner folds, every label vector."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cohortbench.design.configs import CVScheme
from cohortbench.errors import DataError
from cohortbench.execute.side_columns import encode_side_columns
from cohortbench.execute.site_checks import _fold_sets, check_side_problem, site_counts

from .conftest import make_synthetic_problem


def with_sites(sites, ages=None):
    sites = np.asarray(sites)
    problem = make_synthetic_problem(class_sizes=(len(sites) // 2, len(sites) // 2),
                                     n_blocks=1, block_size=4)
    raw = pd.DataFrame({"age": ages if ages is not None else np.arange(len(sites), dtype=float),
                        "site": sites}, index=pd.Index(problem.subjects))
    values, layout = encode_side_columns(raw, ["age"], "site")
    side = SimpleNamespace(raw=raw, batch="site", covariates=("age",), layout=layout)
    return dataclasses.replace(problem, side=values, side_layout=layout,
                               shuffle_groups=sites.astype(str)), side


def test_a_site_with_one_subject_cannot_be_harmonized_under_loo():
    problem, side = with_sites(list("AB") * 5 + ["Z", "A"])
    cv = CVScheme(outer="loo", permutations=0)
    check_side_problem(problem, cv, side, [("age",)], [], searching=False)  # no ComBat: fine
    with pytest.raises(DataError, match="tests site 'Z'.*none of its subjects in training"):
        check_side_problem(problem, cv, side, [], [((), "error")], searching=False)
    with pytest.raises(DataError, match="single subject of site 'Z'"):
        check_side_problem(problem, cv, side, [], [((), "fit-unlabeled")], searching=False)


def test_inner_folds_of_a_search_are_checked_too():
    # site Z: one subject per class; when one is tested, the other is alone in training
    problem, side = with_sites(["A", "B"] * 4 + ["Z"] + ["A", "B"] * 4 + ["Z"] + ["A"] * 2)
    cv = CVScheme(outer="loo", inner="stratified-kfold:2", permutations=0)
    check_side_problem(problem, cv, side, [], [((), "error")], searching=False)
    with pytest.raises(DataError, match="Site 'Z'.*too few subjects for the inner folds"):
        check_side_problem(problem, cv, side, [], [((), "error")], searching=True)


def test_folds_of_every_label_vector_are_looked_at_when_they_depend_on_the_labels():
    problem, _ = with_sites(list("AB") * 6)
    stratified = CVScheme(outer="stratified-kfold:3", permutations=4, seed=2)
    assert len(list(_fold_sets(problem, stratified))) == 5
    assert len(list(_fold_sets(problem, dataclasses.replace(stratified, outer="loo")))) == 1
    assert len(list(_fold_sets(problem, dataclasses.replace(stratified,
                                                            outer="leave-site-out")))) == 1


def test_site_counts():
    problem, _ = with_sites(list("AAB") * 4)
    counts = site_counts(problem)
    assert counts["sites"] == ["A", "B"] and counts["classes"] == list(problem.classes)
    y = problem.y
    sites = np.array(list("AAB") * 4)
    assert counts["counts"] == [[int(np.sum((sites == s) & (y == c))) for c in (0, 1)]
                                for s in "AB"]
