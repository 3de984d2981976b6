"""Label shuffles and the permutation-test statistics."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import NearestCentroid

from cohortbench.design.configs import CVScheme, PipelineConfig
from cohortbench.execute import evaluate_reference
from cohortbench.execute.permutations import (
    label_shuffles,
    label_shuffles_within,
    permutation_stats,
    stable_int,
)

from .conftest import make_noise_problem

pytestmark = pytest.mark.usefixtures("one_thread")

Y = np.repeat([0, 1, 2], [5, 7, 9]).astype(np.int64)


def test_shuffles_are_permutations_of_the_whole_vector():
    shuffles = label_shuffles(Y, 20, seed=0, task="3-class")
    assert shuffles.shape == (20, len(Y)) and shuffles.dtype == Y.dtype
    for row in shuffles:
        np.testing.assert_array_equal(np.sort(row), Y)
    assert len({row.tobytes() for row in shuffles}) == 20
    assert not any(np.array_equal(row, Y) for row in shuffles)


def test_shuffles_depend_only_on_seed_task_and_labels():
    a = label_shuffles(Y, 5, seed=0, task="3-class")
    np.testing.assert_array_equal(a, label_shuffles(Y, 5, seed=0, task="3-class"))
    assert not np.array_equal(a, label_shuffles(Y, 5, seed=1, task="3-class"))
    assert not np.array_equal(a, label_shuffles(Y, 5, seed=0, task="SvF"))
    # More permutations extend the same sequence (P=5 is a prefix of P=8).
    np.testing.assert_array_equal(a, label_shuffles(Y, 8, seed=0, task="3-class")[:5])
    assert label_shuffles(Y, 0, seed=0, task="3-class").shape == (0, len(Y))


def test_stable_int_is_not_pythons_salted_hash():
    expected = int.from_bytes(hashlib.sha256(b"3-class").digest()[:8], "little")
    assert stable_int("3-class") == expected
    code = ("import numpy as np;"
            "from cohortbench.execute.permutations import label_shuffles;"
            "print(label_shuffles(np.arange(12), 2, 4, 'SvF').tolist())")
    # Another process with another string-hash salt draws the same shuffles.
    salt = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env=dict(os.environ, PYTHONHASHSEED=salt))
    assert done.stdout.strip() == str(label_shuffles(np.arange(12), 2, 4, "SvF").tolist())


def test_negative_number_of_permutations_is_refused():
    with pytest.raises(ValueError):
        label_shuffles(Y, -1, 0, "t")


def test_stats_on_constructed_numbers():
    nulls = [0.5, 0.6, 0.7, 0.8]
    mean, std, z, p = permutation_stats(0.7, nulls)
    assert mean == pytest.approx(0.65)
    assert std == pytest.approx(np.sqrt(0.0125))          # population std, ddof=0
    assert z == pytest.approx(0.05 / np.sqrt(0.0125))
    assert p == (1 + 2) / (1 + 4)                         # 0.7 and 0.8 are >= 0.7: ties count


def test_p_value_formula_extremes():
    assert permutation_stats(1.0, [0.1, 0.2, 0.3])[3] == 1 / 4     # never 0
    assert permutation_stats(0.0, [0.1, 0.2, 0.3])[3] == 1.0
    assert permutation_stats(0.5, [0.5] * 9)[3] == 1.0


def test_zero_null_std_gives_no_z_and_no_nulls_give_nothing():
    mean, std, z, p = permutation_stats(0.9, [0.5, 0.5, 0.5])
    assert (mean, std, z, p) == (0.5, 0.0, None, 0.25)
    assert permutation_stats(0.9, []) == (None, None, None, None)


def test_noise_gives_chance_nulls_and_p_values_that_are_not_small():
    """On pure noise the null mean sits at chance and the real accuracy is just
    another draw from the null, so p-values are spread out, not small.

    The outer CV is stratified 5-fold: with leave-one-out on noise the held-out
    subject's class is always the training minority, which biases every accuracy
    (real and null alike) a little below chance; that is a property of LOO, not
    of the permutation test.
    """
    config = PipelineConfig("KNN")
    results = [evaluate_reference(make_noise_problem(seed, p=50), config,
                                  CVScheme(outer="stratified-kfold:5", permutations=19,
                                           seed=seed))
               for seed in range(5)]
    nulls = np.concatenate([r.null_accuracies for r in results])
    assert len(nulls) == 5 * 19
    assert abs(nulls.mean() - 0.5) < 0.05
    p_values = np.array([r.p_value for r in results])
    assert np.sum(p_values < 0.05) <= 1
    assert p_values.mean() > 0.25
    for r in results:
        assert r.null_mean == pytest.approx(np.mean(r.null_accuracies))
        assert r.p_value == (1 + sum(a >= r.accuracy for a in r.null_accuracies)) / 20


# --- within-site shuffles (issue 21) --------------------------------------------------


SITES = np.array(list("abcab" "cabca" "bcabc" "abcab" "c"))


def test_within_shuffles_keep_every_sites_class_counts():
    y = np.array([0, 1, 1, 0, 0, 1, 2, 2, 0, 1, 0, 1, 2, 0, 1, 2, 2, 0, 1, 0, 1])
    shuffles = label_shuffles_within(y, SITES, 30, seed=0, task="t")
    assert shuffles.shape == (30, len(y)) and shuffles.dtype == y.dtype
    for row in shuffles:
        for site in "abc":
            np.testing.assert_array_equal(np.sort(row[SITES == site]), np.sort(y[SITES == site]))
    assert len({row.tobytes() for row in shuffles}) == 30
    # Not a plain shuffle: a plain one moves labels across sites.
    plain = label_shuffles(y, 30, seed=0, task="t")
    assert any(not np.array_equal(np.sort(r[SITES == "a"]), np.sort(y[SITES == "a"]))
               for r in plain)


def test_within_shuffles_are_seeded_like_plain_ones():
    y = np.arange(12) % 3
    one_site = np.zeros(12)
    np.testing.assert_array_equal(label_shuffles_within(y, one_site, 6, 4, "SvF"),
                                  label_shuffles(y, 6, 4, "SvF"))
    sites = np.arange(12) % 2
    a = label_shuffles_within(y, sites, 5, 1, "t")
    np.testing.assert_array_equal(a, label_shuffles_within(y, sites, 8, 1, "t")[:5])
    assert not np.array_equal(a, label_shuffles_within(y, sites, 5, 2, "t"))
    assert not np.array_equal(a, label_shuffles_within(y, sites, 5, 1, "u"))
    # A site holding one class is left as it is.
    y2 = np.where(sites == 0, 1, np.arange(12) % 2)
    for row in label_shuffles_within(y2, sites, 5, 0, "t"):
        np.testing.assert_array_equal(row[sites == 0], 1)
    with pytest.raises(ValueError, match="groups has shape"):
        label_shuffles_within(y, sites[:5], 2, 0, "t")
    with pytest.raises(ValueError, match=">= 0"):
        label_shuffles_within(y, sites, -1, 0, "t")


def _site_confounded_noise(seed, differ, n_per_site=20, p=10, shift=1.0):
    """Two sites; features = noise + a site shift; labels tied to site only (or not)."""
    rng = np.random.default_rng(seed)
    site = np.repeat([0, 1], n_per_site)
    ones = (15, 5) if differ else (10, 10)
    y = np.concatenate([rng.permutation(np.arange(n_per_site) < k) for k in ones]).astype(int)
    X = rng.normal(size=(2 * n_per_site, p)) + shift * site[:, None]
    order = rng.permutation(2 * n_per_site)
    return X[order], y[order], site[order]


def _centroid_accuracies(X, labels, folds):
    """Nearest-centroid CV accuracy for every row of ``labels`` at once (two classes)."""
    correct = np.zeros(len(labels))
    for train, test in folds:
        member = labels[:, train].astype(float)
        c1 = member @ X[train] / member.sum(1, keepdims=True)
        c0 = (1 - member) @ X[train] / (1 - member).sum(1, keepdims=True)
        d1 = ((X[test][None] - c1[:, None]) ** 2).sum(-1)
        d0 = ((X[test][None] - c0[:, None]) ** 2).sum(-1)
        correct += ((d1 < d0).astype(int) == labels[:, test]).sum(1)
    return correct / labels.shape[1]


def test_vectorised_centroid_classifier_equals_scikit_learns():
    X, y, _ = _site_confounded_noise(0, True)
    folds = [(np.setdiff1d(np.arange(40), f), f) for f in np.array_split(np.arange(40), 5)]
    expected = cross_val_score(NearestCentroid(), X, y, cv=folds).mean()
    assert _centroid_accuracies(X, y[None], folds)[0] == pytest.approx(expected)


def _fraction_small(n_datasets, differ, P=39):
    """How many datasets get p <= 0.05 with plain and with within-site shuffles."""
    small = np.zeros(2, dtype=int)
    for seed in range(n_datasets):
        X, y, site = _site_confounded_noise(seed, differ)
        folds = [(np.setdiff1d(np.arange(40), f), f) for f in
                 np.array_split(np.random.default_rng(10_000 + seed).permutation(40), 5)]
        for k, shuffles in enumerate((label_shuffles(y, P, seed, "t"),
                                      label_shuffles_within(y, site, P, seed, "t"))):
            acc = _centroid_accuracies(X, np.vstack([y, shuffles]), folds)
            small[k] += (1 + np.sum(acc[1:] >= acc[0])) / (1 + P) <= 0.05
    return small


def _calibrated(k, n):
    return binomtest(int(k), n, 0.05, alternative="greater").pvalue >= 0.01


def test_calibration_fast_proxy():
    """100 datasets each, a vectorised centroid classifier on fixed folds (the slow test
    below: 200 each, scikit-learn's own fits, folds recomputed per label vector)."""
    n = 100
    plain, within = _fraction_small(n, differ=True)
    assert not _calibrated(plain, n) and _calibrated(within, n), (plain, within)
    plain, within = _fraction_small(n, differ=False)
    assert _calibrated(plain, n) and _calibrated(within, n), (plain, within)


def _fitted_centroid_accuracy(X, labels, splitter):
    """scikit-learn's NearestCentroid, folds recomputed for these labels."""
    hits = 0
    for train, test in splitter.split(X, labels):
        model = NearestCentroid().fit(X[train], labels[train])
        hits += int(np.sum(model.predict(X[test]) == labels[test]))
    return hits / len(labels)


@pytest.mark.slow
def test_calibration_plain_shuffles_fail_and_within_site_shuffles_hold_when_sites_differ():
    """200 datasets per scenario, P = 39, scikit-learn's NearestCentroid in stratified
    5-fold CV recomputed for every label vector (as the study's outer CV is)."""
    n, P = 200, 39
    counts = {}
    for differ in (True, False):
        small = np.zeros(2, dtype=int)
        for seed in range(n):
            X, y, site = _site_confounded_noise(seed, differ)
            splitter = StratifiedKFold(5, shuffle=True, random_state=seed)
            real = _fitted_centroid_accuracy(X, y, splitter)
            for k, shuffles in enumerate((label_shuffles(y, P, seed, "t"),
                                          label_shuffles_within(y, site, P, seed, "t"))):
                nulls = np.array([_fitted_centroid_accuracy(X, row, splitter)
                                  for row in shuffles])
                small[k] += (1 + np.sum(nulls >= real)) / (1 + P) <= 0.05
        counts[differ] = small
    print(f"\ncalibration over {n} datasets (p <= 0.05 counts, plain / within): "
          f"differing balance {counts[True]}, balanced {counts[False]}")
    assert not _calibrated(counts[True][0], n) and _calibrated(counts[True][1], n)
    assert _calibrated(counts[False][0], n) and _calibrated(counts[False][1], n)
