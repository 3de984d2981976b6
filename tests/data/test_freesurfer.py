"""FreeSurfer stats tables as they are (issue 15, item 3), and ID matching across tables."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortbench.data.freesurfer import SUMMARY_COLUMNS, is_freesurfer_table, summary_columns
from cohortbench.data.ids import id_key, keyed_ids, mismatch_hint
from cohortbench.data.loading import MapFile, load_cohort
from cohortbench.errors import DataError

COHORTBENCH = str(Path(sys.executable).with_name("cohortbench"))
SUBJECTS = [f"sub-{i:03d}" for i in range(1, 9)]
APARC_REGIONS = ["lh_bankssts_thickness", "lh_caudalanteriorcingulate_thickness",
                 "lh_insula_thickness"]
APARC_SUMMARY = ["lh_MeanThickness_thickness", "BrainSegVolNotVent", "eTIV"]
ASEG_REGIONS = ["Left-Thalamus", "Left-Hippocampus", "Right-Hippocampus"]
ASEG_SUMMARY = ["BrainSegVol", "lhCortexVol", "CortexVol", "SubCortGrayVol", "TotalGrayVol",
                "SupraTentorialVol", "EstimatedTotalIntraCranialVol"]


def fs_table(first_header: str, columns: list[str], ids=SUBJECTS, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.uniform(1.0, 4.0, size=(len(ids), len(columns)))
    frame = pd.DataFrame(values, columns=columns)
    frame.insert(0, first_header, ids)
    return frame


@pytest.fixture
def fs_study(tmp_path) -> Path:
    """An aparcstats2table and an asegstats2table output, and a participants.tsv."""
    fs_table("lh.aparc.thickness", APARC_REGIONS + APARC_SUMMARY).to_csv(
        tmp_path / "lh.aparc.thickness.txt", sep="\t", index=False)
    fs_table("Measure:volume", ASEG_REGIONS + ASEG_SUMMARY, seed=1).to_csv(
        tmp_path / "aseg.volume.txt", sep="\t", index=False)
    pd.DataFrame({"participant_id": SUBJECTS, "group": ["HC", "ALS"] * 4}).to_csv(
        tmp_path / "participants.tsv", sep="\t", index=False)
    study = tmp_path / "study.yaml"
    study.write_text("""\
name: fs
data:
  maps: {thickness: lh.aparc.thickness.txt, volume: aseg.volume.txt}
  participants: participants.tsv
  id_column: participant_id
tasks:
  dx: {classes: {HC: {group: HC}, ALS: {group: ALS}}}
cv: {outer: "stratified-kfold:2"}
permutations: 0
stages:
  - name: screen
    classifiers: [KNN]
""")
    return study


def test_recognised_by_their_first_header():
    for header in ("lh.aparc.thickness", "rh.aparc.a2009s.area", "lh.BA_exvivo.volume",
                   "Measure:volume", "Measure:mean"):
        assert is_freesurfer_table([header, "x"]), header
    for header in ("participant_id", "SubjID", "lh_thickness", "Measure", "sub.001"):
        assert not is_freesurfer_table([header, "x"]), header


def test_summary_columns_and_keeping_some():
    columns = APARC_REGIONS + APARC_SUMMARY
    assert summary_columns(columns) == APARC_SUMMARY
    assert summary_columns(columns, keep=["eTIV", "*MeanThickness*"]) == ["BrainSegVolNotVent"]
    assert set(summary_columns(ASEG_REGIONS + ASEG_SUMMARY)) == set(ASEG_SUMMARY)
    assert not summary_columns(ASEG_REGIONS + APARC_REGIONS)
    assert len(SUMMARY_COLUMNS) == len(set(SUMMARY_COLUMNS))


def test_validate_leaves_summary_columns_out_and_says_how_to_keep_them(fs_study):
    r = subprocess.run([COHORTBENCH, "validate", fs_study], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    out = " ".join(r.stdout.split())
    assert "thickness: 3 ROIs" in out and "volume: 3 ROIs" in out
    for column in APARC_SUMMARY + ASEG_SUMMARY:
        assert column in out
    assert out.count("keep_summary_columns") == 2


def test_ids_come_from_the_first_column_whatever_id_column_says(fs_study):
    from cohortbench.design.loaded_study import load_study

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        study = load_study(fs_study)
    assert list(study.cohort.maps["thickness"].columns) == APARC_REGIONS
    assert list(study.cohort.maps["volume"].columns) == ASEG_REGIONS
    assert list(study.cohort.maps["thickness"].index) == SUBJECTS
    fs_study.write_text(fs_study.read_text().replace(
        "  id_column: participant_id\n",
        "  id_column: participant_id\n  keep_summary_columns: [eTIV]\n"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        kept = load_study(fs_study)
    assert list(kept.cohort.maps["thickness"].columns) == APARC_REGIONS + ["eTIV"]


def test_a_map_may_name_its_own_id_column(tmp_path):
    table = fs_table("Subject", ["a", "b"])
    table.insert(0, "scan_date", "2026-01-01")  # the ID is not the first column here
    table.to_csv(tmp_path / "m.tsv", sep="\t", index=False)
    pd.DataFrame({"participant_id": SUBJECTS, "g": [0, 1] * 4}).to_csv(
        tmp_path / "p.tsv", sep="\t", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cohort = load_cohort(maps={"m": MapFile(tmp_path / "m.tsv", id_column="Subject")},
                             participants=tmp_path / "p.tsv", exclude=["scan_date"])
    assert list(cohort.maps["m"].index) == SUBJECTS
    assert not cohort.decisions


@pytest.mark.parametrize("map_ids, hint", [
    ([s.replace("sub-", "") for s in SUBJECTS], "id_match: digits"),       # 001
    ([str(int(s[4:])) for s in SUBJECTS], "id_match: digits"),             # 1
    ([f"{int(s[4:])}.0" for s in SUBJECTS], "id_match: digits"),           # 1.0
    ([s.upper() for s in SUBJECTS], "id_match: case-insensitive"),
])
def test_unmatched_ids_say_why_and_the_option_matches_them(tmp_path, map_ids, hint):
    fs_table("participant_id", ["a", "b"], ids=map_ids).to_csv(tmp_path / "m.tsv", sep="\t",
                                                               index=False)
    pd.DataFrame({"participant_id": SUBJECTS}).to_csv(tmp_path / "p.tsv", sep="\t", index=False)
    with pytest.raises(DataError, match=hint.replace(":", r":")):
        load_cohort(maps={"m": tmp_path / "m.tsv"}, participants=tmp_path / "p.tsv")
    how = hint.split(": ")[1]
    cohort = load_cohort(maps={"m": tmp_path / "m.tsv"}, participants=tmp_path / "p.tsv",
                         id_match=how)
    assert list(cohort.maps["m"].index) == SUBJECTS
    assert not cohort.maps["m"].isna().any().any()


def test_id_keys_and_collisions():
    assert {id_key(s, "digits") for s in ("sub-001", "001", "1", "1.0", "S1")} == {"1"}
    assert id_key("sub-01a", "digits") == "sub-01a"  # not prefix + digits: left as it is
    assert id_key("SUB-01", "case-insensitive") == "sub-01"
    with pytest.raises(DataError, match="'sub-001' and 'hc-001' are the same"):
        keyed_ids(["sub-001", "hc-001"], "digits", file="t.tsv")
    assert mismatch_hint(["x1", "x2"], ["a", "b"]) == "; e.g. 'x1' has no match"
    assert mismatch_hint(["a"], ["a"]) == ""
