"""Loading a cohort (per-map and wide layouts), its validation rules, views and summary."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import yaml

from cohortbench.data.loading import load_cohort
from cohortbench.data.labels import build_tasks
from cohortbench.errors import DataError


def _load(files, **kwargs):
    """Load the small cohort; its warnings are checked through ``Cohort.warnings``."""
    kwargs.setdefault("missing", "drop-subjects")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return load_cohort(maps=files["maps"], participants=files["participants"], **kwargs)


def test_per_map_layout(small_files):
    cohort = _load(small_files)
    assert cohort.clinical.index.name == "subject"
    assert list(cohort.clinical.index) == ["s1", "s2", "s3", "s4", "s5", "s6"]
    assert cohort.clinical["score"].dtype == np.float64
    assert cohort.clinical["group"].tolist() == ["HC", "HC", "ALS", "ALS", "ALS", "ALS"]
    assert list(cohort.maps) == ["A", "B"]
    assert list(cohort.maps["B"].columns) == ["roi1", "roi2", "roi3", "roi4"]
    for table in cohort.maps.values():
        assert list(table.index) == list(cohort.clinical.index)
        assert (table.dtypes == "float64").all()
    assert cohort.modalities == {"A": ("A",), "B": ("B",)}
    assert cohort.parcellations == {"all": None}
    assert cohort.sources["B"].endswith("B.tsv")


def test_subjects_across_tables_are_reported(small_files):
    cohort = _load(small_files)
    assert cohort.maps["B"].loc["s6"].isna().all()
    assert "x9" not in cohort.maps["B"].index
    text = " ".join(cohort.warnings)
    assert "1 subject(s) of" in text and "x9" in text and "not in the clinical table" in text
    assert "miss the whole map 'B': s6" in text
    summary = cohort.summary()
    assert summary["maps"][1]["subjects_missing_whole_map"] == ["s6"]
    assert summary["maps"][1]["n_missing"] == 4


def test_map_matching_no_clinical_subject(small_files, write):
    other = write("maps/C.tsv", "participant_id\troi1\nsub-01\t1\nsub-02\t2\n")
    with pytest.raises(DataError, match=r"C\.tsv \(map 'C'.*sub-01.*is in the clinical table"):
        load_cohort(maps={"C": other}, participants=small_files["participants"])


def test_clinical_table_is_required(small_files):
    with pytest.raises(DataError, match="no clinical table; give `data.participants`"):
        load_cohort(maps=small_files["maps"])


def test_missing_policy_must_be_known(small_files):
    with pytest.raises(DataError, match="error, drop-subjects, impute-mean, impute-median"):
        load_cohort(maps=small_files["maps"], participants=small_files["participants"],
                    missing="drop")


def test_id_column_absent_names_file_and_columns(small_files):
    with pytest.raises(DataError, match=r"participants\.tsv has no ID column 'SubjID'.*group"):
        load_cohort(maps=small_files["maps"], participants=small_files["participants"],
                    id_column="SubjID")


def test_non_numeric_map_cell(small_files, write):
    bad = write("maps/A.tsv", "participant_id\troi1\troi2\ns1\t1\t2\ns2\t1\tabc\n")
    with pytest.raises(DataError) as info:
        load_cohort(maps={"A": bad}, participants=small_files["participants"])
    assert all(part in str(info.value) for part in ("A.tsv", "row 2", "'s2'", "column 'roi2'"))


def test_duplicate_ids_in_a_map(small_files, write):
    bad = write("maps/A.tsv", "participant_id\troi1\ns1\t1\ns1\t2\n")
    with pytest.raises(DataError, match=r"A\.tsv has duplicate subject IDs .*: s1"):
        load_cohort(maps={"A": bad}, participants=small_files["participants"])


def test_exclude_names_and_globs(small_files, write):
    extra = write("maps/G.tsv", "participant_id\tICV\tL_a_thick\tR_a_thick\tLThickness\n"
                  "s1\t1\t2\t3\t4\ns2\t2\t3\t4\t5\n")
    with pytest.warns(UserWarning) as caught:
        cohort = load_cohort(maps={"G": extra}, participants=small_files["participants"],
                             exclude=["ICV", "?Thickness", "nothing_*"], missing="impute-mean")
    assert any("`exclude` pattern(s) nothing_* match no" in str(w.message) for w in caught)
    assert list(cohort.maps["G"].columns) == ["L_a_thick", "R_a_thick"]
    with pytest.raises(DataError, match=r"G\.tsv \(map 'G'\) has no ROI column left"):
        load_cohort(maps={"G": extra}, participants=small_files["participants"], exclude=["*"])


def test_constant_and_all_missing_columns_warn(small_files, write):
    odd = write("maps/O.tsv", "participant_id\tflat\tgone\tok\n"
                "s1\t5\tn/a\t1\ns2\t5\t\t2\ns3\t5\tn/a\t3\n")
    with pytest.warns(UserWarning) as caught:
        cohort = load_cohort(maps={"O": odd}, participants=small_files["participants"],
                             missing="impute-mean")
    text = " ".join(str(w.message) for w in caught)
    assert "Map 'O' has constant column(s) flat" in text
    assert "Map 'O' has all-missing column(s) gone" in text
    assert any("constant" in w for w in cohort.warnings)


def test_unknown_map_in_modalities(small_files):
    with pytest.raises(DataError, match=r"Unknown map 'Bb' \(did you mean 'B'\?\).*modality 'M'"):
        _load(small_files, modalities={"M": ["A", "Bb"]})


def test_view_column_order_and_blocks(small_files):
    cohort = _load(small_files, modalities={"second": ["B"], "first": ["A"]}, missing="impute-mean")
    view = cohort.view(["second", "first"])
    assert view.columns[:5] == ("B:roi1", "B:roi2", "B:roi3", "B:roi4", "A:roi1")
    assert [(b.name, b.start, b.stop) for b in view.blocks] == [("B", 0, 4), ("A", 4, 7)]
    assert view.modalities == ("second", "first")
    assert view.X.dtype == np.float64 and view.X.shape == (6, 7)
    assert view.X[0, 4] == 1.0 and view.X[0, 0] == 10.0
    assert np.isnan(view.X[5, :4]).all()  # impute-*: NaN kept for the engine
    assert cohort.view().columns[0] == "B:roi1"  # default: all modalities in study order


def test_parcellation_restricts_in_map_order(small_files, write):
    roi_file = write("rois.txt", "# motor\nroi3\n\nroi1  # comment\n")
    cohort = _load(small_files, parcellations={"P": roi_file, "L": ["roi4"]})
    view = cohort.view(["A", "B"], "P")
    assert view.columns == ("A:roi1", "A:roi3", "B:roi1", "B:roi3")
    assert [(b.start, b.stop) for b in view.blocks] == [(0, 2), (2, 4)]
    assert cohort.view(["B"], "L").columns == ("B:roi4",)
    with pytest.raises(DataError, match=r"Parcellation 'L' names ROI\(s\) roi4 that are in none of"):
        cohort.view(["A"], "L")
    summary = cohort.summary()
    assert summary["parcellations"]["P"] == {"n_rois": 4, "per_map": {"A": 2, "B": 2}}
    assert summary["parcellations"]["all"]["n_rois"] == 7


def test_parcellation_validation(small_files, write):
    with pytest.raises(DataError, match=r"names ROI\(s\) roi9 .*did you mean 'roi"):
        _load(small_files, parcellations={"P": ["roi1", "roi9"]})
    with pytest.raises(DataError, match="'all' is reserved"):
        _load(small_files, parcellations={"all": ["roi1"]})
    with pytest.raises(DataError, match=r"ROI list .*missing\.txt of parcellation 'P' does not"):
        _load(small_files, parcellations={"P": write("x.txt", "").parent / "missing.txt"})


def test_unknown_modality_and_parcellation(small_files):
    cohort = _load(small_files, modalities={"DTI": ["A"], "Na": ["B"]})
    with pytest.raises(DataError, match=r"Unknown modality 'DIT' \(did you mean 'DTI'\?\).*DTI, Na"):
        cohort.view(["DIT"])
    with pytest.raises(DataError, match=r"Unknown parcellation 'GM'.*all"):
        cohort.view(["DTI"], "GM")


def test_error_policy_counts_per_map_and_lists_options(small_files):
    with pytest.warns(UserWarning):
        cohort = load_cohort(maps=small_files["maps"], participants=small_files["participants"])
    assert cohort.view(["A"]).X.shape == (6, 3)  # A is complete: no error
    with pytest.raises(DataError) as info:
        cohort.view()
    message = str(info.value)
    assert "B: 4 in 1 subject(s)" in message and "A:" not in message
    for option in ("drop-subjects", "impute-mean", "impute-median", "`data.missing`"):
        assert option in message


def test_drop_subjects_only_from_views_using_the_map(small_files):
    cohort = _load(small_files, modalities={"a": ["A"], "b": ["B"]})
    only_a = cohort.view(["a"])
    assert "s6" in only_a.subjects and only_a.dropped == {}
    both = cohort.view(["a", "b"])
    assert "s6" not in both.subjects and both.X.shape == (5, 7)
    assert both.dropped == {"s6": "missing 4 values in B"}
    assert not np.isnan(both.X).any()


def test_wide_table_with_blocks(write):
    table = write("wide.csv", "id,group,age,qT1_precentral,qT1_insula,FA_precentral,FA_insula,ICV\n"
                  "s1,HC,50,1,2,0.3,0.4,1000\ns2,ALS,60,1.5,2.5,0.2,0.5,1100\n")
    cohort = load_cohort(table=table, blocks={"qT1": "qT1_*", "FA": "FA_*"}, exclude=["ICV"],
                         parcellations={"motor": ["precentral"]})
    assert list(cohort.clinical.columns) == ["group", "age", "ICV"]
    assert list(cohort.maps["FA"].columns) == ["precentral", "insula"]
    assert cohort.view(None, "motor").columns == ("qT1:precentral", "FA:precentral")
    with pytest.raises(DataError, match=r"glob 'pQSM_\*' of map 'pQSM'.* matches no column"):
        load_cohort(table=table, blocks={"pQSM": "pQSM_*"})
    with pytest.raises(DataError, match=r"Column 'qT1_insula' .*map 'qT1' and map 'ins'"):
        load_cohort(table=table, blocks={"qT1": "qT1_*", "ins": "*insula"})
    with pytest.raises(DataError, match="needs `data.blocks`"):
        load_cohort(table=table)


def test_wide_table_with_separate_participants(write):
    table = write("wide.tsv", "participant_id\tm_a\tm_b\ns1\t1\t2\ns2\t3\t4\ns3\t5\t6\n")
    people = write("p.tsv", "participant_id\tDx\ns2\t1\ns1\t0\n")
    with pytest.warns(UserWarning, match=r"1 subject\(s\) .* not in the clinical table .*s3"):
        cohort = load_cohort(table=table, blocks={"m": "m_*"}, participants=people)
    assert list(cohort.clinical.columns) == ["Dx"]
    assert cohort.view().X.tolist() == [[3.0, 4.0], [1.0, 2.0]]  # clinical order


def test_summary_is_json_able(small_files):
    summary = _load(small_files).summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["n_subjects"] == 6
    assert [m["n_rois"] for m in summary["maps"]] == [3, 4]


def test_enigma_example_loads(enigma_dir):
    study = yaml.safe_load((enigma_dir / "study.yaml").read_text())
    data = study["data"]
    cohort = load_cohort(
        maps={name: enigma_dir / path for name, path in data["maps"].items()},
        participants=enigma_dir / data["participants"], id_column=data["id_column"],
        exclude=data["exclude"], missing=data["missing"])
    assert cohort.warnings == []
    assert len(cohort.clinical) == 20
    assert {k: v.shape[1] for k, v in cohort.maps.items()} == {
        "SubVol": 16, "CortThick": 68, "CortSurf": 68}
    assert cohort.view().X.shape == (20, 152)
    tasks = build_tasks(cohort.clinical, study["tasks"])
    assert tasks["Dx"].class_counts() == {"control": 10, "patient": 10}
    assert study["stages"][1]["grid"]["feature_selection"] == ["none", "kbest"]
    for name in ("LICENSE", "README.md", "cov.csv", "metr1_SubVol.csv"):
        assert (enigma_dir / name).is_file()


def test_drop_subjects_refuses_an_empty_view(small_files, write):
    holes = write("maps/H.tsv", "participant_id\troi1\troi2\ns1\t1\tn/a\ns2\tn/a\t2\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cohort = load_cohort(maps={"H": holes}, participants=small_files["participants"],
                             missing="drop-subjects")
    with pytest.raises(DataError, match="`drop-subjects` policy leaves no one"):
        cohort.view("H")  # a single name works like a one-item list
