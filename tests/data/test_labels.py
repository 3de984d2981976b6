"""Safe expressions, derived labels and tasks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohortbench.data.labels import build_tasks, derive_labels, evaluate_expression
from cohortbench.errors import StudyError


@pytest.fixture
def table() -> pd.DataFrame:
    index = pd.Index(["s1", "s2", "s3", "s4", "s5", "s6"], name="subject")
    return pd.DataFrame({
        "group": ["HC", "HC", "ALS", "ALS", "ALS", "ALS"],
        "a": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "b": [2.0, 0.0, 1.0, np.nan, 2.0, 4.0],
        "ALSFRS-R": [48.0, 48.0, 40.0, 30.0, 44.0, 20.0],
        "Dx": [0.0, 0.0, 1.0, 1.0, 1.0, 1.0],
        "site": ["x", "y", "x", "y", "z", "x"],
    }, index=index)


@pytest.mark.parametrize("text, expected", [
    ("1 + 2 * a", lambda t: 1 + 2 * t["a"]),
    ("(1 + 2) * a", lambda t: 3 * t["a"]),
    ("a - b - 1", lambda t: t["a"] - t["b"] - 1),
    ("-a + 3", lambda t: 3 - t["a"]),
    ("+a / 2.5", lambda t: t["a"] / 2.5),
    ("- -a", lambda t: t["a"]),
    ("(48 - `ALSFRS-R`) / a", lambda t: (48 - t["ALSFRS-R"]) / t["a"]),
])
def test_valid_arithmetic(table, text, expected):
    result = evaluate_expression(text, table)
    assert result.dtype == np.float64 and list(result.index) == list(table.index)
    np.testing.assert_allclose(result.to_numpy(), expected(table).to_numpy(), equal_nan=True)


def test_division_by_zero_and_missing_operands_are_missing(table):
    result = evaluate_expression("a / b", table)
    assert np.isnan(result["s2"])  # 2 / 0 = inf -> missing
    assert np.isnan(result["s4"])  # 4 / NaN
    assert result["s1"] == 0.5
    assert evaluate_expression("1 / 0", table).isna().all()


@pytest.mark.parametrize("text, phrase", [
    ("__import__('os')", "function calls"),
    ("a.b", "attribute access"),
    ("a[0]", "indexing"),
    ("a ** 2", r"'\*\*' \(power\)"),
    ("'x'", "constant 'x'"),
    ("a < b", "comparisons"),
    ("lambda: 1", "lambda"),
    ("True + a", "constant True"),
    ("a // 2", "'//'"),
    ("[a]", "'List'"),
])
def test_rejected_constructs_say_what_is_allowed(table, text, phrase):
    with pytest.raises(StudyError, match=phrase) as info:
        evaluate_expression(text, table)
    assert "+ - * /" in str(info.value)


def test_unknown_and_non_numeric_columns(table):
    with pytest.raises(StudyError, match=r"unknown column 'aa' \(did you mean 'a'\?\).*ALSFRS-R"):
        evaluate_expression("aa + 1", table)
    with pytest.raises(StudyError, match="unknown column 'ALSFRS R'"):
        evaluate_expression("`ALSFRS R` + 1", table)
    with pytest.raises(StudyError, match="column 'group' is not numeric"):
        evaluate_expression("group * 2", table)


@pytest.mark.parametrize("text, phrase", [
    ("", "non-empty"), ("a +", "not valid arithmetic"), ("`a + 1", "backquote is not closed"),
    ("ALSFRS-R", "unknown column 'ALSFRS'"),
])
def test_malformed_expressions(table, text, phrase):
    with pytest.raises(StudyError, match=phrase):
        evaluate_expression(text, table)


def test_median_split_among_subjects(table):
    labels = {
        "slope": {"expression": "(48 - `ALSFRS-R`) / a"},
        "speed": {"from": "slope", "split": "median", "classes": ["slow", "fast"],
                  "among": {"group": "ALS"}},
    }
    out = derive_labels(table, labels)
    assert "slope" not in table.columns  # a copy
    # slopes of ALS: s3 8/3=2.67, s4 18/4=4.5, s5 4/5=0.8, s6 28/6=4.67 -> median 3.583
    assert out.attrs["label_cuts"]["speed"] == pytest.approx((8 / 3 + 4.5) / 2)
    assert out["speed"].tolist()[2:] == ["slow", "fast", "slow", "fast"]
    assert out["speed"][["s1", "s2"]].isna().all()  # outside `among`: no label
    assert list(out.columns[-2:]) == ["slope", "speed"]


def test_fixed_threshold_ties_go_low_and_missing_stays_missing(table):
    out = derive_labels(table, {"hi_b": {"from": "b", "split": 2, "classes": ["low", "high"]}})
    assert out["hi_b"].tolist()[:3] == ["low", "low", "low"]
    assert pd.isna(out.loc["s4", "hi_b"]) and out.loc["s6", "hi_b"] == "high"
    assert out.attrs["label_cuts"]["hi_b"] == 2.0


def test_split_with_list_among_and_median_over_all(table):
    out = derive_labels(table, {"m": {"from": "a", "split": "median", "classes": ["lo", "hi"],
                                      "among": {"site": ["x", "y"]}}})
    assert out.attrs["label_cuts"]["m"] == 3.0  # median of a over s1, s2, s3, s4, s6
    assert pd.isna(out.loc["s5", "m"])
    out = derive_labels(table, {"m": {"from": "a", "split": "median", "classes": ["lo", "hi"]}})
    assert out["m"].tolist() == ["lo"] * 3 + ["hi"] * 3


@pytest.mark.parametrize("spec, phrase", [
    ({"a": {"expression": "b"}}, "'a' is already a clinical column"),
    ({"x": {"from": "nope", "split": "median", "classes": ["l", "h"]}}, "unknown column 'nope'"),
    ({"x": {"from": "a", "split": "mean", "classes": ["l", "h"]}}, "neither `median` nor a number"),
    ({"x": {"from": "a", "split": 1, "classes": ["l"]}}, "two different class names"),
    ({"x": {"from": "group", "split": 1, "classes": ["l", "h"]}}, "'group' is not numeric"),
    ({"x": {"from": "a", "split": 1, "classes": ["l", "h"], "among": {"grp": "HC"}}},
     r"labels\.x\.among: unknown column 'grp'"),
    ({"x": {"from": "a", "expression": "a"}}, "exactly one of"),
    ({"x": {"expresion": "a"}}, "unknown key"),
])
def test_label_spec_errors(table, spec, phrase):
    with pytest.raises(StudyError, match=phrase):
        derive_labels(table, spec)


def test_tasks_with_list_conditions_and_number_normalisation(table):
    tasks = build_tasks(table, {
        "Dx": {"classes": {"control": {"Dx": 0}, "patient": {"Dx": "1"}}},
        "sites": {"classes": {"xy": {"site": ["x", "y"], "group": "ALS"}, "z": {"site": "z"}}},
    })
    dx = tasks["Dx"]
    assert dx.classes == ("control", "patient")
    assert dx.subjects == ("s1", "s2", "s3", "s4", "s5", "s6")
    assert dx.labels == ("control", "control", "patient", "patient", "patient", "patient")
    assert tasks["sites"].subjects == ("s3", "s4", "s5", "s6")
    assert tasks["sites"].class_counts() == {"xy": 3, "z": 1}


def test_task_overlap_and_empty_class(table):
    with pytest.raises(StudyError, match=r"Task 'T': subject 's1' matches both class 'x' and class 'hc'"):
        build_tasks(table, {"T": {"classes": {"x": {"site": "x"}, "hc": {"group": "HC"}}}})
    with pytest.raises(StudyError, match=r"Task '3-class', class 'slow' matches no subject.*'group' holds ALS, HC"):
        build_tasks(table, {"3-class": {"classes": {"hc": {"group": "HC"}, "slow": {"group": "slow"}}}})


def test_task_structure_errors(table):
    with pytest.raises(StudyError, match="Task 'one' has 1 class"):
        build_tasks(table, {"one": {"classes": {"hc": {"group": "HC"}}}})
    with pytest.raises(StudyError, match=r"unknown column 'grp' \(did you mean 'group'\?\)"):
        build_tasks(table, {"T": {"classes": {"a": {"grp": "HC"}, "b": {"group": "ALS"}}}})
    with pytest.raises(StudyError, match="unknown key"):
        build_tasks(table, {"T": {"classes": {"a": {"group": "HC"}, "b": {"group": "ALS"}},
                                  "trainonly": {}}})


def test_hybrid_train_only(table):
    labelled = derive_labels(table, {"speed": {"from": "a", "split": "median",
                                               "classes": ["slow", "fast"], "among": {"group": "ALS"}}})
    spec = {"classes": {"slow": {"speed": "slow"}, "fast": {"speed": "fast"}},
            "train_only": {"slow": {"group": "HC"}}}
    task = build_tasks(labelled, {"SvF": spec})["SvF"]
    assert task.subjects == ("s3", "s4", "s5", "s6")
    assert task.labels == ("slow", "slow", "fast", "fast")
    assert task.train_only_subjects == ("s1", "s2")
    assert task.train_only_labels == ("slow", "slow")
    bad = dict(spec, train_only={"medium": {"group": "HC"}})
    with pytest.raises(StudyError, match=r"train_only: 'medium' is not a class of task 'SvF'"):
        build_tasks(labelled, {"SvF": bad})
    overlap = dict(spec, train_only={"slow": {"site": "x"}})
    with pytest.raises(StudyError, match=r"subject 's3' matches both class 'slow' and train_only"):
        build_tasks(labelled, {"SvF": overlap})
