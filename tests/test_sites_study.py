"""Covariates and sites end to end (issue 21), through ``cb.run`` and the console script.

A small multi-site cohort is written here: 24 subjects (12 controls, 12 patients) in three
sites, each site shifting and scaling every feature; ``FA`` is a FreeSurfer-style table
whose ``EstimatedTotalIntraCranialVol`` summary column is left out of the features and
used as a covariate. The study varies ComBat (preserving age) and confound removal
(age, sex, ICV). Checked against a hand-written scikit-learn pipeline built here from
the files (features, covariate encoding, folds and label shuffles rebuilt by hand).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import LeaveOneGroupOut, LeaveOneOut
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import cohortbench as cb
from cohortbench import api
from cohortbench.design.configs import PipelineConfig, content_id
from cohortbench.execute.confounds import ConfoundRemover
from cohortbench.execute.harmonization import ComBatHarmonizer
from cohortbench.execute.permutations import label_shuffles, label_shuffles_within
from cohortbench.execute.row_scaling import RowScaler
from cohortbench.execute.splits import folds_id
from cohortbench.execute.units import SIDE_STEPS_ENGINE, SITE_FOLDS_ENGINE
from cohortbench.store.export import EVALUATION_COLUMNS, EVALUATION_EXTRA_COLUMNS

COHORTBENCH = str(Path(sys.executable).with_name("cohortbench"))
ICV = "EstimatedTotalIntraCranialVol"
SITES = ("A", "B", "C")
STUDY = """\
name: sites
seed: 2
data:
  maps: {{qT1: maps/qT1.tsv, FA: maps/FA.tsv}}
  participants: participants.tsv
  covariates: [age, sex, {icv}]
  batch: site
tasks:
  2-class: {{classes: {{HC: {{group: HC}}, ALS: {{group: ALS}}}}}}
cv: {{outer: {outer}, inner: "stratified-kfold:3"}}
permutations: 3
stages:
{stages}"""
GRID = """\
  - name: screen
    classifiers: [KNN, MLR_L2]
    grid:
      row_scaling: [standard]
      column_scaling: [standard]
      harmonize: [none, {method: combat, preserve: [age]}]
      confounds: [none, [age, sex, EstimatedTotalIntraCranialVol]]
"""
LEAVE_SITE_OUT = """\
  - name: sites
    classifiers: [KNN]
    grid:
      row_scaling: [standard]
      column_scaling: [standard]
      harmonize: [none, {method: combat, unseen_site: fit-unlabeled}]
