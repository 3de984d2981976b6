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
    # the time estimate (a minute of timed fits on the full template) is tested on its own
    r = cli("validate", study, "--no-estimate")
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


# --------------------------------------------------------------------------- the CLI framework
COHORTBENCH = str(Path(sys.executable).with_name("cohortbench"))


def console(*args, **kwargs) -> subprocess.CompletedProcess:
    """The installed console script, as a user runs it."""
    return subprocess.run([COHORTBENCH, *map(str, args)], capture_output=True, text=True,
                          timeout=300, **kwargs)


def test_version():
    import importlib.metadata as md

    r = console("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"cohortbench {md.version('cohortbench')}"


def test_a_bare_command_lists_the_commands():
    r = console()
    assert r.returncode == 0 and not r.stderr
    for command in ("init", "validate", "run", "status", "export", "report", "demo", "compare"):
        assert command in r.stdout


@pytest.mark.parametrize("args, words", [
    (["frobnicate"], ["no such command 'frobnicate'", "cohortbench --help"]),
    (["run"], ["missing argument", "study", "cohortbench run --help"]),
    (["run", "x.yaml", "--jobz", "2"], ["no such option", "--jobz"]),
    (["run", "x.yaml", "--jobs", "many"], ["invalid value for '--jobs'", "integer"]),
    (["run", "x.yaml", "--jobs", "0"], ["--jobs", "1 or more", "(got 0)"]),
    (["run", "x.yaml", "--jobs", "-3"], ["--jobs", "1 or more", "(got -3)"]),
    (["demo", "--jobs", "0"], ["--jobs", "1 or more"]),
])
def test_usage_errors_are_one_line_and_exit_2(tmp_path, args, words):
    r = console(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "unexpected error" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert not any(tmp_path.iterdir())  # nothing written (no demo directory either)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_says_how_to_resume_and_exits_130(tmp_path, jobs):
    import signal
    import sqlite3
    import time

    from .conftest import write_tiny_study

    study = write_tiny_study(tmp_path / "cohort", permutations=30)
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([COHORTBENCH, "run", str(study), "--out", str(run_dir), "--jobs",
                             jobs, "--quiet", "--engine", "reference"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(run_dir / "results.sqlite") as con:
                if con.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0] >= 1:
                    break
        except sqlite3.Error:
            pass
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "interrupted; run the same command again to resume"
    assert len(err.strip().splitlines()) == 1, err


def test_an_empty_shortlist_stops_after_the_screen_with_the_fixes(tmp_path):
    from .conftest import write_tiny_study

    study = write_tiny_study(tmp_path / "cohort", permutations=0)
    text = study.read_text().replace("shortlist: {keep: [SVM_LIN, KNN]}",
                                     "shortlist: {min_accuracy: 0.99}")
    study.write_text(text)
    run_dir = tmp_path / "run"
    r = console("run", study, "--out", run_dir, "--jobs", "1", "--quiet")
    assert r.returncode == 2, r.stdout + r.stderr
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    for words in ("stage 'screen' shortlisted no classifier", "refine", "MLR_L2", "SVM_LIN",
                  "KNN", "shortlist: {keep: [", "min_accuracy", "finished evaluations are kept"):
        assert words in line, line
    assert "pipeline: best" not in line
    # the fix the message names resumes the run, reusing the screen
    study.write_text(text.replace("shortlist: {min_accuracy: 0.99}", "shortlist: {min_accuracy: 0.5}"))
    r = console("run", study, "--out", run_dir, "--jobs", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "6 already done" in r.stdout
