"""The fast engine gives the reference engine's results, configuration by configuration."""

import dataclasses
import itertools

import pytest

from cohortbench.design.configs import CVScheme, PipelineConfig
from cohortbench.execute.fast import evaluate_fast
from cohortbench.execute.reference_engine import evaluate_reference

from ..conftest import make_synthetic_problem

pytestmark = pytest.mark.usefixtures("one_thread")

# Fields that must agree exactly; ``seconds`` and ``engine`` legitimately differ.
_TIMING_FIELDS = ("seconds", "engine")


def _assert_same_results(fast, reference, configs):
    assert len(fast) == len(reference) == len(configs)
    for config, got, want in zip(configs, fast, reference):
        got_d, want_d = got.to_dict(), want.to_dict()
        differing = [k for k in want_d if k not in _TIMING_FIELDS and got_d[k] != want_d[k]]
        assert not differing, (config, {k: (got_d[k], want_d[k]) for k in differing})
        assert got.config_id == config.id


def _grid(classifiers, ks=(5, 10), rows=("none", "standard", "minmax"),
          columns=("none", "standard", "minmax")):
    """The SPEC refine grid (row x column x (none + 2 selectors x k) x reduction)."""
    out = []
    for clf, row, column in itertools.product(classifiers, rows, columns):
        for reduction in ("none", "pca", "lda"):
            out.append(PipelineConfig(clf, row_scaling=row, column_scaling=column,
                                      dim_reduction=reduction))
            for selection, k in itertools.product(("kbest", "rfe"), ks):
                out.append(PipelineConfig(clf, row_scaling=row, column_scaling=column,
                                          feature_selection=selection, n_features=k,
                                          dim_reduction=reduction))
    return out


def test_every_classifier_family_agrees_and_reports_its_path():
    problem = make_synthetic_problem(class_sizes=(6, 5, 5), block_size=8, seed=3)
    cv = CVScheme(permutations=1, seed=4, inner="stratified-kfold:3")
    configs = [
        PipelineConfig("SVM_LIN", row_scaling="standard", column_scaling="standard"),
        PipelineConfig("SVM_RBF", column_scaling="minmax", feature_selection="kbest",
                       n_features=6, dim_reduction="pca"),
        PipelineConfig("SVM_POLY", row_scaling="minmax", feature_selection="rfe",
                       n_features=5, dim_reduction="lda"),
        PipelineConfig("SVM_SIG", row_scaling="standard", column_scaling="standard",
                       feature_selection="rfe", n_features=8),
        PipelineConfig("MLR_L2", row_scaling="standard", column_scaling="standard",
                       feature_selection="kbest", n_features=100),  # k capped at 24
        PipelineConfig("KNN", column_scaling="standard", dim_reduction="pca"),
        PipelineConfig("RF", row_scaling="standard", feature_selection="kbest", n_features=4),
        PipelineConfig("SVM_LIN", row_scaling="standard", column_scaling="standard",
                       search="grid"),
    ]
    fast = evaluate_fast(problem, configs, cv)
    reference = [evaluate_reference(problem, c, cv) for c in configs]
    _assert_same_results(fast, reference, configs)
    assert [r.engine for r in fast] == ["fast"] * 8
    assert fast[4].n_features_used == 24
    assert all(r.seconds > 0 for r in fast)


@pytest.mark.parametrize("search", ["grid", "random", "bayes"])
def test_nested_search_agrees_and_records_the_chosen_parameters(search):
    problem = make_synthetic_problem(class_sizes=(7, 6, 6), block_size=8, seed=11)
    cv = CVScheme(permutations=0, seed=3, inner="stratified-kfold:3")
    configs = [
        PipelineConfig("SVM_RBF", row_scaling="standard", column_scaling="standard",
                       search=search),
        PipelineConfig("SVM_LIN", row_scaling="standard", column_scaling="minmax",
                       feature_selection="rfe", n_features=6, search=search),
        PipelineConfig("KNN", column_scaling="standard", feature_selection="kbest",
                       n_features=10, dim_reduction="pca", search=search),
        PipelineConfig("MLR_L2", row_scaling="minmax", column_scaling="standard",
                       dim_reduction="lda", search=search),
    ]
    fast = evaluate_fast(problem, configs, cv)
    _assert_same_results(fast, [evaluate_reference(problem, c, cv) for c in configs], configs)
    assert all(r.engine == "fast" for r in fast)
    assert all(len(r.chosen_params) == problem.n_eval and r.chosen_params[0] for r in fast)
    assert {key for p in fast[0].chosen_params for key in p} == {"C", "gamma"}


