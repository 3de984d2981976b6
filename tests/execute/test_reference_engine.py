"""The reference engine against hand-written scikit-learn loops, and its record."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import RFE, SelectKBest, f_classif
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, LeaveOneOut, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC, SVR
from xgboost import XGBClassifier

from cohortbench.design import classifiers as registry
from cohortbench.design.classifiers import SearchSpace, register_classifier
from cohortbench.design.configs import CVScheme, PipelineConfig
from cohortbench.errors import DataError
from cohortbench.execute import evaluate_reference
from cohortbench.execute.permutations import label_shuffles
from cohortbench.execute.reference_engine import evaluate_labels
from cohortbench.execute.scoring import majority_vote
from cohortbench.execute.splits import derived_seed, folds_id, outer_splits

from .conftest import make_noise_problem, make_synthetic_problem

pytestmark = pytest.mark.usefixtures("one_thread")

SEED = 0
LOO0 = CVScheme(outer="loo", permutations=0, seed=SEED)


# --------------------------------------------------------------------------- hand-written oracle
def hand_row_scale(X, blocks, method):
    """SPEC 3.1 literally: scikit-learn's scaler applied to each subject's block values."""
    if method == "none":
        return X.copy()
    out = X.copy()
    for start, stop in blocks:
        scaler = StandardScaler() if method == "standard" else MinMaxScaler()
        out[:, start:stop] = scaler.fit_transform(X[:, start:stop].T).T
    return out


def hand_predictions(X, y, make_steps, n_eval=None, extra_train=()):
    """Leave-one-out over rows [0, n_eval) with a fresh hand-built Pipeline per fold."""
    n_eval = len(y) if n_eval is None else n_eval
    predictions = np.empty(n_eval, dtype=np.int64)
    for train, test in LeaveOneOut().split(X[:n_eval]):
        train = np.concatenate([train, np.asarray(extra_train, dtype=np.int64)])
        pipeline = Pipeline(make_steps())
        pipeline.fit(X[train], y[train])
        predictions[test] = pipeline.predict(X[test])
    return predictions


def engine_codes(result):
    return np.array([result.classes.index(label) for label in result.predicted_labels])


HAND_CLASSIFIERS = {
    "KNN": lambda: KNeighborsClassifier(),
    "LGBM": lambda: LGBMClassifier(random_state=SEED, n_jobs=1, verbose=-1),
    "MLR_ENET": lambda: LogisticRegression(solver="saga", l1_ratio=0.5, random_state=SEED),
    "MLR_L1": lambda: LogisticRegression(solver="saga", l1_ratio=1.0, random_state=SEED),
    "MLR_L2": lambda: LogisticRegression(random_state=SEED),
    "MLP": lambda: MLPClassifier(random_state=SEED),
    "SVM_POLY": lambda: SVC(kernel="poly"),
    "SVM_RBF": lambda: SVC(kernel="rbf"),
    "SVM_SIG": lambda: SVC(kernel="sigmoid"),
    "SVM_LIN": lambda: SVC(kernel="linear"),
    "RF": lambda: RandomForestClassifier(random_state=SEED),
    "XGB": lambda: XGBClassifier(random_state=SEED),
}

# (config options, hand-built steps after row scaling, row method, data with NaN?)
STEP_CASES = {
    "row-standard": (dict(row_scaling="standard"), lambda: [], "standard", False),
    "row-minmax": (dict(row_scaling="minmax"), lambda: [], "minmax", False),
    "column-standard": (dict(column_scaling="standard"),
                        lambda: [("s", StandardScaler())], "none", False),
    "column-minmax": (dict(column_scaling="minmax"),
                      lambda: [("s", MinMaxScaler())], "none", False),
    "kbest": (dict(row_scaling="standard", column_scaling="standard",
                   feature_selection="kbest", n_features=10),
              lambda: [("s", StandardScaler()), ("k", SelectKBest(f_classif, k=10))],
              "standard", False),
    "rfe": (dict(column_scaling="standard", feature_selection="rfe", n_features=10),
            lambda: [("s", StandardScaler()),
                     ("r", RFE(SVR(kernel="linear"), n_features_to_select=10, step=1))],
            "none", False),
    "pca": (dict(row_scaling="standard", column_scaling="standard", dim_reduction="pca"),
            lambda: [("s", StandardScaler()), ("p", PCA())], "standard", False),
    "lda": (dict(row_scaling="minmax", dim_reduction="lda"),
            lambda: [("l", LinearDiscriminantAnalysis())], "minmax", False),
    "impute-mean": (dict(row_scaling="standard", imputation="mean", column_scaling="standard"),
                    lambda: [("i", SimpleImputer(strategy="mean")), ("s", StandardScaler())],
                    "standard", True),
    "impute-median": (dict(imputation="median", column_scaling="minmax",
                           feature_selection="kbest", n_features=25),
                      lambda: [("i", SimpleImputer(strategy="median")), ("s", MinMaxScaler()),
                               ("k", SelectKBest(f_classif, k=25))], "none", True),
}


@pytest.mark.parametrize("case", list(STEP_CASES))
def test_every_step_option_matches_a_hand_written_loop(case, ref_problem, ref_problem_nan):
    options, steps, row, with_nan = STEP_CASES[case]
    problem = ref_problem_nan if with_nan else ref_problem
    classifier = "KNN" if case == "lda" else "SVM_LIN"
    hand_clf = HAND_CLASSIFIERS[classifier]
    result = evaluate_reference(problem, PipelineConfig(classifier, **options), LOO0)
    X = hand_row_scale(problem.X, problem.blocks, row)
    expected = hand_predictions(X, problem.y, lambda: steps() + [("c", hand_clf())])
    np.testing.assert_array_equal(engine_codes(result), expected)
    assert result.accuracy == np.mean(expected == problem.y)


@pytest.mark.parametrize("name", list(HAND_CLASSIFIERS))
def test_every_classifier_matches_a_hand_written_loop(name):
    # 12 subjects keep the 24 fits of the slow classifiers cheap.
    problem = make_synthetic_problem(class_sizes=(4, 4, 4), n_blocks=2, block_size=10, seed=3)
    config = PipelineConfig(name, row_scaling="standard", column_scaling="standard")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # saga / MLP convergence on tiny data
        result = evaluate_reference(problem, config, LOO0)
        X = hand_row_scale(problem.X, problem.blocks, "standard")
        expected = hand_predictions(X, problem.y,
                                    lambda: [("s", StandardScaler()),
                                             ("c", HAND_CLASSIFIERS[name]())])
    np.testing.assert_array_equal(engine_codes(result), expected)


def test_grid_search_matches_a_hand_written_nested_loop():
    problem = make_synthetic_problem(class_sizes=(6, 6, 6), seed=5)
    config = PipelineConfig("KNN", row_scaling="standard", search="grid")
    result = evaluate_reference(problem, config, LOO0)
    X = hand_row_scale(problem.X, problem.blocks, "standard")
    grid = {"c__n_neighbors": [1, 3, 5, 7, 9], "c__weights": ["uniform", "distance"]}
    expected, chosen = [], []
    for train, test in LeaveOneOut().split(X):
        search = GridSearchCV(Pipeline([("c", KNeighborsClassifier())]), grid,
                              scoring="accuracy", cv=StratifiedKFold(5), refit=True)
        search.fit(X[train], problem.y[train])
        expected.append(int(search.predict(X[test])[0]))
        chosen.append({k.removeprefix("c__"): v for k, v in search.best_params_.items()})
    np.testing.assert_array_equal(engine_codes(result), expected)
    assert len({tuple(sorted(c.items())) for c in chosen}) > 1   # the choice varies by fold
    assert list(result.chosen_params) == chosen


# --------------------------------------------------------------------------- the record
def test_the_record(ref_problem):
    config = PipelineConfig("SVM_LIN", row_scaling="standard", feature_selection="kbest",
                            n_features=500)
    cv = CVScheme(outer="loo", permutations=5, seed=SEED)
    result = evaluate_reference(ref_problem, config, cv)
    assert result.engine == "reference"
    assert result.config_id == config.id
    assert result.view_fingerprint == ref_problem.view_fingerprint
    assert result.folds_id == folds_id(outer_splits(ref_problem.y, 24, "loo", SEED))
    assert result.task == "toy" and result.classes == ("HC", "slow", "fast")
    assert result.subjects == ref_problem.subjects
    assert result.true_labels == tuple(ref_problem.classes[k] for k in ref_problem.y)
    assert set(result.predicted_labels) <= set(result.classes)
    confusion = np.array(result.confusion)
    assert confusion.shape == (3, 3) and confusion.sum() == 24
    np.testing.assert_array_equal(confusion.sum(axis=1), [8, 8, 8])
    assert result.accuracy == pytest.approx(np.trace(confusion) / 24)
    assert 0 <= result.balanced_accuracy <= 1 and 0 <= result.f1_macro <= 1
    assert result.n_features_used == 60                      # k = 500 capped
    assert result.chosen_params == ({},) * 24
    assert len(result.null_accuracies) == 5
    assert result.null_mean == pytest.approx(np.mean(result.null_accuracies))
    assert result.null_std == pytest.approx(np.std(result.null_accuracies))
    assert result.p_value == (1 + sum(a >= result.accuracy for a in result.null_accuracies)) / 6
    if result.null_std > 0:
        assert result.z_score == pytest.approx(
            (result.accuracy - result.null_mean) / result.null_std)
    assert result.seconds > 0
    assert type(result).from_dict(result.to_dict()) == result


def test_no_permutations_leaves_the_null_empty(ref_problem):
    result = evaluate_reference(ref_problem, PipelineConfig("KNN"), LOO0)
    assert result.null_accuracies == ()
    assert (result.null_mean, result.null_std, result.z_score, result.p_value) == (None,) * 4


def test_a_null_accuracy_is_a_hand_run_on_the_shuffled_labels(ref_problem):
    """The stratified outer folds are recomputed from each shuffled label vector."""
    cv = CVScheme(outer="stratified-kfold:4", permutations=2, seed=7)
    result = evaluate_reference(ref_problem, PipelineConfig("SVM_LIN"), cv)
    shuffled = label_shuffles(ref_problem.y, 2, 7, ref_problem.task)[1]
    splitter = StratifiedKFold(4, shuffle=True, random_state=derived_seed(7, "outer-cv"))
    correct = 0
    for train, test in splitter.split(ref_problem.X, shuffled):
        model = SVC(kernel="linear").fit(ref_problem.X[train], shuffled[train])
        correct += np.sum(model.predict(ref_problem.X[test]) == shuffled[test])
    assert result.null_accuracies[1] == correct / 24


def test_same_seed_is_bit_identical_and_another_seed_is_not(ref_problem):
    config = PipelineConfig("SVM_LIN", row_scaling="minmax", search="random")
    cv = CVScheme(outer="stratified-kfold:3", inner="stratified-kfold:3", permutations=2,
                  seed=11)
    first = evaluate_reference(ref_problem, config, cv).to_dict()
    second = evaluate_reference(ref_problem, config, cv).to_dict()
    assert first.pop("seconds") > 0 and second.pop("seconds") > 0
    assert first == second
    other = evaluate_reference(ref_problem, config, CVScheme(
        outer="stratified-kfold:3", inner="stratified-kfold:3", permutations=2, seed=12))
    assert other.folds_id != first["folds_id"]
    assert not np.array_equal(label_shuffles(ref_problem.y, 2, 11, "toy"),
                              label_shuffles(ref_problem.y, 2, 12, "toy"))
    assert list(other.null_accuracies) != list(first["null_accuracies"])


def test_repeated_cv_pools_all_repeats_and_votes_per_subject(ref_problem):
    config = PipelineConfig("KNN", row_scaling="standard")
    cv = CVScheme(outer="repeated-stratified-kfold:4:3", permutations=0, seed=SEED)
    result = evaluate_reference(ref_problem, config, cv)
    run = evaluate_labels(ref_problem, config, cv, ref_problem.y)
    assert run.predictions.shape == (3, 24) and len(run.splits) == 12
    assert len(result.chosen_params) == 12
    assert result.accuracy == np.mean(run.predictions == ref_problem.y)
    confusion = np.array(result.confusion)
    assert confusion.sum() == 72 and np.trace(confusion) / 72 == result.accuracy
    voted = majority_vote(run.predictions, 3)
    assert engine_codes(result).tolist() == voted.tolist()


def test_majority_vote_ties_go_to_the_first_class():
    predictions = np.array([[2, 1, 0], [1, 1, 2], [2, 0, 1], [1, 2, 2]])
    np.testing.assert_array_equal(majority_vote(predictions, 3), [1, 1, 2])


def test_hybrid_rows_only_train(ref_hybrid_problem):
    problem = ref_hybrid_problem
    assert problem.n_eval == 16 and len(problem.y) == 22
    result = evaluate_reference(problem, PipelineConfig("SVM_LIN", row_scaling="standard"),
                                CVScheme(outer="loo", permutations=2, seed=SEED))
    assert result.subjects == problem.subjects[:16]
    assert len(result.predicted_labels) == 16 and np.array(result.confusion).sum() == 16
    X = hand_row_scale(problem.X, problem.blocks, "standard")
    expected = hand_predictions(X, problem.y, lambda: [("c", SVC(kernel="linear"))],
                                n_eval=16, extra_train=range(16, 22))
    np.testing.assert_array_equal(engine_codes(result), expected)
    for train, test in outer_splits(problem.y, 16, "loo", SEED):
        assert set(range(16, 22)) <= set(train.tolist()) and test.max() < 16


def test_inner_cv_with_a_too_small_class():
    problem = make_synthetic_problem(class_sizes=(8, 4, 8), seed=4, task="3-class")
    config = PipelineConfig("KNN", search="grid")
    with pytest.raises(DataError, match=r"'3-class'.*'slow'.*reduce_inner_k"):
        evaluate_reference(problem, config, LOO0)
    cv = CVScheme(outer="loo", permutations=0, seed=SEED, reduce_inner_k=True)
    result = evaluate_reference(problem, config, cv)
    assert len(result.chosen_params) == 20
    assert all(set(p) == {"n_neighbors", "weights"} for p in result.chosen_params)


class _WarningClassifier(ClassifierMixin, BaseEstimator):
    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        warnings.warn("the toy model is uneasy", UserWarning)
        warnings.warn("old API", DeprecationWarning)
        self.classes_ = np.unique(y)
        self.majority_ = int(np.bincount(y).argmax())
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)


@pytest.fixture
def warning_classifier():
    register_classifier("WARNS", lambda rs: _WarningClassifier(rs), SearchSpace())
    yield "WARNS"
    registry.unregister_classifier("WARNS")


def test_warnings_are_recorded_once_without_deprecations(ref_problem, warning_classifier):
    result = evaluate_reference(ref_problem, PipelineConfig(warning_classifier),
                                CVScheme(outer="loo", permutations=2, seed=SEED))
    assert result.warnings == ("UserWarning: the toy model is uneasy",)


# --------------------------------------------------------------------------- leakage canaries
CANARY_SEEDS = range(12)
CANARY_CV = "stratified-kfold:5"
CANARY_CASES = {
    "kbest": (dict(column_scaling="standard", feature_selection="kbest", n_features=10), {}),
    "rfe": (dict(column_scaling="standard", feature_selection="rfe", n_features=10),
            dict(p=300)),
    "pca": (dict(dim_reduction="pca"), {}),
    "lda": (dict(dim_reduction="lda"), {}),
    "scaling": (dict(row_scaling="standard", column_scaling="standard"), {}),
    "imputation": (dict(imputation="median", column_scaling="minmax"), dict(nan_fraction=0.05)),
    "grid-search": (dict(column_scaling="standard", search="grid"), {}),
}


def _canary_accuracy(options, seed, **data):
    problem = make_noise_problem(seed, **data)
    cv = CVScheme(outer=CANARY_CV, permutations=0, seed=seed)
    return evaluate_reference(problem, PipelineConfig("SVM_LIN", **options), cv).accuracy


@pytest.mark.parametrize("case", list(CANARY_CASES))
def test_leakage_canary_pure_noise_stays_at_chance(case):
    """30 subjects, p >> n, random labels: every fold-fitted step must stay at chance.

    Stratified 5-fold keeps every training fold balanced; leave-one-out on noise
    makes the held-out subject's class the training minority, which pushes
    prior-sensitive pipelines (e.g. LDA) *below* chance for reasons unrelated
    to leakage. The leaky variant below shows the same measurement detects
    leakage.
    """
    options, data = CANARY_CASES[case]
    accuracies = [_canary_accuracy(options, seed, **data) for seed in CANARY_SEEDS]
    assert abs(np.mean(accuracies) - 0.5) <= 0.1, accuracies


def test_leakage_canary_detects_selection_fitted_on_all_rows():
    accuracies = []
    for seed in CANARY_SEEDS[:4]:
        problem = make_noise_problem(seed)
        # The mistake: choose the 10 "best" features with every subject's label.
        keep = SelectKBest(f_classif, k=10).fit(problem.X, problem.y).get_support()
        leaky = dataclasses.replace(problem, X=problem.X[:, keep], blocks=((0, 10),))
        cv = CVScheme(outer=CANARY_CV, permutations=0, seed=seed)
        accuracies.append(evaluate_reference(leaky, PipelineConfig("SVM_LIN"), cv).accuracy)
        honest = _canary_accuracy(CANARY_CASES["kbest"][0], seed)
        assert accuracies[-1] > honest
    assert np.mean(accuracies) > 0.8, accuracies
    # Leave-one-out, the default protocol, is fooled just as much.
    leaky_loo = evaluate_reference(leaky, PipelineConfig("SVM_LIN"), LOO0).accuracy
    assert leaky_loo > 0.8


def test_recorded_warning_texts_drop_a_clock_prefix_and_keep_the_first_line():
    import warnings as w

    from cohortbench.execute.scoring import warning_text

    with w.catch_warnings(record=True) as caught:
        w.simplefilter("always")
        w.warn("[06:12:01] WARNING: learner.cc:790: Parameters: { \"x\" } are not used.\nmore")
        w.warn("plain text\nsecond line", RuntimeWarning)
    assert [warning_text(c) for c in caught] == [
        'UserWarning: WARNING: learner.cc:790: Parameters: { "x" } are not used.',
        "RuntimeWarning: plain text"]
