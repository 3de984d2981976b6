"""Learning-curve projections against the truth of synthetic populations (issue 19).

The harness is :mod:`tests.analyse.learning_truth`; its curve-measuring function is
pluggable: the plain scikit-learn one (:func:`sklearn_curve`) or the real ``learn`` stage
run through ``cb.run`` (:func:`stage_curve`), which must give the same curve.
"""

from __future__ import annotations

import numpy as np
import pytest

from .learning_truth import sklearn_curve, stage_curve, summarise, truth_case

# The slow test's settings (recorded with its results in benchmarks/RESULTS.md)
SLOW = dict(task="2-class", cohort_counts=(14, 8, 8), target=60, effect_size=0.6, n_rois=40,
            n_gm=24, repeats=20, n_permutations=40, level=0.9, n_boot=1000, n_draws=20,
            test_counts=(700, 400, 400))
SLOW_SEEDS = range(12)
NOISE_SEEDS = range(100, 104)
CHANCE = 16 / 30  # majority class of the 2-class task (ALS 16 of 30)


def _no_gain_promised(case) -> bool:
    """Issue 19: no projection (with the reason), or a projection interval containing chance."""
    result = case.projection
    if not result.projected:
        return result.note.startswith("No projection:")
    return bool(case.row["low"] <= CHANCE)


def test_fast_proxy_projection_covers_the_truth_and_the_curve_is_pluggable():
    calls = []

    def measure(cohort, **kwargs):
        calls.append(kwargs)
        return sklearn_curve(cohort, **kwargs)

    case = truth_case(0, measure_curve=measure, effect_size=1.0, n_rois=16, n_gm=10,
                      repeats=8, n_permutations=20, n_boot=300, n_draws=8,
                      test_counts=(350, 200, 200))
    assert calls == [dict(task="2-class", sizes=None, repeats=8, seed=0, n_permutations=20)]
    assert set(case.curve["n_subjects"]) == {6, 9, 13, 16, 20, 23, 27, 30}
    assert case.projection.projected, case.projection.note
    assert case.covered, summarise([case]).to_string()
    # The population truth rises with the training size, as a learning curve should
    assert case.truth > case.truth_at_N


def test_fast_proxy_noise_promises_no_gain():
    case = truth_case(100, effect_size=0.0, n_rois=16, n_gm=10, repeats=4, n_permutations=20,
                      n_boot=300, n_draws=4, test_counts=(350, 200, 200))
    assert abs(case.truth - 0.5) < 0.06  # the pipeline cannot beat chance on this population
    assert _no_gain_promised(case), summarise([case]).to_string()


@pytest.mark.slow
def test_projection_interval_covers_the_population_truth(capsys):
    cases = [truth_case(seed, **SLOW) for seed in SLOW_SEEDS]
    table = summarise(cases)
    noise = [truth_case(seed, **{**SLOW, "effect_size": 0.0}) for seed in NOISE_SEEDS]
    with capsys.disabled():
        print("\n" + table.round(3).to_string(index=False))
        print(summarise(noise).round(3).to_string(index=False))
    projected = table[table["status"] == "projected"]
    coverage = projected["covered"].mean()
    with capsys.disabled():
        print(f"projected {len(projected)} of {len(table)}; coverage of the 90 % interval "
              f"{coverage:.2f}; mean projected - truth "
              f"{(projected['projected'] - projected['truth']).mean():+.3f}")
    assert len(projected) >= len(table) // 2
    assert coverage >= 0.6
    assert all(_no_gain_promised(case) for case in noise)
    assert np.all(table["truth"] > table["truth_at_N"])


# The slow test through the learn stage: the same settings, fewer seeds (the stage
# permutes every subsample, not only the whole cohort, so it costs more per cohort)
STAGE_SEEDS = range(6)


def test_fast_proxy_the_learn_stage_measures_the_plain_scikit_learn_curve():
    measured = {}

    def measure(cohort, **kwargs):
        measured["stage"] = stage_curve(cohort, **kwargs)
        measured["sklearn"] = sklearn_curve(cohort, **kwargs)
        return measured["stage"]

    case = truth_case(0, measure_curve=measure, effect_size=1.0, n_rois=16, n_gm=10,
                      repeats=2, n_permutations=19, n_boot=300, n_draws=8,
                      test_counts=(350, 200, 200))
    stage, plain = measured["stage"], measured["sklearn"]
    # the same subsamples, the same leave-one-out predictions, the same shuffles
    keys = ["n_subjects", "repeat"]
    joined = plain.merge(stage, on=keys, suffixes=("_plain", "_stage"), validate="1:1")
    assert len(joined) == len(plain) == len(stage) == 7 * 2 + 1
    for column in ("n_train", "accuracy", "balanced_accuracy"):
        np.testing.assert_allclose(joined[f"{column}_stage"], joined[f"{column}_plain"],
                                   rtol=0, atol=1e-12, err_msg=column)
    largest = joined[joined["n_subjects"] == 30]
    for column in ("null_mean", "null_std", "p_value"):
        np.testing.assert_allclose(largest[f"{column}_stage"], largest[f"{column}_plain"],
                                   rtol=0, atol=1e-12, err_msg=column)
    assert case.projection.projected, case.projection.note
    assert case.covered, summarise([case]).to_string()


@pytest.mark.slow
def test_projection_through_the_learn_stage_covers_the_population_truth(capsys):
    cases = [truth_case(seed, measure_curve=stage_curve, **SLOW) for seed in STAGE_SEEDS]
    table = summarise(cases)
    noise = [truth_case(seed, measure_curve=stage_curve, **{**SLOW, "effect_size": 0.0})
             for seed in NOISE_SEEDS[:2]]
    projected = table[table["status"] == "projected"]
    coverage = projected["covered"].mean()
    with capsys.disabled():
        print("\n" + table.round(3).to_string(index=False))
        print(summarise(noise).round(3).to_string(index=False))
        print(f"through the learn stage: projected {len(projected)} of {len(table)}; coverage "
              f"of the 90 % interval {coverage:.2f}")
    assert len(projected) >= 5 or len(projected) >= len(table) // 2
    assert coverage >= 0.6
    assert all(_no_gain_promised(case) for case in noise)
