"""The shared scoring against scikit-learn's metrics, computed directly."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score

from cohortbench.design.configs import PipelineConfig
from cohortbench.execute.problem import Problem
from cohortbench.execute.scoring import (assemble_result, majority_vote, pooled_accuracy,
                                         pooled_scores, warning_text)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("repeats", [1, 3])
def test_pooled_scores_equal_sklearn_on_the_pooled_predictions(seed, repeats):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=17)
    predictions = rng.integers(0, 3, size=(repeats, 17))
    scores = pooled_scores(y, predictions, 3)
    truth, pooled = np.tile(y, repeats), predictions.ravel()
    assert scores["accuracy"] == accuracy_score(truth, pooled)
    assert scores["accuracy"] == pooled_accuracy(y, predictions)
    assert scores["balanced_accuracy"] == balanced_accuracy_score(truth, pooled)
    assert scores["f1_macro"] == f1_score(truth, pooled, average="macro", labels=[0, 1, 2],
                                          zero_division=0.0)
    np.testing.assert_array_equal(scores["confusion"],
                                  confusion_matrix(truth, pooled, labels=[0, 1, 2]))


def test_majority_vote_ties_go_to_the_first_code():
    predictions = np.array([[0, 2, 1], [1, 2, 1], [2, 2, 0], [1, 0, 0]])
    assert majority_vote(predictions, 3).tolist() == [1, 2, 0]


def test_warning_text_drops_a_clock_and_keeps_the_first_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("[12:34:56] booster says hi\nsecond line", UserWarning)
    assert warning_text(caught[0]) == "UserWarning: booster says hi"


def test_the_record_maps_codes_back_to_names_and_takes_the_permutation_p():
    problem = Problem(X=np.zeros((4, 1)), y=np.array([0, 0, 1, 1]), n_eval=4,
                      blocks=((0, 1),), classes=("ALS", "HC"), subjects=("a", "b", "c", "d"),
                      task="t", view_fingerprint="v")
    splits = [(np.array([1, 2, 3]), np.array([0])), (np.array([0, 2, 3]), np.array([1])),
              (np.array([0, 1, 3]), np.array([2])), (np.array([0, 1, 2]), np.array([3]))]
    result = assemble_result(problem, PipelineConfig("KNN"), np.array([[0, 1, 1, 1]]), splits,
                             [0.5, 0.75, 1.0], chosen_params=[{}] * 4, n_features_used=1,
                             seconds=0.1, engine="fast", warnings=())
    assert result.accuracy == 0.75 and result.predicted_labels == ("ALS", "HC", "HC", "HC")
    assert result.true_labels == ("ALS", "ALS", "HC", "HC")
    assert result.p_value == (1 + 2) / (1 + 3)  # nulls >= 0.75: two of three
