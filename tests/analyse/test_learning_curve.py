"""Learning curves: weighted power-law fit, bootstrap intervals, projections, wording."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import curve_fit

from cohortbench.analyse.learning_curve import (
    MIN_SIZES,
    LearningCurveProjection,
    curve_points,
    default_project_to,
    figueroa_weights,
    fit_power_law,
    power_law,
    project_learning_curve,
)
from cohortbench.analyse.learning_curve_text import (
    describe_current_size,
    describe_learning_curve,
)

SIZES = (6, 9, 13, 16, 20, 23, 27, 30)


def sampled_curve(a=0.85, b=1.2, c=0.7, sizes=SIZES, repeats=20, seed=0, p_value=0.01,
                  offset=1):
    """Per-(size, repeat) accuracies: binomial draws around a known power law of n - offset.

    The largest size is the whole cohort: one row (every repeat would be the same).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        p = float(np.clip(power_law(n - offset, a, b, c), 0, 1))
        for r in range(1 if n == sizes[-1] else repeats):
            rows.append({"n_subjects": n, "n_train": n - offset, "repeat": r,
                         "accuracy": rng.binomial(n, p) / n,
                         "p_value": p_value if n == sizes[-1] else np.nan})
    return pd.DataFrame(rows)


def test_power_law_and_figueroa_weights():
    np.testing.assert_allclose(power_law([1, 4, 100], 0.9, 0.5, 0.5), [0.4, 0.65, 0.85])
    np.testing.assert_allclose(figueroa_weights([5, 10, 20, 40]), [0.25, 0.5, 0.75, 1.0])
    # order kept: weight follows the size's rank, not its position
    np.testing.assert_allclose(figueroa_weights([40, 5, 20]), [1.0, 1 / 3, 2 / 3])


def test_fit_recovers_exact_parameters_without_noise():
    x = np.array([5, 8, 12, 16, 20, 25, 29], dtype=float)
    fit = fit_power_law(x, power_law(x, 0.88, 1.3, 0.6))
    assert fit.a == pytest.approx(0.88, abs=1e-6)
    assert fit.b == pytest.approx(1.3, rel=1e-5)
    assert fit.c == pytest.approx(0.6, abs=1e-5)
    assert fit.rank == 3 and fit.weighted_sse < 1e-12


def test_fit_recovers_known_parameters_from_noisy_points():
    # Tolerances: with 12 sizes from 5 to 200 and noise sd 0.005 on each mean, a within
    # 0.02, b within 20 % and c within 0.1 of the truth, on each of 10 noise draws.
    x = np.array([5, 8, 12, 16, 20, 30, 40, 60, 80, 100, 150, 200], dtype=float)
    truth = dict(a=0.9, b=1.1, c=0.65)
    rng = np.random.default_rng(3)
    for _ in range(10):
        y = power_law(x, **truth) + rng.normal(0, 0.005, len(x))
        fit = fit_power_law(x, y)
        assert abs(fit.a - truth["a"]) < 0.02
        assert abs(fit.b - truth["b"]) < 0.2 * truth["b"]
        assert abs(fit.c - truth["c"]) < 0.1


def test_fit_minimises_the_figueroa_weighted_squares_as_scipy_curve_fit_does():
    # curve_fit with sigma = 1/sqrt(w) minimises sum w (y - f)^2: the same objective
    x = np.array([5, 8, 12, 15, 19, 22, 26, 29], dtype=float)
    y = np.array([0.41, 0.55, 0.62, 0.61, 0.70, 0.69, 0.74, 0.73])
    w = figueroa_weights(x)
    fit = fit_power_law(x, y)
    ref, _ = curve_fit(power_law, x, y, p0=(0.8, 1.0, 0.5), sigma=1 / np.sqrt(w),
                       bounds=([0, 0, 0.1], [1, 100, 10]), max_nfev=20000)
    ours = np.sum(w * (y - fit.predict(x)) ** 2)
    theirs = np.sum(w * (y - power_law(x, *ref)) ** 2)
    assert ours == pytest.approx(fit.weighted_sse, rel=1e-9)
    assert ours <= theirs * (1 + 1e-6)
    np.testing.assert_allclose(fit.predict([39, 59]), power_law([39, 59], *ref), atol=2e-3)
    # Unweighted, the answer differs: the weights matter
    unweighted = fit_power_law(x, y, weights=np.ones_like(x))
    assert abs(unweighted.predict(59) - fit.predict(59)) > 1e-4


def test_fit_refuses_too_few_or_bad_points():
    with pytest.raises(ValueError, match="at least 3"):
        fit_power_law([5, 10], [0.5, 0.6])
    with pytest.raises(ValueError, match="positive"):
        fit_power_law([0, 5, 10], [0.5, 0.6, 0.7])


