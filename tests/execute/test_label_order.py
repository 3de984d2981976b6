"""Both engines give a plain scikit-learn script's predictions, ties included (issue 15, item 6).

A user's script fits on the study's *string* labels; scikit-learn orders classes by
sorting them, and every tie-break (KNN votes, one-vs-one votes, the argmax of equal
scores, the sign of a binary decision function) follows that order. The engines
encode labels the same way (:func:`~cohortbench.execute.problem.make_problem`),
whatever order the task declares its classes in. The data here sit on a coarse
grid, so that distances and votes tie often.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import LeaveOneOut
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import LabelEncoder

from cohortbench.data.views import Block, Task, View
from cohortbench.design.configs import CVScheme, PipelineConfig
from cohortbench.execute import evaluate_reference
from cohortbench.execute.fast import evaluate_fast
from cohortbench.execute.problem import make_problem

from .test_reference_engine import HAND_CLASSIFIERS

pytestmark = pytest.mark.usefixtures("one_thread")

CV = CVScheme(outer="loo", permutations=0, seed=0)


def tied_problem(declared: tuple[str, ...], n: int, seed: int):
    """Subjects on a 3 x 3 grid (many equal distances), classes in ``declared`` order."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 3, size=(n, 2)).astype(float)
    labels = tuple(np.array(declared)[np.arange(n) % len(declared)])
    subjects = tuple(f"s{i:02d}" for i in range(n))
    view = View(X=X, subjects=subjects, columns=("m:a", "m:b"), blocks=(Block("m", 0, 2),),
                modalities=("m",), parcellation="all")
    task = Task(name="t", classes=declared, subjects=subjects, labels=labels)
    problem, left_out = make_problem(view, task)
    assert not left_out
    return problem, X, np.array(labels)


def hand_loop(X, labels, make):
    """What a user writes: LeaveOneOut on the string labels (XGBoost needs LabelEncoder)."""
    encoder = LabelEncoder().fit(labels) if "XGB" in repr(make()) else None
    y = encoder.transform(labels) if encoder is not None else labels
    out = []
    for train, test in LeaveOneOut().split(X):
        predicted = make().fit(X[train], y[train]).predict(X[test])
        out.append(encoder.inverse_transform(predicted)[0] if encoder is not None else predicted[0])
    return np.array(out)


CASES = {"3-class": (("slow", "fast", "HC"), 15, 0), "2-class": (("slow", "fast"), 12, 1)}


def test_the_data_do_produce_ties_that_the_declared_order_would_break_differently():
    declared, n, seed = CASES["3-class"]
    _, X, labels = tied_problem(declared, n, seed)
    as_strings = hand_loop(X, labels, KNeighborsClassifier)
    codes = np.array([declared.index(label) for label in labels])
    declared_order = np.array(declared)[hand_loop(X, codes, KNeighborsClassifier)]
    assert (as_strings != declared_order).sum() >= 2


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("classifier", list(HAND_CLASSIFIERS))
def test_both_engines_equal_a_script_on_string_labels(classifier, case):
    declared, n, seed = CASES[case]
    problem, X, labels = tied_problem(declared, n, seed)
    assert problem.classes == tuple(sorted(declared))
    expected = hand_loop(X, labels, HAND_CLASSIFIERS[classifier])
    config = PipelineConfig(classifier)
    reference = evaluate_reference(problem, config, CV)
    fast = evaluate_fast(problem, [config], CV)[0]
    for result in (reference, fast):
        assert result.subjects == problem.subjects
        assert list(result.predicted_labels) == list(expected), result.engine
        assert list(result.true_labels) == list(labels)
