"""The exact fast engine: many configurations of one problem, sharing all common work.

:func:`evaluate_fast` returns what :func:`~cohortbench.execute.reference_engine.evaluate_reference`
returns for each configuration (same splits, shuffles, seeds, metrics and
statistics: they come from the same functions), computed by sharing:

- label vectors (real + shuffles) are grouped by outer training set, so the
  label-free transforms of a split are computed once for all of them
  (with LOO every label vector has the same splits);
- inside a split, :mod:`.shared_transforms` computes each transform once for all
  configurations (and every k), and the RFE path once for every k;
- the classifier is fitted by scikit-learn itself on the shared matrices; SVMs
  (``SVM_LIN/POLY/RBF/SIG``) are fitted on precomputed kernels whose values are
  bit-identical to libsvm's own (:mod:`.kernel_svm`), the ``ddot`` products
  computed once for the four kernels and every label vector;
- a hyperparameter search (``grid``/``random``/``bayes``) runs the reference's
  candidates and choice on inner folds whose transforms are computed once for
  every candidate and strategy (:mod:`.nested_search`);
- ``MLPClassifier`` fits are trained in stacks (:mod:`.mlp_batch`): every
  configuration of a split and label vector is a generator that hands its
  network fits (outer fits, and every search candidate's inner-fold fits) to one
  driver, and the label vectors of a split run together, so the driver stacks the
  networks of all label vectors, candidates and folds that share a shape. Each
  network is trained with scikit-learn's own operations, bit for bit.

Which path ran is recorded in ``EvaluationResult.engine``:

- ``"fast"``: shared transforms and a classifier with a fast path in this engine
  (the SVMs on precomputed kernels; RF, XGB and LGBM through
  :mod:`.ensembles`, whose label-free work is shared; ``MLR_L2`` on more
  features than training rows in the rows' span (:mod:`.logistic_rowspace`);
  ``MLP`` in stacks (:mod:`.mlp_batch`); ``MLR_L1``, ``MLR_ENET``, ``KNN`` and
  the other ``MLR_L2`` fits directly on the shared matrices);
- ``"fast-fallback"``: the classifier is fitted as the reference does it
  (user-registered estimators), still on the shared matrices;
- either, followed by ``"; <path> off: <reason>"`` for each fast sub-path the
  configuration could take that switched itself off where it ran
  (:func:`.config_fits.paths_off`), e.g. ``"fast; saga lanes off: scikit-learn
  1.10.0 is not a tested version"``. The paths are those of
  :data:`cohortbench._compat.FAST_PATHS`: ``libsvm binding`` (SVC, and RFE's
  ranking SVRs), ``SVR solver`` (RFE), ``saga lanes`` (``MLR_L1``, ``MLR_ENET``),
  ``MLP stacks``, ``forest builder`` (RF), ``XGBoost shared data``, ``LightGBM
  shared data`` and ``L2 row-space logistic regression`` (``MLR_L2``). A path
  switches off outside the library versions it was tested on
  (:data:`cohortbench._compat.TESTED_VERSIONS`), when an internal it uses is
  missing, or when its first-use self-check against the installed library
  disagrees; the plain estimator then runs, with the same results. On the tested
  versions nothing is off and the value is ``"fast"`` or ``"fast-fallback"``.

Agreement with the reference: every matrix and every fit is the reference's, bit
for bit, with two exceptions, both the same computation rounded differently:

- RFE fits made while more than ``2 n`` features remain use a downdated Gram
  matrix, equal to libsvm's own kernel values up to rounding (the fits with
  fewer features, and any fit libsvm finds hard, use libsvm's own values; see
  :mod:`.rfe_path`); a rounding difference could change which feature such a
  fit eliminates;
- ``MLR_L2`` with p > n + 1 runs scikit-learn's L-BFGS-B trajectory in the
  training rows' span (:mod:`.logistic_rowspace`): same iterates and stopping
  iteration, coefficients equal to ~1e-11 relative; a stopping test taken right
  at its threshold, or a prediction whose two best classes tie to the last
  digits, could go the other way.

The allowed disagreement is therefore written down and bounded: at most one
subject's prediction in an evaluation, in at most 1 % of evaluations. Measured so
far: none (every RFE path, every row-space fit and every evaluation compared was
identical; benchmarks/RESULTS.md).

Seconds: each shared item's time is split evenly among the configurations that
used it; a configuration's own classifier fits are charged to it alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ...design.configs import CVScheme, PipelineConfig
from ...store.records import EvaluationResult
from ..fold_records import FoldRecordInput, assemble_records, collect_records, needs_a_model
from ..permutations import label_vectors
from ..problem import Problem
from ..scoring import assemble_result, pooled_accuracy
from ..splits import outer_splits
from .config_fits import FAST_CLASSIFIERS, classify_steps, feature_chain, paths_off
from .batched import run_batched
from .model_parts import fold_model_parts
from .nested_search import OuterSplitSearch
from .shared_transforms import FoldTransforms, LabelTransforms, ViewTransforms

__all__ = ["evaluate_fast", "evaluate_fast_each", "evaluate_fast_part", "merge_parts",
           "PartialEvaluation", "FAST_CLASSIFIERS"]

# Bounds how many label vectors' label-dependent transforms are held at once.
_LABEL_VECTORS_TOGETHER = 64


class _Ledger:
    """Per-configuration predictions, warnings and seconds, filled split by split.

    Predictions are stored by position in the concatenated test rows of each label
    vector's folds. Warnings keep, per configuration, the earliest (label vector,
    fold, order) at which each text appeared, which is the order of first appearance
    the reference engine records, whatever order the splits were processed in.
    """

    def __init__(self, n_configs: int, splits, records=None, classes=()):
        self.seconds = np.zeros(n_configs)
        # Per configuration, the per-fold records it asks for, and what they gave:
        # {(label vector, fold): {name: value}}.
        self.wanted = [tuple(names) for names in (records or [()] * n_configs)]
        self.records: list[dict[tuple, dict]] = [{} for _ in range(n_configs)]
        self.classes = tuple(classes)
        # (checked, unreliable) RFE ranking fits of the outer folds (svr_kkt)
        self.ranking_fits = np.zeros((n_configs, 2), dtype=np.int64)
        self.split_seconds = np.zeros(n_configs)  # of which label-free (see PartialEvaluation)
        self.offsets = [np.cumsum([0] + [len(test) for _, test in label_splits])
                        for label_splits in splits]
        width = max(int(bounds[-1]) for bounds in self.offsets)
        self.predicted = np.full((n_configs, len(splits), width), -1, dtype=np.int64)
        self.first_seen: list[dict[str, tuple]] = [{} for _ in range(n_configs)]
        self.chosen: list[dict[tuple, dict]] = [{} for _ in range(n_configs)]
        self.failed: dict[int, Exception] = {}

    def record(self, config_index: int, label_vector: int, fold: int, predicted,
               texts) -> None:
        start = self.offsets[label_vector][fold]
        self.predicted[config_index, label_vector, start:start + len(predicted)] = predicted
        seen = self.first_seen[config_index]
        for order, text in enumerate(texts):
            when = (label_vector, fold, order)
            if text not in seen or when < seen[text]:
                seen[text] = when

    def fold_predictions(self, config_index: int, label_vector: int):
        """The predicted codes of each fold of label vector ``label_vector``."""
        bounds = self.offsets[label_vector]
        return [self.predicted[config_index, label_vector, bounds[fold]:bounds[fold + 1]]
                for fold in range(len(bounds) - 1)]

    def settle(self, items, label_free: bool = False) -> None:
        """Charge each item's (and its derived items') seconds to its users, evenly."""
        for top in items:
            for item in top.all_items():
                if item.users and item.seconds:
                    share = item.seconds / len(item.users)
                    for user in item.users:
                        self.seconds[user] += share
                        if label_free:
                            self.split_seconds[user] += share


def _config_steps(config_index, config, cv, fold, labels, search, ledger, where):
    """One configuration on one (split, label vector), as a generator for the driver.

    ``where`` is the ``(label vector, fold)`` pair. Its predictions, warnings and
    time go to the ledger; an error marks the configuration failed (it is then
    left out of all further work).
    """
    if config_index in ledger.failed:
        return
    try:
        chain = feature_chain(config, fold, labels)
        if config.search == "none":
            own, used = yield from classify_steps(config, cv.seed, chain[-1], labels.y_train)
            predicted, texts, seconds = own.value, [], own.seconds
            for item in chain + used:
                texts.extend(item.warnings)
            texts.extend(own.warnings)
        else:
            predicted, chosen, texts, seconds, used = yield from search.fit_predict_steps(
                config_index, config, chain)
            ledger.chosen[config_index][where] = chosen
    except Exception as exc:  # noqa: BLE001 - the caller decides what a failure means
        ledger.failed.setdefault(config_index, exc)
        return
    ledger.seconds[config_index] += seconds
    for item in chain + used:
        item.users.add(config_index)
    predicted = np.asarray(predicted, dtype=np.int64)
    if config.feature_selection == "rfe":  # chain[4]: the RFE path; chain[5]: its selection
        ledger.ranking_fits[config_index] += chain[4].value.ranking_fits(
            chain[5].value[0].shape[1])
    if ledger.wanted[config_index]:
        # What both engines have for a fold; no fitted Pipeline here, but the model's
        # parts for the records that read it (fold_records, model_parts).
        try:
            parts = None
            if needs_a_model(ledger.wanted[config_index]):
                parts = fold_model_parts(config, cv.seed, chain, labels.y_train,
                                         ledger.chosen[config_index].get(where),
                                         len(ledger.classes))
            ledger.records[config_index][where] = collect_records(
                ledger.wanted[config_index],
                FoldRecordInput(where[0], where[1], fold.train, fold.test, labels.y_train,
                                predicted, classes=ledger.classes, model_parts=parts))
        except Exception as exc:  # noqa: BLE001 - e.g. a record that needs a fitted model
            ledger.failed.setdefault(config_index, exc)
            return
    ledger.record(config_index, *where, predicted, texts)


def _predictions(splits, per_fold, n_eval: int) -> np.ndarray:
    """Stack one label vector's fold predictions as the reference does: (R, n_eval)."""
    rows: list[list[int]] = []
    times_seen = np.zeros(n_eval, dtype=np.int64)
    for (_, test), predicted in zip(splits, per_fold):
        for row, label in zip(test, predicted):
            repeat = times_seen[row]
            if repeat == len(rows):
                rows.append([-1] * n_eval)
            rows[repeat][row] = int(label)
            times_seen[row] += 1
    if times_seen.min() != times_seen.max():
        raise RuntimeError("The outer CV did not predict every subject equally often.")
    return np.asarray(rows, dtype=np.int64)


