"""The demo study: the published one, reduced, with every reduction said in words."""

from __future__ import annotations

import yaml

from cohortbench.data.synthetic import write_synthetic_cohort
from cohortbench.design.demo_study import reduce_study
from cohortbench.design.study_file import load_study_file, study_from_mapping


def test_reductions_are_listed_and_the_reduced_study_is_valid(tmp_path):
    study_path = write_synthetic_cohort(tmp_path)
    published = load_study_file(study_path)
    assert published.permutations == 50
    assert [s.name for s in published.stages] == ["screen", "refine", "tune", "enrich", "learn"]
    assert published.stages[1].grid.size() == 297
    doc = yaml.safe_load(study_path.read_text())
    for quick in (False, True):
        reduced, notes = reduce_study(doc, quick=quick)
        study = study_from_mapping(reduced, base_dir=tmp_path)
        assert any("label shuffles" in n and str(study.permutations) in n for n in notes)
        grid = study.stages[1].grid
        assert any(f"{grid.size()} pipeline configurations instead of 297" in n for n in notes)
        assert any("rfe" in n for n in notes) == ("rfe" not in grid.feature_selection)
        learn = study.stages[4]
        assert learn.kind == "learn" and learn.tasks == ["2-class"]
        assert learn.options["repeats"] == (2 if quick else 4)
        assert any(n.startswith("learn: task 2-class only") and
                   f"{learn.options['repeats']} subsamples per size instead of 20" in n
                   for n in notes)
    assert doc["permutations"] == 50  # the input is not modified
