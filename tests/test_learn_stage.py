"""The ``learn`` stage end to end: run, exports, report, cross-stage exclusion, determinism,
the leakage canary on noise (issue 19)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cohortbench as cb
from cohortbench.analyse.learn_tables import LEARNING_CURVE_COLUMNS, PROJECTION_COLUMNS
from cohortbench.analyse.scope import comparable
from cohortbench.store import ResultsStore

from .conftest import write_tiny_study

STAGES = """\
  - name: screen
    classifiers: [MLR_L2, KNN]
    pipeline: {row_scaling: standard, column_scaling: standard}
  - name: refine
    classifiers: [MLR_L2]
    grid: {row_scaling: [none, standard], column_scaling: [standard]}
  - name: learn
    kind: learn
    classifiers: [MLR_L2]
    pipeline: best
    modalities: [[qT1, DTI], [qT1]]
    tasks: [2-class]
    options: {repeats: 3, project_to: [20, 24]}
"""
SIZES = [7, 8, 10, 11, 12, 13, 15, 16]  # the ladder of the tiny 2-class task (6 HC, 10 ALS)


def learn_study(directory: Path, stages: str = STAGES, permutations: int = 3) -> Path:
    return write_tiny_study(directory, permutations=permutations, stages=stages)


@pytest.fixture(scope="module")
def learn_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("learn")
    study = learn_study(base / "cohort")
    outcome = cb.run(study, base / "run", jobs=1)  # the fast engine, the default
    assert outcome.failed == 0 and outcome.report_error is None, outcome
    paths = cb.export(base / "run", base / "csv")
    return base / "run", paths, cb.results(base / "run")


def test_the_exports_hold_the_curve_and_its_projections(learn_run):
    run_dir, paths, frames = learn_run
    assert {"learning_curve", "projection"} <= set(paths)
    assert paths["learning_curve"].name == "learning_curve.csv"
    curve = pd.read_csv(paths["learning_curve"], keep_default_na=False)
    assert list(curve.columns) == list(LEARNING_CURVE_COLUMNS)
    evaluations = frames["evaluations"]
    learn = evaluations[evaluations["stage"] == "learn"]
    assert set(learn["engine"]) == {"fast"}
    # two curves (modality sets) x (7 sizes x 3 subsamples + the whole cohort once)
    assert len(curve) == len(learn) == 2 * (7 * 3 + 1)
    assert curve["accuracy"].tolist() == learn["accuracy"].tolist()  # store order
    assert (curve["n_train"] == curve["n_subjects"] - 1).all()  # leave-one-out
    assert (curve["n_subjects"] == learn["n_subjects"].to_numpy()).all()
    for _, rows in curve.groupby("modalities"):
        assert sorted(set(rows["n_subjects"])) == SIZES
        assert rows.loc[rows["n_subjects"] == 16, "repeat"].tolist() == [0]
        assert rows.loc[rows["n_subjects"] == 10, "repeat"].tolist() == [0, 1, 2]
    # every learn evaluation holds the subjects its key says, the same for both modality sets
    predictions = frames["predictions"]
    members = {}
    for _, row in learn.iterrows():
        subjects = set(predictions.loc[predictions["evaluation_id"] == row["evaluation_id"],
                                       "subject"])
        assert len(subjects) == row["n_subjects"]
        members.setdefault(row["subset"], []).append(subjects)
    assert all(len(v) == 2 and v[0] == v[1] for v in members.values())
    projection = pd.read_csv(paths["projection"], keep_default_na=False)
    assert list(projection.columns) == list(PROJECTION_COLUMNS)
    assert projection["n_subjects"].tolist() == [20, 24, 20, 24]
    assert set(projection["extrapolated"]) == {"no"}
    # 3 shuffles cannot put the accuracy above the null: said instead of a number
    assert set(projection["status"]) == {"not_above_null"}
    assert projection["note"].str.startswith("No projection: at 16 subjects").all()
    assert (projection["predicted_accuracy"] == "").all()
    # the API returns the tables the files hold
    for name in ("learning_curve", "projection"):
        written = frames[name].to_csv(index=False, lineterminator="\n", na_rep="")
        assert written == paths[name].read_text(encoding="utf-8")


def test_learn_evaluations_stay_out_of_every_cross_stage_analysis(learn_run):
    from cohortbench.analyse import familywise_best, top_performers
    from cohortbench.report.summary import build_summary

    run_dir, paths, frames = learn_run
    evaluations, nulls = frames["evaluations"], frames["nulls"]
    with ResultsStore.open(run_dir, create=False) as store:
        kinds = store.get_info("stage_kinds")
        decision = store.get_decision("learn", "pipeline")
    assert kinds["learn"]["cross_stage"] is False and kinds["learn"]["kind"] == "learn"
    # its pipeline is the best of the closest cross-stage stage (refine), not its own
    assert decision["from_stage"] == "refine"
    assert "learn" not in set(frames["step_tests"]["stage"])
    assert "learn" not in set(pd.read_csv(paths["step_tests"])["stage"])
    kept = comparable(evaluations, kinds)
    assert "learn" not in set(kept["stage"]) and len(kept) == 4 + 4
    best = familywise_best(kept, nulls)
    assert set(best["evaluation_id"]) <= set(kept["evaluation_id"])
    top, _ = top_performers(kept, tasks=["2-class", "3-class"], min_accuracy=0.0, min_z=None)
    assert len(top) and "learn" not in set(top["stage"])
    summary = build_summary(evaluations, nulls, frames["predictions"], stage_kinds=kinds)
    assert summary["intro"].startswith("8 evaluations of 2 task(s) in 2 stage(s)")
    assert "stage learn" not in str(summary["tasks"])
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    section = html.split('id="stage-learn"')[1].split("</section>")[0]
    assert "better than chance?" not in section and "Top-performing" not in section
    assert "better than chance?" in html.split('id="stage-refine"')[1].split("</section>")[0]


def test_the_report_draws_the_curves_and_says_what_they_mean(learn_run):
    run_dir, _, _ = learn_run
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    section = html.split('id="stage-learn"')[1].split("</section>")[0]
    assert 'id="figure-stage-learn-curve-2-class"' in section
    assert (run_dir / "figures" / "stage-learn-curve-2-class.svg").exists()
    assert "training-set size (subjects - 1, with leave-one-out)" in section
    assert "Task 2-class, qT1+DTI: No projection: at 16 subjects" in section
    assert "at today&#39;s 16 subjects, qT1+DTI gives" in section
    assert "chosen on these same subjects: the level of every curve is optimistic" in section
    assert "measures learning curves on class-stratified subsamples" in section
    assert "Projections, task 2-class" in section


def _interrupting_backend(after: int):
    from cohortbench.execute.backends import InlineBackend

    class Interrupted(Exception):
        pass

    class Backend(InlineBackend):
        def run(self, fn, units):
            for done, item in enumerate(super().run(fn, units)):
                if done == after:
                    raise Interrupted  # as if the run were killed here
                yield item

    return Backend(), Interrupted


def test_the_curve_is_identical_across_jobs_and_a_resumed_run(tmp_path):
    from cohortbench.execute.runner import run_study

    stages = STAGES[STAGES.index("  - name: learn"):].replace(
        "pipeline: best", "pipeline: {column_scaling: standard}").replace(
        "{repeats: 3, project_to: [20, 24]}", "{sizes: [8, 12, 16], repeats: 3}")
    study = learn_study(tmp_path / "cohort", stages, permutations=3)
    csv = {}
    for name, jobs in (("one", 1), ("two", 2)):
        assert cb.run(study, tmp_path / name, jobs=jobs, build_report=False).failed == 0
        csv[name] = cb.export(tmp_path / name, tmp_path / f"csv-{name}")
    backend, interrupted = _interrupting_backend(after=5)
    with pytest.raises(interrupted):
        run_study(cb.load_study(study), tmp_path / "resumed", backend=backend)
    with ResultsStore.open(tmp_path / "resumed", create=False) as store:
        assert store.count() == 5
    outcome = cb.run(study, tmp_path / "resumed", jobs=2, build_report=False)
    assert outcome.already == 5 and outcome.computed == 14 - 5  # 2 x (2 sizes x 3 + 1)
    csv["resumed"] = cb.export(tmp_path / "resumed", tmp_path / "csv-resumed")
    for name in ("learning_curve", "projection"):
        first = csv["one"][name].read_bytes()
        assert first == csv["two"][name].read_bytes() == csv["resumed"][name].read_bytes()
    assert len(pd.read_csv(csv["one"]["learning_curve"])) == 14


NOISE = """\
name: noise
seed: 5
data:
  maps: {qT1: maps/qT1.tsv, FA: maps/FA.tsv, TSC: maps/TSC.tsv}
  participants: participants.tsv
