"""Shared fixtures: a tiny on-disk study built from the synthetic cohort."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_STUDY = """\
name: tiny
seed: 3
data:
  maps: {{qT1: maps/qT1.tsv, FA: maps/FA.tsv, TSC: maps/TSC.tsv}}
  participants: participants.tsv
  modalities: {{qT1: [qT1], DTI: [FA], Na: [TSC]}}
  parcellations: {{GM: rois_gm.txt}}
labels:
  slope: {{expression: "(48 - alsfrs_r) / disease_months"}}
  progression: {{from: slope, split: median, classes: [slow, fast], among: {{group: ALS}}}}
tasks:
  2-class: {{classes: {{HC: {{group: HC}}, ALS: {{group: ALS}}}}}}
  3-class: {{classes: {{HC: {{group: HC}}, slow: {{progression: slow}}, fast: {{progression: fast}}}}}}
cv: {{outer: loo, inner: "stratified-kfold:3"}}
permutations: {permutations}
stages:
  - name: screen
    classifiers: [MLR_L2, SVM_LIN, KNN]
    pipeline: {{row_scaling: standard, column_scaling: standard}}
    shortlist: {{keep: [SVM_LIN, KNN]}}
  - name: refine
    classifiers: shortlist
    grid:
      row_scaling: [none, standard]
      column_scaling: [standard]
      feature_selection: [none, kbest]
      n_features: [5]
      dim_reduction: [none]
  - name: tune
    classifiers: [SVM_LIN]
    pipeline: best
    search: [grid]
    tasks: [2-class]
  - name: enrich
    classifiers: [SVM_LIN]
    pipeline: {{row_scaling: standard, column_scaling: standard}}
    modalities: [[qT1, DTI], [qT1]]
    parcellations: [GM, all]
    tasks: [2-class]
"""


def write_tiny_study(directory: Path, permutations: int = 2, stages: str | None = None) -> Path:
    """A small synthetic cohort (16 subjects x 3 maps x 12 ROIs) and a 4-stage study.

    ``stages``: YAML list items that replace the study's four stages.
    """
    from cohortbench.data.synthetic import write_synthetic_cohort

    directory.mkdir(parents=True, exist_ok=True)
    write_synthetic_cohort(directory, seed=1, n_controls=6, n_slow=5, n_fast=5, n_rois=12, n_gm=6)
    path = directory / "tiny.yaml"
    text = TINY_STUDY.format(permutations=permutations)
    if stages is not None:
        text = text[: text.index("  - name: screen")] + stages
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def tiny_study(tmp_path) -> Path:
    return write_tiny_study(tmp_path / "cohort")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One finished run of the tiny study (shared by read-only tests)."""
    import cohortbench as cb

    base = tmp_path_factory.mktemp("tiny_run")
    study = write_tiny_study(base / "cohort")
    run_dir = base / "run"
    cb.run(study, run_dir, jobs=1, build_report=False, engine="reference")
    return study, run_dir