def test_strategies_sharing_a_unit_agree_with_each_alone():
    # Grid, random and Bayesian search of one pipeline share inner transforms and
    # memoised candidates (KNN's random draws repeat grid points).
    problem = make_synthetic_problem(class_sizes=(8, 8), block_size=6, seed=2)
    cv = CVScheme(permutations=2, seed=8, inner="stratified-kfold:3")
    configs = [PipelineConfig("KNN", row_scaling="standard", column_scaling="standard",
                              search=s) for s in ("grid", "random", "bayes")]
    together = evaluate_fast(problem, configs, cv)
    alone = [evaluate_fast(problem, [c], cv)[0] for c in configs]
    _assert_same_results(together, alone, configs)
    _assert_same_results(together, [evaluate_reference(problem, c, cv) for c in configs],
                         configs)


def test_forests_and_boosters_agree_across_label_vectors():
    problem = make_synthetic_problem(class_sizes=(6, 5, 5), block_size=8, seed=7)
    cv = CVScheme(permutations=2, seed=5, inner="stratified-kfold:3")
    configs = [PipelineConfig("RF", row_scaling="standard", column_scaling="standard"),
               PipelineConfig("LGBM", row_scaling="standard", feature_selection="kbest",
                              n_features=10),
               PipelineConfig("XGB", column_scaling="minmax", dim_reduction="pca"),
               PipelineConfig("MLP", row_scaling="standard", column_scaling="standard",
                              dim_reduction="lda")]
    fast = evaluate_fast(problem, configs, cv)
    _assert_same_results(fast, [evaluate_reference(problem, c, cv) for c in configs], configs)
    assert [r.engine for r in fast] == ["fast"] * 4


def test_networks_stacked_across_label_vectors_and_configurations_agree():
    # LOO: every label vector shares each split, so the networks of all label
    # vectors and of configurations with equal input widths are trained in stacks.
    problem = make_synthetic_problem(class_sizes=(5, 4, 4), block_size=6, seed=12)
    cv = CVScheme(permutations=2, seed=2)
    configs = [PipelineConfig("MLP", row_scaling="standard", column_scaling="standard",
                              feature_selection=selection, n_features=k, dim_reduction=red)
               for selection, k in (("kbest", 5), ("rfe", 5), ("kbest", 8))
               for red in ("none", "pca", "lda")]
    configs.append(PipelineConfig("MLP", column_scaling="minmax"))
    fast = evaluate_fast(problem, configs, cv)
    _assert_same_results(fast, [evaluate_reference(problem, c, cv) for c in configs], configs)
    assert all(r.engine == "fast" for r in fast)


def test_saga_lanes_across_label_vectors_configurations_and_searches_agree():
    # LOO: every label vector shares each split, so the saga fits of all label vectors
    # (and of configurations with equal input widths, and of grid candidates with
    # their own C and l1_ratio) run in lanes; two-class and three-class tasks.
    for class_sizes, seed in (((5, 4, 4), 3), ((6, 6), 4)):
        problem = make_synthetic_problem(class_sizes=class_sizes, block_size=6, seed=seed)
        cv = CVScheme(permutations=2, seed=2, inner="stratified-kfold:2")
        configs = [PipelineConfig(clf, row_scaling="standard", column_scaling="standard",
                                  feature_selection=selection, n_features=k, dim_reduction=red)
                   for clf in ("MLR_L1", "MLR_ENET")
                   for selection, k in (("none", None), ("kbest", 5), ("rfe", 5))
                   for red in ("none", "pca")]
        configs += [PipelineConfig("MLR_ENET", column_scaling="minmax", feature_selection="kbest",
                                   n_features=4, search="grid"),
                    PipelineConfig("MLR_L1", column_scaling="none", feature_selection="kbest",
                                   n_features=4)]
        fast = evaluate_fast(problem, configs, cv)
        _assert_same_results(fast, [evaluate_reference(problem, c, cv) for c in configs],
                             configs)
        assert all(r.engine == "fast" for r in fast)
        assert any(w.startswith("ConvergenceWarning") for r in fast for w in r.warnings)


@pytest.mark.parametrize("search, permutations, inner", [
    ("bayes", 0, 2),
    pytest.param("bayes", 1, 3, marks=pytest.mark.slow),
    pytest.param("grid", 1, 3, marks=pytest.mark.slow),
    pytest.param("random", 1, 3, marks=pytest.mark.slow)])
