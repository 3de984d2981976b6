"""The command line: exit codes, one-line errors, init/validate/run/status/export/report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "cohortbench.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


def test_init_then_validate_prints_a_cohort_summary(tmp_path):
    r = cli("init", tmp_path / "s")
    assert r.returncode == 0, r.stderr
    study = tmp_path / "s" / "study.yaml"
    assert study.exists() and (tmp_path / "s" / "participants.tsv").exists()
    r = cli("validate", study)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "30 subjects" in out
    assert "qT1: 332 ROIs" in out
    assert "task 3-class: HC 14, slow 8, fast 8" in out
    assert "task SvF: slow 8, fast 8" in out
    assert "ok: the study is ready to run" in out


def test_init_refuses_a_non_empty_directory(tmp_path):
    (tmp_path / "x.txt").write_text("mine")
    r = cli("init", tmp_path)
    assert r.returncode == 2
    assert "not empty" in r.stderr
    assert "Traceback" not in r.stderr


def test_validate_the_real_example():
    r = cli("validate", ROOT / "examples" / "enigma_epilepsy" / "study.yaml")
    assert r.returncode == 0, r.stderr
    assert "20 subjects" in r.stdout
    assert "control 10, patient 10" in r.stdout


@pytest.mark.parametrize("mutation, words", [
    (lambda t: t.replace("pipeline: {row_scaling: standard, column_scaling: standard}\n    shortlist",
                         "pipline: {row_scaling: standard}\n    shortlist"), ["stages[0]", "pipeline"]),
    (lambda t: t.replace("classifiers: [MLR_L2, SVM_LIN, KNN]", "classifiers: [MLR_L2, SVM_LINN]"),
     ["SVM_LINN", "SVM_LIN"]),
    (lambda t: t.replace("maps/FA.tsv", "maps/nope.tsv"), ["nope.tsv"]),
    (lambda t: t.replace("[qT1, DTI], [qT1]", "[qT1, DTX], [qT1]"), ["DTX"]),
])
def test_broken_study_gives_one_line_and_exit_2(tiny_study, mutation, words):
    tiny_study.write_text(mutation(tiny_study.read_text()))
    r = cli("validate", tiny_study)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in lines[0]


def test_run_status_export_report(tiny_run, tmp_path):
    import shutil

    study, finished = tiny_run
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    r = cli("run", study, "--out", run_dir, "--jobs", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "0 computed" in r.stdout  # a finished study is not recomputed
    assert (run_dir / "results.sqlite").exists() and (run_dir / "study.yaml").exists()
    assert (run_dir / "report.html").exists()
    r = cli("status", run_dir)
    assert r.returncode == 0 and "screen" in r.stdout and "enrich" in r.stdout
    r = cli("export", run_dir, "--out", tmp_path / "csv")
    assert r.returncode == 0, r.stderr
    for name in ("evaluations", "predictions", "nulls", "step_tests"):
        assert (tmp_path / "csv" / f"{name}.csv").exists()
    assert len(pd.read_csv(tmp_path / "csv" / "evaluations.csv")) == 27
    (run_dir / "report.html").unlink()
    r = cli("report", run_dir)
    assert r.returncode == 0, r.stderr
    assert (run_dir / "report.html").exists()


def test_status_on_a_directory_without_results_is_a_clear_error(tmp_path):
    r = cli("status", tmp_path)
    assert r.returncode == 2
    assert "results.sqlite" in r.stderr and "Traceback" not in r.stderr


def test_demo_refuses_quick_and_full_together_before_writing_anything(tmp_path):
    r = cli("demo", "--quick", "--full", "--out", tmp_path / "d")
    assert r.returncode == 2
    assert r.stderr.strip() == "error: choose either --quick or --full for the demo, not both"
    assert not (tmp_path / "d").exists()


def test_the_full_demo_runs_the_published_study_unchanged(tmp_path):
    from cohortbench import api
    from cohortbench.data.synthetic import write_synthetic_cohort

    write_synthetic_cohort(tmp_path)
    study = tmp_path / "study.yaml"
    assert api.demo_study_file(study, full=True) == (study, [])
    reduced, notes = api.demo_study_file(study)
    assert reduced != study and any("label shuffles" in n for n in notes)
