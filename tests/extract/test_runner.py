"""Extraction end to end through the API: known statistics, LUTs, resampling, resumption."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortbench.data.tables import read_table
from cohortbench.extract import extract_tables
from cohortbench.extract import runner as runner_module

from .synthetic_images import (AFFINE, MAP_LEVELS, NAMES, expected, label_array,
                               make_cohort, map_array, spec_text, write_image)


def read_map(out: Path, name: str) -> pd.DataFrame:
    """A written table as the cohort loader reads it (text cells -> floats)."""
    table = read_table(out / "maps" / f"{name}.tsv")
    return table.set_index(table.columns[0]).apply(pd.to_numeric, errors="coerce")


def assert_tables_match(out: Path, cohort, labels_of, statistic="mean", min_voxels=10):
    for map_name in MAP_LEVELS:
        table = read_map(out, map_name)
        assert list(table.columns) == [NAMES[v] for v in sorted(NAMES)]
        assert list(table.index) == cohort.subjects
        for subject in cohort.subjects:
            want = expected(cohort.maps[(subject, map_name)], labels_of(subject), statistic)
            for value, (voxels, valid, stat) in want.items():
                got = table.loc[subject, NAMES[value]]
                if voxels == 0 or valid < min_voxels:
                    assert np.isnan(got), (subject, map_name, value)
                else:
                    assert got == pytest.approx(stat, rel=1e-12), (subject, map_name, value)


def test_per_subject_labels_give_the_known_region_statistics(tmp_path):
    cohort = make_cohort(tmp_path / "c")
    outcome = extract_tables(cohort.write_spec(spec_text()), tmp_path / "out", jobs=1)
    assert_tables_match(tmp_path / "out", cohort, lambda s: cohort.labels[s])
    # sub-02's label image lacks label 7: NaN there, in the right column, and a warning
    qT1 = read_map(tmp_path / "out", "qT1")
    assert np.isnan(qT1.loc["sub-02", "Brain-Stem"]) and qT1.loc["sub-02"].notna().sum() == 3
    assert any("Brain-Stem" in w and "sub-02" in w for w in outcome.warnings)
    qc = pd.read_csv(outcome.qc, sep="\t")
    row = qc[(qc.participant_id == "sub-02") & (qc.roi == "Brain-Stem") & (qc["map"] == "FA")].iloc[0]
    assert row.status == "absent" and row.voxels == 0
    ok = qc[(qc.participant_id == "sub-01") & (qc.roi == "Left-Cortex") & (qc["map"] == "qT1")].iloc[0]
    want = expected(cohort.maps[("sub-01", "qT1")], cohort.labels["sub-01"])[1]
    assert (ok.voxels, ok.valid_voxels, ok.status) == (want[0], want[1], "ok")
    assert len(qc) == 4 * 2 * 4  # subjects x maps x ROIs
    assert outcome.participants == tmp_path / "c" / "participants.tsv"
    assert not (tmp_path / "out" / "participants.tsv").exists()


@pytest.mark.parametrize("suffix", [".nii.gz", ".mgz"])
def test_template_label_image_nifti_or_mgz(tmp_path, suffix):
    cohort = make_cohort(tmp_path / "c", per_subject_labels=False, label_suffix=suffix)
    spec = cohort.write_spec(spec_text(image=f"atlas/labels{suffix}", statistic="median"))
    outcome = extract_tables(spec, tmp_path / "out", jobs=1)
    assert_tables_match(tmp_path / "out", cohort, lambda s: label_array(), statistic="median")
    assert outcome.computed == 8 and not outcome.warnings


def test_tsv_lut_and_kept_labels_and_no_lut(tmp_path):
    cohort = make_cohort(tmp_path / "c", per_subject_labels=False)
    (tmp_path / "c" / "dseg.tsv").write_text("index\tname\n5\thippo\n7\tstem\n1\tcortex_l\n")
    text = spec_text(image="atlas/labels.nii.gz").replace("FreeSurferColorLUT.txt", "dseg.tsv")
    extract_tables(cohort.write_spec(text), tmp_path / "out", jobs=1)
    table = read_map(tmp_path / "out", "qT1")
    assert list(table.columns) == ["cortex_l", "hippo", "stem"]  # label 2 is not in the LUT
    want = expected(cohort.maps[("sub-03", "qT1")], label_array())
    assert table.loc["sub-03", "hippo"] == pytest.approx(want[5][2], rel=1e-12)
    text = spec_text(image="atlas/labels.nii.gz").replace("  lut: FreeSurferColorLUT.txt\n",
                                                          "  keep: [7, 2]\n")
    extract_tables(cohort.write_spec(text, "nolut.yaml"), tmp_path / "out2", jobs=1)
    table = read_map(tmp_path / "out2", "FA")
    assert list(table.columns) == ["label_2", "label_7"]
    want = expected(cohort.maps[("sub-04", "FA")], label_array())
    assert table.loc["sub-04", "label_7"] == pytest.approx(want[7][2], rel=1e-12)


def test_resampled_labels_at_another_resolution(tmp_path):
    cohort = make_cohort(tmp_path / "c", per_subject_labels=False)
    fine = label_array()
    for axis in range(3):
        fine = np.repeat(fine, 2, axis=axis)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = AFFINE[:3, 3] - 0.5
    write_image(tmp_path / "c" / "atlas" / "fine.mgz", fine, affine)
    text = spec_text(image="atlas/fine.mgz").replace(
        "  lut: FreeSurferColorLUT.txt\n", "  lut: FreeSurferColorLUT.txt\n  resample: true\n")
    outcome = extract_tables(cohort.write_spec(text), tmp_path / "out", jobs=1)
    assert_tables_match(tmp_path / "out", cohort, lambda s: label_array())
    assert outcome.computed == 8


def test_min_voxels_turns_small_regions_into_missing_values(tmp_path):
    cohort = make_cohort(tmp_path / "c", per_subject_labels=False)
    spec = cohort.write_spec(spec_text(image="atlas/labels.nii.gz", min_voxels=198))
    outcome = extract_tables(spec, tmp_path / "out", jobs=1)
    # Left-Cortex has 200 voxels of which 3 are NaN: 197 valid < 198
    assert_tables_match(tmp_path / "out", cohort, lambda s: label_array(), min_voxels=198)
    assert read_map(tmp_path / "out", "qT1")["Left-Cortex"].isna().all()
    qc = pd.read_csv(outcome.qc, sep="\t")
    assert set(qc[qc.roi == "Left-Cortex"].status) == {"too-few-voxels"}
    assert any("fewer than 198 valid voxels" in w for w in outcome.warnings)


def test_a_missing_map_file_is_a_missing_row_and_a_warning(tmp_path):
    cohort = make_cohort(tmp_path / "c")
    os.remove(tmp_path / "c" / "derivatives" / "sub-03" / "anat" / "sub-03_FA.nii.gz")
    outcome = extract_tables(cohort.write_spec(spec_text()), tmp_path / "out", jobs=1)
    fa = read_map(tmp_path / "out", "FA")
    assert list(fa.index) == ["sub-01", "sub-02", "sub-04"]
    assert "sub-03" in read_map(tmp_path / "out", "qT1").index
    assert any("map 'FA'" in w and "sub-03" in w for w in outcome.warnings)
    qc = pd.read_csv(outcome.qc, sep="\t")
    missing = qc[(qc.participant_id == "sub-03") & (qc["map"] == "FA")]
    assert set(missing.status) == {"missing-file"} and len(missing) == 4


def test_folders_as_subjects_write_a_participants_table(tmp_path):
    cohort = make_cohort(tmp_path / "c", participants=False)
    text = spec_text().replace("{participants: participants.tsv}", '{folders: "derivatives/sub-*"}')
    outcome = extract_tables(cohort.write_spec(text), tmp_path / "out", jobs=1)
    written = pd.read_csv(tmp_path / "out" / "participants.tsv", sep="\t", keep_default_na=False)
    assert list(written.participant_id) == cohort.subjects
    assert list(written.columns) == ["participant_id", "group"] and set(written.group) == {"n/a"}
    assert outcome.participants == tmp_path / "out" / "participants.tsv"
    assert "# EDIT: fill in the 'group' column of" in (tmp_path / "out" / "study.yaml").read_text()
    assert any(w.startswith("the study skeleton needs classes: fill in the 'group' column of "
                            f"{tmp_path / 'out' / 'participants.tsv'}") for w in outcome.warnings)
    # once the user has filled in the column, a re-run builds the task from it
    filled = written.assign(group=["HC", "ALS", "HC", "ALS"])
    filled.to_csv(tmp_path / "out" / "participants.tsv", sep="\t", index=False)
    (tmp_path / "out" / "study.yaml").unlink()
    again = extract_tables(cohort.write_spec(text), tmp_path / "out", jobs=1)
    assert again.computed == 0 and [w for w in again.warnings if "Brain-Stem" not in w] == []
    assert "classes: {HC: {group: HC}, ALS: {group: ALS}}" in (tmp_path / "out" / "study.yaml").read_text()
    assert (tmp_path / "out" / "participants.tsv").read_text().count("ALS") == 2  # kept


def output_bytes(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != "extract.sqlite"}


def test_rerun_recomputes_only_what_changed(tmp_path):
    cohort = make_cohort(tmp_path / "c")
    spec = cohort.write_spec(spec_text())
    out = tmp_path / "out"
    first = extract_tables(spec, out, jobs=1)
    assert (first.computed, first.reused) == (8, 0)
    again = extract_tables(spec, out, jobs=1)
    assert (again.computed, again.reused, again.recomputed_subjects) == (0, 8, ())
    # touching a file without changing it: hashed again, nothing recomputed
    qt1 = tmp_path / "c" / "derivatives" / "sub-03" / "anat" / "sub-03_qT1.nii.gz"
    os.utime(qt1, ns=(1, 1))
    assert extract_tables(spec, out, jobs=1).computed == 0
    # min_voxels only changes which values are kept: no recomputation, new table
    cohort.write_spec(spec_text(min_voxels=198))
    assert extract_tables(spec, out, jobs=1).computed == 0
    assert read_map(out, "qT1")["Left-Cortex"].isna().all()
    # the statistic changes every value: every pair recomputed
    cohort.write_spec(spec_text(statistic="median"))
    median = extract_tables(spec, out, jobs=1)
    assert (median.computed, median.recomputed_subjects) == (8, tuple(cohort.subjects))
    assert_tables_match(out, cohort, lambda s: cohort.labels[s], statistic="median")
    # one subject's map changes: only that pair
    values = map_array(cohort.labels["sub-03"], MAP_LEVELS["qT1"], np.random.default_rng(9), 123.0)
    cohort.maps[("sub-03", "qT1")] = values
    write_image(qt1, values)
    changed = extract_tables(spec, out, jobs=1)
    assert (changed.computed, changed.reused, changed.recomputed_subjects) == (1, 7, ("sub-03",))
    assert_tables_match(out, cohort, lambda s: cohort.labels[s], statistic="median")


def test_a_killed_run_resumes_without_losing_or_repeating_work(tmp_path, monkeypatch):
    cohort = make_cohort(tmp_path / "c")
    spec = cohort.write_spec(spec_text())
    done = []
    real = runner_module.region_stats

    def dies_on_the_third_subject(values, labels, **kwargs):
        if len(done) == 4:  # two subjects x two maps stored
            raise KeyboardInterrupt
        done.append(1)
        return real(values, labels, **kwargs)

    monkeypatch.setattr(runner_module, "region_stats", dies_on_the_third_subject)
    with pytest.raises(KeyboardInterrupt):
        extract_tables(spec, tmp_path / "out", jobs=1)
    assert not (tmp_path / "out" / "maps").exists()  # no table from a half-done run
    monkeypatch.setattr(runner_module, "region_stats", real)
    resumed = extract_tables(spec, tmp_path / "out", jobs=1)
    assert (resumed.computed, resumed.reused) == (4, 4)
    assert resumed.recomputed_subjects == ("sub-03", "sub-04")
    extract_tables(spec, tmp_path / "fresh", jobs=1)
    assert output_bytes(tmp_path / "out") == output_bytes(tmp_path / "fresh")


def test_jobs_1_and_2_write_identical_bytes(tmp_path):
    cohort = make_cohort(tmp_path / "c", n_subjects=5)
    os.remove(tmp_path / "c" / "derivatives" / "sub-05" / "anat" / "sub-05_qT1.nii.gz")
    spec = cohort.write_spec(spec_text())
    extract_tables(spec, tmp_path / "one", jobs=1)
    extract_tables(spec, tmp_path / "two", jobs=2)
    one, two = output_bytes(tmp_path / "one"), output_bytes(tmp_path / "two")
    assert set(one) == {"maps/qT1.tsv", "maps/FA.tsv", "qc.tsv", "study.yaml"}
    assert one == two


def test_an_edited_skeleton_is_kept_and_a_removed_map_table_goes(tmp_path):
    cohort = make_cohort(tmp_path / "c")
    spec = cohort.write_spec(spec_text())
    out = tmp_path / "out"
    extract_tables(spec, out, jobs=1)
    study = out / "study.yaml"
    study.write_text(study.read_text() + "# my edit\n")
    text = spec_text().replace("  FA: derivatives/{subject}/anat/{subject}_FA.nii.gz\n", "")
    cohort.write_spec(text)
    outcome = extract_tables(spec, out, jobs=1)
    assert study.read_text().endswith("# my edit\n")
    assert any("edited" in w and "kept" in w for w in outcome.warnings)
    assert not (out / "maps" / "FA.tsv").exists() and (out / "maps" / "qT1.tsv").exists()


def test_a_folder_with_other_files_is_refused_before_anything_is_written(tmp_path):
    from cohortbench.errors import RunError

    cohort = make_cohort(tmp_path / "c")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("x")
    with pytest.raises(RunError, match="not empty"):
        extract_tables(cohort.write_spec(spec_text()), tmp_path / "out", jobs=1)
    assert sorted(os.listdir(tmp_path / "out")) == ["mine.txt"]


def test_a_damaged_store_is_explained_not_overwritten(tmp_path):
    from cohortbench.errors import RunError

    cohort = make_cohort(tmp_path / "c")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "extract.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(RunError, match="delete it and run the extraction again"):
        extract_tables(cohort.write_spec(spec_text()), tmp_path / "out", jobs=1)
    assert (tmp_path / "out" / "extract.sqlite").read_bytes() == b"not a database" * 100
