"""L2 logistic regression in the row space follows scikit-learn's own trajectory."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from cohortbench.execute.fast.logistic_rowspace import (RowSpace, covers_logistic,
                                                       fit_predict_logistic, fit_rowspace)

pytestmark = pytest.mark.usefixtures("one_thread")


def _texts(caught):
    return [f"{w.category.__name__}: {str(w.message).splitlines()[0]}" for w in caught]


def _problem(rng, n, p, k, scaled):
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)
    X = rng.normal(size=(n + 2, p)) + 0.5 * np.eye(k)[np.r_[y, 0, 1]] @ rng.normal(size=(k, p))
    if scaled:
        X = StandardScaler().fit_transform(X)
    return X[:n], X[n:], y


@pytest.mark.parametrize("seed", range(6))
def test_same_iterations_coefficients_predictions_and_warnings(seed):
    rng = np.random.default_rng(seed)
    for trial in range(10):
        n, p = int(rng.integers(10, 30)), int(rng.choice([40, 400, 3000]))
        k = int(rng.choice([2, 3, 4]))
        train, test, y = _problem(rng, n, p, k, scaled=bool(trial % 2))
        C = float(rng.choice([1e-3, 1.0, 1e4]))
        max_iter = int(rng.choice([5, 100]))  # 5: stops on the limit and warns
        estimator = LogisticRegression(C=C, max_iter=max_iter, random_state=0)
        assert covers_logistic(estimator, n, p)
        with warnings.catch_warnings(record=True) as want:
            warnings.simplefilter("always")
            reference = LogisticRegression(C=C, max_iter=max_iter).fit(train, y)
        space = RowSpace(train, test)
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            coef, intercept, n_iter = fit_rowspace(estimator, space, y)
        assert n_iter == reference.n_iter_[0]
        assert _texts(got) == _texts(want)
        np.testing.assert_allclose(coef @ space.q.T, reference.coef_, rtol=1e-7,
                                   atol=1e-9 * np.abs(reference.coef_).max())
        np.testing.assert_allclose(intercept, reference.intercept_, rtol=1e-7, atol=1e-10)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            predicted = fit_predict_logistic(estimator, space, y)
        np.testing.assert_array_equal(predicted, reference.predict(test))


def test_one_space_serves_every_label_vector_and_c():
    rng = np.random.default_rng(7)
    train, test, y = _problem(rng, 24, 500, 3, scaled=True)
    space = RowSpace(train, test)
    for C in (0.01, 1.0, 100.0):
        for _ in range(5):
            shuffled = rng.permutation(y)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = LogisticRegression(C=C).fit(train, shuffled).predict(test)
                got = fit_predict_logistic(LogisticRegression(C=C), space, shuffled)
            np.testing.assert_array_equal(got, want)


def test_labels_keep_their_values_and_one_class_fails_like_scikit_learn():
    rng = np.random.default_rng(3)
    train, test, y = _problem(rng, 20, 200, 3, scaled=False)
    codes = np.array([0, 2, 5])[y]  # classes need not be 0..K-1
    space = RowSpace(train, test)
    want = LogisticRegression().fit(train, codes).predict(test)
    np.testing.assert_array_equal(fit_predict_logistic(LogisticRegression(), space, codes), want)
    with pytest.raises(ValueError, match="at least 2 classes"):
        fit_predict_logistic(LogisticRegression(), space, np.zeros(20, dtype=int))


@pytest.mark.parametrize("estimator, n, p, expected", [
    (LogisticRegression(), 20, 200, True),
    (LogisticRegression(C=10.0, max_iter=50, tol=1e-6), 20, 200, True),
    (LogisticRegression(), 20, 21, False),  # no fewer variables: not worth it
    (LogisticRegression(solver="saga", l1_ratio=1.0), 20, 200, False),
    (LogisticRegression(class_weight="balanced"), 20, 200, False),
    (LogisticRegression(fit_intercept=False), 20, 200, False),
    (LogisticRegression(C=np.inf), 20, 200, False),
    (LogisticRegression(warm_start=True), 20, 200, False),
])
def test_covers_only_what_it_reproduces(estimator, n, p, expected):
    assert covers_logistic(estimator, n, p) is expected


def test_an_untested_scikit_learn_turns_the_path_off(monkeypatch):
    import sklearn

    from cohortbench.execute.fast import logistic_rowspace

    assert covers_logistic(LogisticRegression(), 20, 200)
    monkeypatch.setattr(sklearn, "__version__", "1.10.0")
    assert not covers_logistic(LogisticRegression(), 20, 200)
    assert logistic_rowspace.rowspace_off() == "scikit-learn 1.10.0 is not a tested version"