"""


def write_cohort(directory: Path) -> None:
    """The synthetic cohort in three sites with site effects, FA as a FreeSurfer table."""
    from cohortbench.data.synthetic import write_synthetic_cohort

    write_synthetic_cohort(directory, seed=5, n_controls=12, n_slow=6, n_fast=6, n_rois=8,
                           n_gm=4)
    rng = np.random.default_rng(11)
    people = pd.read_csv(directory / "participants.tsv", sep="\t")
    rank = people.groupby("group").cumcount()
    people["site"] = [SITES[k % 3] for k in rank]
    people.to_csv(directory / "participants.tsv", sep="\t", index=False, na_rep="n/a")
    site = dict(zip(people["participant_id"], people["site"]))
    shift, scale = {"A": 0.0, "B": 2.0, "C": -1.5}, {"A": 1.0, "B": 1.6, "C": 0.7}
    for name in ("qT1", "FA"):
        table = pd.read_csv(directory / "maps" / f"{name}.tsv", sep="\t", index_col=0)
        s = np.array([site[i] for i in table.index])
        sd = table.std(axis=0).to_numpy()
        mean = table.mean(axis=0).to_numpy()
        values = table.to_numpy()
        for code in SITES:
            rows = s == code
            values[rows] = mean + (values[rows] - mean) * scale[code] + shift[code] * sd
        table = pd.DataFrame(values, index=table.index, columns=table.columns)
        if name == "FA":  # FreeSurfer's layout: IDs under the table's name, a summary column
            table[ICV] = rng.normal(1.5e6, 1e5, len(table)).round(0)
            table.index.name = "lh.aparc.thickness"
        table.to_csv(directory / "maps" / f"{name}.tsv", sep="\t")


def write_study(directory: Path, outer: str = "loo", stages: str = GRID) -> Path:
    path = directory / "study.yaml"
    path.write_text(STUDY.format(icv=ICV, outer=outer, stages=stages), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("sites") / "cohort"
    write_cohort(directory)
    return directory


@pytest.fixture(scope="module")
def runs(cohort, tmp_path_factory):
    """The grid study run by the fast engine (twice: the second resumes) and the reference one."""
    study = write_study(cohort)
    root = tmp_path_factory.mktemp("runs")
    fast = cb.run(study, root / "fast", jobs=1, build_report=True)
    exported = cb.export(root / "fast", root / "export-1")
    first = {name: path.read_bytes() for name, path in exported.items()}
    again = cb.run(study, root / "fast", jobs=1, build_report=False)
    exported = cb.export(root / "fast", root / "export-2")
    second = {name: path.read_bytes() for name, path in exported.items()}
    reference = cb.run(study, root / "reference", jobs=1, engine="reference",
                       build_report=False)
    return {"fast": fast, "again": again, "reference": reference, "root": root,
            "first": first, "second": second,
            "frames": cb.results(root / "fast"), "reference_frames": cb.results(root / "reference")}


# ------------------------------------------------------------------ hand-written oracle
def hand_data(cohort: Path):
    """Features, side block (age, sex=M, ICV, site code), labels and sites, read by hand."""
    people = pd.read_csv(cohort / "participants.tsv", sep="\t").set_index("participant_id")
    qt1 = pd.read_csv(cohort / "maps" / "qT1.tsv", sep="\t", index_col=0)
    fa = pd.read_csv(cohort / "maps" / "FA.tsv", sep="\t", index_col=0)
    subjects = list(people.index)  # every subject is in the 2-class task
    X = np.hstack([qt1.loc[subjects].to_numpy(float),
                   fa.drop(columns=[ICV]).loc[subjects].to_numpy(float)])
    sex_m = (people["sex"].astype(str) == sorted(people["sex"].astype(str).unique())[1])
    site_code = people["site"].map({s: i for i, s in enumerate(sorted(SITES))})
    side = np.column_stack([people["age"].to_numpy(float), sex_m.to_numpy(float),
                            fa.loc[subjects, ICV].to_numpy(float), site_code.to_numpy(float)])
    y = people["group"].to_numpy(str)
    blocks = [(0, qt1.shape[1]), (qt1.shape[1], X.shape[1])]
    return subjects, X, side, y, people["site"].to_numpy(str), blocks


def hand_pipeline(blocks, preserve=(0,), unseen="error") -> Pipeline:
    return Pipeline([("row", RowScaler("standard", blocks=blocks, n_side=4)),
                     ("harmonize", ComBatHarmonizer(n_side=4, batch_column=3, preserve=preserve,
                                                    unseen_site=unseen)),
                     ("confounds", ConfoundRemover(n_side=4, covariate_columns=(0, 1, 2))),
                     ("scale", StandardScaler()), ("clf", KNeighborsClassifier(n_jobs=1))])


def hand_predictions(pipeline, Xs, y, splits) -> np.ndarray:
    predicted = np.empty(len(y), dtype=object)
    for train, test in splits:
        predicted[test] = pipeline.fit(Xs[train], y[train]).predict(Xs[test])
    return predicted


def _row(frames, **fields):
    e = frames["evaluations"]
    mask = np.ones(len(e), dtype=bool)
    for name, value in fields.items():
        mask &= (e[name] == value).to_numpy()
    assert mask.sum() == 1, fields
    return e[mask].iloc[0]


# ------------------------------------------------------------------------------ tests
def test_results_equal_a_hand_written_pipeline_with_within_site_shuffles(runs, cohort):
    frames = runs["frames"]
    row = _row(frames, classifier="KNN", harmonize="combat (preserve age)",
               confounds=f"age+sex+{ICV}")
    assert row["engine"] == SIDE_STEPS_ENGINE
    subjects, X, side, y, sites, blocks = hand_data(cohort)
    Xs = np.hstack([X, side])
    splits = list(LeaveOneOut().split(Xs))
    expected = hand_predictions(hand_pipeline(blocks), Xs, y, splits)
    stored = frames["predictions"][frames["predictions"]["evaluation_id"] == row["evaluation_id"]]
    got = dict(zip(stored["subject"], stored["predicted_label"]))
    assert [got[s] for s in subjects] == list(expected)
    assert row["accuracy"] == pytest.approx(np.mean(expected == y))
    # the null: labels shuffled within sites, seeded by (seed, task), codes in sorted class order
    classes = sorted(set(y))
    codes = np.array([classes.index(c) for c in y])
    within = label_shuffles_within(codes, sites, 3, 2, "2-class")
    plain = label_shuffles(codes, 3, 2, "2-class")
    assert not np.array_equal(within, plain)
    for shuffled in within:  # every site keeps its class counts
        for s in SITES:
            assert sorted(shuffled[sites == s]) == sorted(codes[sites == s])
    nulls = frames["nulls"][frames["nulls"]["evaluation_id"] == row["evaluation_id"]]
    for i, shuffled in enumerate(within):
        labels = np.array(classes)[shuffled]
        predicted = hand_predictions(hand_pipeline(blocks), Xs, labels, splits)
        assert nulls["accuracy"].iloc[i] == pytest.approx(np.mean(predicted == labels))


def test_engines_agree_and_the_fast_engine_says_it_handed_over(runs):
    fast, reference = runs["frames"], runs["reference_frames"]
    e, r = fast["evaluations"], reference["evaluations"].set_index("evaluation_id")
    assert len(e) == 8 and set(e["evaluation_id"]) == set(r.index)
    for _, row in e.iterrows():
        other = r.loc[row["evaluation_id"]]
        assert row["accuracy"] == pytest.approx(other["accuracy"], abs=1e-12)
        uses_side = row["harmonize"] != "none" or row["confounds"] != "none"
        assert row["engine"] == (SIDE_STEPS_ENGINE if uses_side else "fast")
        assert other["engine"] == "reference"
    for name in ("predictions", "nulls"):
        a = fast[name].sort_values(list(fast[name].columns[:2])).reset_index(drop=True)
        b = reference[name].sort_values(list(reference[name].columns[:2])).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    said = [n for n in runs["fast"].notes if SIDE_STEPS_ENGINE in n]
    assert len(said) == 1 and "confound removal or harmonization" in said[0]
    assert not any(SIDE_STEPS_ENGINE in n for n in runs["reference"].notes)


def test_the_side_steps_are_export_columns_step_tests_and_a_report_block(runs):
    e = runs["frames"]["evaluations"]
    assert list(e.columns) == [*EVALUATION_COLUMNS, *EVALUATION_EXTRA_COLUMNS, "harmonize",
                               "confounds"]
    assert sorted(set(e["harmonize"])) == ["combat (preserve age)", "none"]
    steps = runs["frames"]["step_tests"]
    side = steps[steps["step"].isin(["harmonize", "confounds"])]
    # per classifier: each option paired with its twin at none, over the other side step
    assert sorted(side["n_pairs"]) == [2, 2, 2, 2]
    html = (runs["root"] / "fast" / "report.html").read_text(encoding="utf-8")
    assert "Covariates and sites" in html and "McNemar" in html
    assert f"Covariates: age, sex, {ICV}." in html


def test_resume_computes_nothing_and_exports_the_same_bytes(runs):
    again = runs["again"]
    assert again.already == again.total == 8 and again.computed == 0
    assert runs["first"] == runs["second"]


def test_the_summary_column_is_read_as_a_covariate_and_said(cohort):
    study, summary = cb.validate(write_study(cohort))
    assert ICV in study.clinical.columns and not study.clinical[ICV].isna().any()
    assert any(ICV in d and "left out of the features" in d for d in summary["decisions"])
    assert ICV not in {c.split(":", 1)[1] for c in study.cohort.view(["FA"]).columns}
    lines = api.summary_lines(summary)
    assert any(line.startswith(f"covariates: age, sex, {ICV}; sites from column 'site'")
               for line in lines)
    assert summary["sites"]["tasks"]["2-class"]["counts"] == [[4, 4], [4, 4], [4, 4]]


def test_leave_site_out_through_the_console_script(cohort, tmp_path):
    study = write_study(cohort, outer="leave-site-out", stages=LEAVE_SITE_OUT)
    run_dir = tmp_path / "run"
    r = subprocess.run([COHORTBENCH, "run", str(study), "--out", str(run_dir), "--jobs", "1",
                        "--quiet"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    frames = cb.results(run_dir)
    e = frames["evaluations"]
    subjects, X, side, y, sites, blocks = hand_data(cohort)
    splits = list(LeaveOneGroupOut().split(X, y, sites))
    assert set(e["folds_id"]) == {folds_id(splits)}
    assert dict(zip(e["harmonize"], e["engine"])) == {
        "none": SITE_FOLDS_ENGINE, "combat (unseen_site fit-unlabeled)": SIDE_STEPS_ENGINE}
    row = _row(frames, harmonize="combat (unseen_site fit-unlabeled)")
    Xs = np.hstack([X, side])
    pipeline = hand_pipeline(blocks, preserve=(), unseen="fit-unlabeled")
    pipeline.steps[2] = ("drop_side", ConfoundRemover(n_side=4))  # no confounds here
    expected = hand_predictions(pipeline, Xs, y, splits)
    stored = frames["predictions"][frames["predictions"]["evaluation_id"] == row["evaluation_id"]]
    got = dict(zip(stored["subject"], stored["predicted_label"]))
    assert [got[s] for s in subjects] == list(expected)


def test_a_study_without_the_new_keys_keeps_its_keys_and_columns(tmp_path):
    from .conftest import write_tiny_study

    # the configuration dict and id are exactly those of before the side steps existed
    config = PipelineConfig("KNN", row_scaling="standard", column_scaling="standard")
    old = {"classifier": "KNN", "row_scaling": "standard", "imputation": "none",
           "column_scaling": "standard", "feature_selection": "none", "n_features": None,
           "dim_reduction": "none", "search": "none"}
    assert config.to_dict() == old and config.id == content_id(old)
    study = write_tiny_study(tmp_path / "cohort", permutations=0)
    text = study.read_text()
    study.write_text(text.split("  - name: refine")[0])
    cb.run(study, tmp_path / "run", jobs=1, build_report=False)
    e = cb.results(tmp_path / "run")["evaluations"]
    assert list(e.columns) == [*EVALUATION_COLUMNS, *EVALUATION_EXTRA_COLUMNS]
    from cohortbench.store.results_store import ResultsStore

    with ResultsStore.open(tmp_path / "run", create=False) as store:
        assert store.get_info("sites") is None
