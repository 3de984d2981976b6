"""Stacked MLP training reproduces MLPClassifier.fit bit for bit."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from cohortbench.execute.fast.batched import run_batched
from cohortbench.execute.fast.mlp_batch import MLPJob, covers_mlp, fit_predict_mlps


def _reference(job):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = MLPClassifier(**job.estimator.get_params()).fit(job.train, job.y_train)
    texts = [f"{w.category.__name__}: {str(w.message).splitlines()[0]}" for w in caught]
    return model, model.predict(job.test), texts


def _problem_jobs(rng, n, k, n_classes, hidden, shared, n_jobs, **params):
    X = rng.normal(size=(n, k)) * rng.choice([0.3, 1.0, 5.0])
    test = rng.normal(size=(3, k))
    jobs = []
    for _ in range(n_jobs):
        y = rng.integers(0, n_classes, n)
        y[:n_classes] = np.arange(n_classes)
        train = X if shared else rng.normal(size=(n, k))
        est = MLPClassifier(hidden_layer_sizes=hidden, alpha=float(10 ** rng.uniform(-5, -2)),
                            random_state=int(params.pop("random_state", 3)), **params)
        jobs.append(MLPJob(est, train, test, y))
    return jobs


@pytest.mark.parametrize("case", range(8))
def test_stacked_fits_equal_each_fit_bit_for_bit(case):
    rng = np.random.default_rng(case)
    n = int(rng.integers(10, 36))
    k = [1, 3, 20, 120, 400][case % 5]
    hidden = [(50,), (100,), (100, 50), (7, 5, 3)][case % 4]
    params = {"max_iter": 60} if case % 3 == 0 else {}
    if case == 5:
        params["batch_size"] = 8  # several mini-batches per epoch
    jobs = _problem_jobs(rng, n, k, 2 + case % 2, hidden, shared=case % 2 == 0,
                         n_jobs=5, **params)
    for job, outcome in zip(jobs, fit_predict_mlps(jobs)):
        model, predicted, texts = _reference(job)
        assert outcome.error is None
        assert outcome.n_iter == model.n_iter_
        coefs, intercepts = outcome.weights
        for mine, theirs in zip(coefs + intercepts, model.coefs_ + model.intercepts_):
            np.testing.assert_array_equal(mine, theirs)
        np.testing.assert_array_equal(outcome.predicted, predicted)
        assert outcome.warnings == texts


def test_stacks_are_split_and_mixed_jobs_grouped():
    rng = np.random.default_rng(11)
    # Wide inputs stack one network at a time; narrow ones many; mixed shapes and
    # seeds each form their own group; order of the outcomes is the jobs' order.
    jobs = (_problem_jobs(rng, 20, 900, 3, (100,), True, 3)
            + _problem_jobs(rng, 20, 4, 2, (50,), False, 4, random_state=9)
            + _problem_jobs(rng, 17, 4, 3, (50,), False, 3, max_iter=30))
    order = rng.permutation(len(jobs))
    jobs = [jobs[i] for i in order]
    for job, outcome in zip(jobs, fit_predict_mlps(jobs)):
        model, predicted, _ = _reference(job)
        np.testing.assert_array_equal(outcome.predicted, predicted)
        np.testing.assert_array_equal(outcome.weights[0][0], model.coefs_[0])
        assert outcome.seconds > 0


def test_convergence_warning_text_matches_scikit_learn():
    rng = np.random.default_rng(2)
    jobs = _problem_jobs(rng, 15, 3, 2, (5,), False, 2, max_iter=3)
    outcome = fit_predict_mlps(jobs)[0]
    _, _, texts = _reference(jobs[0])
    assert texts and texts[0].startswith(ConvergenceWarning.__name__)
    assert outcome.warnings == texts


def test_numpy_trouble_falls_back_to_each_own_fit():
    # Inputs this large overflow inside the network: scikit-learn's own fit then
    # decides what is raised and recorded, network by network.
    rng = np.random.default_rng(4)
    jobs = _problem_jobs(rng, 12, 3, 2, (10,), False, 2, max_iter=5)
    jobs[0].train[:] = 1e200
    outcomes = fit_predict_mlps(jobs)
    for job, outcome in zip(jobs, outcomes):
        try:
            model, predicted, texts = _reference(job)
        except ValueError as exc:
            assert str(outcome.error) == str(exc)
            continue
        np.testing.assert_array_equal(outcome.predicted, predicted)
    assert any("RuntimeWarning" in t for t in outcomes[0].warnings) or outcomes[0].error


@pytest.mark.parametrize("params, covered", [
    ({}, True), ({"alpha": 0.01, "hidden_layer_sizes": (3, 3)}, True),
    ({"solver": "lbfgs"}, False), ({"solver": "sgd"}, False),
    ({"activation": "tanh"}, False), ({"early_stopping": True}, False),
    ({"random_state": None}, False), ({"warm_start": True}, False),
    ({"shuffle": False}, False),
])
def test_covers_only_what_it_reproduces(params, covered):
    est = MLPClassifier(**{"random_state": 0, **params})
    assert covers_mlp(est) is covered


def test_run_batched_trains_requests_of_many_generators_together():
    rng = np.random.default_rng(6)
    jobs = _problem_jobs(rng, 14, 5, 3, (20,), True, 4)

    def one(job):
        (outcome,) = yield [job]
        return outcome.predicted

    predicted = run_batched([one(job) for job in jobs])
    for job, mine in zip(jobs, predicted):
        np.testing.assert_array_equal(mine, _reference(job)[1])


def test_untested_scikit_learn_versions_fit_networks_one_by_one(monkeypatch):
    import sklearn

    assert covers_mlp(MLPClassifier(random_state=0))
    monkeypatch.setattr(sklearn, "__version__", "1.10.0")
    assert not covers_mlp(MLPClassifier(random_state=0))


def test_compiled_adam_step_equals_numpy_and_warns_where_numpy_would(monkeypatch):
    from cohortbench.execute.fast import mlp_stack

    calls, loop = [], mlp_stack.compiled_loop
    monkeypatch.setattr(mlp_stack, "compiled_loop", lambda name: (
        lambda *args: calls.append(name) or loop(name)(*args)))
    rng = np.random.default_rng(8)
    shapes = [(3, 50, 50), (3, 50)]  # over _COMPILED_ADAM_FROM: the compiled step runs
    params = [rng.standard_normal(s) for s in shapes]
    grads = [rng.standard_normal(s) for s in shapes]
    compiled = mlp_stack._Adam([p.copy() for p in params], 1e-3, 0.9, 0.999, 1e-8)
    plain = mlp_stack._Adam([p.copy() for p in params], 1e-3, 0.9, 0.999, 1e-8)
    got, want = [p.copy() for p in params], [p.copy() for p in params]
    for _ in range(3):
        compiled.update(got, grads)
        plain.update(want, [np.asfortranarray(g) for g in grads])  # not C-contiguous: NumPy path
    for a, b in zip(got + compiled.ms + compiled.vs, want + plain.ms + plain.vs):
        np.testing.assert_array_equal(a, b)
    assert len(calls) == 3 * len(shapes)  # the compiled step ran, once per array and step
    grads[0][0, 0, 0] = 1e200  # its square overflows
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled.update(got, grads)
    assert [w.category for w in caught] == [RuntimeWarning]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plain.update(want, [np.asfortranarray(g) for g in grads])
    assert any(w.category is RuntimeWarning for w in caught)


@pytest.mark.parametrize("batch_size", ["auto", 7])
def test_one_input_column_per_network_is_fitted_as_scikit_learn_fits_it(batch_size):
    # The study's LDA on two classes gives each label vector its own single column.
    rng = np.random.default_rng(42)
    jobs = _problem_jobs(rng, 24, 1, 2, (100,), shared=False, n_jobs=4, max_iter=40,
                         batch_size=batch_size)
    for job, outcome in zip(jobs, fit_predict_mlps(jobs)):
        model, predicted, _ = _reference(job)
        for mine, theirs in zip(outcome.weights[0] + outcome.weights[1],
                                model.coefs_ + model.intercepts_):
            np.testing.assert_array_equal(mine, theirs)
        np.testing.assert_array_equal(outcome.predicted, predicted)


def test_loss_curves_are_scikit_learns_bit_for_bit():
    from cohortbench.execute.fast import mlp_stack

    rng = np.random.default_rng(13)
    jobs = _problem_jobs(rng, 19, 6, 3, (30,), False, 3, max_iter=25, batch_size=7)
    curves = {}
    outcomes = mlp_stack.train_stack(jobs, curves)
    for job, (_, _, _, n_iter, _) in zip(jobs, outcomes):
        model = _reference(job)[0]
        assert len(curves[id(job)]) == n_iter == model.n_iter_
        assert curves[id(job)] == model.loss_curve_


def test_first_use_self_check_passes_on_this_machine():
    from cohortbench import _compat
    from cohortbench.execute.fast import mlp_batch, mlp_stack

    ks = [k for _, k, _, _, _, _ in mlp_batch._SELF_CHECK]
    firsts = [k * hidden[0] for _, k, _, hidden, _, _ in mlp_batch._SELF_CHECK]
    assert 1 in ks and max(firsts) >= mlp_stack._COMPILED_ADAM_FROM > min(firsts)
    assert any(n % batch for n, _, _, _, batch, _ in mlp_batch._SELF_CHECK if batch != "auto")
    assert any(classes > 2 for _, _, classes, _, _, _ in mlp_batch._SELF_CHECK)
    assert mlp_batch._stacks_match_library() and mlp_batch.stacks_off() is None
    assert _compat.MLP_STACKS not in _compat.switched_off()


@pytest.mark.parametrize("case", range(4))
@pytest.mark.parametrize("what", ["weights", "loss"])
def test_self_check_switches_the_stacks_off_on_a_one_ulp_difference(monkeypatch, case, what):
    # What another BLAS could do to one shape: one ulp in one weight, or in one loss.
    from cohortbench import _compat
    from cohortbench.execute.fast import mlp_batch, mlp_stack

    k = mlp_batch._SELF_CHECK[case][1]
    real = mlp_stack._step

    def other_blas(Xb, Yb, coefs, *args):
        loss = real(Xb, Yb, coefs, *args)
        if coefs[0].shape[1] == k:
            if what == "weights":
                coefs[-1][0, 0, 0] = np.nextafter(coefs[-1][0, 0, 0], np.inf)
            else:
                loss[0] = np.nextafter(loss[0], np.inf)
        return loss

    monkeypatch.setattr(mlp_stack, "_step", other_blas)
    mlp_batch._stacks_match_library.cache_clear()
    try:
        assert not covers_mlp(MLPClassifier(random_state=0))
        assert "self-check" in mlp_batch.stacks_off()
        assert "self-check" in _compat.switched_off()[_compat.MLP_STACKS]
    finally:
        mlp_batch._stacks_match_library.cache_clear()
    monkeypatch.undo()
    assert covers_mlp(MLPClassifier(random_state=0))
