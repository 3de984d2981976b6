"""The ``importance`` stage end to end through the default engine: run, exports, results,
report; the fast engine computes its model records itself (issue 20)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import cohortbench as cb

from .conftest import write_tiny_study

STAGES = """\
  - name: refine
    classifiers: [MLR_L2]
    grid: {row_scaling: [none, standard], column_scaling: [standard]}
  - name: importance
    kind: importance
    options: {of: [refine]}
    tasks: [2-class]
"""


def importance_study(directory: Path) -> Path:
    return write_tiny_study(directory, permutations=3, stages=STAGES)


@pytest.fixture(scope="module")
def importance_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("importance")
    outcome = cb.run(importance_study(base / "cohort"), base / "run", jobs=1)
    assert outcome.failed == 0 and outcome.report_error is None, outcome
    return base / "run", outcome, cb.export(base / "run", base / "csv"), cb.results(base / "run")


def test_the_exports_and_results_hold_the_map_contributions_and_region_importance(importance_run):
    run_dir, _, paths, frames = importance_run
    assert {"map_contributions", "importance"} <= set(paths) <= set(frames)
    contributions = pd.read_csv(paths["map_contributions"])
    regions = pd.read_csv(paths["importance"])
    assert len(contributions) > 0 and len(regions) > 0
    pd.testing.assert_frame_equal(contributions, frames["map_contributions"].reset_index(drop=True),
                                  check_dtype=False)
    # every feature of the examined view, once per decision function, with a family-wise p
    assert regions["p_familywise"].notna().any()
    evaluations = frames["evaluations"]
    stage = evaluations[evaluations["stage"] == "importance"]
    assert len(stage) > 1 and set(stage["task"]) == {"2-class"}


def test_the_fast_engine_computes_every_evaluation_of_the_stage(importance_run):
    run_dir, outcome, _, frames = importance_run
    evaluations = frames["evaluations"]
    assert set(evaluations["engine"]) == {"fast"}
    assert not any("reference engine" in note for note in outcome.notes)
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "Stage importance" in html and "The 15 regions with the largest activation" in html


def test_importance_evaluations_stay_out_of_the_comparisons(importance_run):
    _, _, _, frames = importance_run
    assert "importance" not in set(frames["step_tests"]["stage"])


def test_the_importance_tables_are_identical_with_two_workers(importance_run, tmp_path):
    _, _, paths, _ = importance_run
    study = importance_study(tmp_path / "cohort")
    cb.run(study, tmp_path / "two", jobs=2, build_report=False)
    again = cb.export(tmp_path / "two", tmp_path / "csv")
    for name in ("importance", "map_contributions"):
        pd.testing.assert_frame_equal(pd.read_csv(again[name]), pd.read_csv(paths[name]))
