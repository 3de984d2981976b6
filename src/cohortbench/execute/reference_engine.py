"""The reference engine: one evaluation with plain scikit-learn (SPEC section 3).

This is the oracle every faster engine is tested against, so it favours the
obvious over the clever: for every label vector (the real one, then each
shuffle) and every outer fold, a fresh pipeline is built, fitted (with the
inner search, if any) on the training rows only and asked to predict the test
rows.

Choices other engines must reproduce:

- Random seeds: the classifier gets ``random_state = cv.seed``;
  :func:`fit_with_search` gets ``seed = cv.seed`` in every outer fold and
  label vector (each strategy derives its own seed from it); shuffles come
  from :func:`label_shuffles`; shuffled stratified outer folds are recomputed
  from each shuffled vector (same splitter seed).
- Metrics are **pooled** over every held-out prediction. With repeated CV each
  subject is predicted once per repeat; accuracy, balanced accuracy, macro F1
  and the confusion matrix pool all repeats (the confusion matrix then sums to
  ``R * n_eval``), and each subject's recorded predicted label is the majority
  vote over its repeats, ties going to the first class in sorted order
  (the encoding of :class:`~cohortbench.execute.problem.Problem`).
- A null accuracy is the pooled accuracy of one shuffle, against that
  shuffle's labels of the evaluated rows.
- Warnings raised while fitting (e.g. convergence warnings) are recorded once
  each, in order of first appearance, without deprecation warnings.
"""

from __future__ import annotations

import re
import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score

from ..design.classifiers import search_space
from ..design.configs import CVScheme, PipelineConfig
from ..store.records import EvaluationResult
from .permutations import label_shuffles, permutation_stats
from .pipelines import build_pipeline
from .problem import Problem
from .search import fit_with_search
from .splits import folds_id, inner_cv, outer_splits

__all__ = ["evaluate_reference", "evaluate_labels", "LabelRun", "pooled_accuracy", "pooled_scores",
           "assemble_result", "majority_vote", "warning_text"]

IGNORED_WARNINGS = (DeprecationWarning, PendingDeprecationWarning)


@dataclass(frozen=True)
class LabelRun:
    """The outcome of the outer CV for one label vector.

    Attributes
    ----------
    predictions : ndarray of shape (R, n_eval)
        Predicted class codes; row ``r`` holds repeat ``r`` (R = 1 unless the
        outer CV is repeated).
    splits : list of (train_idx, test_idx)
        The outer folds used.
    chosen_params : tuple of dict
        The search's choice per outer fold (empty dicts without a search).
    n_features_used : int
        As returned by :func:`build_pipeline`.
    """

    predictions: np.ndarray
    splits: list
    chosen_params: tuple
    n_features_used: int


def evaluate_labels(problem: Problem, config: PipelineConfig, cv: CVScheme, y) -> LabelRun:
    """Outer cross-validation of one configuration against one label vector.

    Parameters
    ----------
    problem : Problem
        Features, blocks, classes and task; ``problem.y`` is *not* used.
    config : PipelineConfig
    cv : CVScheme
    y : ndarray of shape (n,)
        Label codes for every row (real or shuffled), train-only rows included.

    Returns
    -------
    LabelRun
    """
    y = np.asarray(y)
    splits = outer_splits(y, problem.n_eval, cv.outer, cv.seed)
    n_classes = len(problem.classes)
    space = search_space(config.classifier) if config.search != "none" else None
    predictions: list[list[int]] = []
    times_seen = np.zeros(problem.n_eval, dtype=np.int64)
    chosen, n_used = [], None
    for train, test in splits:
        pipeline, n_used = build_pipeline(
            config, blocks=problem.blocks, n_classes=n_classes,
            n_features_available=problem.X.shape[1], random_state=cv.seed)
        splitter = None
        if space is not None:
            splitter = inner_cv(y[train], cv.inner, problem.task, problem.classes,
                                cv.reduce_inner_k)
        fitted, params = fit_with_search(pipeline, problem.X[train], y[train], config.search,
                                         space, splitter, cv.seed)
        chosen.append(params)
        predicted = np.asarray(fitted.predict(problem.X[test]), dtype=np.int64)
        for row, label in zip(test, predicted):
            repeat = times_seen[row]
            if repeat == len(predictions):
                predictions.append([-1] * problem.n_eval)
            predictions[repeat][row] = int(label)
            times_seen[row] += 1
    if times_seen.min() != times_seen.max():
        raise RuntimeError("The outer CV did not predict every subject equally often.")
    return LabelRun(np.asarray(predictions, dtype=np.int64), splits, tuple(chosen), n_used)


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


def evaluate_reference(problem: Problem, config: PipelineConfig, cv: CVScheme) -> EvaluationResult:
    """Evaluate one configuration on one problem with plain scikit-learn.

    Parameters
    ----------
    problem : Problem
        The (view, task) arrays; rows ``[n_eval, n)`` only ever train.
    config : PipelineConfig
        Steps, classifier and search strategy.
    cv : CVScheme
        Outer/inner CV, number of permutations and seed.

    Returns
    -------
    EvaluationResult
        Labels as class names, ``engine="reference"``.
    """
    start = time.perf_counter()
    recorded: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        real = evaluate_labels(problem, config, cv, problem.y)
        nulls = []
        for shuffled in label_shuffles(problem.y, cv.permutations, cv.seed, problem.task):
            run = evaluate_labels(problem, config, cv, shuffled)
            nulls.append(pooled_accuracy(shuffled[: problem.n_eval], run.predictions))
    for item in caught:
        if issubclass(item.category, IGNORED_WARNINGS):
            continue
        text = warning_text(item)
        if text not in recorded:
            recorded.append(text)

    return assemble_result(problem, config, real.predictions, real.splits, nulls,
                           chosen_params=real.chosen_params,
                           n_features_used=real.n_features_used,
                           seconds=time.perf_counter() - start, engine="reference",
                           warnings=tuple(recorded))


def assemble_result(problem: Problem, config: PipelineConfig, predictions: np.ndarray,
                    splits, nulls, *, chosen_params, n_features_used: int, seconds: float,
                    engine: str, warnings) -> EvaluationResult:
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
    )
