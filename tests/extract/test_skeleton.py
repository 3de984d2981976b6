"""The study.yaml skeleton: its placeholder task, and that it is a valid study file."""

from __future__ import annotations

import pandas as pd
import yaml

from cohortbench.design.study_file import study_from_mapping
from cohortbench.extract.skeleton import placeholder_task, study_skeleton


def table(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame({"participant_id": [f"s{i}" for i in range(n)], **columns})


def test_a_group_like_column_wins_over_other_text_columns():
    t = table(sex=["M", "F", "M", "F"], Diagnosis=["HC", "HC", "PD", "PD"])
    task = placeholder_task(t, "participant_id", "p.tsv")
    assert task.ready and task.name == "Diagnosis"
    assert task.classes == {"HC": {"Diagnosis": "HC"}, "PD": {"Diagnosis": "PD"}}


def test_numeric_group_codes_get_readable_class_names():
    t = table(Dx=["0", "1", "0", "1", None])
    task = placeholder_task(t, "participant_id", "p.tsv")
    assert task.classes == {"Dx_0": {"Dx": "0"}, "Dx_1": {"Dx": "1"}}


def test_columns_that_cannot_make_classes_are_passed_over():
    # age: numeric, not group-like; site: one value; id-like: every value once; grp: a class of 1
    t = table(age=["30", "40", "30", "40"], site=["A"] * 4, code=["a", "b", "c", "d"],
              group=["x", "x", "x", "y"])
    task = placeholder_task(t, "participant_id", "p.tsv")
    assert not task.ready and "fill in the 'group' column of p.tsv" in task.comment
    assert placeholder_task(None, "participant_id", "q.tsv").classes == {
        "control": {"group": "control"}, "patient": {"group": "patient"}}


def skeleton(task, **kwargs) -> str:
    args = dict(name="my: study", source="/x/extract.yaml", maps={"qT1": "maps/qT1.tsv"},
                participants="../participants.tsv", id_column="participant_id", task=task,
                n_missing=0, empty_rois=[])
    args.update(kwargs)
    return study_skeleton(**args)


def test_the_skeleton_is_a_valid_study_file_even_with_odd_names(tmp_path):
    odd = table(group=["yes", "no", "yes", "no"])  # YAML would read bare yes/no as booleans
    task = placeholder_task(odd, "participant_id", "p.tsv")
    text = skeleton(task, maps={"qT1": "maps/qT1.tsv", "1e3": "maps/1e3.tsv"},
                    empty_rois=["Left-Lesion", "{odd}"], n_missing=3)
    doc = yaml.safe_load(text)
    study = study_from_mapping(doc, base_dir=tmp_path, source="study.yaml")
    assert study.name == "my: study"
    assert study.tasks["group"].classes == {"yes": {"group": "yes"}, "no": {"group": "no"}}
    assert study.data.maps == {"qT1": tmp_path / "maps/qT1.tsv", "1e3": tmp_path / "maps/1e3.tsv"}
    assert study.data.exclude == ["Left-Lesion", "{odd}"] and study.data.missing == "drop-subjects"
    assert "# EDIT before a real run:" in text


def test_without_missing_values_the_policy_stays_error(tmp_path):
    task = placeholder_task(None, "participant_id", "participants.tsv")
    doc = yaml.safe_load(skeleton(task))
    assert doc["data"]["missing"] == "error" and "exclude" not in doc["data"]