def _rfe_k_min(configs, n_features: int) -> dict:
    out: dict[tuple, int] = {}
    for c in configs:
        if c.feature_selection == "rfe":
            prefix = (c.row_scaling, c.imputation, c.column_scaling)
            k = min(int(c.n_features), n_features)
            out[prefix] = min(out.get(prefix, k), k)
    return out


def evaluate_fast(problem: Problem, configs: list[PipelineConfig],
                  cv: CVScheme) -> list[EvaluationResult]:
    """:func:`evaluate_fast_each`, raising the first error a configuration raised.

    That error is the one the reference engine would raise for it (e.g. missing
    values reaching a classifier). Each result's ``engine`` is ``"fast"`` or
    ``"fast-fallback"`` (see the module docstring).
    """
    outcomes = evaluate_fast_each(problem, configs, cv)
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
    return outcomes


def evaluate_fast_each(problem: Problem, configs: list[PipelineConfig],
                       cv: CVScheme, records: list | None = None) -> list:
    """Evaluate several configurations on one problem, sharing common work.

    Parameters
    ----------
    problem : Problem
    configs : list of PipelineConfig
    cv : CVScheme

    Returns
    -------
    list
        One per configuration, in the order given: an :class:`EvaluationResult`, or
        the exception the configuration raised (it is then left out of all further
        work; the others go on sharing). ``run_unit`` re-runs the failed ones with
        the reference engine, which records each failure as it would alone.
    """
    parts = evaluate_fast_part(problem, configs, cv, records=records)
    vectors, splits = _vectors_and_splits(problem, cv)
    return [part if isinstance(part, Exception)
            else _joined(problem, config, [part], vectors, splits)
            for config, part in zip(configs, parts)]


