"""Learning-curve subsamples: allocation, stratified draws, size ladder, training sizes, keys."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from cohortbench.design.subsamples import (
    check_sizes,
    class_allocation,
    parse_subset_key,
    resolve_sizes,
    size_ladder,
    smallest_size,
    stratified_subsample,
    subset_key,
    training_size,
)
from cohortbench.errors import StudyError
from cohortbench.execute.splits import outer_splits

Y = np.repeat(["HC", "fast", "slow"], [14, 8, 8])  # codes: HC=0, fast=1, slow=2 (sorted)


def _hamilton(counts, size):
    """Largest remainder by hand (exact fractions): floors, leftovers to largest fractions."""
    quotas = [Fraction(size * c, sum(counts)) for c in counts]
    out = [int(q) for q in quotas]
    order = sorted(range(len(counts)), key=lambda k: (-(quotas[k] - int(quotas[k])),
                                                      -counts[k], k))
    for k in order[:size - sum(out)]:
        out[k] += 1
    return out


@pytest.mark.parametrize("counts", [(14, 8, 8), (14, 16), (5, 7, 9), (3, 3, 3, 20)])
def test_allocation_is_the_largest_remainder_rule(counts):
    for size in range(sum(counts) + 1):
        allocation = class_allocation(counts, size)
        assert allocation.sum() == size
        assert np.all(allocation <= counts)
        assert allocation.tolist() == _hamilton(counts, size)
        # every class within one subject of its exact share
        assert np.all(np.abs(allocation - size * np.array(counts) / sum(counts)) < 1)
    with pytest.raises(ValueError):
        class_allocation(counts, sum(counts) + 1)


def test_subsamples_are_stratified_deterministic_and_independent_of_other_requests():
    for size, repeat in itertools.product((11, 16, 23), range(3)):
        idx = stratified_subsample(Y, size, seed=4, task="3-class", repeat=repeat)
        assert idx.dtype == np.int64 and np.all(np.diff(idx) > 0)  # sorted, no duplicates
        labels, counts = np.unique(Y[idx], return_counts=True)
        assert dict(zip(labels, counts)) == dict(zip(["HC", "fast", "slow"],
                                                     class_allocation([14, 8, 8], size)))
        again = stratified_subsample(Y, size, seed=4, task="3-class", repeat=repeat)
        np.testing.assert_array_equal(idx, again)
    a = stratified_subsample(Y, 16, seed=4, task="3-class", repeat=0)
    for other in (dict(seed=5, task="3-class", repeat=0), dict(seed=4, task="SvF", repeat=0),
                  dict(seed=4, task="3-class", repeat=1)):
        assert not np.array_equal(a, stratified_subsample(Y, 16, **other))
    # The whole cohort is the same for every repeat
    np.testing.assert_array_equal(stratified_subsample(Y, 30, seed=4, task="t", repeat=7),
                                  np.arange(30))


def test_subsamples_are_not_nested_across_sizes():
    # Documented: each (size, repeat) is an independent draw, not a subset of a larger one
    nested = [set(stratified_subsample(Y, 11, seed=s, task="t", repeat=0))
              <= set(stratified_subsample(Y, 23, seed=s, task="t", repeat=0))
              for s in range(20)]
    assert not all(nested)


def test_subsamples_cover_the_cohort_evenly():
    # Over many repeats each subject of a class is drawn about equally often
    hits = np.zeros(len(Y))
    for repeat in range(400):
        hits[stratified_subsample(Y, 15, seed=0, task="t", repeat=repeat)] += 1
    for label in np.unique(Y):
        members = Y == label
        expected = 400 * class_allocation([14, 8, 8], 15)[list(np.unique(Y)).index(label)] \
            / members.sum()
        # binomial sd of a count out of 400 draws is at most 10: allow 5 sd
        assert np.all(np.abs(hits[members] - expected) < 50)


def _cv_ok(y, outer, inner=None):
    """Check a subsample against the CV by running the splits: every class keeps 2 members
    in every outer training fold (and the inner K when a search runs)."""
    folds = outer_splits(y, len(y), outer, seed=0)
    need = 2 if inner is None else max(2, int(inner.split(":")[1]))
    return all(np.min(np.unique(y[train], return_counts=True)[1]) >= need
               and len(np.unique(y[train])) == len(np.unique(y)) for train, _ in folds)


@pytest.mark.filterwarnings("ignore:The least populated class")  # sizes below the minimum
@pytest.mark.parametrize(("outer", "inner"), [("loo", None), ("loo", "stratified-kfold:5"),
                                              ("stratified-kfold:5", None),
                                              ("stratified-kfold:3", "stratified-kfold:3")])
def test_smallest_size_is_the_smallest_that_the_cv_allows(outer, inner):
    counts = [14, 8, 8]
    y_codes = np.repeat([0, 1, 2], counts)
    lowest = smallest_size(counts, outer, inner)
    for size in range(lowest - 3, lowest + 1):
        idx = stratified_subsample(y_codes, size, seed=0, task="t", repeat=0)
        allocation_ok = _cv_ok(y_codes[idx], outer, inner) and (
            outer == "loo" or class_allocation(counts, size).min()
            >= int(outer.split(":")[1]))
        assert allocation_ok == (size == lowest), size
    ladder = size_ladder(counts, outer, inner)
    assert ladder[0] == lowest and ladder[-1] == 30 and list(ladder) == sorted(set(ladder))
    assert len(ladder) <= 8
    check_sizes(ladder, counts, ["HC", "slow", "fast"], task="3-class", outer=outer,
                inner=inner)


def test_check_sizes_names_class_size_and_fix():
    with pytest.raises(StudyError, match=r"Task '3-class': a stratified subsample of 8 "
                       r"subjects holds only 2 of class 'slow'.*at least 11"):
        check_sizes([8, 20], [14, 8, 8], ["HC", "slow", "fast"], task="3-class")
    with pytest.raises(StudyError, match="inner folds.*at least 22"):
        check_sizes([20], [14, 8, 8], ["HC", "slow", "fast"], task="3-class",
                    inner="stratified-kfold:5")
    with pytest.raises(StudyError, match="outside 2..30"):
        check_sizes([31], [14, 8, 8], ["HC", "slow", "fast"], task="3-class")
    assert size_ladder([2, 2], "loo") == ()
    assert smallest_size([2, 2], "loo") is None


def test_resolve_sizes_takes_counts_and_fractions():
    assert resolve_sizes([0.5, 1.0, 12, 12, 0.25], 30) == (8, 12, 15, 30)
    with pytest.raises(StudyError, match="neither a subject count nor a fraction"):
        resolve_sizes([1.5], 30)


@pytest.mark.parametrize("outer", ["loo", "stratified-kfold:5", "repeated-stratified-kfold:3:2"])
def test_training_size_is_the_mean_outer_training_set(outer):
    for n in (11, 16, 30):
        y = np.repeat([0, 1], [n // 2, n - n // 2])
        folds = outer_splits(y, n, outer, seed=0)
        assert training_size(n, outer) == pytest.approx(np.mean([len(t) for t, _ in folds]))
    np.testing.assert_allclose(training_size(np.array([10, 20]), "loo"), [9, 19])


def test_subset_keys_round_trip():
    assert subset_key(12, 3) == "size=12/repeat=3"
    assert parse_subset_key(subset_key(30, 0)) == (30, 0)
    assert parse_subset_key("toy/1") is None and parse_subset_key(None) is None