def test_network_searches_agree_with_the_reference(search, permutations, inner):
    # Candidates x inner folds (grid, random) or each trial's inner folds (bayes),
    # of every label vector, are trained together.
    problem = make_synthetic_problem(class_sizes=(4, 4, 4), block_size=4, seed=6)
    cv = CVScheme(permutations=permutations, seed=9, inner=f"stratified-kfold:{inner}")
    configs = [PipelineConfig("MLP", row_scaling="standard", column_scaling="standard",
                              feature_selection="kbest", n_features=6, dim_reduction="pca",
                              search=search)]
    fast = evaluate_fast(problem, configs, cv)
    _assert_same_results(fast, [evaluate_reference(problem, c, cv) for c in configs], configs)
    assert {key for p in fast[0].chosen_params for key in p} == {"alpha",
                                                                  "hidden_layer_sizes"}


def test_parts_over_label_vector_ranges_join_into_the_whole_result():
    from cohortbench.execute.fast import evaluate_fast_part, merge_parts

    problem = make_synthetic_problem(class_sizes=(6, 5, 5), block_size=6, seed=21)
    cv = CVScheme(permutations=4, seed=3, inner="stratified-kfold:3")
    configs = [PipelineConfig("SVM_LIN", row_scaling="standard", column_scaling="standard",
                              feature_selection="rfe", n_features=4, search="grid"),
               PipelineConfig("MLP", column_scaling="standard", feature_selection="kbest",
                              n_features=5),
               PipelineConfig("MLR_L2", column_scaling="minmax", dim_reduction="lda")]
    whole = evaluate_fast(problem, configs, cv)
    pieces = [evaluate_fast_part(problem, configs, cv, r) for r in ((2, 5), (0, 1), (1, 2))]
    for ci, config in enumerate(configs):
        joined = merge_parts(problem, config, cv, [p[ci] for p in pieces])
        _assert_same_results([joined], [whole[ci]], [config])
        assert joined.chosen_params == whole[ci].chosen_params
    with pytest.raises(ValueError, match="exactly once"):
        merge_parts(problem, configs[0], cv, [pieces[0][0], pieces[1][0]])
    with pytest.raises(ValueError, match="not within"):
        evaluate_fast_part(problem, configs, cv, (3, 9))


def test_refine_grid_slice_agrees_for_mlr_and_linear_svm():
    problem = make_synthetic_problem(class_sizes=(6, 5, 5), block_size=10, seed=5)
    cv = CVScheme(permutations=1, seed=0)
    configs = _grid(("MLR_L2", "SVM_LIN"), ks=(4, 9), rows=("standard",),
                    columns=("none", "standard"))
    fast = evaluate_fast(problem, configs, cv)
    _assert_same_results(fast, [evaluate_reference(problem, c, cv) for c in configs], configs)


def test_shuffled_kfold_and_hybrid_rows_agree():
    problem = make_synthetic_problem(class_sizes=(7, 7), n_train_only=4, block_size=8,
                                     seed=6, task="hybrid")
    cv = CVScheme(outer="repeated-stratified-kfold:3:2", permutations=2, seed=9)
    configs = [PipelineConfig("SVM_LIN", row_scaling="standard", column_scaling="standard",
                              feature_selection="rfe", n_features=5),
               PipelineConfig("MLR_L2", row_scaling="standard", column_scaling="minmax",
                              dim_reduction="lda"),
               PipelineConfig("SVM_RBF", row_scaling="standard", column_scaling="standard",
                              feature_selection="kbest", n_features=6, dim_reduction="pca")]
    fast = evaluate_fast(problem, configs, cv)
    _assert_same_results(fast, [evaluate_reference(problem, c, cv) for c in configs], configs)
    assert sum(sum(row) for row in fast[0].confusion) == 2 * problem.n_eval


def test_imputation_and_warnings_agree():
    problem = make_synthetic_problem(class_sizes=(6, 6), block_size=8, seed=1,
                                     nan_fraction=0.05)
    X = problem.X.copy()
    X[:, 5] = 7.0    # a constant column: f_classif warns
    X[:, 9] *= 1e4   # a huge column: lbfgs stops at max_iter and warns
    problem = dataclasses.replace(problem, X=X)
    cv = CVScheme(permutations=1, seed=2)
    configs = [PipelineConfig("MLR_L2", row_scaling="standard", imputation="mean",
                              column_scaling="standard", feature_selection="kbest",
                              n_features=5, dim_reduction="lda"),
               PipelineConfig("SVM_POLY", row_scaling="minmax", imputation="median",
                              feature_selection="rfe", n_features=3),
               PipelineConfig("MLR_L2", imputation="mean", feature_selection="kbest",
                              n_features=10, dim_reduction="lda"),
               PipelineConfig("MLR_L2", imputation="mean")]
    fast = evaluate_fast(problem, configs, cv)
    _assert_same_results(fast, [evaluate_reference(problem, c, cv) for c in configs], configs)
    assert fast[2].warnings[0] == "UserWarning: Features [5] are constant."
    assert fast[3].warnings[0].startswith("ConvergenceWarning: lbfgs failed to converge")