@dataclass
class PartialEvaluation:
    """Label vectors ``start`` to ``stop - 1`` of one configuration's evaluation.

    Label vector 0 holds the real labels, 1 to P the shuffles. Made by
    :func:`evaluate_fast_part`; :func:`merge_parts` joins the parts of one
    configuration into the very result one run over every label vector gives
    (label vectors are computed independently of each other).

    Attributes
    ----------
    start, stop : int
    predicted : dict
        Label vector -> list of predicted codes per outer fold.
    first_seen : dict
        Warning text -> ``(label vector, fold, order)`` of its first appearance.
    chosen : dict
        Outer fold -> chosen hyperparameters, for the real labels (empty when this
        part does not hold label vector 0 or the configuration has no search).
    seconds : float
    paths_off : tuple of str
        The fast paths this configuration could take that were switched off
        where this part ran (:func:`.config_fits.paths_off`); named in the
        result's ``engine``.
    split_seconds : float
        Of ``seconds``, the label-free work (row and column scaling, imputation, PCA
        after no selection, kernel products, ...) that every label vector of an
        outer training set shares: a part over more label vectors pays it once per
        split (the time estimate prices it so, :mod:`cohortbench.execute.estimate`).
    ranking_fits : (int, int)
        ``(checked, unreliable)`` RFE ranking fits of these label vectors' outer
        folds (:mod:`cohortbench.execute.svr_kkt`).
    records : dict
        ``{(label vector, fold): {name: value}}``: the per-fold records the
        configuration asked for (:mod:`cohortbench.execute.fold_records`), empty
        when none.
    """

    start: int
    stop: int
    predicted: dict
    first_seen: dict
    chosen: dict
    seconds: float
    paths_off: tuple = ()
    split_seconds: float = 0.0
    records: dict = field(default_factory=dict)
    ranking_fits: tuple = (0, 0)


