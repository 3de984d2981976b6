"""Hyperparameter search inside one outer training fold (SPEC section 3.4).

Three strategies with **matched budgets**: each evaluates exactly
``space.grid_size`` candidates with the same inner splitter and scoring
(accuracy), then refits the best candidate on all the training rows.

- ``grid``: ``GridSearchCV`` over the grid points.
- ``random``: ``RandomizedSearchCV`` over the distributions (log-uniform ->
  ``scipy.stats.loguniform``, integers -> ``scipy.stats.randint``, categorical ->
  a list), ``n_iter = grid_size``,
  ``random_state = derived_seed(seed, "random-search")``. When every parameter
  is categorical scikit-learn samples without replacement.
- ``bayes``: Optuna's TPE sampler with its defaults,
  ``TPESampler(seed=derived_seed(seed, "bayes-search"))``,
  ``n_trials = grid_size``; a trial's value is the mean inner-CV accuracy from
  ``cross_val_score``. TPE may propose a point twice; it still counts.

The two seeds differ on purpose: Optuna's random start-up phase and SciPy's
samplers both draw from ``RandomState(seed)`` in the same way, so one shared
seed would make random and Bayesian search try the very same first candidates
(all of them when ``grid_size <= 10``, TPE's default number of start-up
trials). Note that with a budget of at most 10 TPE *is* random sampling; that
is Optuna's default behaviour, kept here.

Ties: grid and random search keep the first best candidate (scikit-learn's
rank order); :class:`TPESearchCV` keeps the first best trial, as Optuna does.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import (GridSearchCV, ParameterGrid, ParameterSampler,
                                     RandomizedSearchCV, cross_val_score)

from ..design.classifiers import IntUniform, LogUniform, SearchSpace
from .pipelines import CLASSIFIER_STEP
from .splits import derived_seed

__all__ = ["fit_with_search", "n_candidates", "TPESearchCV", "to_jsonable", "STRATEGIES",
           "grid_candidates", "random_candidates", "tpe_search", "tpe_steps", "strip_prefix"]

STRATEGIES = ("none", "grid", "random", "bayes")
_PREFIX = CLASSIFIER_STEP + "__"
_OPTUNA_PRIMITIVES = (type(None), bool, int, float, str)


def to_jsonable(value):
    """Plain JSON-able Python values: numpy scalars unwrapped, tuples -> lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


def _param_grid(space: SearchSpace) -> dict[str, list]:
    return {_PREFIX + name: list(p.grid) for name, p in space.items()}


def _scipy_distributions(space: SearchSpace) -> dict:
    out = {}
    for name, param in space.items():
        dist = param.distribution
        if isinstance(dist, LogUniform):
            out[_PREFIX + name] = stats.loguniform(dist.low, dist.high)
        elif isinstance(dist, IntUniform):
            out[_PREFIX + name] = stats.randint(dist.low, dist.high + 1)  # high is exclusive
        else:
            out[_PREFIX + name] = list(dist.values)
    return out


@contextmanager
def quiet_optuna():
    """Silence Optuna's per-trial INFO logging, restoring the previous level."""
    import optuna

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


class TPESearchCV(ClassifierMixin, BaseEstimator):
    """Bayesian search with Optuna TPE over a :class:`SearchSpace`, then refit.

    Parameters
    ----------
    estimator : Pipeline
        Pipeline whose classifier step is ``clf``.
    space : SearchSpace
        Parameters and the distributions they are drawn from.
    cv : cross-validation splitter
        The inner splitter.
    n_trials : int
        Number of candidates evaluated.
    seed : int
        Seed of the TPE sampler.

    Attributes
    ----------
    best_params_ : dict
        Best candidate, keys prefixed ``clf__``.
    best_score_ : float
        Its mean inner-CV accuracy.
    best_estimator_ : Pipeline
        ``estimator`` refitted on all rows with ``best_params_``.
    cv_results_ : dict
        ``params`` (one dict per trial, in trial order) and ``mean_test_score``.
    """

    def __init__(self, estimator, space, cv, n_trials, seed=0):
        self.estimator = estimator
        self.space = space
        self.cv = cv
        self.n_trials = n_trials
        self.seed = seed

    def fit(self, X, y):
        """Run ``n_trials`` TPE trials on ``(X, y)`` and refit the best on all rows."""

        def score(params):
            candidate = clone(self.estimator).set_params(**params)
            return float(np.mean(cross_val_score(candidate, X, y, cv=self.cv,
                                                 scoring="accuracy", n_jobs=1)))

        tried, scores, best = tpe_search(self.space, self.n_trials, self.seed, score)
        self.best_params_ = tried[best]
        self.best_score_ = scores[best]
        self.cv_results_ = {"params": tried, "mean_test_score": np.asarray(scores)}
        self.best_estimator_ = clone(self.estimator).set_params(**self.best_params_).fit(X, y)
        self.classes_ = self.best_estimator_.classes_
        return self

    def predict(self, X):
        """Predict with the refitted best pipeline."""
        return self.best_estimator_.predict(X)


