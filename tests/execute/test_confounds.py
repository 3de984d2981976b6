"""ConfoundRemover, the side-column encoding and the steps that must leave side columns alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.utils.estimator_checks import parametrize_with_checks

from cohortbench.errors import DataError, StudyError
from cohortbench.execute.confounds import ConfoundRemover
from cohortbench.execute.harmonization import ComBatHarmonizer
from cohortbench.execute.row_scaling import RowScaler
from cohortbench.execute.side_columns import (
    append_side_columns,
    check_covariates_complete,
    check_levels_in_folds,
    encode_side_columns,
    side_steps,
)


@parametrize_with_checks(
    [ConfoundRemover(), ConfoundRemover(n_side=1, covariate_columns=(0,))],
    # Every common check applies: ConfoundRemover is a plain float transformer whose
    # output width (features only) it reports through get_feature_names_out.
    expected_failed_checks=lambda estimator: {},
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _cohort(seed=0, n=30, p=6):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.uniform(20, 80, n),
        "sex": rng.choice(["F", "M"], n),
        "icv": rng.normal(1500, 120, n),
    }, index=[f"sub-{i:02d}" for i in range(n)])
    features = rng.normal(size=(n, p))
    features += 0.05 * frame["age"].to_numpy()[:, None] * np.linspace(0.5, 1.5, p)
    features += 0.8 * (frame["sex"] == "M").to_numpy()[:, None]
    return frame, features


def test_residuals_match_least_squares_with_intercept_by_hand():
    frame, features = _cohort()
    side, layout = encode_side_columns(frame, ["age", "sex", "icv"])
    X = append_side_columns(features, side)
    train, test = np.arange(20), np.arange(20, 30)
    step = ConfoundRemover(n_side=layout.n_side, covariate_columns=layout.columns(["age", "sex"]))
    step.fit(X[train])
    # By hand: design [1, age, sex=M] on the training rows, normal least squares.
    design = np.c_[np.ones(30), frame["age"], (frame["sex"] == "M").astype(float)]
    coef = np.linalg.lstsq(design[train], features[train], rcond=None)[0]
    np.testing.assert_allclose(step.transform(X[test]), features[test] - design[test] @ coef,
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(step.transform(X[train]).mean(axis=0), 0.0, atol=1e-10)
    assert step.transform(X).shape == (30, features.shape[1])          # side columns dropped


def test_without_covariates_only_the_side_columns_are_dropped():
    frame, features = _cohort()
    side, layout = encode_side_columns(frame, ["age"], batch="sex")
    step = ConfoundRemover(n_side=layout.n_side).fit(append_side_columns(features, side))
    np.testing.assert_array_equal(step.transform(append_side_columns(features, side)), features)
    assert list(step.get_feature_names_out()) == [f"x{i}" for i in range(features.shape[1])]


def test_fit_sees_training_rows_only_and_never_the_labels():
    frame, features = _cohort(seed=1)
    side, layout = encode_side_columns(frame, ["age", "sex"])
    X = append_side_columns(features, side)
    train = np.arange(22)
    step = ConfoundRemover(n_side=layout.n_side, covariate_columns=(0, 1))
    first = step.fit(X[train], np.zeros(22)).regression_
    changed = X.copy()
    changed[22:, :] = 1e6                                  # held-out rows: features and side
    second = ConfoundRemover(n_side=layout.n_side, covariate_columns=(0, 1)).fit(
        changed[train], np.arange(22) % 2).regression_    # other labels too
    np.testing.assert_array_equal(first.coef_, second.coef_)
    np.testing.assert_array_equal(first.intercept_, second.intercept_)


@pytest.mark.parametrize("columns, message", [
    ((3,), "side block"), ((-1,), "side block"), ((0, 0), "repeats"), ((0.5,), "integers"),
])
def test_bad_covariate_columns_are_refused(columns, message):
    X = np.random.default_rng(0).normal(size=(10, 5))
    with pytest.raises(ValueError, match=message):
        ConfoundRemover(n_side=2, covariate_columns=columns).fit(X)


def test_no_feature_left_is_refused():
    with pytest.raises(ValueError, match="at least 1 feature"):
        ConfoundRemover(n_side=3).fit(np.ones((5, 3)))


def test_encoding_one_hot_drops_the_first_level_and_codes_sites():
    frame = pd.DataFrame({"age": [30.0, 40.0, 50.0, 60.0],
                          "scanner": ["Skyra", "Prisma", "Prisma", "Trio"],
                          "site": ["b", "a", "b", "a"]})
    side, layout = encode_side_columns(frame, ["age", "scanner"], batch="site")
    assert layout.column_names == ("age", "scanner=Skyra", "scanner=Trio", "site")
    assert layout.columns(["scanner"]) == (1, 2) and layout.batch_column == 3
    assert layout.sites == ("a", "b")
    np.testing.assert_array_equal(side, [[30, 1, 0, 1], [40, 0, 0, 0], [50, 0, 0, 1],
                                         [60, 0, 1, 0]])
    with pytest.raises(StudyError, match="'bmi' is not a covariate"):
        layout.columns(["bmi"])


def test_missing_covariate_and_single_level_are_refused_in_one_sentence():
    frame = pd.DataFrame({"age": [30.0, np.nan, 50.0], "sex": ["F", "F", "F"]},
                         index=["s1", "s2", "s3"])
    with pytest.raises(DataError, match=r"'age' is missing for 1 subject\(s\) \(s2\)"):
        check_covariates_complete(frame, ["age"])
    with pytest.raises(DataError, match="single level 'F'"):
        encode_side_columns(frame, ["sex"])


def test_a_level_no_training_fold_sees_is_refused():
    frame = pd.DataFrame({"scanner": ["A"] * 5 + ["B"] * 4 + ["C"]},
                         index=[f"s{i}" for i in range(10)])
    folds = [(np.setdiff1d(np.arange(10), [i]), np.array([i])) for i in range(10)]   # LOO
    with pytest.raises(DataError, match="level 'C' has 1 subject\\(s\\) \\(s9\\).*fold 9"):
        check_levels_in_folds(frame, ["scanner"], folds)
    check_levels_in_folds(frame.iloc[:9], ["scanner"], [(f[0][f[0] < 9], f[1]) for f in
                                                         folds[:9]])


def test_steps_before_harmonization_leave_side_columns_unchanged():
    frame, features = _cohort(seed=2)
    features[3, 1] = np.nan
    side, layout = encode_side_columns(frame, ["age", "sex"], batch="sex")
    X = append_side_columns(features, side)
    scaled = RowScaler("standard", blocks=[(0, 3), (3, 6)], n_side=layout.n_side).fit_transform(X)
    np.testing.assert_array_equal(scaled[:, 6:], side)
    assert not np.allclose(scaled[:, :6][~np.isnan(features)], features[~np.isnan(features)])
    imputed = SimpleImputer(strategy="mean").fit_transform(scaled)
    np.testing.assert_array_equal(imputed[:, 6:], side)
    with pytest.raises(ValueError, match="end at column 6"):
        RowScaler(blocks=[(0, 6)]).fit(X)      # without n_side the side block is not a map


def test_side_steps_are_built_in_the_documented_order():
    frame, _ = _cohort()
    frame["site"] = np.repeat(["x", "y", "z"], 10)
    _, layout = encode_side_columns(frame, ["age", "sex"], batch="site")
    steps = side_steps(layout, confounds=["age"], harmonize="combat", preserve=["sex"])
    assert [name for name, _ in steps] == ["harmonize", "confounds"]
    harmonizer, remover = steps[0][1], steps[1][1]
    assert isinstance(harmonizer, ComBatHarmonizer) and harmonizer.preserve == (1,)
    assert harmonizer.batch_column == 2 and harmonizer.site_names == ("x", "y", "z")
    assert remover.covariate_columns == (0,) and remover.n_side == 3
    assert [name for name, _ in side_steps(layout)] == ["drop_side"]
    with pytest.raises(StudyError, match="none or combat"):
        side_steps(layout, harmonize="covbat")
