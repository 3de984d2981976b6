"""Leave-site-out outer folds and inner folds stratified by class within sites."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import LeaveOneGroupOut

from cohortbench.errors import DataError
from cohortbench.execute.site_splits import inner_site_splits, leave_site_out_splits

CLASSES = ("HC", "ALS")


def test_one_fold_per_site_as_leave_one_group_out():
    sites = np.array(["b", "a", "c", "a", "b", "c", "a", "b", "c", "a"])
    y = np.array([0, 1, 0, 0, 1, 1, 1, 0, 0, 1])
    folds = leave_site_out_splits(y, sites, n_eval=10, classes=CLASSES)
    expected = list(LeaveOneGroupOut().split(np.zeros((10, 1)), y, sites))
    assert len(folds) == 3
    for (train, test), (e_train, e_test) in zip(folds, expected):
        np.testing.assert_array_equal(train, e_train)
        np.testing.assert_array_equal(test, e_test)
        assert train.dtype == np.int64 and len(set(sites[test])) == 1


def test_train_only_rows_train_everywhere_except_on_their_own_site():
    sites = np.array(["a", "a", "b", "b", "c", "c", "a", "c"])     # rows 6, 7: train-only
    y = np.array([0, 1, 0, 1, 0, 1, 0, 0])
    folds = {sites[test[0]]: (train, test)
             for train, test in leave_site_out_splits(y, sites, n_eval=6)}
    np.testing.assert_array_equal(folds["a"][0], [2, 3, 4, 5, 7])
    np.testing.assert_array_equal(folds["b"][0], [0, 1, 4, 5, 6, 7])
    np.testing.assert_array_equal(folds["c"][0], [0, 1, 2, 3, 6])
    assert all(test.max() < 6 for _, test in folds.values())


@pytest.mark.parametrize("sites, y, message", [
    (["a"] * 6, [0, 1] * 3, "at least 2 sites.*only site 'a'"),
    (["a", "a", "b", "b", "c", "c"], [0, 1, 0, 1, 1, 1], "Site 'c' holds only class 'ALS'"),
    (["a", "a", "a", "b", "b", "b"], [0, 0, 1, 0, 1, 1], None),
])
def test_what_leave_site_out_cannot_evaluate_is_refused(sites, y, message):
    if message is None:                  # both sites hold both classes: fine
        assert len(leave_site_out_splits(y, sites, 6, CLASSES)) == 2
        return
    with pytest.raises(DataError, match=message):
        leave_site_out_splits(y, sites, 6, CLASSES)


def test_a_class_found_at_one_site_only_is_refused():
    sites = ["a", "a", "a", "b", "b", "c", "c"]
    y = [0, 1, 2, 0, 1, 0, 1]                                  # class 2 only at site a
    with pytest.raises(DataError, match="Leaving site 'a' out leaves no training subject "
                                        "of class 'fast'"):
        leave_site_out_splits(y, sites, 7, ("HC", "slow", "fast"))


def test_inner_folds_keep_every_site_and_its_class_balance():
    rng = np.random.default_rng(0)
    sites = np.repeat(["a", "b", "c", "d"], [9, 7, 6, 4])
    y = np.concatenate([rng.permutation(np.arange(m) < k) for m, k in
                        [(9, 6), (7, 2), (6, 3), (4, 2)]]).astype(int)
    order = rng.permutation(len(y))
    sites, y = sites[order], y[order]
    folds = inner_site_splits(y, sites, "stratified-kfold:3", "t", CLASSES, reduce_k=False)
    assert len(folds) == 3
    covered = np.sort(np.concatenate([test for _, test in folds]))
    np.testing.assert_array_equal(covered, np.arange(len(y)))
    for train, test in folds:
        assert set(sites[train]) == set(sites)          # every site in every inner training set
        assert set(y[train]) == {0, 1}
        for site in set(sites):                         # each site x class cell spread evenly
            for c in (0, 1):
                cell = (sites == site) & (y == c)
                share = np.sum(cell[test]) / 1.0
                assert abs(share - cell.sum() / 3) < 1
    again = inner_site_splits(y, sites, "stratified-kfold:3", "t", CLASSES, reduce_k=False)
    for (a, b), (c, d) in zip(folds, again):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def test_inner_folds_follow_inner_cv_rules_for_k():
    sites = np.repeat(["a", "b"], 6)
    y = np.tile([0, 0, 0, 0, 1, 1], 2)                 # 4 subjects of class 1 overall
    assert len(inner_site_splits(y, sites, "stratified-kfold:5", "t", CLASSES, True)) == 4
    with pytest.raises(DataError, match="class 'ALS' has only 4 subjects"):
        inner_site_splits(y, sites, "stratified-kfold:5", "t", CLASSES, False)
