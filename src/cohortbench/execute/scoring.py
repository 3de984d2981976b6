"""Scoring and the result record, shared by every engine and checked against scikit-learn.

Both engines turn their predictions into an :class:`EvaluationResult` here, so that
the engine-agreement tests compare engines, not a helper with itself; this module's
own tests check it against :mod:`sklearn.metrics` directly.

Choices written down once:

- Metrics are **pooled** over every held-out prediction. With repeated CV each
  subject is predicted once per repeat; accuracy, balanced accuracy, macro F1
  and the confusion matrix pool all repeats (the confusion matrix then sums to
  ``R * n_eval``), and each subject's recorded predicted label is the majority
  vote over its repeats, ties going to the first class in sorted order (the
  encoding of :class:`~cohortbench.execute.problem.Problem`).
- A null accuracy is the pooled accuracy of one shuffle, against that
  shuffle's labels of the evaluated rows.
- Warnings raised while fitting are recorded once each, as
  ``"<Category>: <first line>"``, without deprecation warnings.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score

from ..design.configs import PipelineConfig
from ..store.records import EvaluationResult
from .permutations import permutation_stats
from .problem import Problem
from .splits import folds_id

__all__ = ["IGNORED_WARNINGS", "warning_text", "pooled_accuracy", "pooled_scores",
           "majority_vote", "assemble_result"]

#: Warning categories never recorded (they say nothing about the user's data).
IGNORED_WARNINGS = (DeprecationWarning, PendingDeprecationWarning)

_CLOCK_PREFIX = re.compile(r"^\[\d{2}:\d{2}:\d{2}\] ")


def warning_text(caught) -> str:
    """How a warning is recorded: ``"<Category>: <first line>"`` (at most 300 characters).

    A leading clock time (XGBoost starts its messages with ``[hh:mm:ss]``) is
    dropped, so that the same run records the same text every time.
    """
    lines = str(caught.message).strip().splitlines() or [""]
    first = _CLOCK_PREFIX.sub("", lines[0])
    return f"{caught.category.__name__}: {first[:300]}"


def pooled_accuracy(y_eval: np.ndarray, predictions: np.ndarray) -> float:
    """Fraction of correct predictions over all repeats (one formula for real and null)."""
    return float(np.mean(predictions == np.asarray(y_eval)[None, :]))


def pooled_scores(y_eval: np.ndarray, predictions: np.ndarray, n_classes: int) -> dict:
    """Accuracy, balanced accuracy, macro F1 and confusion pooled over repeats.

    Parameters
    ----------
    y_eval : ndarray of shape (n_eval,)
    predictions : ndarray of shape (R, n_eval)
    n_classes : int

    Returns
    -------
    dict with ``accuracy``, ``balanced_accuracy``, ``f1_macro`` (floats) and
    ``confusion`` (K x K ndarray, rows = true class).
    """
    truth = np.tile(y_eval, predictions.shape[0])
    pooled = predictions.ravel()
    labels = list(range(n_classes))
    with warnings.catch_warnings():
        # A class absent from the truth (possible under a hybrid shuffle) is not an error.
        warnings.simplefilter("ignore", UserWarning)
        balanced = balanced_accuracy_score(truth, pooled)
    return {
        "accuracy": pooled_accuracy(y_eval, predictions),
        "balanced_accuracy": float(balanced),
        "f1_macro": float(f1_score(truth, pooled, labels=labels, average="macro",
                                   zero_division=0.0)),
        "confusion": confusion_matrix(truth, pooled, labels=labels),
    }


def majority_vote(predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-subject most frequent prediction over repeats (ties: lowest class code)."""
    counts = np.stack([(predictions == k).sum(axis=0) for k in range(n_classes)])
    return counts.argmax(axis=0)



def assemble_result(problem: Problem, config: PipelineConfig, predictions: np.ndarray,
                    splits, nulls, *, chosen_params, n_features_used: int, seconds: float,
                    engine: str, warnings, records: dict | None = None,
                    ranking_fits: tuple[int, int] | None = None) -> EvaluationResult:
    """The result record of one evaluation (shared by every engine).

    Parameters
    ----------
    problem : Problem
    config : PipelineConfig
    predictions : ndarray of shape (R, n_eval)
        Predicted codes for the real labels (R repeats of the outer CV).
    splits : list of (train_idx, test_idx)
        The real labels' outer folds.
    nulls : list of float
        One pooled accuracy per shuffle.
    chosen_params : tuple of dict
        The search's choice per outer fold of the real labels.
    n_features_used : int
    seconds : float
    engine : str
    warnings : tuple of str
    records : dict, optional
        Extra per-fold records, ``{name: [[value per fold] per label vector]}``.
    ranking_fits : (int, int), optional
        ``(checked, unreliable)`` RFE ranking fits over every label vector
        (:mod:`~cohortbench.execute.svr_kkt`); None for a configuration without RFE.
        Sets ``numerically_reliable`` and ``unreliable_fraction``.

    Returns
    -------
    EvaluationResult
    """
    n_classes = len(problem.classes)
    y_eval = problem.y[: problem.n_eval]
    scores = pooled_scores(y_eval, predictions, n_classes)
    null_mean, null_std, z_score, p_value = permutation_stats(scores["accuracy"], nulls)
    voted = majority_vote(predictions, n_classes)
    names = problem.classes
    return EvaluationResult(
        task=problem.task,
        classes=tuple(names),
        config_id=config.id,
        view_fingerprint=problem.view_fingerprint,
        folds_id=folds_id(splits),
        accuracy=scores["accuracy"],
        balanced_accuracy=scores["balanced_accuracy"],
        f1_macro=scores["f1_macro"],
        confusion=tuple(tuple(int(v) for v in row) for row in scores["confusion"]),
        subjects=tuple(problem.subjects[: problem.n_eval]),
        true_labels=tuple(names[int(k)] for k in y_eval),
        predicted_labels=tuple(names[int(k)] for k in voted),
        null_accuracies=tuple(float(a) for a in nulls),
        null_mean=null_mean,
        null_std=null_std,
        z_score=z_score,
        p_value=p_value,
        chosen_params=tuple(chosen_params),
        seconds=seconds,
        n_features_used=n_features_used,
        engine=engine,
        warnings=tuple(warnings),
        records=dict(records or {}),
        numerically_reliable=None if ranking_fits is None else ranking_fits[1] == 0,
        unreliable_fraction=None if ranking_fits is None else
        (ranking_fits[1] / ranking_fits[0] if ranking_fits[0] else 0.0),
    )
