"""ComBatHarmonizer: correctness against neuroCombat, leakage, effect, and the checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from neuroCombat import neuroCombat
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    LeaveOneGroupOut,
    LeaveOneOut,
    StratifiedKFold,
    cross_val_predict,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from cohortbench.errors import DataError, StudyError
from cohortbench.execute.confounds import ConfoundRemover
from cohortbench.execute.harmonization import (
    ComBatHarmonizer,
    check_batch_sites,
    check_preserved_covariates,
    check_sites_seen,
)
from cohortbench.execute.site_splits import inner_site_splits

pytestmark = pytest.mark.usefixtures("one_thread")


def _expected_failed_checks(estimator):
    return {
        "check_fit_idempotent": (
            "the check transforms held-out rows of random data, whose batch column puts "
            "every row in its own site, unseen in training; ComBat refuses an unseen site "
            "(unseen_site='error') or one with a single row (unseen_site='fit-unlabeled') "
            "by design, so the check cannot apply"),
    }


@parametrize_with_checks(
    [ComBatHarmonizer(), ComBatHarmonizer(unseen_site="fit-unlabeled"),
     ComBatHarmonizer(eb=False)],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _multisite(seed=0, sizes=(25, 20, 15), p=30):
    """Features with age/sex effects and additive + multiplicative site effects."""
    rng = np.random.default_rng(seed)
    site = np.repeat(np.arange(len(sizes)), sizes)
    n = len(site)
    age = np.round(rng.uniform(20, 80, n) * 4) / 4      # exact in float32 (neuroCombat)
    sex = rng.integers(0, 2, n).astype(float)
    X = rng.normal(size=(n, p)) + 0.02 * age[:, None] + 0.5 * sex[:, None]
    scale = np.exp(rng.normal(0, 0.5, (len(sizes), p)))
    shift = rng.normal(0, 1, (len(sizes), p))
    return X * scale[site] + shift[site], age, sex, site


@pytest.mark.parametrize("eb", [True, False])
def test_matches_neurocombat_on_a_fixed_case(eb):
    """neuroCombat (Fortin's reference implementation) harmonizing the same rows it fits.

    Tolerance 1e-9 absolute on values of order 1-10: neuroCombat solves the least
    squares by normal equations and iterates its EB with the same stopping rule;
    observed differences are ~1e-13.
    """
    X, age, sex, site = _multisite()
    covars = pd.DataFrame({"batch": site, "age": age, "sex": sex})
    expected = neuroCombat(dat=X.T, covars=covars, batch_col="batch",
                           continuous_cols=["age", "sex"], eb=eb)["data"].T
    step = ComBatHarmonizer(n_side=3, batch_column=2, preserve=(0, 1), eb=eb)
    out = step.fit_transform(np.c_[X, age, sex, site])
    np.testing.assert_allclose(out[:, :X.shape[1]], expected, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(out[:, X.shape[1]:], np.c_[age, sex, site])


def test_location_scale_without_eb_is_per_site_standardization_by_hand():
    X, _, _, site = _multisite(seed=3)
    out = ComBatHarmonizer(eb=False).fit_transform(np.c_[X, site])[:, :-1]
    counts = np.bincount(site)
    grand = sum(counts[s] * X[site == s].mean(0) for s in range(3)) / len(site)
    pooled = sum(((X[site == s] - X[site == s].mean(0)) ** 2).sum(0) for s in range(3)) / len(site)
    for s in range(3):
        rows = X[site == s]
        expected = (rows - rows.mean(0)) / rows.std(0, ddof=1) * np.sqrt(pooled) + grand
        np.testing.assert_allclose(out[site == s], expected, rtol=1e-10)


def test_eb_estimates_solve_the_posterior_equations():
    """Johnson et al.'s fixed point, checked with priors computed here from scratch."""
    X, _, _, site = _multisite(seed=4)
    step = ComBatHarmonizer().fit(np.c_[X, site])
    s = (X - step.grand_mean_) / np.sqrt(step.var_pooled_)
    for i in range(3):
        rows = s[site == i]
        n = len(rows)
        g_hat, d_hat = rows.mean(0), rows.var(0, ddof=1)
        g_bar, t2 = g_hat.mean(), g_hat.var(ddof=1)            # priors across features
        m, v = d_hat.mean(), d_hat.var(ddof=1)
        a, b = (2 * v + m**2) / v, (m * v + m**3) / v
        g, d = step.gamma_star_[i], step.delta_star_[i]
        np.testing.assert_allclose(g, (t2 * n * g_hat + d * g_bar) / (t2 * n + d), rtol=1e-3)
        sum2 = ((rows - g) ** 2).sum(0)
        np.testing.assert_allclose(d, (0.5 * sum2 + b) / (n / 2 + a - 1), rtol=1e-3)


def test_training_fit_is_bit_identical_when_held_out_rows_or_labels_change():
    X, age, _, site = _multisite(seed=5)
    full = np.c_[X, age, site]
    train = np.flatnonzero(np.arange(len(site)) % 4 != 0)
    a = ComBatHarmonizer(n_side=2, batch_column=1, preserve=(0,)).fit(full[train],
                                                                       np.zeros(len(train)))
    changed = full.copy()
    changed[np.arange(len(site)) % 4 == 0, :-1] *= -7.0      # held-out features and covariate
    b = ComBatHarmonizer(n_side=2, batch_column=1, preserve=(0,)).fit(changed[train],
                                                                       np.ones(len(train)))
    for name in ("grand_mean_", "var_pooled_", "beta_", "gamma_star_", "delta_star_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    # A held-out row is transformed alone: other held-out rows do not change it.
    np.testing.assert_array_equal(a.transform(full[:1]), a.transform(full)[:1])


def test_held_out_labels_change_nothing_in_a_cross_validated_pipeline():
    X, _, _, site = _multisite(seed=6)
    y = np.arange(len(site)) % 2
    Xs = np.c_[X, site]
    pipe = make_pipeline(ComBatHarmonizer(), ConfoundRemover(n_side=1), StandardScaler(),
                         LogisticRegression())
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(Xs, site))
    base = cross_val_predict(pipe, Xs, y, cv=folds, method="decision_function")
    for train, test in folds[:2]:
        y2 = y.copy()
        y2[test] = 1 - y2[test]                               # flip held-out labels only
        fitted = pipe.fit(Xs[train], y2[train])
        np.testing.assert_array_equal(fitted.decision_function(Xs[test]), base[test])


def test_unseen_site_is_refused_unless_fit_unlabeled_which_is_transductive():
    X, _, _, site = _multisite(seed=7)
    Xs = np.c_[X, site]
    train, test = site != 2, site == 2
    with pytest.raises(DataError, match="Site 'C' of a held-out subject has no subject"):
        ComBatHarmonizer(site_names=("A", "B", "C")).fit(Xs[train]).transform(Xs[test])
    step = ComBatHarmonizer(unseen_site="fit-unlabeled").fit(Xs[train])
    out = step.transform(Xs[test])
    harmonized = out[:, :-1]
    # The unseen site's own location/scale are removed: its rows now sit on the
    # training sites' grand mean and pooled scale, feature by feature (up to EB).
    np.testing.assert_allclose(harmonized.mean(0), step.grand_mean_, atol=0.35)
    # Transductive: one held-out row of that site moves when another one changes...
    other = Xs[test].copy()
    other[0, :-1] += 5.0
    assert not np.allclose(step.transform(other)[1], out[1])
    # ...but rows of seen sites are not affected by unseen ones.
    mixed = np.vstack([Xs[train][:3], Xs[test]])
    np.testing.assert_array_equal(step.transform(mixed)[:3], step.transform(Xs[train][:3]))
    with pytest.raises(DataError, match="single held-out subject"):
        step.transform(Xs[test][:1])


def test_a_training_site_with_one_subject_adjusts_location_only():
    X, _, _, site = _multisite(seed=8, sizes=(12, 12, 1))
    step = ComBatHarmonizer().fit(np.c_[X, site])
    assert step.mean_only_
    np.testing.assert_array_equal(step.delta_star_, 1.0)
    assert np.isfinite(step.transform(np.c_[X, site])).all()


# --- effect -------------------------------------------------------------------------


def _site_effect_data(seed, kind, n_per=20, p=40, sites=3, signal=0.8):
    """Class signal in 10 features, same in every site; site effects of two kinds."""
    rng = np.random.default_rng(seed)
    site = np.repeat(np.arange(sites), n_per)
    y = np.tile(np.arange(n_per) % 2, sites)
    clean = rng.normal(size=(len(site), p)) + signal * y[:, None] * (np.arange(p) < 10)
    if kind == "combat":            # additive and multiplicative per feature, as ComBat assumes
        shift = rng.normal(0, 1, (sites, p))
        scale = np.exp(rng.normal(0, 0.5, (sites, p)))
        observed = clean * scale[site] + shift[site]
    else:                           # smooth non-linear drift: intensity-dependent + spatial
        bend = np.linspace(-0.5, 0.5, sites)[site][:, None]
        trend = np.linspace(-1, 1, sites)[site][:, None] * np.sin(np.linspace(0, 2 * np.pi, p))
        observed = clean + bend * (clean**2 - 1) + trend
    return clean, observed, y, site


def _cv_accuracy(estimator, X, target, strata):
    folds = StratifiedKFold(5, shuffle=True, random_state=0).split(X, strata)
    return cross_val_score(estimator, X, target, cv=list(folds)).mean()


def _in_fold(classifier):
    return make_pipeline(ComBatHarmonizer(), ConfoundRemover(n_side=1), StandardScaler(),
                         classifier)


@pytest.mark.parametrize("kind", ["combat", "nonlinear"])
def test_site_becomes_unpredictable_for_a_linear_classifier(kind):
    before, after = [], []
    for seed in range(3):
        _, observed, y, site = _site_effect_data(seed, kind)
        X = np.c_[observed, site]
        strata = 2 * site + y
        raw = make_pipeline(ConfoundRemover(n_side=1), StandardScaler(),
                            LogisticRegression(max_iter=2000))
        before.append(_cv_accuracy(raw, X, site, strata))
        after.append(_cv_accuracy(_in_fold(LogisticRegression(max_iter=2000)), X, site, strata))
    assert np.mean(before) > 0.75                       # the site is plain to see before
    assert np.mean(after) < 1 / 3 + 0.1                 # chance is 1/3 after


def test_class_signal_present_in_every_site_is_kept():
    """Accuracy above chance after in-fold ComBat >= 90 % of that on site-free data."""
    oracle, harmonized = [], []
    for seed in range(5):
        clean, observed, y, site = _site_effect_data(seed, "combat")
        strata = 2 * site + y
        oracle.append(_cv_accuracy(make_pipeline(StandardScaler(),
                                                 LogisticRegression(max_iter=2000)),
                                   clean, y, strata))
        harmonized.append(_cv_accuracy(_in_fold(LogisticRegression(max_iter=2000)),
                                       np.c_[observed, site], y, strata))
    assert np.mean(oracle) > 0.7
    assert np.mean(harmonized) - 0.5 >= 0.9 * (np.mean(oracle) - 0.5)


@pytest.mark.slow
def test_limit_a_nonlinear_classifier_still_sees_a_nonlinear_site_drift():
    """The limit written in docs/harmonization.md: location/scale per feature cannot
    undo an intensity-dependent distortion, and a random forest still finds the site."""
    accuracy = []
    for seed in range(3):
        _, observed, y, site = _site_effect_data(seed, "nonlinear")
        accuracy.append(_cv_accuracy(_in_fold(RandomForestClassifier(200, random_state=0)),
                                     np.c_[observed, site], site, 2 * site + y))
    assert np.mean(accuracy) > 0.55                     # chance is 1/3


# --- leakage canary -----------------------------------------------------------------


def _noise_with_sites(seed, sizes=(8, 8, 8, 8), balance=(0.25, 0.375, 0.625, 0.75), p=200):
    """Pure-noise features, site effects, class balance differing by site."""
    rng = np.random.default_rng(seed)
    site = np.repeat(np.arange(len(sizes)), sizes)
    y = np.concatenate([rng.permutation(np.arange(m) < round(b * m)) for m, b in
                        zip(sizes, balance)]).astype(np.int64)
    shift = rng.normal(0, 1, (len(sizes), p))
    scale = np.exp(rng.normal(0, 0.5, (len(sizes), p)))
    return rng.normal(size=(len(site), p)) * scale[site] + shift[site], y, site


def _nested_loo_accuracy(make_pipeline_, X, y, sites=None):
    """Outer LOO; logistic regression's C chosen by an inner 3-fold CV (site-aware when
    ``sites`` is given, as in-fold ComBat needs every inner validation site in training)."""
    correct = []
    for train, test in LeaveOneOut().split(X):
        inner = (inner_site_splits(y[train], sites[train], "stratified-kfold:3", "canary",
                                   ("a", "b"), reduce_k=True)
                 if sites is not None else StratifiedKFold(3))
        search = GridSearchCV(make_pipeline_(), {"logisticregression__C": [0.01, 1.0, 100.0]},
                              cv=inner, error_score="raise").fit(X[train], y[train])
        correct.append(search.predict(X[test])[0] == y[test][0])
    return float(np.mean(correct))


def test_leakage_canary_label_preserved_whole_data_combat_beats_chance_in_fold_does_not():
    in_fold, leaky = [], []
    for seed in range(3):
        X, y, site = _noise_with_sites(seed)
        in_fold.append(_nested_loo_accuracy(
            lambda: make_pipeline(ComBatHarmonizer(), ConfoundRemover(n_side=1),
                                  StandardScaler(), LogisticRegression(solver="liblinear")),
            np.c_[X, site], y, sites=site))
        # The leaky twin: ComBat fitted once on all rows, the label preserved.
        whole = ComBatHarmonizer(n_side=2, batch_column=1, preserve=(0,)).fit_transform(
            np.c_[X, y, site])[:, : X.shape[1]]
        leaky.append(_nested_loo_accuracy(
            lambda: make_pipeline(StandardScaler(), LogisticRegression(solver="liblinear")),
            whole, y))
    assert np.mean(leaky) >= 0.72, leaky
    assert np.mean(in_fold) <= 0.6, in_fold


def test_leakage_canary_label_preserved_under_leave_site_out():
    """fit-unlabeled estimates a held-out site from its own rows; with the label among
    the preserved covariates those rows are standardized with their true labels."""
    leaky, honest = [], []
    for seed in range(8):
        X, y, site = _noise_with_sites(seed, sizes=(20, 20), balance=(0.5, 0.5))
        folds = list(LeaveOneGroupOut().split(X, y, site))
        with_label = make_pipeline(
            ComBatHarmonizer(n_side=2, batch_column=1, preserve=(0,),
                             unseen_site="fit-unlabeled"),
            ConfoundRemover(n_side=2), StandardScaler(), LogisticRegression(solver="liblinear"))
        leaky.append(np.mean(cross_val_predict(with_label, np.c_[X, y, site], y, cv=folds) == y))
        without = make_pipeline(ComBatHarmonizer(unseen_site="fit-unlabeled"),
                                ConfoundRemover(n_side=1), StandardScaler(),
                                LogisticRegression(solver="liblinear"))
        honest.append(np.mean(cross_val_predict(without, np.c_[X, site], y, cv=folds) == y))
    assert np.mean(leaky) >= 0.75, leaky
    assert np.mean(honest) <= 0.62, honest


# --- study checks -------------------------------------------------------------------


def test_preserving_the_label_or_a_recoding_of_it_is_refused():
    labels = np.array(["HC"] * 4 + ["slow"] * 3 + ["fast"] * 3)
    frame = pd.DataFrame({
        "diagnosis": labels,
        "code": np.where(labels == "HC", 0, np.where(labels == "slow", 1, 2)),
        "group": np.where(labels == "HC", "HC", "ALS"),
        "slope": [0.1, 0.2, 0.1, 0.3, 0.4, 0.5, 0.45, 0.9, 1.2, 0.95],
        "age": [50, 61, 45, 70, 52, 66, 58, 49, 73, 60],
        "sex": ["F", "M", "F", "M", "M", "F", "M", "F", "F", "M"],
    })
    for name, how in [("diagnosis", "is constant within each class"),
                      ("code", "is constant within each class"),
                      ("group", "is constant within each class"),
                      ("slope", "separates the classes")]:
        with pytest.raises(StudyError, match=f"covariate '{name}' {how} of task '3-class'"):
            check_preserved_covariates(frame[[name]], labels, task="task '3-class'")
    check_preserved_covariates(frame[["age", "sex"]], labels)


def test_a_batch_column_with_one_site_is_refused():
    with pytest.raises(DataError, match="site holds the single site 'A'"):
        check_batch_sites(["A", "A", "A"], column="site")
    with pytest.raises(DataError, match="empty for 1 subject"):
        check_batch_sites(["A", None, "B"], column="site")
    check_batch_sites(["A", "B", "A"])


def test_folds_that_test_an_unseen_site_are_refused_up_front():
    sites = np.array(["A", "A", "B", "B", "C"])
    loo = [(np.setdiff1d(np.arange(5), [i]), np.array([i])) for i in range(5)]
    with pytest.raises(DataError, match="fold 4 tests site 'C'"):
        check_sites_seen(sites, loo)
    with pytest.raises(DataError, match="single subject of site 'C'"):
        check_sites_seen(sites, loo, unseen_site="fit-unlabeled")
    check_sites_seen(sites[:4], [(np.array([0, 2]), np.array([1, 3]))])
