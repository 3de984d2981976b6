"""RF, XGBoost and LightGBM through shared matrices predict exactly as the plain estimators."""

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import sklearn
from lightgbm import LGBMClassifier
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import NotFittedError
from sklearn.neural_network import MLPClassifier
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted
from xgboost import XGBClassifier

from cohortbench import _compat
from cohortbench.design.classifiers import make_classifier
from cohortbench.execute.fast import boosters, forests
from cohortbench.execute.fast.ensembles import SharedMatrices, covers, fit_predict


def _matrices(seed, n_train, p, n_test=15):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_train + n_test, p)) * rng.uniform(0.5, 3, size=p)
    return X[:n_train], X[n_train:]


def _labels(seed, n_train, n_classes, count=3):
    """Balanced-ish label vectors (first) and shuffles of them, as the engine fits."""
    rng = np.random.default_rng(seed)
    base = np.arange(n_train) % n_classes
    return [base] + [rng.permutation(base) for _ in range(count - 1)]


def _signal(train, y):
    train = train.copy()
    train[:, :3] += y[:, None] * 1.5  # something to learn, so trees have depth
    return train


def _plain(estimator, train, y, test):
    return np.asarray(clone(estimator).fit(train, y).predict(test), dtype=np.int64)


def _recorded(func):
    """``func()`` and its warnings as the engine records them (category, first line)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = func()
    # XGBoost's native warnings start with a clock time; the rest must match.
    return out, [(w.category, re.sub(r"^\[\d\d:\d\d:\d\d\] ", "",
                                     str(w.message).splitlines()[0])) for w in caught]


def _assert_same(estimator, train, test, label_vectors, shared=None):
    shared = SharedMatrices(train, test) if shared is None else shared
    assert covers(estimator)
    params = estimator.get_params()
    for y in label_vectors:
        expected, plain_warnings = _recorded(lambda: _plain(estimator, train, y, test))
        got, fast_warnings = _recorded(lambda: fit_predict(estimator, shared, y))
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, expected)
        assert fast_warnings == plain_warnings
    assert estimator.get_params() == params  # the caller's estimator stays unfitted
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)
    return shared


# --------------------------------------------------------------------------- random forest
RF_PARAMS = [
    {},
    {"n_estimators": 50, "max_depth": 2},
    {"n_estimators": 200, "max_depth": 8},
    {"criterion": "entropy", "max_features": "log2", "min_samples_leaf": 2},
    {"n_estimators": 30, "max_features": None, "min_samples_split": 0.2},
    {"n_estimators": 30, "max_features": 0.3, "min_weight_fraction_leaf": 0.1,
     "min_impurity_decrease": 0.01},
    {"n_estimators": 30, "criterion": "log_loss", "max_features": 3, "min_samples_leaf": 0.1},
]


@pytest.mark.parametrize("index", range(len(RF_PARAMS)))
def test_forest_probabilities_are_bit_identical(index):
    n_train, p = [(12, 5), (20, 60), (30, 600)][index % 3]
    n_classes = 2 + index % 2
    train, test = _matrices(index, n_train, p)
    estimator = RandomForestClassifier(random_state=index, n_jobs=1, **RF_PARAMS[index])
    for y in _labels(index, n_train, n_classes):
        x = _signal(train, y)
        shared = SharedMatrices(x, test)
        plain = clone(estimator).fit(x, y)
        classes, proba = forests._forest_proba(estimator, shared.forest_inputs(), y)
        np.testing.assert_array_equal(classes, plain.classes_)
        np.testing.assert_array_equal(proba, plain.predict_proba(test))
        np.testing.assert_array_equal(fit_predict(estimator, shared, y), plain.predict(test))


def test_forest_shares_one_matrix_pair_across_labels_and_hyperparameters():
    train, test = _matrices(7, 20, 60)
    shared = SharedMatrices(train, test)
    labels = _labels(7, 20, 3) + [np.where(np.arange(20) % 2, 2, 0)]  # codes 0 and 2 only
    for params in RF_PARAMS[:3]:
        _assert_same(RandomForestClassifier(random_state=3, n_jobs=1, **params), train, test,
                     labels, shared)


def test_forest_seeds_are_the_ones_fit_gives_its_trees():
    train, test = _matrices(1, 17, 8)
    forest = RandomForestClassifier(n_estimators=25, random_state=11, n_jobs=1)
    forest.fit(train, np.arange(17) % 2)
    streams = forests._tree_streams(11, 17, 25)
    assert [seed for seed, _, _ in streams] == [t.random_state for t in forest.estimators_]
    counts = np.bincount(np.random.RandomState(streams[3][0]).randint(0, 17, 17), minlength=17)
    np.testing.assert_array_equal(streams[3][1], counts)


def test_single_class_and_registry_forest_on_a_full_width_fold():
    train, test = _matrices(3, 29, 3000, n_test=1)
    labels = _labels(3, 29, 3, count=2)
    _assert_same(make_classifier("RF", 5), train, test, labels)
    small_train, small_test = _matrices(4, 12, 5)
    _assert_same(make_classifier("RF", 5), small_train, small_test, [np.zeros(12, dtype=int)])


def test_non_finite_training_data_falls_back_to_the_plain_forest():
    train, test = _matrices(5, 14, 6)
    train[2, 3] = np.nan  # scikit-learn's trees handle NaN their own way
    y = np.arange(14) % 2
    estimator = RandomForestClassifier(n_estimators=20, random_state=0, n_jobs=1)
    shared = SharedMatrices(train, test)
    assert shared.forest_inputs() is None
    np.testing.assert_array_equal(fit_predict(estimator, shared, y),
                                  _plain(estimator, train, y, test))


def test_first_draw_cache_replays_the_real_stream_for_any_use():
    real = np.random.RandomState(42)
    first = real.randint(0, forests._RAND_R_MAX)
    expected = [real.randint(0, 10), real.uniform()]
    cached = forests._FirstDrawCached(42, first)
    assert cached.randint(0, forests._RAND_R_MAX) == first
    assert [cached.randint(0, 10), cached.uniform()] == expected
    other = forests._FirstDrawCached(42, first)  # used differently from the start
    assert other.randint(0, 10) == np.random.RandomState(42).randint(0, 10)


# --------------------------------------------------------------------------- XGBoost
XGB_PARAMS = [{}, {"n_estimators": 50, "max_depth": 2}, {"n_estimators": 200, "max_depth": 4},
              {"n_estimators": 30, "max_depth": 6, "subsample": 0.7, "colsample_bytree": 0.5}]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_xgboost_models_are_identical_across_labels_and_hyperparameters(n_classes):
    train, test = _matrices(10 + n_classes, 20, 40)
    shared = SharedMatrices(train, test)
    for i, params in enumerate(XGB_PARAMS):
        estimator = XGBClassifier(random_state=i, n_jobs=1, **params)
        for y in _labels(i, 20, n_classes, count=2):
            x_fit = _signal(train, y) if i % 2 else train
            local = SharedMatrices(x_fit, test) if i % 2 else shared
            plain = clone(estimator).fit(x_fit, y)
            fast = boosters._xgb_fitted(estimator, local, y)
            assert fast.get_booster().save_raw() == plain.get_booster().save_raw()
            np.testing.assert_array_equal(fast.predict_proba(test), plain.predict_proba(test))
    assert len(shared._built) == 1  # one quantile matrix served every fit on it


def test_registry_xgboost_on_a_full_width_fold():
    train, test = _matrices(8, 29, 3000, n_test=1)
    _assert_same(make_classifier("XGB", 2), train, test, _labels(8, 29, 3, count=2))


def test_xgboost_labels_it_rejects_raise_the_plain_error():
    train, test = _matrices(9, 12, 5)
    estimator = XGBClassifier(n_estimators=5, random_state=0, n_jobs=1)
    y = np.where(np.arange(12) % 2, 2, 0)
    with pytest.raises(ValueError) as plain_error:
        clone(estimator).fit(train, y)
    with pytest.raises(ValueError) as fast_error:
        fit_predict(estimator, SharedMatrices(train, test), y)
    assert str(fast_error.value) == str(plain_error.value)


def test_xgboost_native_warnings_and_errors_are_the_plain_ones():
    train, test = _matrices(12, 18, 10)
    labels = _labels(12, 18, 3, count=2)
    # scale_pos_weight means nothing to a 3-class model: XGBoost warns on every fit.
    estimator = XGBClassifier(random_state=0, n_jobs=1, n_estimators=5, scale_pos_weight=2.0)
    _, plain_warnings = _recorded(lambda: _plain(estimator, train, labels[0], test))
    assert plain_warnings and plain_warnings[0][0] is UserWarning
    _assert_same(estimator, train, test, labels)
    bad = XGBClassifier(random_state=0, n_jobs=1, n_estimators=5, gamma=-1.0)
    with pytest.raises(Exception) as plain_error:
        _plain(bad, train, labels[0], test)
    with pytest.raises(type(plain_error.value)) as fast_error:
        fit_predict(bad, SharedMatrices(train, test), labels[0])
    assert str(fast_error.value) == str(plain_error.value)


# --------------------------------------------------------------------------- LightGBM
LGBM_PARAMS = [{}, {"min_child_samples": 2, "n_estimators": 50, "max_depth": 2},
               {"min_child_samples": 5, "n_estimators": 50, "max_depth": 8},
               {"min_child_samples": 10, "n_estimators": 200, "max_depth": 4},
               {"min_child_samples": 5, "n_estimators": 20, "max_depth": 2}]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_lightgbm_models_are_identical_across_labels_and_hyperparameters(n_classes):
    train, test = _matrices(20 + n_classes, 24, 30)
    shared = SharedMatrices(train, test)
    labels = _labels(n_classes, 24, n_classes, count=2)
    if n_classes == 3:
        labels.append(np.where(np.arange(24) % 2, 2, 0))  # codes 0 and 2: binary on them
    for params in LGBM_PARAMS:
        estimator = LGBMClassifier(random_state=1, n_jobs=1, verbose=-1, **params)
        for y in labels:
            plain = clone(estimator).fit(train, y)
            _, booster = boosters._lgbm_fitted(estimator, shared, y)
            assert booster.model_to_string() == plain.booster_.model_to_string()
        _assert_same(estimator, train, test, labels, shared)
    # min_child_samples pre-filters features, so it is part of the Dataset's key;
    # max_depth and the number of classes are not.
    assert len(shared._built) == 4


def test_registry_lightgbm_on_a_full_width_fold_and_small_shapes():
    train, test = _matrices(30, 29, 3000, n_test=1)
    labels = _labels(30, 29, 3, count=2)
    _assert_same(make_classifier("LGBM", 4), train, test, labels)
    estimator = clone(make_classifier("LGBM", 4)).set_params(min_child_samples=10,
                                                                n_estimators=20)
    _assert_same(estimator, train, test, labels)
    for n_train, p in [(12, 5), (30, 600)]:
        small_train, small_test = _matrices(n_train, n_train, p)
        estimator = LGBMClassifier(random_state=0, n_jobs=1, verbose=-1, min_child_samples=5,
                                   n_estimators=30)
        _assert_same(estimator, small_train, small_test, _labels(p, n_train, 3))


def test_lightgbm_single_class_falls_back_to_the_plain_estimator():
    train, test = _matrices(31, 12, 5)
    estimator = LGBMClassifier(random_state=0, n_jobs=1, verbose=-1, n_estimators=5)
    y = np.ones(12, dtype=int)
    expected, plain_warnings = _recorded(lambda: _plain(estimator, train, y, test))
    got, fast_warnings = _recorded(lambda: fit_predict(estimator, SharedMatrices(train, test), y))
    np.testing.assert_array_equal(got, expected)
    assert fast_warnings == plain_warnings


# --------------------------------------------------------------------------- coverage
@pytest.mark.parametrize("estimator", [
    RandomForestClassifier(random_state=0),  # n_jobs=None
    RandomForestClassifier(random_state=None, n_jobs=1),
    RandomForestClassifier(random_state=0, n_jobs=1, class_weight="balanced"),
    RandomForestClassifier(random_state=0, n_jobs=1, bootstrap=False),
    RandomForestClassifier(random_state=0, n_jobs=1, max_leaf_nodes=5),
    RandomForestClassifier(random_state=0, n_jobs=1, max_samples=0.5),
    RandomForestClassifier(random_state=0, n_jobs=1, n_estimators=0),  # invalid
    XGBClassifier(random_state=0, n_jobs=1, tree_method="exact"),
    XGBClassifier(random_state=0, n_jobs=1, booster="gblinear"),
    XGBClassifier(random_state=0, n_jobs=1, objective="multi:softmax"),
    XGBClassifier(random_state=0, n_jobs=None),
    XGBClassifier(random_state=0, n_jobs=1, eval_metric="mlogloss"),
    XGBClassifier(random_state=0, n_jobs=1, unknown_option=3),
    LGBMClassifier(random_state=0, n_jobs=1),  # LightGBM would log: verbose not negative
    LGBMClassifier(random_state=0, n_jobs=1, verbose=-1, objective="multiclass"),
    LGBMClassifier(random_state=0, n_jobs=1, verbose=-1, class_weight="balanced"),
    LGBMClassifier(random_state=0, n_jobs=1, verbose=-1, boosting_type="dart"),
    LGBMClassifier(random_state=0, n_jobs=1, verbose=-1, feature_pre_filter=False),
    MLPClassifier(random_state=0),
    SVC(),
], ids=lambda e: type(e).__name__)
def test_unsupported_estimators_are_not_covered(estimator):
    assert not covers(estimator)


def test_subclasses_are_not_covered():
    class MyForest(RandomForestClassifier):
        pass

    assert not covers(MyForest(random_state=0, n_jobs=1))


def test_uncovered_estimators_still_get_the_plain_result():
    train, test = _matrices(40, 16, 8)
    y = np.arange(16) % 3
    for estimator in (RandomForestClassifier(n_estimators=10, random_state=0, n_jobs=1,
                                             class_weight="balanced"),
                      MLPClassifier(random_state=0, hidden_layer_sizes=(5,), max_iter=5)):
        expected, plain_warnings = _recorded(lambda: _plain(estimator, train, y, test))
        got, fast_warnings = _recorded(lambda: fit_predict(estimator, SharedMatrices(train, test),
                                                           y))
        np.testing.assert_array_equal(got, expected)
        assert fast_warnings == plain_warnings
        assert plain_warnings or isinstance(estimator, RandomForestClassifier)


@pytest.mark.parametrize("kind,name", [("forest", "RF"), ("xgb", "XGB"), ("lgbm", "LGBM")])
def test_missing_private_api_falls_back_to_plain_fits(monkeypatch, kind, name):
    cache = forests._API if kind == "forest" else boosters._APIS
    monkeypatch.setitem(cache, kind, None)
    estimator = clone(make_classifier(name, 0)).set_params(n_estimators=10)
    assert not covers(estimator)
    train, test = _matrices(41, 14, 6)
    y = np.arange(14) % 2
    np.testing.assert_array_equal(fit_predict(estimator, SharedMatrices(train, test), y),
                                  _plain(estimator, train, y, test))


def test_importing_the_module_loads_no_booster_library():
    code = ("import sys; from sklearn.ensemble import RandomForestClassifier as R; "
            "from cohortbench.execute.fast.ensembles import covers; "
            "assert covers(R(random_state=0, n_jobs=1)); "
            "print('xgboost' in sys.modules, 'lightgbm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_untested_library_versions_disable_the_fast_paths(monkeypatch):
    assert _compat.forest_internals() is not None
    monkeypatch.setattr(sklearn, "__version__", "1.10.0")
    assert _compat.forest_internals() is None
    import lightgbm
    import xgboost

    assert _compat.xgboost_internals() is not None
    assert _compat.lightgbm_internals() is not None
    monkeypatch.setattr(xgboost, "__version__", "4.0.0")
    monkeypatch.setattr(lightgbm, "__version__", "5.0.0")
    assert _compat.xgboost_internals() is None
    assert _compat.lightgbm_internals() is None
    assert _compat.switched_off() == {
        _compat.FOREST_BUILDER: "scikit-learn 1.10.0 is not a tested version",
        _compat.XGB_SHARED: "XGBoost 4.0.0 is not a tested version",
        _compat.LGBM_SHARED: "LightGBM 5.0.0 is not a tested version"}
