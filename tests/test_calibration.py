"""Calibration on pure noise: permutation p-values are honest, the best-of-N one too.

On data with no signal, a valid permutation p-value is (super-)uniform: p <= 0.05 on
about 5 % of datasets. Picking the best of N configurations and quoting its own p-value
is optimistic; the family-wise p-value of :func:`familywise_best`, which compares the
best accuracy with the per-shuffle maximum over all N configurations, must not be.

Each dataset is a small noise problem (20 subjects, 30 features, two balanced classes);
the outer CV is stratified 5-fold, because leave-one-out on noise is biased below chance
(the held-out subject's class is the training minority), which would make every p-value
look conservative for reasons unrelated to the permutation test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from cohortbench.analyse.familywise import familywise_best
from cohortbench.design.configs import CVScheme, PipelineConfig
from cohortbench.execute.reference_engine import evaluate_reference

from .execute.conftest import make_noise_problem, make_synthetic_problem

ALPHA = 0.05
#: cheap, fairly different configurations (different features reach the classifier)
CONFIGS = (
    PipelineConfig("KNN"),
    PipelineConfig("SVM_LIN"),
    PipelineConfig("KNN", column_scaling="standard", feature_selection="kbest", n_features=5),
    PipelineConfig("SVM_LIN", feature_selection="kbest", n_features=5),
    PipelineConfig("KNN", row_scaling="standard"),
    PipelineConfig("SVM_LIN", column_scaling="standard"),
    PipelineConfig("KNN", column_scaling="minmax", feature_selection="kbest", n_features=10),
    PipelineConfig("SVM_LIN", row_scaling="minmax", feature_selection="kbest", n_features=10),
)


def noise_family(seed: int, configs, permutations: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Evaluate ``configs`` on one noise dataset: (evaluations, nulls) as exported."""
    problem = make_noise_problem(seed, n=20, p=30)
    cv = CVScheme(outer="stratified-kfold:5", permutations=permutations, seed=seed)
    rows, nulls = [], []
    for i, config in enumerate(configs):
        result = evaluate_reference(problem, config, cv)
        steps = {k: v for k, v in config.to_dict().items() if k != "classifier"}
        rows.append(dict(evaluation_id=f"d{seed}-c{i}", stage="screen", task="noise",
                         classifier=config.classifier, **steps, modalities="noise",
                         parcellation="all", accuracy=result.accuracy, z_score=result.z_score,
                         p_value=result.p_value, n_permutations=permutations,
                         folds_id=result.folds_id))
        nulls += [dict(evaluation_id=f"d{seed}-c{i}", permutation=j, accuracy=a)
                  for j, a in enumerate(result.null_accuracies)]
    return pd.DataFrame(rows), pd.DataFrame(nulls)


def calibration(seeds, configs, permutations: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Every configuration's p-value (datasets x configurations), and per dataset the
    best configuration's own p-value and its family-wise p-value."""
    every_p, best_rows = [], []
    with threadpool_limits(1):
        for seed in seeds:
            evaluations, nulls = noise_family(seed, configs, permutations)
            best = familywise_best(evaluations, nulls).iloc[0]
            assert best["n_configurations"] == len(configs)
            every_p.append(evaluations["p_value"].to_numpy(dtype=float))
            best_rows.append({"naive_p": best["p_value"], "familywise_p": best["familywise_p"]})
    return np.array(every_p), pd.DataFrame(best_rows)


def check_calibration(every_p: np.ndarray, best: pd.DataFrame, max_rejections: float) -> None:
    naive, familywise = best["naive_p"].to_numpy(), best["familywise_p"].to_numpy()
    # Each configuration alone (every one is a valid test on every dataset): p <= alpha
    # about alpha of the time, for each configuration and overall, and no pile-up of small p.
    assert np.mean(every_p <= ALPHA) <= max_rejections, every_p
    assert (np.mean(every_p <= ALPHA, axis=0) <= 0.2).all(), every_p
    assert 0.4 <= np.mean(every_p) <= 0.65, every_p     # uniform on k/(P+1): about 0.52
    # The best of N, judged against the maximum null, is no more optimistic ...
    assert np.mean(familywise <= ALPHA) <= max_rejections, familywise
    assert np.mean(familywise) >= 0.35, familywise
    # ... and can never look better than the best's own p-value (max null >= each null).
    assert (familywise >= naive - 1e-12).all()
    # The naive p of the best is small much more often than the family-wise one.
    assert np.mean(naive <= ALPHA) > np.mean(familywise <= ALPHA), (naive, familywise)
    for alpha in (0.1, 0.2):
        assert np.mean(naive <= alpha) >= 2 * np.mean(familywise <= alpha) + 0.1, (alpha, naive)
    assert np.mean(naive) < np.mean(familywise) - 0.15


def test_permutation_and_familywise_p_values_are_calibrated_on_noise():
    """24 noise datasets x 4 configurations x 19 shuffles (cheap version)."""
    every_p, best = calibration(range(24), CONFIGS[:4], permutations=19)
    check_calibration(every_p, best, max_rejections=0.12)


def test_a_real_signal_reaches_the_smallest_p_values():
    """The same measurement is not blind: with a clear class signal every configuration,
    and the best of them family-wise, gets the smallest p-value possible, 1 / (P + 1)."""
    problem = make_synthetic_problem(class_sizes=(10, 10), n_blocks=1, block_size=30,
                                     signal=2.0, seed=3, offsets=False)
    cv = CVScheme(outer="stratified-kfold:5", permutations=19, seed=3)
    rows, nulls = [], []
    with threadpool_limits(1):
        for i, config in enumerate(CONFIGS[:4]):
            result = evaluate_reference(problem, config, cv)
            assert result.accuracy >= 0.9 and result.p_value == pytest.approx(1 / 20)
            rows.append(dict(evaluation_id=f"c{i}", stage="screen", task="toy",
                             classifier=config.classifier, accuracy=result.accuracy,
                             z_score=result.z_score, p_value=result.p_value,
                             n_permutations=19, folds_id=result.folds_id))
            nulls += [dict(evaluation_id=f"c{i}", permutation=j, accuracy=a)
                      for j, a in enumerate(result.null_accuracies)]
    best = familywise_best(pd.DataFrame(rows), pd.DataFrame(nulls)).iloc[0]
    assert best["familywise_p"] == pytest.approx(1 / 20)


@pytest.mark.slow
def test_calibration_on_many_noise_datasets():
    """60 datasets x 8 configurations x 29 shuffles: the same checks, tighter."""
    every_p, best = calibration(range(100, 160), CONFIGS, permutations=29)
    check_calibration(every_p, best, max_rejections=0.10)
