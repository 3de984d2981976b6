"""A run directory holds one study (issue 15, item 1), through the installed console script.

The user's path: run a study, edit it, run it again with the same ``--out``. A change
that alters results already computed (seed, CV, shuffles, data, tasks) is refused
before anything is computed; ``--replace`` moves the old results aside; a change of
stages resumes, and ``status``/``report``/``export`` show the study as it now stands.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from .conftest import write_tiny_study

#: The console script pip installed next to this interpreter.
COHORTBENCH = str(Path(sys.executable).with_name("cohortbench"))

SMALL = """\
  - name: screen
    classifiers: [SVM_LIN, KNN]
    pipeline: {row_scaling: standard, column_scaling: standard}
  - name: refine
    classifiers: [KNN]
    grid:
      row_scaling: [none, standard]
      column_scaling: [standard]
      feature_selection: [none, kbest]
      n_features: [5]
      dim_reduction: [none]
"""


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([COHORTBENCH, *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def small_study(directory: Path, permutations: int = 2) -> Path:
    """The tiny cohort with a two-stage study (2 + 4 configurations on 2 tasks)."""
    return write_tiny_study(directory, permutations=permutations, stages=SMALL)


def one_error_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def store_rows(run_dir: Path) -> list[tuple]:
    with sqlite3.connect(run_dir / "results.sqlite") as con:
        return con.execute("SELECT evaluation_key, accuracy FROM evaluations "
                           "ORDER BY evaluation_key").fetchall()


@pytest.fixture
def finished(tmp_path):
    study = small_study(tmp_path / "cohort")
    run_dir = tmp_path / "run"
    r = cli("run", study, "--out", run_dir, "--jobs", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "12 evaluations: 10 computed, 2 reused" in r.stdout  # refine repeats 2 screen rows
    return study, run_dir


@pytest.mark.parametrize("edit, words", [
    (lambda t: t.replace("permutations: 2", "permutations: 4"), ["permutations 2 → 4"]),
    (lambda t: t.replace("seed: 3", "seed: 4"), ["seed 3 → 4"]),
    (lambda t: t.replace('inner: "stratified-kfold:3"', 'inner: "stratified-kfold:2"'),
     ["cv.inner stratified-kfold:3 → stratified-kfold:2"]),
    (lambda t: t.replace("  participants: participants.tsv",
                         "  participants: participants.tsv\n  exclude: [WM_uncinate_L]"),
     ["data.exclude changed"]),
    (lambda t: t.replace("ALS: {group: ALS}", "ALS: {group: ALS, sex: F}"),
     ["task '2-class'", "changed"]),
])
def test_a_changed_study_is_refused_before_anything_is_computed(finished, edit, words):
    study, run_dir = finished
    before = store_rows(run_dir)
    study.write_text(edit(study.read_text()))
    line = one_error_line(cli("run", study, "--out", run_dir, "--jobs", "1", "--quiet"))
    for word in [*words, "different study", "new --out", "--replace"]:
        assert word in line, line
    assert store_rows(run_dir) == before


def test_a_changed_data_file_is_named(finished):
    study, run_dir = finished
    table = study.parent / "maps" / "FA.tsv"
    frame = pd.read_csv(table, sep="\t")
    frame.iloc[0, 1] += 1.0
    frame.to_csv(table, sep="\t", index=False)
    line = one_error_line(cli("run", study, "--out", run_dir, "--jobs", "1", "--quiet"))
    assert "maps/FA.tsv" in line and "map FA" in line and "changed" in line


def test_replace_moves_the_old_results_aside_and_starts_afresh(finished):
    study, run_dir = finished
    before = store_rows(run_dir)
    study.write_text(study.read_text().replace("permutations: 2", "permutations: 3"))
    r = cli("run", study, "--out", run_dir, "--jobs", "1", "--quiet", "--replace")
    assert r.returncode == 0, r.stderr
    assert "moved the previous results" in r.stdout and "10 computed" in r.stdout
    aside = list((run_dir / "replaced").iterdir())
    assert len(aside) == 1 and store_rows(aside[0]) == before  # kept, never deleted
    nulls = pd.read_csv(Path(cli("export", run_dir, "--out", run_dir / "csv").stdout
                             .split("nulls: ")[1].split()[0]))
    assert nulls.groupby("evaluation_id").size().eq(3).all()


def test_a_changed_stage_resumes_and_reports_the_study_as_it_now_stands(finished):
    study, run_dir = finished
    # refine loses kbest: 2 of its 4 configurations go, on both tasks
    study.write_text(study.read_text().replace("feature_selection: [none, kbest]\n      "
                                               "n_features: [5]\n", "feature_selection: [none]\n"))
    r = cli("run", study, "--out", run_dir, "--jobs", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "8 evaluations: 0 computed, 8 already done by an earlier run (resumed)" in r.stdout
    assert "resuming" in r.stdout
    r = cli("status", run_dir)
    assert r.returncode == 0, r.stderr
    assert "4 evaluation(s) in the store belong to stages the study no longer has" in r.stdout
    assert "the run is complete" in r.stdout
    r = cli("export", run_dir, "--out", run_dir / "csv")
    assert r.returncode == 0, r.stderr
    evaluations = pd.read_csv(run_dir / "csv" / "evaluations.csv")
    assert len(evaluations) == 8 and set(evaluations["feature_selection"]) == {"none"}
    assert sorted(p.name for p in (run_dir / "csv").iterdir()) == [
        "evaluations.csv", "nulls.csv", "predictions.csv", "step_tests.csv"]
    assert (run_dir / "report.html").read_text().count("kbest") == 0
    # adding the option back finds the evaluations kept in the store: nothing recomputed
    study.write_text(study.read_text().replace("feature_selection: [none]\n",
                                               "feature_selection: [none, kbest]\n      "
                                               "n_features: [5]\n"))
    r = cli("run", study, "--out", run_dir, "--jobs", "1", "--quiet")
    assert "12 evaluations: 0 computed, 12 already done" in r.stdout, r.stdout
    assert "belong to stages" not in cli("status", run_dir).stdout


def test_another_package_version_warns_and_each_evaluation_says_its_version(finished):
    study, run_dir = finished
    with sqlite3.connect(run_dir / "results.sqlite") as con:
        con.execute("UPDATE run_info SET value_json = '\"0.0.1\"' "
                    "WHERE key = 'cohortbench_version'")
        con.execute("UPDATE evaluations SET cohortbench_version = '0.0.1'")
    study.write_text(study.read_text().replace("classifiers: [SVM_LIN, KNN]",
                                               "classifiers: [SVM_LIN, KNN, MLR_L2]"))
    r = cli("run", study, "--out", run_dir, "--jobs", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "started with cohortbench 0.0.1" in r.stdout
    cli("export", run_dir, "--out", run_dir / "csv")
    versions = pd.read_csv(run_dir / "csv" / "evaluations.csv").groupby("classifier")[
        "cohortbench_version"].agg(set)
    assert versions["KNN"] == {"0.0.1"}
    assert versions["MLR_L2"] == {cli("--version").stdout.split()[-1]}


def test_closing_counts_add_up_across_a_resumed_run(tmp_path):
    import cohortbench as cb

    study = small_study(tmp_path / "cohort")
    text = study.read_text()
    study.write_text(text[: text.index("  - name: refine")])  # screen only: 4 evaluations
    first = cb.run(study, tmp_path / "run", jobs=1, build_report=False)
    study.write_text(text)
    second = cb.run(study, tmp_path / "run", jobs=1, build_report=False)
    assert (first.computed, first.total) == (4, 4)
    assert second.total == second.computed + second.already + second.reused + second.failed == 12
    assert second.already == 4
