"""Lookup tables (FreeSurfer and index/name tables) and the choice of kept labels."""

from __future__ import annotations

import pytest

from cohortbench.errors import DataError
from cohortbench.extract.lut import Region, read_lut, select_labels

from .synthetic_images import FREESURFER_LUT


def test_freesurfer_lut_is_read_with_comments_and_colours(tmp_path):
    path = tmp_path / "FreeSurferColorLUT.txt"
    path.write_text(FREESURFER_LUT)
    lut = read_lut(path)
    assert lut == {0: "Unknown", 1: "Left-Cortex", 2: "Right-Cortex", 5: "Left-Hippocampus",
                   7: "Brain-Stem", 99: "Not-In-Any-Image"}


def test_tsv_lut_with_index_and_name_columns(tmp_path):
    path = tmp_path / "atlas_dseg.tsv"
    path.write_text("index\tname\tcolor\n1\tprecentral\t#ff0000\n2\tpostcentral\t#00ff00\n")
    assert read_lut(path) == {1: "precentral", 2: "postcentral"}


@pytest.mark.parametrize("name, text, words", [
    ("lut.txt", "1 Left\n1 Right\n", ["line 2", "label 1", "already named"]),
    ("lut.txt", "one Left\n", ["line 1", "'one'", "whole number"]),
    ("lut.txt", "17\n", ["line 1", "index name"]),
    ("lut.tsv", "value\tlabel\n1\tx\n", ["index", "name", "value, label"]),
    ("lut.txt", "# only comments\n\n", ["names no label"]),
])
def test_broken_luts_are_refused_naming_the_line(tmp_path, name, text, words):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataError) as info:
        read_lut(path)
    for word in words:
        assert word in str(info.value)


def test_missing_lut_names_the_key(tmp_path):
    with pytest.raises(DataError, match=r"labels\.lut"):
        read_lut(tmp_path / "nope.txt")


LUT = {1: "Left-Cortex", 2: "Right-Cortex", 5: "Left-Hippocampus", 7: "Brain-Stem", 99: "Unused"}


def select(keep, present=frozenset({1, 2, 5, 7}), lut=LUT):
    return select_labels(keep, set(present), lut, lut_path="lut.txt", where_images="the images")


def test_keep_all_takes_the_labels_present_and_named():
    regions, notes = select("all", present={1, 2, 5, 7, 42})
    assert regions == [Region(1, "Left-Cortex"), Region(2, "Right-Cortex"),
                       Region(5, "Left-Hippocampus"), Region(7, "Brain-Stem")]
    assert len(notes) == 1 and "42" in notes[0] and "left out" in notes[0]


def test_keep_by_name_glob_and_value_in_label_order():
    regions, _ = select(["Brain-Stem", "Left-*", 2])
    assert [r.value for r in regions] == [1, 2, 5, 7]


def test_keep_a_glob_keeps_only_labels_some_image_holds():
    regions, _ = select(["*Cortex"], present={1, 5})
    assert [r.value for r in regions] == [1]
    with pytest.raises(DataError, match=r"labels\.keep\[1\]: the 1 label\(s\) matching 'Unus\*'"):
        select(["*Cortex", "Unus*"], present={1, 5})


def test_without_lut_columns_are_named_by_value():
    regions, notes = select("all", lut=None)
    assert [r.name for r in regions] == ["label_1", "label_2", "label_5", "label_7"] and not notes


@pytest.mark.parametrize("keep, words", [
    (["Unused"], ["labels.keep[0]", "label 99 (Unused)", "none of the images"]),
    ([42], ["labels.keep[0]", "label 42", "none of the images"]),
    (["x", "Left-Hipocampus"], ["labels.keep[0]"]),
    (["Brain-Stem", "Left-Hipocampus"], ["labels.keep[1]", "did you mean 'Left-Hippocampus'"]),
    (["Right-*", "Nope-*"], ["labels.keep[1]", "matches no name"]),
])
def test_keep_errors_name_the_entry(keep, words):
    with pytest.raises(DataError) as info:
        select(keep)
    for word in words:
        assert word in str(info.value)


def test_names_need_a_lut_and_duplicate_names_are_refused():
    with pytest.raises(DataError, match="need a lookup table"):
        select(["Brain-Stem"], lut=None)
    with pytest.raises(DataError, match="both named 'Twin'"):
        select("all", lut={1: "Twin", 2: "Twin", 5: "a", 7: "b"})


def test_an_image_without_labels_is_refused():
    with pytest.raises(DataError, match="no label other than the background"):
        select("all", present=set())
