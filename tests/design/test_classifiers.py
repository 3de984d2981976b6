"""The classifier registry and its search spaces (SPEC section 4)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import RidgeClassifier
from sklearn.utils.validation import check_is_fitted

from cohortbench.design import classifiers as reg
from cohortbench.design.classifiers import (Categorical, IntUniform, LogUniform, Param,
                                            SearchSpace, classifier_names, make_classifier,
                                            register_classifier, search_space,
                                            search_space_table, unregister_classifier)
from cohortbench.errors import StudyError

BUILTINS = ("KNN", "LGBM", "MLR_ENET", "MLR_L1", "MLR_L2", "MLP", "SVM_POLY", "SVM_RBF",
            "SVM_SIG", "SVM_LIN", "RF", "XGB")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "classifiers.md"


@pytest.fixture
def clean_registry():
    before = dict(reg._USER)
    yield
    reg._USER.clear()
    reg._USER.update(before)


def test_exactly_the_twelve_contract_names():
    assert classifier_names()[:12] == BUILTINS
    assert set(BUILTINS) <= set(classifier_names())


@pytest.mark.parametrize("name", BUILTINS)
def test_factory_gives_a_fresh_unfitted_seeded_single_threaded_classifier(name):
    a, b = make_classifier(name, 7), make_classifier(name, 7)
    assert a is not b and is_classifier(a)
    with pytest.raises(NotFittedError):
        check_is_fitted(a)
    params = a.get_params()
    if "random_state" in params:
        assert params["random_state"] == 7
    if "n_jobs" in params and not name.startswith("MLR_"):
        assert params["n_jobs"] == 1
    if name.startswith("MLR_"):
        # LogisticRegression's n_jobs has no effect since scikit-learn 1.8 and
        # setting it warns: it is left unset.
        assert params["n_jobs"] is None
    assert clone(a).get_params() == params


def test_estimators_that_have_a_random_state_get_one():
    has_seed = {n for n in BUILTINS if "random_state" in make_classifier(n, 3).get_params()}
    assert {"MLR_ENET", "MLR_L1", "MLR_L2", "MLP", "RF", "LGBM", "XGB", "SVM_LIN"} <= has_seed
    assert has_seed == set(BUILTINS) - {"KNN"}


def test_penalties_solvers_and_kernels():
    l1, enet, l2 = (make_classifier(n, 0) for n in ("MLR_L1", "MLR_ENET", "MLR_L2"))
    assert (l1.solver, l1.l1_ratio) == ("saga", 1.0)
    assert (enet.solver, enet.l1_ratio) == ("saga", 0.5)
    assert (l2.solver, l2.l1_ratio) == ("lbfgs", 0.0)
    for estimator in (l1, enet, l2):
        assert estimator.penalty == "deprecated"      # the deprecated spelling is not used
    kernels = {n: make_classifier(n, 0).kernel for n in BUILTINS if n.startswith("SVM_")}
    assert kernels == {"SVM_POLY": "poly", "SVM_RBF": "rbf", "SVM_SIG": "sigmoid",
                       "SVM_LIN": "linear"}
    assert make_classifier("LGBM", 0).get_params()["verbose"] == -1


@pytest.mark.parametrize("name", BUILTINS)
def test_no_deprecation_or_future_warning_when_fitting(name):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(18, 6)), np.repeat([0, 1, 2], 6)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        warnings.simplefilter("error", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)   # e.g. convergence on tiny data
        estimator = make_classifier(name, 0).fit(X, y)
        assert set(np.unique(estimator.predict(X))) <= {0, 1, 2}


@pytest.mark.parametrize("name", BUILTINS)
def test_search_space_is_valid_for_the_estimator(name):
    space = search_space(name)
    estimator = make_classifier(name, 0)
    assert len(space) >= 1
    assert set(space) <= set(estimator.get_params())
    assert space.grid_size == math.prod(len(p.grid) for p in space.values())
    assert 5 <= space.grid_size <= 30                    # modest: n is small
    for param_name, param in space.items():
        for value in param.grid:
            assert param.distribution.contains(value)
            estimator.set_params(**{param_name: value})
        if isinstance(param.distribution, LogUniform):
            assert len(param.grid) >= 3


def test_documented_spaces():
    assert search_space("SVM_RBF").keys() == {"C", "gamma"}
    assert search_space("SVM_SIG").keys() == {"C", "gamma"}
    assert "degree" in search_space("SVM_POLY")
    assert search_space("KNN").keys() == {"n_neighbors", "weights"}
    assert {"n_estimators", "max_depth"} <= search_space("RF").keys()
    assert {"n_estimators", "max_depth"} <= search_space("LGBM").keys()
    assert {"n_estimators", "max_depth"} <= search_space("XGB").keys()
    assert search_space("MLP").keys() == {"hidden_layer_sizes", "alpha"}
    for name in ("MLR_L1", "MLR_L2", "SVM_LIN"):
        c = search_space(name)["C"]
        assert 5 <= len(c.grid) <= 10 and isinstance(c.distribution, LogUniform)


def test_docs_hold_the_table_of_the_code():
    text = DOCS.read_text(encoding="utf-8")
    assert search_space_table() in text
    for name in BUILTINS:
        assert f"`{name}`" in text


def test_search_space_is_an_ordered_mapping():
    space = SearchSpace(b=Param((1, 2), IntUniform(1, 3)),
                        a=Param(("x", "y", "z"), Categorical(("x", "y", "z"))))
    assert list(space) == ["b", "a"]
    assert space.grid_size == 6
    assert SearchSpace().grid_size == 1
    with pytest.raises(TypeError):
        SearchSpace(a=(1, 2))


@pytest.mark.parametrize("make", [
    lambda: Param((0.5, 20.0), LogUniform(1.0, 10.0)),
    lambda: Param((1, 11), IntUniform(1, 10)),
    lambda: Param(("a", "c"), Categorical(("a", "b"))),
    lambda: Param((), Categorical(("a",))),
    lambda: LogUniform(0.0, 1.0),
    lambda: LogUniform(2.0, 1.0),
    lambda: IntUniform(3, 2),
    lambda: Categorical(()),
])
def test_invalid_spaces_are_refused(make):
    with pytest.raises(ValueError):
        make()


def test_unknown_name_is_a_study_error_listing_the_choices():
    with pytest.raises(StudyError, match="Unknown classifier 'SVM'.*SVM_LIN"):
        make_classifier("SVM", 0)
    with pytest.raises(StudyError):
        search_space("nope")


def test_register_a_user_classifier(clean_registry):
    space = SearchSpace(alpha=Param((0.1, 1.0), LogUniform(0.1, 1.0)))
    register_classifier("RIDGE", lambda rs: RidgeClassifier(random_state=rs), space)
    assert classifier_names()[-1] == "RIDGE"
    assert make_classifier("RIDGE", 5).random_state == 5
    assert search_space("RIDGE") is space
    register_classifier("RIDGE", lambda rs: RidgeClassifier(alpha=2.0), SearchSpace())
    assert make_classifier("RIDGE", 0).alpha == 2.0           # user names can be replaced
    unregister_classifier("RIDGE")
    assert "RIDGE" not in classifier_names()


def test_builtin_names_cannot_be_replaced_or_removed(clean_registry):
    with pytest.raises(ValueError, match="built-in"):
        register_classifier("SVM_LIN", lambda rs: RidgeClassifier(), SearchSpace())
    with pytest.raises(ValueError, match="built-in"):
        unregister_classifier("KNN")
    with pytest.raises(TypeError):
        register_classifier("X", "not callable", SearchSpace())
    with pytest.raises(TypeError):
        register_classifier("X", lambda rs: RidgeClassifier(), {"alpha": (1.0,)})
    assert make_classifier("SVM_LIN", 0).kernel == "linear"
