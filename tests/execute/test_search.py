"""Hyperparameter search: matched budgets, reproducibility, ranges, JSON-able choices."""

from __future__ import annotations

import json
import logging
import warnings

import numpy as np
import optuna
import pytest
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from cohortbench.design.classifiers import Categorical, LogUniform, Param, SearchSpace, search_space
from cohortbench.design.configs import PipelineConfig
from cohortbench.execute.pipelines import build_pipeline
from cohortbench.execute.search import fit_with_search, n_candidates, to_jsonable

pytestmark = pytest.mark.usefixtures("one_thread")

STRATEGIES = ["grid", "random", "bayes"]
INNER = StratifiedKFold(n_splits=4, shuffle=False)


def _pipeline(problem, classifier):
    config = PipelineConfig(classifier, row_scaling="standard", column_scaling="standard")
    return build_pipeline(config, blocks=problem.blocks, n_classes=3,
                          n_features_available=problem.X.shape[1], random_state=0)[0]


def _search(problem, classifier, strategy, seed=0, space=None):
    space = search_space(classifier) if space is None else space
    return fit_with_search(_pipeline(problem, classifier), problem.X, problem.y, strategy,
                           space, INNER, seed)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_budgets_are_matched_to_the_grid(ref_problem, strategy):
    space = search_space("KNN")
    fitted, chosen = _search(ref_problem, "KNN", strategy)
    assert n_candidates(fitted) == space.grid_size == 10
    assert set(chosen) == {"n_neighbors", "weights"}
    for params in fitted.cv_results_["params"]:
        assert 1 <= params["clf__n_neighbors"] <= 9
        assert params["clf__weights"] in ("uniform", "distance")


def test_grid_search_tries_exactly_the_grid_and_refits_the_best(ref_problem):
    fitted, chosen = _search(ref_problem, "KNN", "grid")
    tried = {(p["clf__n_neighbors"], p["clf__weights"]) for p in fitted.cv_results_["params"]}
    assert tried == {(k, w) for k in (1, 3, 5, 7, 9) for w in ("uniform", "distance")}
    scores = fitted.cv_results_["mean_test_score"]
    best = fitted.cv_results_["params"][int(np.argmax(scores))]
    assert chosen == {"n_neighbors": best["clf__n_neighbors"], "weights": best["clf__weights"]}
    refit = clone(_pipeline(ref_problem, "KNN")).set_params(**best).fit(ref_problem.X,
                                                                         ref_problem.y)
    np.testing.assert_array_equal(fitted.predict(ref_problem.X), refit.predict(ref_problem.X))


def test_random_search_is_seeded_and_stays_in_range(ref_problem):
    a, _ = _search(ref_problem, "SVM_RBF", "random", seed=3)
    b, _ = _search(ref_problem, "SVM_RBF", "random", seed=3)
    c, _ = _search(ref_problem, "SVM_RBF", "random", seed=4)
    params = a.cv_results_["params"]
    assert len(params) == 25
    assert params == b.cv_results_["params"]
    assert params != c.cv_results_["params"]
    for p in params:
        assert 1e-2 <= p["clf__C"] <= 1e2 and 1e-5 <= p["clf__gamma"] <= 1e-1
    # Drawn from the continuous range, not only from the grid points.
    grid_values = set(search_space("SVM_RBF")["C"].grid)
    assert any(p["clf__C"] not in grid_values for p in params)


def test_bayes_search_is_reproducible_for_a_fixed_seed(ref_problem):
    a, chosen_a = _search(ref_problem, "SVM_RBF", "bayes", seed=5)
    b, chosen_b = _search(ref_problem, "SVM_RBF", "bayes", seed=5)
    c, _ = _search(ref_problem, "SVM_RBF", "bayes", seed=6)
    assert a.cv_results_["params"] == b.cv_results_["params"]
    np.testing.assert_array_equal(a.cv_results_["mean_test_score"],
                                  b.cv_results_["mean_test_score"])
    assert chosen_a == chosen_b
    assert a.cv_results_["params"] != c.cv_results_["params"]
    assert len(a.cv_results_["params"]) == 25
    for p in a.cv_results_["params"]:
        assert 1e-2 <= p["clf__C"] <= 1e2 and 1e-5 <= p["clf__gamma"] <= 1e-1
    best = int(np.argmax(a.cv_results_["mean_test_score"]))      # first best trial
    assert a.best_params_ == a.cv_results_["params"][best]
    np.testing.assert_array_equal(a.predict(ref_problem.X), b.predict(ref_problem.X))


