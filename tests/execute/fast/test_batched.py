import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from cohortbench.execute.fast import batched
from cohortbench.execute.fast.batched import gather, run_batched
from cohortbench.execute.fast.mlp_batch import MLPJob
from cohortbench.execute.fast.saga_batch import SagaJob


def test_gather_batches_rounds_and_returns_each_result():
    seen = []

    def fake_fit(jobs):
        seen.append(len(jobs))
        return [f"out-{job}" for job in jobs]

    def step(name, rounds):
        got = []
        for r in range(rounds):
            got += (yield [f"{name}{r}a", f"{name}{r}b"])
        return name, got

    def nested():
        inner = yield from gather([step("x", 1), step("y", 2)])
        return inner

    driver = gather([step("a", 2), nested(), step("c", 0)])
    jobs = next(driver)
    try:
        while True:
            jobs = driver.send(fake_fit(jobs))
    except StopIteration as stop:
        results = stop.value
    assert seen == [6, 4]  # round 1: a, x, y; round 2: a, y
    assert results[0] == ("a", ["out-a0a", "out-a0b", "out-a1a", "out-a1b"])
    assert results[1] == [("x", ["out-x0a", "out-x0b"]),
                          ("y", ["out-y0a", "out-y0b", "out-y1a", "out-y1b"])]
    assert results[2] == ("c", [])


def test_each_round_is_answered_once_per_kind_of_job(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 3))
    y = np.resize([0, 1, 2], 12)
    mlp = MLPJob(MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0), X, X[:2], y)
    saga = SagaJob(LogisticRegression(solver="saga", l1_ratio=1.0, random_state=0), X, X[:2], y)
    calls = []
    for kind in (MLPJob, SagaJob):
        original = kind.fit_many
        monkeypatch.setattr(kind, "fit_many", staticmethod(
            lambda jobs, original=original, kind=kind: calls.append((kind, len(jobs)))
            or original(jobs)))

    def one(job):
        (outcome,) = yield [job]
        return type(job), outcome.predicted

    results = run_batched([one(saga), one(mlp), one(saga), one(mlp), one(mlp)])
    assert sorted(calls, key=lambda c: c[0].__name__) == [(MLPJob, 3), (SagaJob, 2)]
    for kind, (got_kind, predicted) in zip([SagaJob, MLPJob, SagaJob, MLPJob, MLPJob], results):
        assert got_kind is kind
        model = (saga if kind is SagaJob else mlp).estimator
        np.testing.assert_array_equal(predicted, model.fit(X, y).predict(X[:2]))
    assert batched.fit_jobs([]) == []