def test_curve_points_summarise_each_size():
    curve = sampled_curve(seed=1)
    points = curve_points(curve)
    assert points["n_subjects"].tolist() == list(SIZES)
    by_hand = curve.groupby("n_subjects")["accuracy"]
    np.testing.assert_allclose(points["mean_accuracy"], by_hand.mean())
    np.testing.assert_allclose(points["sd_accuracy"], by_hand.std(ddof=1).fillna(0.0))
    assert points["n_repeats"].tolist() == [20] * 7 + [1]
    p = (30 * points["mean_accuracy"] + 1) / 32  # proportion over the 30 subjects, smoothed
    np.testing.assert_allclose(points["binomial_sd"], np.sqrt(p * (1 - p) / 30))
    np.testing.assert_allclose(points["weight"], np.arange(1, 9) / 8)
    with pytest.raises(ValueError, match="lacks the column"):
        curve_points(curve.drop(columns="n_train"))


def test_projection_of_a_known_curve_covers_its_truth_and_is_deterministic():
    a, b, c = 0.85, 1.2, 0.7
    result = project_learning_curve(sampled_curve(a, b, c, seed=2),
                                    rng=np.random.default_rng(0), n_boot=400)
    assert result.status == "projected" and result.note == ""
    table = result.projection
    assert table["n_subjects"].tolist() == [40, 50, 60] == list(default_project_to(30))
    np.testing.assert_allclose(table["n_train"], [39, 49, 59])
    truth = power_law(table["n_train"], a, b, c)
    assert np.all(table["low"] <= truth) and np.all(truth <= table["high"])
    assert np.all(table["low"] < table["predicted_accuracy"])
    assert np.all(table["predicted_accuracy"] < table["high"])
    assert not table["extrapolated"].any()
    assert 0 < result.gain_low < result.gain_per_10 < result.gain_high < 0.1
    again = project_learning_curve(sampled_curve(a, b, c, seed=2),
                                   rng=np.random.default_rng(0), n_boot=400)
    pd.testing.assert_frame_equal(result.projection, again.projection)
    pd.testing.assert_frame_equal(result.band, again.band)
    # The band runs from the smallest measured size to the largest projected one
    assert result.band["n_subjects"].iloc[0] == 6 and result.band["n_subjects"].iloc[-1] == 60
    assert np.all(result.band["low"] <= result.band["fit"] + 1e-12)


def test_binomial_term_sets_the_interval_of_the_single_whole_cohort_point():
    # Three sizes: no fit (too few), but the points' intervals are computed (and cheap)
    result = project_learning_curve(sampled_curve(sizes=(10, 20, 30), seed=4),
                                    rng=np.random.default_rng(1), n_boot=20000)
    assert result.status == "too_few_sizes"
    last = result.points.iloc[-1]
    # One repeat: only the binomial term moves it; a 90 % normal interval is +-1.645 sd
    half_width = (last["high"] - last["low"]) / 2
    assert half_width == pytest.approx(1.645 * last["binomial_sd"], rel=0.03)
    # Twenty repeats: the resampling adds the spread of the mean over repeats
    first = result.points.iloc[0]
    expected = np.sqrt(first["binomial_sd"] ** 2 + first["sd_accuracy"] ** 2 * 19 / 20 / 20)
    assert (first["high"] - first["low"]) / 2 == pytest.approx(1.645 * expected, rel=0.05)


def test_pure_noise_promises_no_gain():
    # Accuracy at chance (0.5) at every size, p-values of the permutation test uniform:
    # either no projection, with the reason, or projections whose intervals contain chance.
    outcomes = []
    for seed in range(30):
        rng = np.random.default_rng(seed)
        curve = sampled_curve(a=0.5, b=0.0, c=1.0, seed=seed, p_value=rng.uniform())
        result = project_learning_curve(curve, rng=rng, n_boot=200)
        outcomes.append(result.status)
        if result.projected:
            assert np.all(result.projection["low"] <= 0.5), seed
        else:
            assert result.note.startswith("No projection:")
            assert result.projection["predicted_accuracy"].isna().all()
            assert (result.projection["note"] == result.note).all()
    assert "not_above_null" in outcomes


def test_noise_that_passes_the_null_by_chance_gets_intervals_around_chance():
    # The permutation check passed by luck (p = 0.01): what is projected must still contain
    # chance, and promise at most a couple of points per 10 subjects.
    statuses = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        curve = sampled_curve(a=0.5, b=0.0, c=1.0, seed=seed, p_value=0.01)
        result = project_learning_curve(curve, rng=rng, n_boot=150)
        statuses.append(result.status)
        assert result.status in ("projected", "flat"), seed
        if result.projected:
            table = result.projection
            assert np.all((table["low"] <= 0.5) & (0.5 <= table["high"])), seed
            assert result.gain_high < 0.03, seed
    assert {"projected", "flat"} <= set(statuses)


