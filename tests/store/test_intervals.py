"""Accuracy and balanced-accuracy intervals against scipy and independent computations."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats
from sklearn.metrics import balanced_accuracy_score

from cohortbench.store.intervals import (
    accuracy_interval,
    balanced_accuracy_interval,
    balanced_accuracy_posterior_interval,
    evaluation_intervals,
    intervals_from_confusion,
)


# --------------------------------------------------------------------------- accuracy
@pytest.mark.parametrize("method", ["wilson", "exact"])
@pytest.mark.parametrize("k, n", [(0, 1), (1, 1), (0, 20), (20, 20), (7, 16), (20, 30),
                                  (29, 30), (55, 100)])
@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_accuracy_interval_equals_scipy_for_whole_counts(k, n, method, confidence):
    correct = np.r_[np.ones(k), np.zeros(n - k)]
    np.random.default_rng(k + n).shuffle(correct)
    got = accuracy_interval(correct, confidence, method)
    want = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method=method)
    assert (got.low, got.high) == (want.low, want.high)
    assert got.estimate == k / n and got.n_subjects == n and got.method == method


def _newcombe_wilson(p, n, z):
    # Wilson's score interval written from its textbook form (Wilson 1927), independently
    # of the module: the roots in q of (p - q)^2 = z^2 q (1 - q) / n.
    a = 1 + z**2 / n
    b = -(2 * p + z**2 / n)
    c = p**2
    disc = np.sqrt(b**2 - 4 * a * c)
    return (-b - disc) / (2 * a), (-b + disc) / (2 * a)


def test_fractional_wilson_uses_the_mean_and_the_number_of_subjects():
    # Repeated 3 x 10-fold on 30 subjects: per-subject mean correctness in thirds.
    rng = np.random.default_rng(0)
    correct = rng.integers(0, 4, size=30) / 3
    assert abs(correct.sum() - round(correct.sum())) > 1e-6  # really fractional
    got = accuracy_interval(correct)
    z = stats.norm.ppf(0.975)
    low, high = _newcombe_wilson(correct.mean(), 30, z)
    assert got.low == pytest.approx(low, abs=1e-12)
    assert got.high == pytest.approx(high, abs=1e-12)
    # n x R observations would give a narrower interval; we must not be that one.
    narrow = _newcombe_wilson(correct.mean(), 90, z)
    assert got.high - got.low > (narrow[1] - narrow[0]) * 1.5


def test_fractional_formulas_join_scipy_at_whole_counts():
    # Approaching k = 12 of 20 from a fractional total: no jump between the two branches.
    for method in ("wilson", "exact"):
        want = stats.binomtest(12, 20).proportion_ci(method=method)
        near = accuracy_interval(np.r_[np.ones(11), [1 - 1e-7], np.zeros(8)], method=method)
        assert near.low == pytest.approx(want.low, abs=1e-6)
        assert near.high == pytest.approx(want.high, abs=1e-6)


def test_fractional_exact_is_the_beta_form_of_clopper_pearson():
    correct = np.r_[np.ones(10), [0.5], np.zeros(9)]   # k = 10.5 of 20
    got = accuracy_interval(correct, method="exact")
    assert got.low == pytest.approx(stats.beta.ppf(0.025, 10.5, 10.5), abs=1e-12)
    assert got.high == pytest.approx(stats.beta.ppf(0.975, 11.5, 9.5), abs=1e-12)


@pytest.mark.parametrize("bad", [[], [0.5, 1.2], [np.nan, 1.0], [-0.1]])
def test_accuracy_interval_refuses_bad_input(bad):
    with pytest.raises(ValueError):
        accuracy_interval(bad)


def test_accuracy_interval_refuses_an_unknown_method():
    with pytest.raises(ValueError, match="method"):
        accuracy_interval([1, 0], method="agresti")


# ------------------------------------------------------------------ balanced accuracy
def _quad_interval(successes, totals, confidence=0.95):
    """Independent 2-class posterior quantiles: numerical integration + root finding."""
    (k1, k2), (n1, n2) = successes, totals
    a1, b1, a2, b2 = k1 + 1, n1 - k1 + 1, k2 + 1, n2 - k2 + 1

    def cdf(x):   # P((A1 + A2) / 2 <= x) = E[F1(2x - A2)]
        return integrate.quad(lambda a: stats.beta.cdf(2 * x - a, a1, b1) * stats.beta.pdf(a, a2, b2),
                              0, 1, epsabs=1e-10, epsrel=1e-10, limit=100)[0]

    alpha = 1 - confidence
    return tuple(optimize.brentq(lambda x: cdf(x) - q, 0, 1, xtol=1e-9)
                 for q in (alpha / 2, 1 - alpha / 2))


@pytest.mark.parametrize("successes, totals", [
    ((12, 5), (16, 8)), ((8, 8), (8, 8)), ((0, 3), (8, 8)), ((4, 4), (8, 8)),
    ((13, 2), (14, 16)), ((10.5, 6.25), (14, 8)),     # fractional: repeated k-fold
])
def test_two_class_posterior_matches_numerical_integration(successes, totals):
    got = balanced_accuracy_posterior_interval(successes, totals)
    want = _quad_interval(successes, totals)
    assert got == pytest.approx(want, abs=2e-5)


@pytest.mark.parametrize("successes, totals", [((12, 5), (16, 8)), ((10, 5, 6), (14, 8, 8)),
                                               ((2, 7, 3, 9), (5, 9, 6, 10))])
def test_posterior_matches_a_seeded_monte_carlo(successes, totals):
    rng = np.random.default_rng(20101)
    k, n = np.asarray(successes, float), np.asarray(totals, float)
    draws = rng.beta(k + 1, n - k + 1, size=(1_000_000, k.size)).mean(axis=1)
    want = np.quantile(draws, [0.025, 0.975])
    got = balanced_accuracy_posterior_interval(successes, totals)
    # Monte-Carlo standard error of these quantiles is ~2e-4 here.
    assert got == pytest.approx(tuple(want), abs=1.5e-3)


def test_one_class_is_the_beta_quantiles_themselves():
    # Closed form: the mean of one recall is that recall.
    for k, n in [(0, 1), (7, 10), (30, 30), (100, 100)]:
        got = balanced_accuracy_posterior_interval([k], [n], 0.9)
        want = stats.beta.ppf([0.05, 0.95], k + 1, n - k + 1)
        assert got == pytest.approx(tuple(want), abs=2e-6)


def test_two_flat_classes_give_the_triangular_distribution():
    # Closed form: with no subject at all each recall is Uniform(0, 1); their mean is
    # triangular on [0, 1], whose 2.5 % quantile is sqrt(0.025 / 2).
    low, high = balanced_accuracy_posterior_interval([0.0, 0.0], [1e-300, 1e-300])
    assert low == pytest.approx(np.sqrt(0.0125), abs=1e-6)
    assert high == pytest.approx(1 - np.sqrt(0.0125), abs=1e-6)


def test_balanced_interval_point_estimate_and_containment():
    rng = np.random.default_rng(3)
    for n_per_class in (8, 15, 40):
        y_true = np.repeat(["HC", "ALS", "fast"], n_per_class)
        y_pred = np.where(rng.random(y_true.size) < 0.7, y_true,
                          rng.choice(["HC", "ALS", "fast"], y_true.size))
        got = balanced_accuracy_interval(y_true, y_pred)
        assert got.estimate == pytest.approx(balanced_accuracy_score(y_true, y_pred))
        assert got.low < got.estimate < got.high
        assert got.method == "brodersen-posterior" and got.n_subjects == y_true.size


def test_balanced_interval_narrows_as_the_cohort_grows():
    widths = []
    for n in (10, 40, 160):
        y_true = np.repeat(["a", "b"], n)
        correct = np.r_[np.ones(int(0.75 * n)), np.zeros(n - int(0.75 * n))]
        got = balanced_accuracy_interval(y_true, correct=np.r_[correct, correct])
        widths.append(got.high - got.low)
    assert widths[0] > widths[1] > widths[2]
    # the posterior sd shrinks like 1/sqrt(n): 4x the subjects, about half the width
    assert widths[1] / widths[0] == pytest.approx(0.5, abs=0.06)


def test_at_the_edge_the_central_interval_excludes_perfect_accuracy():
    # Documented behaviour: every subject right -> the posterior lies below 1.
    got = balanced_accuracy_interval(["a"] * 8 + ["b"] * 8, ["a"] * 8 + ["b"] * 8)
    assert got.estimate == 1.0 and got.high < 1.0


def test_balanced_interval_needs_exactly_one_of_pred_and_correct():
    with pytest.raises(ValueError, match="exactly one"):
        balanced_accuracy_interval(["a", "b"])
    with pytest.raises(ValueError, match="exactly one"):
        balanced_accuracy_interval(["a", "b"], ["a", "b"], correct=[1, 1])


# ---------------------------------------------------------------- one evaluation's rows
def _rows(y_true, y_pred):
    return pd.DataFrame({"subject": [f"s{i:02d}" for i in range(len(y_true))],
                         "true_label": y_true, "predicted_label": y_pred})


def test_evaluation_intervals_from_prediction_rows():
    y_true = ["HC"] * 14 + ["ALS"] * 16
    y_pred = ["HC"] * 10 + ["ALS"] * 4 + ["ALS"] * 12 + ["HC"] * 4
    got = evaluation_intervals(_rows(y_true, y_pred))
    want = stats.binomtest(22, 30).proportion_ci(method="wilson")
    assert (got.accuracy.low, got.accuracy.high) == (want.low, want.high)
    want_low, want_high = _quad_interval((10, 12), (14, 16))
    assert got.balanced_accuracy.low == pytest.approx(want_low, abs=2e-5)
    assert got.balanced_accuracy.high == pytest.approx(want_high, abs=2e-5)


def test_evaluation_intervals_refuse_one_row_per_repeat():
    rows = _rows(["a", "b"], ["a", "a"])
    with pytest.raises(ValueError, match="subject twice"):
        evaluation_intervals(pd.concat([rows, rows]))


def test_confusion_matrix_gives_the_same_intervals_as_per_subject_correctness():
    # Constructed repeated 3-fold x R=3 outcome: per-subject mean correctness by hand.
    y_true = np.array(["a"] * 6 + ["b"] * 4)
    right = np.array([3, 3, 2, 1, 0, 3, 2, 2, 3, 0])          # times right out of 3
    confusion = [[right[:6].sum(), 18 - right[:6].sum()], [12 - right[6:].sum(), right[6:].sum()]]
    from_confusion = intervals_from_confusion(confusion, 10)
    from_subjects = evaluation_intervals(_rows(y_true, y_true), correct=right / 3)
    assert from_confusion.accuracy == from_subjects.accuracy
    assert dataclasses.astuple(from_confusion.balanced_accuracy) == pytest.approx(
        dataclasses.astuple(from_subjects.balanced_accuracy), abs=1e-12)
    assert from_confusion.accuracy.estimate == pytest.approx(right.sum() / 30)


def test_confusion_matrix_must_hold_whole_repeats():
    with pytest.raises(ValueError, match="whole"):
        intervals_from_confusion([[5, 1], [2, 3]], 10)


# ----------------------------------------- real engine output: train_only and repeats
HYBRID = """\
name: h
seed: 4
data:
  maps: {{qT1: maps/qT1.tsv}}
  participants: participants.tsv
