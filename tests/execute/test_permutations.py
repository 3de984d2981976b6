"""Label shuffles and the permutation-test statistics."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from cohortbench.design.configs import CVScheme, PipelineConfig
from cohortbench.execute import evaluate_reference
from cohortbench.execute.permutations import label_shuffles, permutation_stats, stable_int

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