def test_reasons_for_not_projecting():
    rng = np.random.default_rng(0)
    few = project_learning_curve(sampled_curve(sizes=(10, 20, 30)), rng=rng, n_boot=50)
    assert few.status == "too_few_sizes" and f"at least {MIN_SIZES}" in few.note
    null = project_learning_curve(sampled_curve(p_value=0.31), rng=rng, n_boot=50)
    assert null.status == "not_above_null"
    assert null.note == ("No projection: at 30 subjects the accuracy "
                         f"({null.points['mean_accuracy'].iloc[-1]:.2f}) is not above the "
                         "permutation null (p = 0.31), so there is no learning to "
                         "extrapolate.")
    # Without p-values, the null mean and std decide (one-sided Z at alpha)
    curve = sampled_curve(p_value=np.nan).assign(null_mean=0.5, null_std=0.1)
    z_check = project_learning_curve(curve, rng=rng, n_boot=50)
    z = (z_check.points["mean_accuracy"].iloc[-1] - 0.5) / 0.1
    assert z_check.status == ("projected" if z >= 1.645 else "not_above_null")
    flat = sampled_curve().assign(accuracy=0.8)
    flat_result = project_learning_curve(flat, rng=rng, n_boot=50)
    assert flat_result.status == "flat" and "rises by only 0.0 points" in flat_result.note
    # No permutation columns at all: projected, with a warning
    bare = project_learning_curve(sampled_curve().drop(columns="p_value"), rng=rng, n_boot=50)
    assert bare.projected
    assert any("not checked against chance" in w for w in bare.warnings)


def test_extrapolation_beyond_twice_the_largest_size_is_flagged():
    result = project_learning_curve(sampled_curve(), rng=np.random.default_rng(0),
                                    project_to=(60, 61, 90), n_boot=100)
    assert result.projection["extrapolated"].tolist() == [False, True, True]
    assert result.projection["note"].iloc[0] == ""
    assert "beyond twice the largest measured size (30)" in result.projection["note"].iloc[1]
    assert sum("rests on the fitted curve alone" in w for w in result.warnings) == 2


def test_training_sizes_follow_the_measured_relation():
    # K-fold (5): n_train = 0.8 n, not a constant offset
    curve = sampled_curve()
    curve["n_train"] = curve["n_subjects"] * 0.8
    result = project_learning_curve(curve, rng=np.random.default_rng(0), n_boot=50)
    np.testing.assert_allclose(result.projection["n_train"], [32, 40, 48])


def _constructed(**overrides) -> LearningCurveProjection:
    projection = pd.DataFrame({
        "n_subjects": [40, 50, 60], "n_train": [39.0, 49.0, 59.0],
        "predicted_accuracy": [0.74, 0.76, 0.78], "low": [0.66, 0.66, 0.67],
        "high": [0.81, 0.84, 0.86], "gain_per_10": 0.04, "gain_low": 0.001,
        "gain_high": 0.094, "extrapolated": [False, False, False], "note": ""})
    points = pd.DataFrame({"n_subjects": [20, 30], "mean_accuracy": [0.6, 0.66],
                           "low": [0.5, 0.48], "high": [0.7, 0.81]})
    values = dict(points=points, projection=projection, band=pd.DataFrame(),
                  params=(0.9, 1.0, 0.5), gain_per_10=0.04, gain_low=0.001, gain_high=0.094,
                  current_size=30, status="projected", note="", level=0.9, warnings=())
    values.update(overrides)
    return LearningCurveProjection(**values)


def test_sentences_have_the_documented_wording():
    assert describe_learning_curve(_constructed()) == (
        "Each 10 more subjects would add about 4 points [0, 9]; at 40 subjects the accuracy "
        "would be about 0.74 [0.66, 0.81], at 50 about 0.76 [0.66, 0.84], at 60 about 0.78 "
        "[0.67, 0.86] (90 % intervals, conditional on this cohort).")
    one = _constructed(gain_per_10=0.012, gain_low=-0.021, gain_high=0.035, level=0.95)
    assert describe_learning_curve(one).startswith(
        "Each 10 more subjects would add about 1 point [-2, 4]; at 40")
    assert describe_learning_curve(one).endswith("(95 % intervals, conditional on this cohort).")
    tiny = _constructed(gain_per_10=0.004, gain_low=-0.01, gain_high=0.02)
    assert describe_learning_curve(tiny).startswith(
        "Each 10 more subjects would add less than 1 point [-1, 2];")
    far = _constructed()
    far.projection.loc[2, "extrapolated"] = True
    assert ("at 60 about 0.78 [0.67, 0.86] (extrapolated: beyond twice the measured sizes) "
            "(90 % intervals") in describe_learning_curve(far)
    refused = _constructed(status="flat", note="No projection: the curve is flat.")
    assert describe_learning_curve(refused) == "No projection: the curve is flat."
    assert describe_current_size(_constructed(), "adding the Na maps") == (
        "at today's 30 subjects, adding the Na maps gives 0.66 [0.48, 0.81]")
