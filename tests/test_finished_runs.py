"""No crash after the work is done, and nothing decided silently (issue 15, items 4 and 5).

Through the installed console script: every stage kind (screen, refine, tune, enrich)
with ``permutations: 0`` and ``1`` runs, reports and exports; a report that fails to
build never hides finished results; what the missing-value policy filled or dropped
is said in the CLI, the report's Warnings and its Cohort section.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from .conftest import write_tiny_study

COHORTBENCH = str(Path(sys.executable).with_name("cohortbench"))


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([COHORTBENCH, *map(str, args)], capture_output=True, text=True,
                          timeout=900)


@pytest.mark.parametrize("permutations", [0, 1])
def test_few_or_no_shuffles_run_report_and_export_every_stage_kind(tmp_path, permutations):
    study = write_tiny_study(tmp_path / "cohort", permutations=permutations)
    run_dir = tmp_path / "run"
    r = cli("run", study, "--out", run_dir, "--jobs", "1", "--quiet")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and (run_dir / "report.html").exists()
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    for stage in ("screen", "refine", "tune", "enrich"):
        assert f"Stage {stage}" in html
    r = cli("export", run_dir, "--out", run_dir / "csv")
    assert r.returncode == 0, r.stderr
    evaluations = pd.read_csv(run_dir / "csv" / "evaluations.csv")
    assert len(evaluations) == 27
    assert evaluations["z_score"].isna().all()  # no std with at most one shuffle
    nulls = pd.read_csv(run_dir / "csv" / "nulls.csv")
    assert len(nulls) == 27 * permutations
    assert cli("report", run_dir).returncode == 0


def test_a_report_that_fails_does_not_hide_the_results(tmp_path, monkeypatch, capsys):
    from cohortbench import cli as cli_module
    from cohortbench.report import html_report

    study = write_tiny_study(tmp_path / "cohort", permutations=0)
    study.write_text(study.read_text().split("  - name: refine")[0])

    def broken(*args, **kwargs):
        raise KeyError("a report bug")

    monkeypatch.setattr(html_report, "build_report", broken)
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main(["run", str(study), "--out", str(tmp_path / "run"), "--jobs", "1",
                         "--quiet"])
    captured = capsys.readouterr()
    assert exit_info.value.code == 1
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "the report could not be built" in lines[0]
    assert "export" in lines[0] and "Traceback" not in captured.err
    assert "6 evaluations: 6 computed" in captured.out
    assert "KeyError" in (tmp_path / "run" / "report-error.txt").read_text()
    monkeypatch.undo()
    r = cli("export", tmp_path / "run", "--out", tmp_path / "csv")
    assert r.returncode == 0 and len(pd.read_csv(tmp_path / "csv" / "evaluations.csv")) == 6
    assert cli("report", tmp_path / "run").returncode == 0
    assert not (tmp_path / "run" / "report-error.txt").exists()


def _blank_first_subject(table: Path) -> str:
    frame = pd.read_csv(table, sep="\t", dtype=str)
    frame.iloc[0, 1:] = "n/a"
    frame.to_csv(table, sep="\t", index=False)
    return frame.iloc[0, 0]


def test_imputed_whole_maps_are_said_in_the_cli_and_the_report(tmp_path):
    study = write_tiny_study(tmp_path / "cohort", permutations=0)
    subject = _blank_first_subject(study.parent / "maps" / "TSC.tsv")
    text = study.read_text().split("  - name: refine")[0]
    study.write_text(text.replace("  participants: participants.tsv",
                                  "  participants: participants.tsv\n  missing: impute-mean"))
    r = cli("validate", study)
    assert r.returncode == 0, r.stderr
    said = " ".join(r.stdout.split())
    assert f"fills the whole map 'TSC' for 1 of 16 subject(s) ({subject})" in said
    r = cli("run", study, "--out", tmp_path / "run", "--jobs", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "fills the whole map 'TSC'" in " ".join(r.stdout.split())
    html = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    warnings = html.split('id="warnings"')[1].split("</section>")[0]
    assert "fills the whole map" in warnings and subject in warnings
    cohort = html.split('id="cohort"')[1].split("</section>")[0]
    assert "Subjects missing the whole map" in cohort and subject in cohort


def test_subjects_dropped_from_an_analysis_are_listed_in_the_report(tmp_path):
    study = write_tiny_study(tmp_path / "cohort", permutations=0)
    subject = _blank_first_subject(study.parent / "maps" / "TSC.tsv")
    text = study.read_text().split("  - name: tune")[0]
    study.write_text(text.replace("  participants: participants.tsv",
                                  "  participants: participants.tsv\n  missing: drop-subjects"))
    r = cli("run", study, "--out", tmp_path / "run", "--jobs", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    html = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    excluded = html.split('id="excluded"')[1].split("</section>")[0]
    assert subject in excluded and "qT1+DTI+Na/all" in excluded and "TSC" in excluded
    assert "None" not in excluded