def evaluate_fast_part(problem: Problem, configs: list[PipelineConfig], cv: CVScheme,
                       label_vectors: tuple[int, int] | None = None,
                       records: list | None = None) -> list:
    """:func:`evaluate_fast_each` on a range of label vectors only.

    Parameters
    ----------
    problem : Problem
    configs : list of PipelineConfig
    cv : CVScheme
    label_vectors : (start, stop), optional
        Which label vectors to evaluate (default: all ``1 + cv.permutations``).

    Returns
    -------
    list
        One per configuration: a :class:`PartialEvaluation`, or the exception the
        configuration raised.
    """
    start_time = time.perf_counter()
    configs = list(configs)
    n_features = problem.X.shape[1]
    vectors, splits = _vectors_and_splits(problem, cv)
    first, stop = label_vectors or (0, len(vectors))
    if not 0 <= first < stop <= len(vectors):
        raise ValueError(f"label vectors {first}..{stop - 1} are not within 0..{len(vectors) - 1}.")
    ledger = _Ledger(len(configs), splits, records, problem.classes)
    rfe_k_min = _rfe_k_min(configs, n_features)

    # Group (label vector, fold) pairs by their split so label-free work is done once.
    same_split: dict[bytes, list[tuple[int, int]]] = {}
    for label_vector in range(first, stop):
        for fold_index, (train, test) in enumerate(splits[label_vector]):
            key = train.tobytes() + b"|" + test.tobytes()
            same_split.setdefault(key, []).append((label_vector, fold_index))

    view = ViewTransforms(problem.X, problem.blocks)
    for pairs in same_split.values():
        train, test = splits[pairs[0][0]][pairs[0][1]]
        fold = FoldTransforms(view, train, test)
        # Label vectors of one split run together, so that their networks (and
        # those of every configuration and search candidate) are trained in stacks.
        for chunk in range(0, len(pairs), _LABEL_VECTORS_TOGETHER):
            steps, searches = [], []
            for where in pairs[chunk:chunk + _LABEL_VECTORS_TOGETHER]:
                y_train = vectors[where[0]][train]
                labels = LabelTransforms(fold, y_train, rfe_k_min)
                search = OuterSplitSearch(fold, y_train, cv, problem.task, problem.classes,
                                          rfe_k_min)
                steps += [_config_steps(config_index, config, cv, fold, labels, search,
                                        ledger, where)
                          for config_index, config in enumerate(configs)]
                searches.append((labels, search))
            run_batched(steps)
            for labels, search in searches:
                ledger.settle(labels.items.values())
                for inner in search.transforms:
                    ledger.settle(inner.items.values())
        ledger.settle(fold.items.values(), label_free=True)
    ledger.settle(view.items.values(), label_free=True)

    done = [index for index in range(len(configs)) if index not in ledger.failed]
    # Whatever the ledger did not see (grouping, bookkeeping) is spread evenly.
    elapsed = time.perf_counter() - start_time
    overhead = max(elapsed - float(ledger.seconds[done].sum()), 0.0) / max(len(done), 1)
    outcomes: list = [ledger.failed.get(index) for index in range(len(configs))]
    for index in done:
        outcomes[index] = PartialEvaluation(
            start=first, stop=stop,
            predicted={label_vector: [p.copy() for p in
                                      ledger.fold_predictions(index, label_vector)]
                       for label_vector in range(first, stop)},
            first_seen=dict(ledger.first_seen[index]),
            chosen={fold: params for (label_vector, fold), params
                    in ledger.chosen[index].items() if label_vector == 0},
            seconds=float(ledger.seconds[index]) + overhead,
            paths_off=paths_off(configs[index]),
            split_seconds=float(ledger.split_seconds[index]),
            records=dict(ledger.records[index]),
            ranking_fits=tuple(int(v) for v in ledger.ranking_fits[index]))
    return outcomes


