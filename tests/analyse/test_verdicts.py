"""The verdict table's sentences, p floors, Wilcoxon floors and the LOO class-balance artefact."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from cohortbench.analyse.verdicts import (
    MIN_PERMUTATIONS,
    explain_below_chance,
    format_p,
    loo_training_majority,
    p_floor,
    permutations_needed,
    verdict,
    wilcoxon_floor,
    z_is_meaningful,
)


# ------------------------------------------------------------------------ p floors
@pytest.mark.parametrize("n_permutations", [0, 1, 2, 3, 5, 18, 19, 50, 99])
def test_p_floor_is_the_p_of_an_accuracy_no_shuffle_reached(n_permutations):
    # SPEC 3.5: p = (1 + #null >= acc) / (1 + P); the best case is #null >= acc = 0.
    nulls = np.full(n_permutations, 0.4)
    p = (1 + int(np.sum(nulls >= 0.9))) / (1 + nulls.size)
    assert p_floor(n_permutations) == p


def test_permutations_needed_for_the_usual_levels():
    assert permutations_needed(0.05) == 19 == MIN_PERMUTATIONS
    assert permutations_needed(0.01) == 99
    assert permutations_needed(0.001) == 999
    for alpha in (0.05, 0.01, 0.2, 0.1):
        needed = permutations_needed(alpha)
        assert p_floor(needed) <= alpha + 1e-12 < p_floor(needed - 1)


def test_z_is_meaningful_from_19_shuffles():
    assert not z_is_meaningful(0) and not z_is_meaningful(3) and not z_is_meaningful(18)
    assert z_is_meaningful(19) and z_is_meaningful(50)


def test_format_p():
    assert format_p(1 / 3) == "0.333"
    assert format_p(0.05) == "0.050"
    assert format_p(1 / 10001) == "0.0001"
    assert format_p(float("nan")) == "not available"


# ---------------------------------------------------------------- the verdict table
# (accuracy, ci_low, ci_high, p, family-wise p, P, N) -> key, exact sentence
VERDICT_ROWS = [
    pytest.param((0.7, 0.5, 0.85, 1 / 3, 1 / 3, 2, 12), "too-few-shuffles", (
        "Accuracy 0.700 (95 % interval 0.500–0.850): too few shuffles to tell; with 2 "
        "shuffled-label runs the smallest possible p-value is 1/3 = 0.333, so at least 19 "
        "are needed for p ≤ 0.05."), id="too-few"),
    # the case: Z = 31 next to p = 0.25 with 3 shuffles is still "too few"
    pytest.param((0.933, None, None, 0.25, 0.25, 3, 1), "too-few-shuffles", (
        "Accuracy 0.933: too few shuffles to tell; with 3 shuffled-label runs the smallest "
        "possible p-value is 1/4 = 0.250, so at least 19 are needed for p ≤ 0.05."),
        id="too-few-no-interval"),
    pytest.param((0.6, 0.42, 0.76, None, None, 0, 1), "too-few-shuffles", (
        "Accuracy 0.600 (95 % interval 0.420–0.760): no shuffled-label runs were made, so "
        "whether it is above chance cannot be told; at least 19 shuffles are needed for "
        "p ≤ 0.05."), id="no-shuffles"),
    pytest.param((0.8, 0.627, 0.905, 0.01, 0.03, 99, 24), "above-chance-familywise", (
        "Accuracy 0.800 (95 % interval 0.627–0.905) is above chance even after choosing the "
        "best of 24 configurations (family-wise p = 0.030; its own p = 0.010, the smallest "
        "possible with 99 shuffles)."), id="familywise"),
    pytest.param((0.8, 0.627, 0.905, 0.05, None, 19, 1), "above-chance-familywise", (
        "Accuracy 0.800 (95 % interval 0.627–0.905) is above chance (p = 0.050, the smallest "
        "possible with 19 shuffles)."), id="familywise-single"),
    pytest.param((0.733, 0.556, 0.858, 0.02, 0.34, 49, 36), "above-chance-alone", (
        "Accuracy 0.733 (95 % interval 0.556–0.858): this configuration alone is above "
        "chance (p = 0.020, the smallest possible with 49 shuffles), but not once the choice "
        "among 36 configurations is accounted for (family-wise p = 0.340)."), id="alone"),
    pytest.param((0.567, 0.392, 0.726, 0.31, 0.92, 50, 8), "chance", (
        "Accuracy 0.567 (95 % interval 0.392–0.726) is not distinguishable from chance "
        "(p = 0.310, family-wise p = 0.920)."), id="chance"),
    pytest.param((0.5, 0.332, 0.668, 0.45, None, 19, 1), "chance", (
        "Accuracy 0.500 (95 % interval 0.332–0.668) is not distinguishable from chance "
        "(p = 0.450)."), id="chance-single"),
]


@pytest.mark.parametrize("arguments, key, sentence", VERDICT_ROWS)
def test_each_verdict_row_has_its_exact_sentence(arguments, key, sentence):
    v = verdict(*arguments)
    assert (v.key, v.sentence) == (key, sentence)


@pytest.mark.parametrize("p, familywise_p, key", [
    (0.05, 0.05, "above-chance-familywise"),    # at the level: p <= alpha counts
    (0.05, 0.0501, "above-chance-alone"),
    (0.0501, 0.2, "chance"),
])
def test_rows_at_the_boundary(p, familywise_p, key):
    assert verdict(0.7, None, None, p, familywise_p, 99, 10).key == key


def test_the_family_wise_p_is_required_for_a_choice_among_several():
    with pytest.raises(ValueError, match="familywise_p"):
        verdict(0.7, None, None, 0.01, None, 99, 10)
    with pytest.raises(ValueError, match="familywise_p"):
        verdict(0.7, None, None, 0.01, math.nan, 99, 10)


def test_a_stricter_level_needs_more_shuffles():
    v = verdict(0.9, None, None, 0.02, 0.02, 49, 1, alpha=0.01)
    assert v.key == "too-few-shuffles"
    assert v.sentence.endswith("1/50 = 0.020, so at least 99 are needed for p ≤ 0.01.")


# --------------------------------------------------------------------- Wilcoxon floor
@pytest.mark.parametrize("n", range(1, 16))
def test_wilcoxon_floor_equals_scipy_with_every_difference_of_one_sign(n):
    differences = np.arange(1, n + 1) / 30.0
    exact = stats.wilcoxon(differences, zero_method="wilcox", method="exact").pvalue
    floor = wilcoxon_floor(n)
    assert floor.smallest_p == pytest.approx(exact, rel=1e-12)
    assert floor.can_reach == (exact < 0.05)
    # and no other sign pattern of these differences does better
    rng = np.random.default_rng(n)
    for _ in range(5):
        signs = rng.choice([-1, 1], n)
        if abs(signs.sum()) < n:
            assert stats.wilcoxon(signs * differences, method="exact").pvalue > floor.smallest_p


def test_wilcoxon_floor_sentences():
    assert wilcoxon_floor(2).sentence == ("With 2 pairs the smallest possible p-value is 0.500, "
                                          "so this row cannot reach 0.05.")
    assert wilcoxon_floor(5).sentence == ("With 5 pairs the smallest possible p-value is 0.062, "
                                          "so this row cannot reach 0.05.")
    assert wilcoxon_floor(6).sentence == "With 6 pairs the smallest possible p-value is 0.031."
    assert not wilcoxon_floor(5).can_reach and wilcoxon_floor(6).can_reach
    assert wilcoxon_floor(0).smallest_p == 1.0 and not wilcoxon_floor(0).can_reach


# ------------------------------------------------------- the LOO class-balance artefact
def test_loo_training_majority():
    assert loo_training_majority(["a", "a", "b", "b"]) == ["b", "b", "a", "a"]
    # 3 vs 2: leaving out an 'a' gives a tie, leaving out a 'b' leaves 'a' larger
    assert loo_training_majority(["a", "a", "a", "b", "b"]) == [None, None, None, "a", "a"]


def _majority_classifier_loo(y):
    """An independent LOO run of scikit-learn's DummyClassifier(strategy='most_frequent')."""
    from sklearn.dummy import DummyClassifier
    from sklearn.model_selection import LeaveOneOut, cross_val_predict

    y = np.asarray(y)
    return cross_val_predict(DummyClassifier(strategy="most_frequent"), np.zeros((y.size, 1)), y,
                             cv=LeaveOneOut())


