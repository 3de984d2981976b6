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
  from :func:`~cohortbench.execute.permutations.label_vectors`; shuffled stratified outer folds are recomputed
  from each shuffled vector (same splitter seed).
- Warnings raised while fitting (e.g. convergence warnings) are recorded once
  each, in order of first appearance.
- Scores, statistics and the record come from :mod:`~cohortbench.execute.scoring`
  (pooled over repeats, majority votes, null accuracies), shared by every engine.
- Sites: outer and inner folds come from :func:`~.splits.problem_outer_splits` and
  :func:`~.splits.problem_inner_cv`, which use the problem's sites (leave-site-out,
  inner folds stratified by class within sites). A configuration with side steps
  (confounds, harmonize) is fitted on ``[X | side]`` (:meth:`Problem.features_for`)
  with the side steps in its pipeline.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from ..design.classifiers import search_space
from ..design.configs import CVScheme, PipelineConfig
from ..store.records import EvaluationResult
from .permutations import label_vectors
from .fold_records import FoldRecordInput, collect_records
from .svr_kkt import replay_rfe_checks
from .pipelines import build_pipeline
from .problem import Problem
from .scoring import IGNORED_WARNINGS, assemble_result, pooled_accuracy, warning_text
from .search import fit_with_search
from .splits import problem_inner_cv, problem_outer_splits

__all__ = ["evaluate_reference", "evaluate_labels", "LabelRun"]



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
    records : tuple of dict
        Per outer fold, the requested records ``{name: value}`` (empty when none).
    ranking_fits : tuple of int
        ``(checked, unreliable)`` RFE ranking fits of the outer folds
        (:mod:`~cohortbench.execute.svr_kkt`); ``(0, 0)`` without RFE.
    """

    predictions: np.ndarray
    splits: list
    chosen_params: tuple
    n_features_used: int
    records: tuple = ()
    ranking_fits: tuple = (0, 0)


def evaluate_labels(problem: Problem, config: PipelineConfig, cv: CVScheme, y,
                    records: tuple[str, ...] = (), label_vector: int = 0) -> LabelRun:
    """Outer cross-validation of one configuration against one label vector.

    Parameters
    ----------
    problem : Problem
        Features, blocks, classes and task; ``problem.y`` is *not* used.
    config : PipelineConfig
    cv : CVScheme
    y : ndarray of shape (n,)
        Label codes for every row (real or shuffled), train-only rows included.
    records : tuple of str
        Per-fold records to collect (:mod:`~cohortbench.execute.fold_records`).
    label_vector : int
        Which label vector ``y`` is (0 = the real labels), for the records.

    Returns
    -------
    LabelRun
    """
    y = np.asarray(y)
    splits = problem_outer_splits(problem, y, cv)
    n_classes = len(problem.classes)
    space = search_space(config.classifier) if config.search != "none" else None
    X = problem.features_for(config)
    predictions: list[list[int]] = []
    times_seen = np.zeros(problem.n_eval, dtype=np.int64)
    chosen, n_used, kept = [], None, []
    checked = unreliable = 0
    for fold, (train, test) in enumerate(splits):
        pipeline, n_used = build_pipeline(
            config, blocks=problem.blocks, n_classes=n_classes,
            n_features_available=problem.X.shape[1], random_state=cv.seed,
            side_layout=problem.side_layout)
        splitter = None
        if space is not None:
            splitter = problem_inner_cv(problem, y[train], train, cv)
        fitted, params = fit_with_search(pipeline, X[train], y[train], config.search,
                                         space, splitter, cv.seed)
        chosen.append(params)
        predicted = np.asarray(fitted.predict(X[test]), dtype=np.int64)
        if config.feature_selection == "rfe":  # the ranking fits, replayed and checked
            fits = replay_rfe_checks(fitted, X[train], y[train])
            checked, unreliable = checked + fits[0], unreliable + fits[1]
        if records:
            kept.append(collect_records(records, FoldRecordInput(
                label_vector, fold, train, test, y[train], predicted, fitted,
                X_train=problem.X[train], classes=problem.classes)))
        for row, label in zip(test, predicted):
            repeat = times_seen[row]
            if repeat == len(predictions):
                predictions.append([-1] * problem.n_eval)
            predictions[repeat][row] = int(label)
            times_seen[row] += 1
    if times_seen.min() != times_seen.max():
        raise RuntimeError("The outer CV did not predict every subject equally often.")
    return LabelRun(np.asarray(predictions, dtype=np.int64), splits, tuple(chosen), n_used,
                    tuple(kept), (checked, unreliable))


def evaluate_reference(problem: Problem, config: PipelineConfig, cv: CVScheme,
                       records: tuple[str, ...] = ()) -> EvaluationResult:
    """Evaluate one configuration on one problem with plain scikit-learn.

    Parameters
    ----------
    problem : Problem
        The (view, task) arrays; rows ``[n_eval, n)`` only ever train.
    config : PipelineConfig
        Steps, classifier and search strategy.
    cv : CVScheme
        Outer/inner CV, number of permutations and seed.
    records : tuple of str
        Extra per-fold records to keep (:mod:`~cohortbench.execute.fold_records`).

    Returns
    -------
    EvaluationResult
        Labels as class names, ``engine="reference"``.
    """
    start = time.perf_counter()
    recorded: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        real_labels, *shuffles = label_vectors(problem, cv)
        real = evaluate_labels(problem, config, cv, real_labels, records)
        nulls, kept, fits = [], [real.records], [real.ranking_fits]
        for index, shuffled in enumerate(shuffles, start=1):
            run = evaluate_labels(problem, config, cv, shuffled, records, index)
            nulls.append(pooled_accuracy(shuffled[: problem.n_eval], run.predictions))
            kept.append(run.records)
            fits.append(run.ranking_fits)
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
                           warnings=tuple(recorded),
                           records={name: [[fold[name] for fold in vector] for vector in kept]
                                    for name in records},
                           ranking_fits=tuple(map(sum, zip(*fits)))
                           if config.feature_selection == "rfe" else None)