def merge_parts(problem: Problem, config: PipelineConfig, cv: CVScheme,
                parts: list[PartialEvaluation]) -> EvaluationResult:
    """One configuration's result from parts covering every label vector once.

    Parameters
    ----------
    problem : Problem
    config : PipelineConfig
    cv : CVScheme
    parts : list of PartialEvaluation
        In any order; together they must cover label vectors 0 to
        ``cv.permutations`` exactly once.

    Returns
    -------
    EvaluationResult
        Equal to :func:`evaluate_fast_each`'s (``seconds``: the parts' sum).
    """
    return _joined(problem, config, parts, *_vectors_and_splits(problem, cv))


def _joined(problem, config, parts, vectors, splits) -> EvaluationResult:
    """:func:`merge_parts` given the label vectors and their outer splits."""
    parts = sorted(parts, key=lambda part: part.start)
    bounds = [0] + [b for part in parts for b in (part.start, part.stop)] + [len(vectors)]
    if any(a != b for a, b in zip(bounds[::2], bounds[1::2])):
        raise ValueError(f"parts {[(p.start, p.stop) for p in parts]} do not cover label "
                         f"vectors 0..{len(vectors) - 1} exactly once.")
    n_eval = problem.n_eval
    per_fold = {label_vector: folds for part in parts
                for label_vector, folds in part.predicted.items()}
    runs = [_predictions(splits[label_vector], per_fold[label_vector], n_eval)
            for label_vector in range(len(vectors))]
    nulls = [pooled_accuracy(v[:n_eval], run) for v, run in zip(vectors[1:], runs[1:])]
    seen: dict[str, tuple] = {}
    for part in parts:
        for text, when in part.first_seen.items():
            if text not in seen or when < seen[text]:
                seen[text] = when
    n_used = n_features = problem.X.shape[1]
    if config.feature_selection != "none":
        n_used = min(int(config.n_features), n_features)
    engine = "fast" if config.classifier in FAST_CLASSIFIERS else "fast-fallback"
    notes = dict.fromkeys(note for part in parts for note in part.paths_off)
    kept = {where: values for part in parts for where, values in part.records.items()}
    records = None
    if kept:
        names = tuple(next(iter(kept.values())))
        records = assemble_records(names, kept, len(vectors), [len(s) for s in splits])
    return assemble_result(
        problem, config, runs[0], splits[0], nulls,
        chosen_params=[parts[0].chosen.get(fold, {}) for fold in range(len(splits[0]))],
        n_features_used=n_used, seconds=float(sum(part.seconds for part in parts)),
        engine="; ".join([engine, *notes]),
        warnings=tuple(sorted(seen, key=seen.__getitem__)), records=records,
        ranking_fits=tuple(map(sum, zip(*(part.ranking_fits for part in parts))))
        if config.feature_selection == "rfe" else None)


def _vectors_and_splits(problem: Problem, cv: CVScheme) -> tuple[list, list]:
    """The label vectors (real labels, then shuffles) and each one's outer splits."""
    vectors = label_vectors(problem, cv)
    return vectors, [outer_splits(v, problem.n_eval, cv.outer, cv.seed) for v in vectors]