def test_random_and_bayes_search_do_not_share_their_draws(ref_problem):
    # Same study seed: without distinct derived seeds, TPE's random start-up
    # would try exactly the candidates random search tries.
    random_search, _ = _search(ref_problem, "SVM_LIN", "random", seed=0)
    bayes_search, _ = _search(ref_problem, "SVM_LIN", "bayes", seed=0)
    assert len(random_search.cv_results_["params"]) == len(bayes_search.cv_results_["params"])
    assert random_search.cv_results_["params"][0] != bayes_search.cv_results_["params"][0]


def test_bayes_score_is_the_mean_inner_cv_accuracy(ref_problem):
    from sklearn.model_selection import cross_val_score

    fitted, _ = _search(ref_problem, "SVM_LIN", "bayes", seed=0)
    params = fitted.cv_results_["params"][2]
    candidate = clone(_pipeline(ref_problem, "SVM_LIN")).set_params(**params)
    expected = cross_val_score(candidate, ref_problem.X, ref_problem.y, cv=INNER,
                               scoring="accuracy").mean()
    assert fitted.cv_results_["mean_test_score"][2] == pytest.approx(expected)


def test_optuna_logging_is_silenced_and_restored(ref_problem, capsys):
    optuna.logging.set_verbosity(logging.DEBUG)
    try:
        _search(ref_problem, "SVM_LIN", "bayes")
        assert optuna.logging.get_verbosity() == logging.DEBUG
    finally:
        optuna.logging.set_verbosity(logging.INFO)
    captured = capsys.readouterr()
    assert "Trial" not in captured.err + captured.out


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_chosen_params_are_plain_json_values(ref_problem, strategy):
    small = ref_problem.X[:, :8]
    space = SearchSpace(
        hidden_layer_sizes=Param(((4,), (3, 2)), Categorical(((4,), (3, 2)))),
        alpha=Param((1e-4, 1e-2), LogUniform(1e-4, 1e-2)),
    )
    pipeline = Pipeline([("scale", StandardScaler()),
                         ("clf", MLPClassifier(max_iter=30, random_state=0))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # 30 iterations do not converge
        fitted, chosen = fit_with_search(pipeline, small, ref_problem.y, strategy, space,
                                         StratifiedKFold(3), seed=0)
    assert n_candidates(fitted) == 4
    assert isinstance(chosen["hidden_layer_sizes"], list)
    assert type(chosen["alpha"]) is float
    assert json.loads(json.dumps(chosen)) == chosen
    assert isinstance(fitted.best_params_["clf__hidden_layer_sizes"], tuple)


def test_no_search_fits_the_defaults(ref_problem):
    pipeline = _pipeline(ref_problem, "KNN")
    fitted, chosen = fit_with_search(pipeline, ref_problem.X, ref_problem.y, "none",
                                     search_space("KNN"), None, 0)
    assert fitted is pipeline and chosen == {} and n_candidates(fitted) == 0
    assert fitted.named_steps["clf"].n_neighbors == 5


def test_unknown_strategy_is_refused(ref_problem):
    with pytest.raises(ValueError, match="search must be one of"):
        _search(ref_problem, "KNN", "hyperband")


def test_empty_space_evaluates_the_defaults_once(ref_problem):
    for strategy in STRATEGIES:
        fitted, chosen = _search(ref_problem, "KNN", strategy, space=SearchSpace())
        assert n_candidates(fitted) == 1 and chosen == {}


def test_to_jsonable():
    value = {"a": np.int64(3), "b": (np.float32(0.5), (1, 2)), "c": np.array([1, 2]), "d": "x"}
    assert to_jsonable(value) == {"a": 3, "b": [0.5, [1, 2]], "c": [1, 2], "d": "x"}
    assert type(to_jsonable(np.int64(3))) is int