labels:
  slope: {{expression: "(48 - alsfrs_r) / disease_months"}}
  progression: {{from: slope, split: median, classes: [slow, fast], among: {{group: ALS}}}}
tasks:
  SvF:
    classes: {{slow: {{progression: slow}}, fast: {{progression: fast}}}}
    train_only: {{slow: {{group: HC}}}}
cv: {{outer: "{outer}", inner: "stratified-kfold:3"}}
permutations: 0
stages:
  - name: screen
    classifiers: [KNN]
    pipeline: {{row_scaling: standard, column_scaling: standard}}
"""


@pytest.mark.parametrize("outer", ["loo", "repeated-stratified-kfold:3:4"])
def test_engine_output_with_train_only_subjects(tmp_path, outer):
    import cohortbench as cb
    from cohortbench.data.synthetic import write_synthetic_cohort
    from cohortbench.design.configs import PipelineConfig
    from cohortbench.execute.problem import make_problem
    from cohortbench.execute.reference_engine import evaluate_labels, evaluate_reference

    write_synthetic_cohort(tmp_path, seed=2, n_controls=6, n_slow=6, n_fast=6, n_rois=8, n_gm=4)
    (tmp_path / "h.yaml").write_text(HYBRID.format(outer=outer), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = cb.load_study(tmp_path / "h.yaml")
        task = study.tasks["SvF"]
        problem, _ = make_problem(study.cohort.view(None, "all"), task)
        config = PipelineConfig("KNN", row_scaling="standard", column_scaling="standard")
        result = evaluate_reference(problem, config, study.cv)
        run = evaluate_labels(problem, config, study.cv, problem.y)
    n_eval = len(task.subjects)
    assert len(task.train_only_subjects) == 6 and n_eval == 12
    assert len(result.subjects) == n_eval
    assert not set(result.subjects) & set(task.train_only_subjects)
    # per-subject mean correctness over the repeats, straight from the engine's predictions
    correct = (run.predictions == problem.y[: problem.n_eval][None, :]).mean(axis=0)
    assert run.predictions.shape[0] == (4 if outer != "loo" else 1)
    rows = pd.DataFrame({"subject": result.subjects, "true_label": result.true_labels,
                         "predicted_label": result.predicted_labels})
    from_rows = evaluation_intervals(rows, correct=correct)
    from_confusion = intervals_from_confusion(result.confusion, n_eval)
    assert from_confusion.accuracy == from_rows.accuracy
    assert dataclasses.astuple(from_confusion.balanced_accuracy) == pytest.approx(
        dataclasses.astuple(from_rows.balanced_accuracy), abs=1e-12)
    assert from_rows.accuracy.estimate == pytest.approx(result.accuracy)
    assert from_rows.balanced_accuracy.estimate == pytest.approx(result.balanced_accuracy)
    assert from_rows.accuracy.n_subjects == n_eval
    k = correct.sum()
    if abs(k - round(k)) < 1e-9:
        want = stats.binomtest(round(k), n_eval).proportion_ci(method="wilson")
        assert (from_rows.accuracy.low, from_rows.accuracy.high) == (want.low, want.high)
    else:
        low, high = _newcombe_wilson(k / n_eval, n_eval, stats.norm.ppf(0.975))
        assert (from_rows.accuracy.low, from_rows.accuracy.high) == pytest.approx((low, high))
