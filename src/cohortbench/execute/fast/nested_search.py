"""Hyperparameter search inside one outer split, sharing the inner folds' transforms.

The reference runs ``GridSearchCV`` / ``RandomizedSearchCV`` / :class:`TPESearchCV`
on a fresh ``Pipeline``, which refits every transform for every candidate in
every inner fold. Here the candidates, their order, the inner splits, the scores
(mean inner accuracy), the choice (first best) and the refit are the reference's
own (:func:`~cohortbench.execute.search.grid_candidates`,
:func:`~cohortbench.execute.search.random_candidates`,
:func:`~cohortbench.execute.search.tpe_steps`), but each inner fold's transforms
(column scaling, F-scores, the RFE path, PCA, LDA) are computed once for every
candidate and every strategy, and the classifier fits go through
:func:`.config_fits.classify_steps` (SVMs on precomputed kernels; networks and
saga logistic regressions handed to the engine's driver, which runs those of many
candidates, folds, label vectors and configurations together: :mod:`.mlp_batch`,
:mod:`.saga_batch`).

A candidate's inner-CV score is also memoised per pipeline: when two strategies
propose the same point (e.g. a random draw of a categorical space hits a grid
point) the folds are fitted once; the warnings they raised are replayed for each.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...design.classifiers import search_space
from ...design.configs import CVScheme, PipelineConfig
from ..search import grid_candidates, random_candidates, strip_prefix, tpe_steps
from ..splits import derived_seed, inner_cv
from .config_fits import classify_steps, feature_chain
from .batched import gather
from .shared_transforms import FoldTransforms, LabelTransforms

__all__ = ["OuterSplitSearch"]


class OuterSplitSearch:
    """Every search configuration of one (outer split, label vector).

    Parameters
    ----------
    fold : FoldTransforms
        The outer split.
    y_train : ndarray of int
        The label vector's codes on ``fold.train``.
    cv : CVScheme
    task : str
    classes : sequence of str
    rfe_k_min : dict
        As for :class:`LabelTransforms` (one RFE path per inner fold serves every k).
    """

    def __init__(self, fold: FoldTransforms, y_train: np.ndarray, cv: CVScheme, task: str,
                 classes, rfe_k_min: dict):
        self.fold, self.y_train, self.cv = fold, y_train, cv
        self.task, self.classes, self.rfe_k_min = task, classes, rfe_k_min
        self._inner = None
        self._memo: dict = {}
        self.transforms: list = []  # every inner FoldTransforms / LabelTransforms, for timing

    def _inner_folds(self):
        """``(fold, labels, y_test)`` per inner split, built on first use."""
        if self._inner is None:
            y = self.y_train
            splitter = inner_cv(y, self.cv.inner, self.task, self.classes,
                                self.cv.reduce_inner_k)
            self._inner = []
            for train, test in splitter.split(np.zeros((len(y), 1)), y):
                inner = FoldTransforms(self.fold.view, self.fold.train[train],
                                       self.fold.train[test])
                labels = LabelTransforms(inner, y[train], self.rfe_k_min)
                self.transforms += [inner, labels]
                self._inner.append((inner, labels, y[test]))
        return self._inner

    def _scores_steps(self, config_index: int, config: PipelineConfig, candidates: list):
        """Mean inner accuracy of each candidate: ``[(score, warnings, own seconds)]``.

        A generator (see :func:`.config_fits.classify_steps`): the network fits of
        every candidate and inner fold are requested in one round, so they are
        trained together.
        """
        keys = [(replace(config, search="none").id, repr(sorted(p.items())))
                for p in candidates]
        todo = list(dict.fromkeys(key for key in keys if key not in self._memo))
        plain = {key: _plain(p) for key, p in zip(keys, candidates)}
        folds = self._inner_folds()
        chains = [feature_chain(config, inner, labels) for inner, labels, _ in folds]
        fits = yield from gather([
            classify_steps(config, self.cv.seed, chain[-1], labels.y_train, plain[key])
            for key in todo for chain, (_, labels, _) in zip(chains, folds)])
        for t, key in enumerate(todo):
            accuracies, texts, seconds, used_items = [], [], 0.0, []
            for f, (chain, (_, _, y_test)) in enumerate(zip(chains, folds)):
                own, used = fits[t * len(folds) + f]
                accuracies.append(float(np.mean(np.asarray(own.value) == y_test)))
                for item in chain + used:
                    texts.extend(item.warnings)
                texts.extend(own.warnings)
                seconds += own.seconds
                used_items += chain + used
            # GridSearchCV and cross_val_score average the split scores the same way.
            score = float(np.mean(np.asarray(accuracies)))
            self._memo[key] = (score, texts, seconds, used_items)
        out, fresh = [], set(todo)
        for key in keys:
            score, texts, seconds, used_items = self._memo[key]
            self._charge(config_index, used_items)
            # A point scored before (another strategy, or twice here) costs nothing more.
            out.append((score, texts, seconds if key in fresh else 0.0))
            fresh.discard(key)
        return out

    @staticmethod
    def _charge(config_index: int, items) -> None:
        for item in items:
            item.users.add(config_index)

    def fit_predict_steps(self, config_index: int, config: PipelineConfig, outer_features: list):
        """Search, refit the best candidate on the outer training rows, predict.

        A generator (see :func:`.config_fits.classify_steps`): grid and random
        search request all their candidates' network fits in one round, Bayesian
        search one round per trial.

        Parameters
        ----------
        config_index : int
            The configuration's index (for apportioning shared time).
        config : PipelineConfig
            A configuration whose ``search`` is ``grid``, ``random`` or ``bayes``.
        outer_features : list of Item
            The configuration's chain on the outer split (:func:`feature_chain`).

        Returns
        -------
        predicted : ndarray of int
        chosen : dict
            The best parameters as the reference records them.
        texts : list of str
            Warnings in the order the reference raises them.
        seconds : float
            Time of this configuration's own fits.
        used : list of Item
            Shared items the refit relied on.
        """
        space = search_space(config.classifier)
        texts: list[str] = []
        seconds = 0.0
        if config.search == "bayes":
            trials = tpe_steps(space, space.grid_size,
                               derived_seed(self.cv.seed, "bayes-search"))
            try:
                params = next(trials)
                while True:
                    ((value, fit_texts, fit_seconds),) = yield from self._scores_steps(
                        config_index, config, [params])
                    texts.extend(fit_texts)
                    seconds += fit_seconds
                    params = trials.send(value)
            except StopIteration as stop:
                tried, _, best = stop.value
        else:
            tried = (grid_candidates(space) if config.search == "grid"
                     else random_candidates(space, self.cv.seed))
            scores = []
            for value, fit_texts, fit_seconds in (
                    yield from self._scores_steps(config_index, config, tried)):
                scores.append(value)
                texts.extend(fit_texts)
                seconds += fit_seconds
            # First best, as scikit-learn's rank_test_score.argmin() picks it.
            best = int(np.argmax(scores))
        chosen = tried[best]
        own, used = yield from classify_steps(config, self.cv.seed, outer_features[-1],
                                              self.y_train, _plain(chosen))
        for item in outer_features + used:
            texts.extend(item.warnings)
        texts.extend(own.warnings)
        return (np.asarray(own.value, dtype=np.int64), strip_prefix(chosen), texts,
                seconds + own.seconds, used)


def _plain(params: dict) -> dict:
    """Candidate parameters without the pipeline's ``clf__`` prefix (values untouched)."""
    return {key.split("__", 1)[1]: value for key, value in params.items()}
