"""One vocabulary for steps and options across figures, the per-step table and the exports.

A small store is written through the real store API and exported to ``evaluations.csv``;
the figures, the per-step table and the CSV are then built from that file, and the step
names and option words each of them shows are collected and compared.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from cohortbench.analyse import top_performers
from cohortbench.analyse.step_tests import step_table_for_display, step_tests
from cohortbench.design.vocabulary import (
    FIELD_LABELS,
    OPTION_ORDER,
    STEP_LABELS,
    STEPS,
    option_text,
)
from cohortbench.report import figures as F
from cohortbench.store import EvaluationResult, ResultsStore, export_csvs

#: The option words evaluations.csv writes (issue 18), listed by hand as the oracle.
EXPORT_WORDS = {"none", "standard", "minmax", "kbest", "rfe", "pca", "lda", "grid", "random",
                "bayes"}
SUBJECTS = tuple(f"sub-{i:02d}" for i in range(8))
TRUE = ("HC", "ALS") * 4


def _result(i: int, accuracy: float, seconds: float, reliable) -> EvaluationResult:
    predicted = tuple(t if (k + i) % 3 else ("ALS" if t == "HC" else "HC")
                      for k, t in enumerate(TRUE))
    confusion = [[0, 0], [0, 0]]
    for t, p in zip(TRUE, predicted):
        confusion[t == "ALS"][p == "ALS"] += 1
    nulls = (0.4, 0.5, 0.45, 0.55)
    return EvaluationResult(
        task="2-class", classes=("HC", "ALS"), config_id=f"cfg{i:04d}",
        view_fingerprint="view", folds_id="folds", accuracy=accuracy,
        balanced_accuracy=accuracy, f1_macro=accuracy,
        confusion=tuple(tuple(r) for r in confusion), subjects=SUBJECTS, true_labels=TRUE,
        predicted_labels=predicted, null_accuracies=nulls, null_mean=float(np.mean(nulls)),
        null_std=float(np.std(nulls)), z_score=(accuracy - 0.475) / 0.056,
        p_value=0.2, seconds=seconds, numerically_reliable=reliable)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """evaluations.csv of a refine grid over every option and a tune stage over every search."""
    rng = np.random.default_rng(3)
    tmp = tmp_path_factory.mktemp("vocabulary")
    selections = [("none", None), ("kbest", 10), ("kbest", 50), ("rfe", 10)]
    metas = []
    for r, c, (s, k), d in itertools.product(OPTION_ORDER["row_scaling"],
                                             OPTION_ORDER["column_scaling"], selections,
                                             OPTION_ORDER["dim_reduction"]):
        metas.append(dict(stage="refine", classifier="SVM_LIN", row_scaling=r,
                          column_scaling=c, feature_selection=s, n_features=k,
                          dim_reduction=d, search="none"))
    for classifier, search in itertools.product(["MLR_L2", "SVM_LIN"],
                                                [s for s in OPTION_ORDER["search"] if s != "none"]):
        metas.append(dict(stage="tune", classifier=classifier, row_scaling="standard",
                          column_scaling="standard", feature_selection="none", n_features=None,
                          dim_reduction="none", search=search))
    with ResultsStore.open(tmp / "run") as store:
        for i, meta in enumerate(metas):
            raw_rfe = (meta["feature_selection"] == "rfe" and meta["row_scaling"] == "none"
                       and meta["column_scaling"] == "none")
            reliable = (not raw_rfe) if meta["feature_selection"] == "rfe" else None
            store.write_result(f"ev{i:04d}", {
                "position": i, "stage_index": 0 if meta["stage"] == "refine" else 1,
                "task": "2-class", "imputation": "none", "modalities": "qT1",
                "parcellation": "GM", **meta},
                _result(i, round(float(rng.uniform(0.3, 0.9)), 4),
                        round(float(rng.uniform(0.5, 20)), 3), reliable))
        paths = export_csvs(store, tmp / "csv")
    return pd.read_csv(paths["evaluations"])


def _panel_ticks(fig, title):
    """The tick texts of every axis whose title is ``title``."""
    ticks = set()
    for ax in fig.axes:
        if ax.get_title() == title:
            ticks |= {t.get_text() for t in ax.get_xticklabels()}
    return ticks


def test_the_exports_write_the_vocabulary_words(exported):
    words = {step: set(exported[step]) for step in (*STEPS, "search")}
    assert set().union(*words.values()) == EXPORT_WORDS
    for step, present in words.items():
        assert present == set(OPTION_ORDER[step])  # every option of the grid, word for word


def test_figures_name_steps_and_options_as_the_exports_do(exported):
    refine = exported[exported["stage"] == "refine"]
    fig, data = F.step_strips(exported, "refine", "SVM_LIN", "2-class")
    titles = {ax.get_title() for ax in fig.axes}
    assert titles == {FIELD_LABELS[s] for s in (*STEPS, "n_features")}
    for step in STEPS:
        # the words on the axis, the words in the data and the words in the CSV agree
        assert _panel_ticks(fig, STEP_LABELS[step]) == set(refine[step]) \
            == set(data.loc[data["step"] == step, "option"])
    assert _panel_ticks(fig, FIELD_LABELS["n_features"]) == {"10", "50"}

    _, frequencies = top_performers(exported, tasks=["2-class"], stage="refine",
                                    min_accuracy=0.0, min_z=None)
    fig, _ = F.top_performer_options(frequencies)
    for step in STEPS:
        assert _panel_ticks(fig, STEP_LABELS[step]) == set(refine[step])

    fig, _ = F.search_strategies(exported, "tune")
    (legend,) = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert legend.get_title().get_text() == FIELD_LABELS["search"]
    tune = exported[exported["stage"] == "tune"]
    assert set(tune["search"]) <= {t.get_text() for t in legend.get_texts()}


def test_the_step_table_names_steps_as_the_figures_do(exported):
    tests = step_tests(exported[exported["stage"] == "refine"])
    table = step_table_for_display(tests)
    assert set(table["Pipeline step"]) == set(STEP_LABELS.values())
    fig, _ = F.step_strips(exported, "refine", "SVM_LIN", "2-class")
    assert set(table["Pipeline step"]) <= {ax.get_title() for ax in fig.axes}


def test_the_step_table_writes_options_as_option_text(exported):
    tests = step_tests(exported[exported["stage"] == "refine"])
    table = step_table_for_display(tests)
    expected = [option_text(r.step, r.option, r.n_features) for r in tests.itertuples()]
    assert table["Option"].tolist() == expected
    assert {o.split(" (")[0] for o in table["Option"]} <= EXPORT_WORDS


def test_reliability_flags_read_back_from_the_csv_reach_the_figures(exported):
    # The same file also checks that the flag survives the CSV round trip ("True"/"False"
    # or empty cells): raw-value RFE cells are drawn hollow, nothing else is.
    _, data = F.step_strips(exported, "refine", "SVM_LIN", "2-class")
    rows = exported.set_index("evaluation_id").loc[data["evaluation_id"]]
    raw_rfe = ((rows["feature_selection"] == "rfe") & (rows["row_scaling"] == "none")
               & (rows["column_scaling"] == "none")).to_numpy()
    assert raw_rfe.any()
    assert (data["unreliable"].to_numpy() == raw_rfe).all()