def test_a_majority_classifier_on_balanced_classes_is_explained():
    y = np.array(["slow"] * 8 + ["fast"] * 8)
    predicted = _majority_classifier_loo(y)
    assert np.mean(predicted == y) == 0.0
    assert explain_below_chance(y, predicted) == (
        "Accuracy 0.000 is below chance (0.500) because the classifier mostly predicted the "
        "larger class of its training fold (16 of 16 subjects): leaving one subject out makes "
        "the other class the larger one, so a classifier that learns little beyond the class "
        "balance is wrong on nearly every held-out subject; this is an artefact of "
        "leave-one-out on balanced classes, not a reversed signal.")


def test_three_balanced_classes_say_another_class():
    y = np.array(["HC"] * 5 + ["slow"] * 5 + ["fast"] * 5)
    predicted = np.array(["slow"] * 5 + ["fast"] * 5 + ["HC"] * 5)   # never its own class
    # leaving out one subject makes the two other classes tie: no single majority
    assert loo_training_majority(y) == [None] * 15
    assert explain_below_chance(y, predicted) is None
    y = np.array(["HC"] * 6 + ["slow"] * 6 + ["fast"] * 5)
    predicted = _majority_classifier_loo(y)
    assert np.mean(predicted == y) == 0.0
    text = explain_below_chance(y, predicted)
    assert text is not None and "(12 of 12 subjects)" in text
    assert "makes another class the larger one" in text


