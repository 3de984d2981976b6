"""Leakage canary for hybrid training (SPEC section 2): train-only subjects never get predicted.

A task's ``train_only`` subjects join every training fold and never a test fold, so a
finished run must not list any of them in ``predictions.csv``, every evaluated subject
must be predicted exactly once per evaluation, and ``n_subjects`` / the confusion
matrix must count the task's own subjects only. The check below is run on an honest
run and on a deliberately leaky one (train-only subjects handed to the runner as
ordinary task subjects), which it must catch.
"""

from __future__ import annotations

import dataclasses
import json
import warnings

import pandas as pd
import pytest

import cohortbench as cb
from cohortbench.data.synthetic import write_synthetic_cohort
from cohortbench.execute import preparation
from cohortbench.execute.problem import make_problem

pytestmark = pytest.mark.usefixtures("one_thread")

HYBRID_STUDY = """\
name: hybrid
seed: 5
data:
  maps: {qT1: maps/qT1.tsv, FA: maps/FA.tsv}
  participants: participants.tsv
labels:
  slope: {expression: "(48 - alsfrs_r) / disease_months"}
  progression: {from: slope, split: median, classes: [slow, fast], among: {group: ALS}}
tasks:
  SvF:
    classes: {slow: {progression: slow}, fast: {progression: fast}}
    train_only: {slow: {group: HC}}
  2-class:
    classes: {HC: {group: HC}, ALS: {group: ALS}}
cv: {outer: "stratified-kfold:5", inner: "stratified-kfold:3"}
permutations: 2
stages:
  - name: screen
    classifiers: [KNN, SVM_LIN]
    pipeline: {row_scaling: standard, column_scaling: standard}
  - name: tune
    classifiers: [KNN]
    pipeline: {row_scaling: standard}
    search: [grid]
    tasks: [SvF]
"""


def hybrid_violations(evaluations: pd.DataFrame, predictions: pd.DataFrame, tasks) -> list[str]:
    """What breaks the hybrid-training contract in an exported run (empty list: nothing).

    Parameters
    ----------
    evaluations, predictions : DataFrame
        ``evaluations.csv`` and ``predictions.csv`` of a run.
    tasks : dict of str -> Task
        The study's tasks (their own and their train-only subjects).
    """
    problems = []
    for row in evaluations.itertuples():
        task = tasks[row.task]
        own, extra = set(task.subjects), set(task.train_only_subjects)
        listed = predictions.loc[predictions["evaluation_id"] == row.evaluation_id, "subject"]
        predicted_extra = sorted(set(listed) & extra)
        if predicted_extra:
            problems.append(f"{row.evaluation_id} ({row.task}) predicts train-only subject(s) "
                            f"{', '.join(predicted_extra)}")
        if sorted(listed) != sorted(own):
            problems.append(f"{row.evaluation_id} ({row.task}) does not predict each of the "
                            f"task's {len(own)} subjects exactly once ({len(listed)} rows)")
        if row.n_subjects != len(own):
            problems.append(f"{row.evaluation_id} ({row.task}) has n_subjects {row.n_subjects}, "
                            f"not the task's {len(own)}")
    return problems


@pytest.fixture(scope="module")
def hybrid_study(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hybrid")
    write_synthetic_cohort(directory, seed=2, n_controls=6, n_slow=5, n_fast=5, n_rois=8, n_gm=4)
    path = directory / "hybrid.yaml"
    path.write_text(HYBRID_STUDY, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        study = cb.load_study(path)
    return path, study


def run_and_export(study_path, run_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")    # convergence and small-class warnings on tiny data
        outcome = cb.run(study_path, run_dir, jobs=1, build_report=False)
    assert outcome.failed == 0
    paths = cb.export(run_dir, run_dir / "csv")
    return pd.read_csv(paths["evaluations"]), pd.read_csv(paths["predictions"])


def test_the_study_has_train_only_subjects(hybrid_study):
    _, study = hybrid_study
    svf = study.tasks["SvF"]
    assert len(svf.subjects) == 10 and len(svf.train_only_subjects) == 6
    assert set(svf.train_only_labels) == {"slow"}
    assert not set(svf.subjects) & set(svf.train_only_subjects)


def test_train_only_subjects_are_never_predicted(hybrid_study, tmp_path):
    path, study = hybrid_study
    evaluations, predictions = run_and_export(path, tmp_path / "run")
    # screen: 2 classifiers x 2 tasks; tune: KNN grid on SvF
    assert len(evaluations) == 5
    assert hybrid_violations(evaluations, predictions, study.tasks) == []
    svf = evaluations[evaluations["task"] == "SvF"]
    assert (svf["n_subjects"] == 10).all()
    # accuracy is computed on the task's own subjects only
    for row in svf.itertuples():
        mine = predictions[predictions["evaluation_id"] == row.evaluation_id]
        assert row.accuracy == pytest.approx((mine["true_label"] == mine["predicted_label"]).mean())
    frames = cb.results(tmp_path / "run")
    with cb.api._open_existing(tmp_path / "run") as store:
        for evaluation_id in svf["evaluation_id"]:
            confusion = store.get_result(evaluation_id).confusion
            assert sum(map(sum, confusion)) == 10
    assert set(frames["predictions"]["subject"]) >= set(study.tasks["2-class"].subjects)


def _leaky_make_problem(view, task, **options):
    """The mistake the canary must catch: train-only subjects evaluated like the others."""
    merged = dataclasses.replace(
        task, subjects=task.subjects + task.train_only_subjects,
        labels=task.labels + task.train_only_labels,
        train_only_subjects=(), train_only_labels=())
    return make_problem(view, merged, **options)


def test_the_canary_catches_a_leaky_runner(hybrid_study, tmp_path, monkeypatch):
    path, study = hybrid_study
    monkeypatch.setattr(preparation, "make_problem", _leaky_make_problem)
    evaluations, predictions = run_and_export(path, tmp_path / "leaky")
    problems = hybrid_violations(evaluations, predictions, study.tasks)
    svf_ids = set(evaluations.loc[evaluations["task"] == "SvF", "evaluation_id"])
    assert len(svf_ids) == 3
    flagged = {p.split(" ")[0] for p in problems}
    assert flagged == svf_ids                       # every SvF evaluation, nothing else
    text = json.dumps(problems)
    for subject in study.tasks["SvF"].train_only_subjects:
        assert subject in text
    assert any("n_subjects 16" in p for p in problems)
