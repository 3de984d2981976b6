"""Outer and inner cross-validation splits, hybrid rows and fold ids."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from cohortbench.errors import DataError, StudyError
from cohortbench.execute.splits import folds_id, inner_cv, outer_splits, parse_cv_scheme

Y = np.repeat([0, 1, 2], [8, 8, 8])
CLASSES = ("HC", "slow", "fast")
SCHEMES = ["loo", "stratified-kfold:4", "repeated-stratified-kfold:4:3"]


def _test_counts(splits, n):
    counts = np.zeros(n, dtype=int)
    for _, test in splits:
        counts[test] += 1
    return counts


@pytest.mark.parametrize("scheme, n_folds, repeats", [
    ("loo", 24, 1), ("stratified-kfold:4", 4, 1), ("repeated-stratified-kfold:4:3", 12, 3)])
def test_every_subject_is_tested_once_per_repeat(scheme, n_folds, repeats):
    splits = outer_splits(Y, 24, scheme, seed=0)
    assert len(splits) == n_folds
    np.testing.assert_array_equal(_test_counts(splits, 24), repeats)
    for train, test in splits:
        assert train.dtype == np.int64 and test.dtype == np.int64
        assert not set(train) & set(test)
        assert len(train) + len(test) == 24


def test_repeated_folds_come_repeat_by_repeat():
    splits = outer_splits(Y, 24, "repeated-stratified-kfold:4:3", seed=0)
    for r in range(3):
        np.testing.assert_array_equal(_test_counts(splits[4 * r: 4 * (r + 1)], 24), 1)


def test_stratified_folds_are_stratified_and_seeded():
    splits = outer_splits(Y, 24, "stratified-kfold:4", seed=0)
    for _, test in splits:
        np.testing.assert_array_equal(np.bincount(Y[test], minlength=3), [2, 2, 2])
    again = outer_splits(Y, 24, "stratified-kfold:4", seed=0)
    other = outer_splits(Y, 24, "stratified-kfold:4", seed=1)
    assert folds_id(again) == folds_id(splits)
    assert folds_id(other) != folds_id(splits)
    # The splitter is shuffled: the folds are not contiguous blocks.
    assert any(np.any(np.diff(np.sort(test)) > 1) for _, test in splits)


def test_loo_does_not_depend_on_the_seed():
    assert folds_id(outer_splits(Y, 24, "loo", 0)) == folds_id(outer_splits(Y, 24, "loo", 9))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_hybrid_rows_train_in_every_fold_and_are_never_tested(scheme):
    y = np.concatenate([Y, [0, 0, 1, 0, 2]])
    n_eval, n = 24, 29
    splits = outer_splits(y, n_eval, scheme, seed=3)
    hybrid = set(range(n_eval, n))
    for train, test in splits:
        assert hybrid <= set(train.tolist())
        assert not hybrid & set(test.tolist())
        assert test.max() < n_eval
    np.testing.assert_array_equal(_test_counts(splits, n)[n_eval:], 0)
    # The evaluated rows are split exactly as without the hybrid rows.
    plain = outer_splits(Y, n_eval, scheme, seed=3)
    for (train, test), (train0, test0) in zip(splits, plain):
        np.testing.assert_array_equal(test, test0)
        np.testing.assert_array_equal(train[: len(train0)], train0)


@pytest.mark.parametrize("scheme", ["kfold:5", "stratified-kfold", "loo:3",
                                    "stratified-kfold:1", "repeated-stratified-kfold:5"])
def test_unknown_schemes_are_a_study_error(scheme):
    with pytest.raises(StudyError):
        outer_splits(Y, 24, scheme, 0)


def test_parse_cv_scheme():
    assert parse_cv_scheme("loo") == ("loo", 0, 1)
    assert parse_cv_scheme("stratified-kfold:5") == ("stratified-kfold", 5, 1)
    assert parse_cv_scheme("repeated-stratified-kfold:5:10") == ("repeated-stratified-kfold", 5, 10)


def test_more_folds_than_subjects_is_a_data_error():
    with pytest.raises(DataError, match="fewer folds"):
        outer_splits(Y[:6], 6, "stratified-kfold:10", 0)


def test_inner_cv_is_unshuffled_stratified_kfold():
    splitter = inner_cv(Y, "stratified-kfold:5", "3-class", CLASSES, reduce_k=False)
    assert isinstance(splitter, StratifiedKFold)
    assert splitter.n_splits == 5 and splitter.shuffle is False
    X = np.zeros((24, 1))
    first = [t.tolist() for _, t in splitter.split(X, Y)]
    assert first == [t.tolist() for _, t in splitter.split(X, Y)]


def test_inner_cv_with_a_small_class_names_task_class_and_fix():
    y_train = np.repeat([0, 1, 2], [8, 3, 8])
    with pytest.raises(DataError) as info:
        inner_cv(y_train, "stratified-kfold:5", "3-class", CLASSES, reduce_k=False)
    message = str(info.value)
    assert "'3-class'" in message and "'slow'" in message
    assert "cv.reduce_inner_k: true" in message and "fewer folds" in message


def test_inner_cv_reduces_k_to_the_smallest_class_when_asked():
    y_train = np.repeat([0, 1, 2], [8, 3, 8])
    splitter = inner_cv(y_train, "stratified-kfold:5", "3-class", CLASSES, reduce_k=True)
    assert splitter.n_splits == 3
    folds = list(splitter.split(np.zeros((19, 1)), y_train))
    assert all(np.sum(y_train[test] == 1) == 1 for _, test in folds)
    # Large enough classes keep K.
    assert inner_cv(Y, "stratified-kfold:5", "t", CLASSES, reduce_k=True).n_splits == 5


def test_inner_cv_cannot_reduce_below_two():
    y_train = np.repeat([0, 1], [8, 1])
    with pytest.raises(DataError, match="'slow'"):
        inner_cv(y_train, "stratified-kfold:5", "SvF", CLASSES, reduce_k=True)


def test_inner_scheme_must_be_stratified_kfold():
    with pytest.raises(StudyError):
        inner_cv(Y, "loo", "t", CLASSES, reduce_k=False)


def test_folds_id_is_a_content_hash():
    splits = outer_splits(Y, 24, "stratified-kfold:4", seed=0)
    copied = [(tr.copy().astype(np.int32), te.copy()) for tr, te in splits]
    assert folds_id(copied) == folds_id(splits)
    assert len(folds_id(splits)) == 16
    swapped = [splits[1], splits[0]] + splits[2:]
    assert folds_id(swapped) != folds_id(splits)
    moved = [(splits[0][0][:-1], np.append(splits[0][1], splits[0][0][-1]))] + splits[1:]
    assert folds_id(moved) != folds_id(splits)


# ---- sites (issue 21): the problem's sites reach the folds
def test_leave_site_out_is_leave_one_group_out_on_the_sites():
    from sklearn.model_selection import LeaveOneGroupOut

    y = np.array([0, 1, 0, 1, 0, 1, 1, 0, 0, 1])
    sites = np.array(list("BBAACCABCA"))
    assert parse_cv_scheme("leave-site-out") == ("leave-site-out", 0, 1)
    folds = outer_splits(y, len(y), "leave-site-out", 0, groups=sites)
    expected = list(LeaveOneGroupOut().split(y, y, sites))
    assert [(list(a), list(b)) for a, b in folds] == [(list(a), list(b)) for a, b in expected]
    with pytest.raises(StudyError, match="data.batch"):
        outer_splits(y, len(y), "leave-site-out", 0)


def test_the_problem_helpers_pass_the_sites_on():
    import dataclasses

    from cohortbench.design.configs import CVScheme
    from cohortbench.execute.site_splits import inner_site_splits
    from cohortbench.execute.splits import problem_inner_cv, problem_outer_splits

    from .conftest import make_synthetic_problem

    problem = make_synthetic_problem(class_sizes=(6, 6), n_blocks=1, block_size=4)
    sites = np.array(list("ABC") * 4)
    cv = CVScheme(outer="stratified-kfold:3", inner="stratified-kfold:2")
    plain = problem_outer_splits(problem, problem.y, cv)
    assert folds_id(plain) == folds_id(outer_splits(problem.y, 12, cv.outer, cv.seed))
    assert isinstance(problem_inner_cv(problem, problem.y[plain[0][0]], plain[0][0], cv),
                      StratifiedKFold)
    with_sites = dataclasses.replace(problem, shuffle_groups=sites)
    train = plain[0][0]
    got = problem_inner_cv(with_sites, problem.y[train], train, cv)
    want = inner_site_splits(problem.y[train], sites[train], cv.inner, problem.task,
                             problem.classes, False)
    assert [list(t) for t, _ in got] == [list(t) for t, _ in want]
    lso = problem_outer_splits(with_sites, problem.y, dataclasses.replace(cv, outer="leave-site-out"))
    assert [sorted(set(sites[test])) for _, test in lso] == [["A"], ["B"], ["C"]]