def test_concentrated_predictions_below_chance_are_explained():
    y = np.array(["a"] * 8 + ["b"] * 8)
    predicted = np.array(["b"] * 14 + ["a"] * 2)
    assert explain_below_chance(y, predicted) == (
        "Accuracy 0.375 is below chance (0.500) and 14 of 16 predictions are 'b': the "
        "classifier learned little beyond the class balance of its training folds, and with "
        "leave-one-out that balance tilts against each held-out subject; read it as no "
        "signal, not as a reversed one.")


def test_no_explanation_at_or_above_chance_or_for_spread_out_errors():
    y = np.array(["a"] * 8 + ["b"] * 8)
    assert explain_below_chance(y, y) is None
    # majority classifier on unbalanced classes: accuracy = majority share, above chance
    y_unbalanced = np.array(["HC"] * 14 + ["ALS"] * 16)
    assert explain_below_chance(y_unbalanced, _majority_classifier_loo(y_unbalanced)) is None
    # below chance, but neither following the folds' majority nor sitting on one class:
    # 'a' subjects 2 right / 6 wrong, 'b' subjects 4 right / 4 wrong
    predicted = np.array(["a"] * 2 + ["b"] * 6 + ["b"] * 4 + ["a"] * 4)
    assert np.mean(predicted == y) == 0.375
    assert explain_below_chance(y, predicted) is None


def test_explain_below_chance_takes_a_given_chance_level():
    y = np.array(["a"] * 8 + ["b"] * 8)
    predicted = _majority_classifier_loo(y)
    assert explain_below_chance(y, predicted, chance=0.0) is None
    assert explain_below_chance(y, predicted, chance=0.4).startswith(
        "Accuracy 0.000 is below chance (0.400) because")
