import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from cohortbench.execute.fast.saga_batch import SagaJob, covers_saga, fit_predict_sagas


def _saga(**params):
    return LogisticRegression(solver="saga", **{"random_state": 0, "l1_ratio": 1.0, **params})


def _reference(job):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = LogisticRegression(**job.estimator.get_params()).fit(job.train, job.y_train)
    texts = [f"{w.category.__name__}: {w.message}" for w in caught]
    return model, model.predict(job.test), texts


def _assert_same(job, outcome):
    model, predicted, texts = _reference(job)
    assert outcome.error is None
    coef, intercept = outcome.weights
    np.testing.assert_array_equal(coef, model.coef_)
    np.testing.assert_array_equal(intercept, model.intercept_)
    assert outcome.n_iter == model.n_iter_[0]
    np.testing.assert_array_equal(outcome.predicted, predicted)
    assert outcome.warnings == texts


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("shared", [True, False])
def test_lanes_reproduce_logistic_regression_bit_for_bit(n_classes, shared):
    rng = np.random.default_rng(n_classes + 10 * shared)
    jobs = []
    for p in (1, 3, 12, 40):
        X = rng.standard_normal((23, p)) * rng.choice([0.2, 1.0, 5.0])
        for lane in range(6):
            train = X if shared else rng.standard_normal((23, p)) * rng.choice([0.2, 1.0, 5.0])
            test = rng.standard_normal((4, p))
            y = np.resize(np.arange(n_classes), 23)
            rng.shuffle(y)
            estimator = _saga(C=float(rng.choice([0.05, 1.0, 20.0])),
                              l1_ratio=float(rng.choice([0.25, 0.5, 1.0])),
                              max_iter=int(rng.choice([5, 100])))
            jobs.append(SagaJob(estimator, train, test, y + 1))  # labels need not be codes
    outcomes = fit_predict_sagas(jobs)
    assert any(o.warnings for o in outcomes) and not all(o.warnings for o in outcomes)
    for job, outcome in zip(jobs, outcomes):
        _assert_same(job, outcome)


def test_lanes_with_other_seeds_and_sizes_are_kept_apart():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20, 5))
    jobs = [SagaJob(_saga(random_state=seed), X, X[:3], rng.integers(0, 2, 20))
            for seed in (0, 1, 2, 0, 1)]
    jobs.append(SagaJob(_saga(), X[:18], X[:3], rng.integers(0, 3, 18)))
    for job, outcome in zip(jobs, fit_predict_sagas(jobs)):
        _assert_same(job, outcome)


def test_problems_the_lanes_do_not_cover_are_fitted_by_scikit_learn(monkeypatch):
    from cohortbench.execute.fast import saga_batch

    rng = np.random.default_rng(4)
    X = rng.standard_normal((60, 4))
    y = np.resize([0, 1], 60)
    one_class = SagaJob(_saga(), X[:15], X[:2], np.zeros(15, dtype=int))
    # A strong L2 part shrinks sag64's weight scale below 1e-9 within an epoch of
    # 60 rows, where it rescales mid-epoch: the lanes hand such fits back.
    rescaled = SagaJob(_saga(C=1e-6, l1_ratio=0.5), X, X[:2], y)
    fine = SagaJob(_saga(), X, X[:2], y)
    plain, original = [], saga_batch._plain_fit
    monkeypatch.setattr(saga_batch, "_plain_fit",
                        lambda job, seconds=0.0: plain.append(job) or original(job, seconds))
    first, second, third = fit_predict_sagas([one_class, rescaled, fine])
    assert plain == [one_class, rescaled]
    assert isinstance(first.error, ValueError) and first.predicted is None
    _assert_same(rescaled, second)
    _assert_same(fine, third)


def test_covers_only_what_the_lanes_reproduce():
    assert covers_saga(_saga())
    assert covers_saga(_saga(l1_ratio=0.5, C=3))
    assert not covers_saga(_saga(l1_ratio=0.0))
    assert not covers_saga(LogisticRegression(random_state=0))
    assert not covers_saga(_saga(random_state=None))
    assert not covers_saga(_saga(class_weight="balanced"))
    assert not covers_saga(_saga(fit_intercept=False))
    assert not covers_saga(_saga(warm_start=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not covers_saga(_saga(C=np.inf))


def test_lanes_refused_where_the_installed_sag64_rounds_otherwise(monkeypatch):
    from cohortbench.execute.fast import saga_batch

    estimator = LogisticRegression(solver="saga", l1_ratio=1.0, random_state=0)
    assert saga_batch._lanes_match_library() and saga_batch.covers_saga(estimator)
    real = saga_batch.fit_predict_sagas

    def one_ulp_off(jobs):  # what a differently compiled sag64 could disagree by
        outcomes = real(jobs)
        coef, intercept = outcomes[0].weights
        outcomes[0].weights = (np.nextafter(coef, np.inf), intercept)
        return outcomes

    monkeypatch.setattr(saga_batch, "fit_predict_sagas", one_ulp_off)
    saga_batch._lanes_match_library.cache_clear()
    try:
        assert not saga_batch.covers_saga(estimator)
    finally:
        saga_batch._lanes_match_library.cache_clear()
    monkeypatch.undo()
    assert saga_batch.covers_saga(estimator)
