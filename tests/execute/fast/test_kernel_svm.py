"""SVC on kernels from DotProducts is bit-identical to SVC(kernel=...)."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVC

from cohortbench.design.classifiers import make_classifier
from cohortbench.execute.fast.kernel_svm import (DotProducts, covers_svc, fit_predict_svc,
                                                 libsvm_powi)


def _data(seed, n_train=23, n_test=4, p=150):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_train + n_test, p)) * rng.uniform(0.5, 3, size=p)
    y = np.arange(n_train) % 3
    X[:n_train, :5] += y[:, None]
    return X[:n_train], y, X[n_train:]


@pytest.mark.parametrize("kernel", ["linear", "poly", "rbf", "sigmoid"])
@pytest.mark.parametrize("seed", [0, 1])
def test_precomputed_kernel_gives_identical_dual_and_decisions(kernel, seed):
    train, y, test = _data(seed)
    dots = DotProducts(train, test)
    direct = SVC(kernel=kernel).fit(train, y)
    k_train, k_test = dots.kernels(kernel, dots.gamma("scale"), 3, 0.0)
    on_kernel = SVC(kernel="precomputed").fit(k_train, y)
    np.testing.assert_array_equal(on_kernel.support_, direct.support_)
    np.testing.assert_array_equal(on_kernel.dual_coef_, direct.dual_coef_)
    np.testing.assert_array_equal(on_kernel.intercept_, direct.intercept_)
    np.testing.assert_array_equal(on_kernel.decision_function(k_test),
                                  direct.decision_function(test))


@pytest.mark.parametrize("name", ["SVM_LIN", "SVM_POLY", "SVM_RBF", "SVM_SIG"])
def test_registry_svms_predict_the_same(name):
    train, y, test = _data(5, p=80)
    estimator = make_classifier(name, 0)
    assert covers_svc(estimator)
    expected = make_classifier(name, 0).fit(train, y).predict(test)
    np.testing.assert_array_equal(fit_predict_svc(estimator, DotProducts(train, test), y),
                                  expected)


def test_other_gamma_degree_and_coef0_are_honoured():
    train, y, test = _data(2)
    dots = DotProducts(train, test)
    for params in ({"kernel": "poly", "degree": 2, "coef0": 1.5, "gamma": 0.01},
                   {"kernel": "rbf", "gamma": "auto"}, {"kernel": "sigmoid", "coef0": -0.5}):
        direct = SVC(**params, C=3.0).fit(train, y)
        np.testing.assert_array_equal(fit_predict_svc(SVC(**params, C=3.0), dots, y),
                                      direct.predict(test))


def test_zero_variance_training_matrix_gets_gamma_one_like_svc():
    train = np.ones((6, 3))
    assert DotProducts(train, train[:1]).gamma("scale") == 1.0


def test_covers_only_plain_svc_with_a_known_kernel():
    assert not covers_svc(SVC(kernel="precomputed"))
    assert not covers_svc(SVC(kernel=lambda a, b: a @ b.T))
    assert not covers_svc(make_classifier("KNN", 0))


def test_powi_matches_repeated_squaring():
    assert libsvm_powi(1.1, 0) == 1.0
    assert libsvm_powi(2.0, 10) == 1024.0
    assert libsvm_powi(1.1, 3) == (1.1 * (1.1 * 1.1))


@pytest.mark.parametrize("params", [{}, {"class_weight": "balanced"}, {"break_ties": True},
                                    {"C": 0.01, "shrinking": False}])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_direct_libsvm_path_and_public_fallback_match_svc(params, n_classes):
    train, y, test = _data(8, n_train=21, n_test=9, p=60)
    y = y % n_classes
    labels = np.array(["x", "y", "z"])[y]  # non-integer labels come back as given
    for kernel in ("linear", "rbf"):
        expected = SVC(kernel=kernel, random_state=0, **params).fit(train, labels).predict(test)
        got = fit_predict_svc(SVC(kernel=kernel, random_state=0, **params),
                              DotProducts(train, test), labels)
        np.testing.assert_array_equal(got, expected)


def test_early_stop_warns_like_svc():
    train, y, test = _data(9, p=40)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit_predict_svc(SVC(kernel="linear", max_iter=1), DotProducts(train, test), y)
    assert any(issubclass(w.category, ConvergenceWarning)
               and "Solver terminated early (max_iter=1)" in str(w.message) for w in caught)


def test_single_class_is_refused_like_svc():
    train, _, test = _data(10, p=10)
    with pytest.raises(ValueError, match="greater than one"):
        fit_predict_svc(SVC(kernel="linear"), DotProducts(train, test), np.zeros(len(train)))