def _suggest(trial, space: SearchSpace) -> dict:
    """One Optuna suggestion per parameter of ``space`` (keys prefixed ``clf__``)."""
    params = {}
    for name, param in space.items():
        dist = param.distribution
        if isinstance(dist, LogUniform):
            value = trial.suggest_float(name, dist.low, dist.high, log=True)
        elif isinstance(dist, IntUniform):
            value = trial.suggest_int(name, dist.low, dist.high)
        elif all(isinstance(v, _OPTUNA_PRIMITIVES) for v in dist.values):
            value = trial.suggest_categorical(name, list(dist.values))
        else:
            # Optuna stores only primitive choices: suggest a label, map it back.
            labels = [repr(v) for v in dist.values]
            value = dist.values[labels.index(trial.suggest_categorical(name, labels))]
        params[_PREFIX + name] = value
    return params


def tpe_search(space: SearchSpace, n_trials: int, seed: int, score) -> tuple[list, list, int]:
    """Optuna TPE over ``space``: ``n_trials`` candidates scored by ``score(params)``.

    Parameters
    ----------
    space : SearchSpace
    n_trials : int
    seed : int
        Seed of the ``TPESampler``.
    score : callable
        ``params`` (keys prefixed ``clf__``) -> mean inner-CV accuracy.

    Returns
    -------
    tried : list of dict
        The candidates in trial order.
    scores : list of float
    best : int
        Index of Optuna's best trial (the first best).
    """
    steps = tpe_steps(space, n_trials, seed)
    try:
        params = next(steps)
        while True:
            params = steps.send(score(params))
    except StopIteration as stop:
        return stop.value


def tpe_steps(space: SearchSpace, n_trials: int, seed: int):
    """:func:`tpe_search` as a generator: yields each candidate and is sent its score.

    Optuna's ask-and-tell interface, which is what ``study.optimize`` runs; a
    caller can therefore interleave many searches (the fast engine trains their
    candidates' networks together) and still get each search's own trials.

    Yields
    ------
    dict
        The next candidate (keys prefixed ``clf__``); send back its score.

    Returns
    -------
    tuple
        ``(tried, scores, best)`` as :func:`tpe_search` returns them.
    """
    import optuna

    tried: list[dict] = []
    scores: list[float] = []
    with quiet_optuna():
        study = optuna.create_study(direction="maximize",
                                    sampler=optuna.samplers.TPESampler(seed=seed))
    for _ in range(n_trials):
        with quiet_optuna():
            trial = study.ask()
            params = _suggest(trial, space)
        value = float((yield params))
        tried.append(params)
        scores.append(value)
        trial.set_user_attr("params", len(tried) - 1)
        with quiet_optuna():
            study.tell(trial, value)
    return tried, scores, int(study.best_trial.user_attrs["params"])


def grid_candidates(space: SearchSpace) -> list[dict]:
    """``GridSearchCV``'s candidates over ``space``, in its order (keys prefixed ``clf__``)."""
    return list(ParameterGrid(_param_grid(space)))


def random_candidates(space: SearchSpace, seed: int) -> list[dict]:
    """``RandomizedSearchCV``'s candidates for study seed ``seed``, in its order."""
    return list(ParameterSampler(_scipy_distributions(space), n_iter=space.grid_size,
                                 random_state=derived_seed(seed, "random-search")))


def strip_prefix(params: dict) -> dict:
    """Chosen parameters as recorded: no ``clf__`` prefix, JSON-able values."""
    return {key.removeprefix(_PREFIX): to_jsonable(value) for key, value in params.items()}


def fit_with_search(pipeline, X, y, strategy: str, space: SearchSpace, inner_cv, seed: int):
    """Fit ``pipeline`` on one outer training set, searching hyperparameters.

    Parameters
    ----------
    pipeline : Pipeline
        Unfitted; its classifier step is named ``clf``.
    X, y : arrays
        The outer fold's training rows only.
    strategy : {"none", "grid", "random", "bayes"}
    space : SearchSpace
        The classifier's search space (ignored for ``none``).
    inner_cv : cross-validation splitter
        The inner splitter (ignored for ``none``).
    seed : int
        Study seed; random and Bayesian search derive their own seeds from it.

    Returns
    -------
    fitted_estimator
        The fitted pipeline (``none``) or the fitted search object, whose
        ``predict`` uses the refitted best pipeline.
    chosen_params : dict
        The best parameters without the ``clf__`` prefix, as JSON-able values
        (empty for ``none``).
    """
    if strategy == "none":
        return pipeline.fit(X, y), {}
    budget = space.grid_size
    if strategy == "grid":
        search = GridSearchCV(pipeline, _param_grid(space), scoring="accuracy", cv=inner_cv,
                              refit=True, n_jobs=1)
    elif strategy == "random":
        search = RandomizedSearchCV(pipeline, _scipy_distributions(space), n_iter=budget,
                                    scoring="accuracy", cv=inner_cv, refit=True, n_jobs=1,
                                    random_state=derived_seed(seed, "random-search"))
    elif strategy == "bayes":
        search = TPESearchCV(pipeline, space, inner_cv, n_trials=budget,
                             seed=derived_seed(seed, "bayes-search"))
    else:
        raise ValueError(f"search must be one of {', '.join(STRATEGIES)}; got {strategy!r}.")
    search.fit(X, y)
    return search, strip_prefix(search.best_params_)


def n_candidates(fitted) -> int:
    """Number of candidates a fitted search evaluated (0 for a plain fit)."""
    results = getattr(fitted, "cv_results_", None)
    return 0 if results is None else len(results["params"])