def test_a_failing_configuration_raises_like_the_reference():
    problem = make_synthetic_problem(class_sizes=(5, 5), block_size=6, seed=1,
                                     nan_fraction=0.1)
    config = PipelineConfig("SVM_LIN", column_scaling="standard")  # NaN reaches the SVM
    cv = CVScheme(permutations=0)
    with pytest.raises(ValueError):
        evaluate_reference(problem, config, cv)
    with pytest.raises(ValueError):
        evaluate_fast(problem, [config], cv)


def test_one_failing_configuration_leaves_the_others_on_the_fast_path():
    from cohortbench.execute.fast import evaluate_fast_each
    from cohortbench.execute.units import run_unit

    problem = make_synthetic_problem(class_sizes=(5, 5), block_size=6, seed=1,
                                     nan_fraction=0.1)
    cv = CVScheme(permutations=1)
    bad = PipelineConfig("SVM_LIN", column_scaling="standard")  # NaN reaches the SVM
    good = [PipelineConfig("SVM_LIN", imputation="mean", column_scaling="standard"),
            PipelineConfig("MLR_L2", imputation="median", feature_selection="kbest",
                           n_features=4)]
    outcomes = evaluate_fast_each(problem, [good[0], bad, good[1]], cv)
    assert isinstance(outcomes[1], ValueError)
    _assert_same_results([outcomes[0], outcomes[2]],
                         [evaluate_reference(problem, c, cv) for c in good], good)
    unit = run_unit(problem, [good[0], bad, good[1]], cv, engine="fast")
    assert [o.ok for o in unit] == [True, False, True]
    assert [unit[i].result.engine for i in (0, 2)] == ["fast", "fast"]
    assert unit[1].error.startswith("ValueError: Input X contains NaN")
    assert unit[1].note is None  # a real failure, not a fallback that helped


def test_seconds_are_apportioned_and_empty_input_is_fine():
    problem = make_synthetic_problem(class_sizes=(5, 5), block_size=6, seed=2)
    cv = CVScheme(permutations=0)
    assert evaluate_fast(problem, [], cv) == []
    configs = [PipelineConfig("SVM_LIN", column_scaling="standard", feature_selection="rfe",
                              n_features=k) for k in (2, 4, 8)]
    results = evaluate_fast(problem, configs, cv)
    assert all(r.seconds > 0 for r in results)
    assert [r.n_features_used for r in results] == [2, 4, 8]
    assert results[0].null_accuracies == () and results[0].p_value is None


@pytest.mark.slow
def test_spec_grid_agrees_for_mlr_l2_and_svm_lin():
    """135 configurations x 2 classifiers, LOO on 24 subjects, 2 permutations (minutes)."""
    problem = make_synthetic_problem(class_sizes=(8, 8, 8), block_size=20, seed=0)
    cv = CVScheme(permutations=2, seed=0)
    configs = _grid(("MLR_L2", "SVM_LIN"))
    fast = evaluate_fast(problem, configs, cv)
    _assert_same_results(fast, [evaluate_reference(problem, c, cv) for c in configs], configs)


@pytest.mark.slow
@pytest.mark.parametrize("classifier", ["SVM_RBF", "SVM_POLY", "SVM_SIG", "KNN", "MLR_L1",
                                        "MLR_ENET", "RF", "LGBM", "XGB", "MLP"])
def test_a_sample_of_the_full_grid_agrees_for_every_other_classifier(classifier):
    """20 of the 297 SPEC configurations (seeded sample), LOO on 18 subjects, 2 permutations."""
    import numpy as np

    problem = make_synthetic_problem(class_sizes=(6, 6, 6), block_size=16, seed=4)
    cv = CVScheme(permutations=2, seed=1)
    grid = _grid((classifier,), ks=(10, 25, 50, 100, 150))
    assert len(grid) == 297
    picked = np.random.default_rng(sum(map(ord, classifier))).choice(297, 20, replace=False)
    configs = [grid[i] for i in sorted(picked)]
    fast = evaluate_fast(problem, configs, cv)
    _assert_same_results(fast, [evaluate_reference(problem, c, cv) for c in configs], configs)
