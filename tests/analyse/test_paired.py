"""Exact McNemar on two evaluations of the same subjects and folds."""

from __future__ import annotations

import dataclasses
from math import comb

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cohortbench.analyse.paired import (
    EvaluationPredictions,
    PairedComparison,
    mcnemar_exact,
    paired_comparison,
)


def hand_mcnemar(b: int, c: int) -> float:
    """Two-sided exact binomial p by hand: twice the smaller tail of Binomial(b + c, 1/2)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(0, min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


@pytest.mark.parametrize("b, c, want", [
    (0, 0, 1.0), (1, 0, 1.0), (3, 0, 0.25), (5, 0, 0.0625), (6, 0, 0.03125),
    (5, 1, 0.21875), (1, 5, 0.21875), (8, 2, 0.109375), (4, 4, 1.0), (9, 1, 0.021484375),
])
def test_mcnemar_exact_matches_hand_computed_binomial_p(b, c, want):
    # want: 2 * sum_{i <= min(b, c)} C(b+c, i) / 2^(b+c), e.g. (5, 1): 2 * (1 + 6) / 64
    assert mcnemar_exact(b, c) == pytest.approx(want, rel=1e-12)
    assert mcnemar_exact(b, c) == pytest.approx(hand_mcnemar(b, c), rel=1e-12)


def test_mcnemar_exact_over_a_range_of_counts():
    for b in range(0, 15):
        for c in range(0, 15):
            assert mcnemar_exact(b, c) == pytest.approx(hand_mcnemar(b, c), rel=1e-10)


def _evaluation(evaluation_id, predicted, *, truth=None, task="2-class", folds="f1",
                subjects=None, confusion=None):
    truth = truth or ["HC"] * 5 + ["ALS"] * 5
    subjects = subjects or [f"sub-{i:02d}" for i in range(len(truth))]
    return EvaluationPredictions(evaluation_id, task, folds, tuple(subjects), tuple(truth),
                                 tuple(predicted), confusion)


TRUTH = ["HC"] * 5 + ["ALS"] * 5
# A right on 0-7; B right on 0-3 and 8-9 -> b = 4 (4, 5, 6, 7), c = 2 (8, 9)
PRED_A = ["HC"] * 5 + ["ALS"] * 3 + ["HC"] * 2
PRED_B = ["HC"] * 4 + ["ALS"] + ["HC"] * 3 + ["ALS"] * 2


def test_paired_comparison_counts_the_discordant_subjects():
    result = paired_comparison(_evaluation("a", PRED_A), _evaluation("b", PRED_B))
    assert isinstance(result, PairedComparison) and result.comparable
    assert (result.b, result.c, result.n_subjects) == (4, 2, 10)
    assert result.p_value == pytest.approx(hand_mcnemar(4, 2))          # 0.6875
    assert result.accuracy_a == 0.8 and result.accuracy_b == 0.6
    assert result.accuracy_a - result.accuracy_b == pytest.approx((result.b - result.c) / 10)
    assert result.sentence == (
        "Of 10 subjects, 4 were classified correctly by A only and 2 by B only; the exact "
        "McNemar test gives p = 0.688, so the two are not distinguishable on these subjects.")
    want = stats.binomtest(8, 10).proportion_ci(method="wilson")
    assert (result.intervals_a.accuracy.low, result.intervals_a.accuracy.high) == (want.low, want.high)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.b = 3


def test_subject_order_does_not_matter():
    a = _evaluation("a", PRED_A)
    order = np.random.default_rng(0).permutation(10)
    b = _evaluation("b", [PRED_B[i] for i in order], truth=[TRUTH[i] for i in order],
                    subjects=[a.subjects[i] for i in order])
    result = paired_comparison(a, b)
    assert (result.b, result.c) == (4, 2)


def test_a_clear_difference_names_the_better_one_and_the_caveat():
    truth = ["HC"] * 10 + ["ALS"] * 10
    good = list(truth)
    bad = ["ALS"] * 10 + ["ALS"] * 10          # right on the 10 ALS only
    result = paired_comparison(_evaluation("x", bad, truth=truth),
                               _evaluation("y", good, truth=truth), names=("MLR_L2", "SVM_LIN"))
    assert (result.b, result.c) == (0, 10)
    assert result.p_value == pytest.approx(2 / 2**10)
    assert result.sentence == (
        "Of 20 subjects, 0 were classified correctly by MLR_L2 only and 10 by SVM_LIN only; "
        "the exact McNemar test gives p = 0.002, so SVM_LIN classifies these subjects better "
        "than MLR_L2 (approximate, because cross-validated predictions are not independent).")


def test_identical_outcomes_give_p_one():
    result = paired_comparison(_evaluation("a", PRED_A), _evaluation("b", PRED_A))
    assert (result.b, result.c, result.p_value) == (0, 0, 1.0)
    assert result.sentence == ("A and B are right and wrong on exactly the same 10 subjects, so "
                               "they cannot be told apart on these subjects (p = 1).")


@pytest.mark.parametrize("change, words", [
    (dict(task="3-class"), "task '2-class' and B of task '3-class'"),
    (dict(folds="f2"), "different folds (folds_id f1 vs f2)"),
    (dict(folds=None), "different folds (folds_id f1 vs unknown)"),
    (dict(subjects=[f"sub-{i:02d}" for i in range(1, 11)]), "1 only in A, 1 only in B, such as sub-00"),
    (dict(truth=["HC"] * 4 + ["ALS"] * 6), "Subject sub-04 has the true label 'HC' in A and 'ALS' in B"),
])
def test_refuses_different_tasks_subjects_labels_or_folds(change, words):
    a = _evaluation("a", PRED_A)
    b = _evaluation("b", PRED_B, **change)
    result = paired_comparison(a, b)
    assert not result.comparable
    assert words in result.reason
    assert result.sentence == result.reason
    assert result.reason.count(". ") == 0 and result.reason.endswith(".")   # one sentence


def test_repeated_cv_uses_the_confusion_for_intervals_and_says_majority_vote():
    # R = 3 repeats: confusion sums to 30; A's pooled accuracy 22/30.
    a = _evaluation("a", PRED_A, confusion=((13, 2), (6, 9)))
    b = _evaluation("b", PRED_B, confusion=((12, 3), (6, 9)))
    result = paired_comparison(a, b)
    assert result.majority_vote
    assert result.accuracy_a == pytest.approx(22 / 30) and result.accuracy_b == pytest.approx(0.7)
    assert "(each subject's majority vote over the 3 repeats)" in result.sentence
    # fractional total 22/3 over 10 subjects (never 30 observations)
    assert result.intervals_a.accuracy.n_subjects == 10


def test_from_frames_reads_the_exported_tables():
    evaluations = pd.DataFrame({"evaluation_id": ["a", "b"], "task": ["2-class"] * 2,
                                "folds_id": ["f1", np.nan]})
    predictions = pd.DataFrame({
        "evaluation_id": ["a"] * 10 + ["b"] * 10,
        "subject": [f"sub-{i:02d}" for i in range(10)] * 2,
        "true_label": TRUTH * 2, "predicted_label": PRED_A + PRED_B})
    a = EvaluationPredictions.from_frames(evaluations, predictions, "a")
    b = EvaluationPredictions.from_frames(evaluations, predictions, "b")
    assert a == _evaluation("a", PRED_A)
    assert b.folds_id is None and b.predicted_labels == tuple(PRED_B)
    with pytest.raises(ValueError, match="0 rows"):
        EvaluationPredictions.from_frames(evaluations, predictions, "zz")