tasks:
  2-class: {classes: {HC: {group: HC}, ALS: {group: ALS}}}
cv: {outer: loo}
permutations: 19
stages:
  - name: learn
    kind: learn
    classifiers: [MLR_L2]
    pipeline: {row_scaling: standard, column_scaling: standard, feature_selection: kbest,
               n_features: 5}
    options: {repeats: 3}
"""


def _leaky_accuracy(X, y, blocks) -> float:
    """The leaky twin: features selected on every subject before leave-one-out."""
    from sklearn.feature_selection import SelectKBest, f_classif
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import LeaveOneOut, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from cohortbench.execute.row_scaling import RowScaler

    X = RowScaler("standard", blocks=blocks).fit_transform(X)  # per subject: no leak
    X = SelectKBest(f_classif, k=5).fit_transform(StandardScaler().fit_transform(X), y)
    predicted = cross_val_predict(make_pipeline(StandardScaler(), LogisticRegression()), X, y,
                                  cv=LeaveOneOut())
    return float(np.mean(predicted == y))


def test_leakage_canary_selection_inside_keeps_a_noise_curve_at_chance(tmp_path):
    from cohortbench.data.synthetic import write_synthetic_cohort

    directory = tmp_path / "noise"
    write_synthetic_cohort(directory, seed=7, n_controls=10, n_slow=5, n_fast=5, n_rois=150,
                           n_gm=75, effect_size=0.0)
    study = directory / "noise.yaml"
    study.write_text(NOISE, encoding="utf-8")
    assert cb.run(study, tmp_path / "run", jobs=1, build_report=False).failed == 0
    frames = cb.results(tmp_path / "run")
    curve = frames["learning_curve"]
    # selection inside every training fold: the curve stays at chance (10 vs 10), on
    # average over its 22 subsamples (one of them alone may be lucky or unlucky)
    assert curve["accuracy"].mean() < 0.6, curve.groupby("n_subjects")["accuracy"].mean()
    projection = frames["projection"]
    assert ((projection["status"] != "projected")
            | (projection["low"] <= 0.5)).all(), projection  # no gain promised
    # the leaky twin on the very same subsamples is far above chance: the canary can sing
    loaded = cb.load_study(study)
    view = loaded.cohort.view(["qT1", "FA", "TSC"], "all")
    row_of = {s: i for i, s in enumerate(view.subjects)}
    labels = dict(zip(loaded.tasks["2-class"].subjects, loaded.tasks["2-class"].labels))
    evaluations, predictions = frames["evaluations"], frames["predictions"]
    largest = evaluations[evaluations["n_subjects"] >= 16]
    leaky = []
    for key in largest["evaluation_id"]:
        subjects = predictions.loc[predictions["evaluation_id"] == key, "subject"].tolist()
        X = view.X[[row_of[s] for s in subjects]]
        leaky.append(_leaky_accuracy(X, np.array([labels[s] for s in subjects]),
                                     list(view.block_bounds)))
    inside = largest["accuracy"].to_numpy()
    assert np.mean(leaky) > 0.75 and np.mean(leaky) - np.mean(inside) > 0.2, (leaky, inside)
