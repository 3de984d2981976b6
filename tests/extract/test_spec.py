"""The extraction file: defaults, paths, and one-sentence key-path errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from cohortbench.errors import StudyError
from cohortbench.extract.spec import load_extraction_file

GOOD = """\
subjects: {participants: participants.tsv}
maps:
  qT1: derivatives/{subject}/anat/{subject}_T1map.nii.gz
labels:
  image: atlas/labels.nii.gz
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "extract.yaml"
    path.write_text(text)
    return path


def test_defaults_and_paths_relative_to_the_file(tmp_path):
    spec = load_extraction_file(write(tmp_path, GOOD))
    assert spec.name == "extract"
    assert spec.participants == tmp_path / "participants.tsv"
    assert spec.maps == (("qT1", f"{tmp_path}/derivatives/{{subject}}/anat/{{subject}}_T1map.nii.gz"),)
    assert spec.label_image == f"{tmp_path}/atlas/labels.nii.gz" and not spec.per_subject_labels
    assert (spec.statistic, spec.valid_voxels, spec.min_voxels, spec.keep, spec.resample) == \
        ("mean", "finite", 10, "all", False)


def test_per_subject_labels_and_keep_list(tmp_path):
    text = GOOD.replace("atlas/labels.nii.gz", "'{subject}/aparc+aseg.mgz'") + \
        "  keep: [Left-Hippocampus, 'ctx-lh-*', 17]\n  resample: true\nstatistic: median\n"
    spec = load_extraction_file(write(tmp_path, text))
    assert spec.per_subject_labels and spec.resample and spec.statistic == "median"
    assert spec.keep == ("Left-Hippocampus", "ctx-lh-*", 17)


@pytest.mark.parametrize("change, words", [
    (lambda t: t + "statistc: mean\n", ["statistc", "did you mean 'statistic'"]),
    (lambda t: t + "statistic: mode\n", ["statistic", "mean, median", "'mode'"]),
    (lambda t: t + "min_voxels: 0\n", ["min_voxels", "at least 1"]),
    (lambda t: t + "valid_voxels: positive\n", ["valid_voxels", "finite, nonzero"]),
    (lambda t: t + "lut: x.txt\n", ["lut", "belongs under labels"]),
    (lambda t: t.replace("{subject}_T1map", "{subj}_T1map"), ["maps.qT1", "{subj}", "{subject}"]),
    (lambda t: t.replace("derivatives/{subject}/anat/{subject}_T1map", "T1map"),
     ["maps.qT1", "needs {subject}"]),
    (lambda t: t.replace("qT1:", "'q T1':"), ["maps.q T1", "file name"]),
    (lambda t: t.replace("maps:\n  qT1: derivatives/{subject}/anat/{subject}_T1map.nii.gz\n", "maps: {}\n"),
     ["maps", "must not be empty"]),
    (lambda t: t.replace("{participants: participants.tsv}", "{}"), ["subjects", "participants", "folders"]),
    (lambda t: t.replace("{participants: participants.tsv}", "{participants: p.tsv, folders: 'sub-*'}"),
     ["subjects.folders", "not both"]),
    (lambda t: t.replace("{participants: participants.tsv}", "{folders: 'sub-*', id_column: id}"),
     ["subjects.id_column", "only used with participants"]),
    (lambda t: t + "  keep: [0]\n", ["labels.keep[0]", "background"]),
    (lambda t: t + "  keep: [Left, Left]\n", ["labels.keep[1]", "listed twice"]),
    (lambda t: t + "  keep: some\n", ["labels.keep", "all or a non-empty list"]),
    (lambda t: t + "  resample: yes please\n", ["labels.resample", "true or false"]),
    (lambda t: t.replace("  image: atlas/labels.nii.gz\n", "  lut: lut.txt\n"), ["labels.image", "required"]),
    (lambda t: t.replace("atlas/labels.nii.gz", "{subject}/aparc+aseg.mgz"), ["line 5", "in quotes"]),
    (lambda t: t.replace("derivatives/{subject}/anat/{subject}_T1map.nii.gz", "{subject}"),
     ["maps.qT1", "in quotes"]),
])
def test_key_errors_are_one_sentence_with_the_key_path(tmp_path, change, words):
    path = write(tmp_path, change(GOOD))
    with pytest.raises(StudyError) as info:
        load_extraction_file(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("text, words", [
    ("", ["empty"]),
    ("maps: [a\n", ["not valid YAML", "line"]),
    ("- a\n- b\n", ["mapping of keys"]),
])
def test_empty_broken_or_non_mapping_files(tmp_path, text, words):
    with pytest.raises(StudyError) as info:
        load_extraction_file(write(tmp_path, text))
    for word in words:
        assert word in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(StudyError, match="not found"):
        load_extraction_file(tmp_path / "nope.yaml")
