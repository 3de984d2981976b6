"""Stores outlive versions: a store written by an earlier cohortbench is read and migrated.

``fixtures/v1_run`` is a run directory written by cohortbench before store schema
versions 2 (its ``results.sqlite`` and ``study.yaml``), with the CSV files that
version exported from it. ``report``/``export``/``status`` must read it without
changing it; ``run`` migrates it in place and resumes it.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

import cohortbench as cb
from cohortbench.store import SCHEMA_VERSION, ResultsStore

from ..conftest import write_tiny_study

FIXTURE = Path(__file__).parent / "fixtures" / "v1_run"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def v1_run(tmp_path) -> Path:
    run_dir = tmp_path / "v1_run"
    run_dir.mkdir()
    for name in ("results.sqlite", "study.yaml"):
        shutil.copy(FIXTURE / name, run_dir / name)
    return run_dir


def schema_version(run_dir: Path) -> int:
    with sqlite3.connect(run_dir / "results.sqlite") as con:
        return int(con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])


def test_the_fixture_is_an_old_store(v1_run):
    assert schema_version(v1_run) == 1 < SCHEMA_VERSION


def test_export_status_and_report_read_an_old_store_without_changing_it(v1_run, tmp_path):
    before = digest(v1_run / "results.sqlite")
    paths = cb.export(v1_run, tmp_path / "csv")
    for name in ("evaluations", "predictions", "nulls", "step_tests"):
        new = pd.read_csv(paths[name])
        old = pd.read_csv(FIXTURE / f"{name}.csv")
        if name == "evaluations":  # columns added since: empty, or derived from the record
            assert new["cohortbench_version"].isna().all()
            assert new["numerically_reliable"].isna().all()
            assert (new["accuracy_ci_low"] <= new["accuracy"]).all()
            assert (new["accuracy"] <= new["accuracy_ci_high"]).all()
            new = new[[c for c in new.columns if c in old.columns]]
        if name == "step_tests":
            assert (new["n_nonzero"] <= new["n_pairs"]).all()
            new = new.drop(columns=["n_nonzero"])
        pd.testing.assert_frame_equal(new, old, check_exact=True)
    state = cb.status(v1_run)
    assert state.complete and state.outside_study == 0
    assert state.stages.set_index("stage")["done"].to_dict() == {"screen": 6, "refine": 16}
    report = cb.report(v1_run)
    assert "Stage refine" in report.read_text(encoding="utf-8")
    assert digest(v1_run / "results.sqlite") == before
    assert schema_version(v1_run) == 1


def test_run_migrates_an_old_store_and_resumes_it(v1_run, tmp_path):
    study = write_tiny_study(tmp_path / "cohort", permutations=2)  # the same data, re-made
    text = study.read_text()
    study.write_text(text.split("  - name: tune")[0])  # the stages the fixture ran
    outcome = cb.run(study, v1_run, jobs=1, build_report=False)
    assert (outcome.computed, outcome.already, outcome.total) == (0, 22, 22)
    assert schema_version(v1_run) == SCHEMA_VERSION
    with ResultsStore.open(v1_run, create=False) as store:
        assert store.get_info("study_fingerprint")["permutations"] == 2
    # the fingerprint taken from the old study.yaml still guards the directory
    study.write_text(study.read_text().replace("permutations: 2", "permutations: 3"))
    with pytest.raises(cb.RunError, match="permutations 2 → 3"):
        cb.run(study, v1_run, jobs=1, build_report=False)


def test_an_old_store_with_another_study_is_refused(v1_run, tmp_path):
    study = write_tiny_study(tmp_path / "cohort", permutations=5)
    with pytest.raises(cb.RunError, match="permutations 2 → 5"):
        cb.run(study, v1_run, jobs=1, build_report=False)
    assert schema_version(v1_run) == 1  # refused before anything was written


def test_a_renamed_stage_reuses_its_evaluations_by_content(tmp_path):
    study = write_tiny_study(tmp_path / "cohort", permutations=0)
    text = study.read_text().split("  - name: tune")[0]
    study.write_text(text)
    first = cb.run(study, tmp_path / "run", jobs=1, build_report=False)
    study.write_text(text.replace("name: refine", "name: grid"))
    second = cb.run(study, tmp_path / "run", jobs=1, build_report=False)
    assert second.computed == 0 and second.reused == 16 and second.already == 6
    state = cb.status(tmp_path / "run")
    assert list(state.stages["stage"]) == ["screen", "grid"]
    assert state.outside_study == 16 and state.complete
    assert first.total == second.total
