"""The built-in synthetic cohort: shape, labels, determinism, the model's properties, files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from cohortbench.data.loading import load_cohort
from cohortbench.data.labels import build_tasks, derive_labels
from cohortbench.data.synthetic import make_synthetic_cohort, write_synthetic_cohort
from cohortbench.errors import DataError


@pytest.fixture(scope="module")
def cohort():
    return make_synthetic_cohort()


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    directory = tmp_path_factory.mktemp("synthetic")
    study_path = write_synthetic_cohort(directory)
    return study_path, yaml.safe_load(study_path.read_text())


def test_shape(cohort):
    assert list(cohort.maps) == ["qT1", "FA", "MD", "AD", "RD", "TSC", "T2s", "T2l", "fNa"]
    for table in cohort.maps.values():
        assert table.shape == (30, 332)
        assert list(table.columns) == cohort.roi_names
        assert np.isfinite(table.to_numpy()).all()
    assert len(set(cohort.roi_names)) == 332
    assert cohort.gm_rois == cohort.roi_names[:187]
    assert all(r.startswith("GM_") for r in cohort.gm_rois)
    assert all(r.startswith("WM_") for r in cohort.roi_names[187:])
    assert cohort.modalities == {"qT1": ["qT1"], "DTI": ["FA", "MD", "AD", "RD"],
                                 "Na": ["TSC", "T2s", "T2l", "fNa"]}
    people = cohort.participants
    assert list(people.columns) == ["participant_id", "group", "alsfrs_r", "disease_months",
                                    "age", "sex"]
    assert people["participant_id"].tolist() == list(cohort.maps["qT1"].index)
    controls = people["group"] == "HC"
    assert controls.sum() == 14
    assert people.loc[controls, ["alsfrs_r", "disease_months"]].isna().all().all()
    assert people.loc[~controls, "alsfrs_r"].between(0, 48).all()


def test_value_ranges(cohort):
    means = {m: t.to_numpy().mean() for m, t in cohort.maps.items()}
    assert 1000 < means["qT1"] < 2500
    assert 0.1 < means["FA"] < 0.6 and 0.4 < means["fNa"] < 0.8
    assert 0.5 < means["MD"] < 1.2 and 20 < means["TSC"] < 60 and means["T2s"] < means["T2l"]
    for name in ("FA", "fNa"):
        values = cohort.maps[name].to_numpy()
        assert values.min() > 0 and values.max() < 1


def test_median_split_gives_14_8_8(cohort):
    table = cohort.participants.set_index("participant_id")
    labels = {"slope": {"expression": "(48 - alsfrs_r) / disease_months"},
              "progression": {"from": "slope", "split": "median", "classes": ["slow", "fast"],
                              "among": {"group": "ALS"}}}
    out = derive_labels(table, labels)
    assert out["progression"].value_counts().to_dict() == {"slow": 8, "fast": 8}
    truth = pd.Series(cohort.progression)
    assert (out["progression"].fillna("HC") == truth[out.index]).all()
    assert 0.5 < out.attrs["label_cuts"]["progression"] < 0.85  # the study's was 0.62


def test_deterministic_per_seed():
    a, b, c = make_synthetic_cohort(seed=3), make_synthetic_cohort(seed=3), make_synthetic_cohort(seed=4)
    for name in a.maps:
        pd.testing.assert_frame_equal(a.maps[name], b.maps[name])
    pd.testing.assert_frame_equal(a.participants, b.participants)
    assert not np.allclose(a.maps["qT1"].to_numpy(), c.maps["qT1"].to_numpy())


def test_sizes_are_adjustable_and_checked():
    small = make_synthetic_cohort(n_controls=5, n_slow=4, n_fast=3, n_rois=20, n_gm=12, seed=1)
    assert small.maps["FA"].shape == (12, 20) and len(small.gm_rois) == 12
    assert sorted(small.progression.values()).count("slow") == 4
    table = small.participants.set_index("participant_id")
    out = derive_labels(table, {"s": {"expression": "(48 - alsfrs_r) / disease_months"},
                                "p": {"from": "s", "split": "median", "classes": ["slow", "fast"],
                                      "among": {"group": "ALS"}}})
    assert out["p"].value_counts().to_dict() == {"slow": 4, "fast": 3}
    with pytest.raises(DataError, match="n_slow equal to n_fast or n_fast \\+ 1"):
        make_synthetic_cohort(n_slow=8, n_fast=4)
    with pytest.raises(DataError, match="1 <= n_gm <= n_rois"):
        make_synthetic_cohort(n_rois=10, n_gm=11)


def _row_standardised(table: pd.DataFrame) -> np.ndarray:
    values = table.to_numpy()
    return (values - values.mean(1, keepdims=True)) / values.std(1, keepdims=True)


def test_group_effect_in_motor_rois_stronger_in_fast(cohort):
    kinds = np.array([cohort.progression[s] for s in cohort.maps["FA"].index])
    motor = np.isin(cohort.roi_names, cohort.motor_rois)
    assert 0 < motor.sum() < 0.25 * len(motor)
    fa = _row_standardised(cohort.maps["FA"])[:, motor].mean(axis=1)
    hc, slow, fast = (fa[kinds == k].mean() for k in ("HC", "slow", "fast"))
    assert fast < slow < hc  # FA falls in patients, most in fast progressors


def test_offsets_and_gains_and_spatial_correlation(cohort):
    kinds = np.array([cohort.progression[s] for s in cohort.maps["qT1"].index])
    qt1 = cohort.maps["qT1"].to_numpy()[kinds == "HC"]
    # per-subject global shifts: subjects' mean qT1 spreads far more than ROI noise averages out
    assert qt1.mean(axis=1).std() > 30
    residual = qt1 - qt1.mean(axis=0)
    residual -= residual.mean(axis=1, keepdims=True)
    lag1 = np.mean([np.corrcoef(r[:-1], r[1:])[0, 1] for r in residual])
    assert lag1 > 0.4


def test_written_files_load_and_give_the_tasks(written):
    study_path, study = written
    root = study_path.parent
    assert (root / "participants.tsv").read_text().count("n/a") == 28  # 14 controls x 2
    data = study["data"]
    loaded = load_cohort(
        maps={k: root / v for k, v in data["maps"].items()},
        participants=root / data["participants"], id_column=data["id_column"],
        modalities=data["modalities"],
        parcellations={k: root / v for k, v in data["parcellations"].items()},
        missing=data["missing"])
    assert loaded.warnings == []
    assert len(loaded.parcellations["GM"]) == 187
    assert loaded.view(["qT1", "Na"], "GM").X.shape == (30, 5 * 187)
    assert loaded.view().X.shape == (30, 9 * 332)
    synthetic = make_synthetic_cohort()
    np.testing.assert_array_equal(loaded.maps["TSC"].to_numpy(), synthetic.maps["TSC"].to_numpy())
    tasks = build_tasks(derive_labels(loaded.clinical, study["labels"]), study["tasks"])
    assert tasks["2-class"].class_counts() == {"HC": 14, "ALS": 16}
    assert tasks["3-class"].class_counts() == {"HC": 14, "slow": 8, "fast": 8}
    assert tasks["SvF"].class_counts() == {"slow": 8, "fast": 8}


def test_written_study_follows_the_published_design(written):
    study_path, study = written
    assert {"name", "seed", "data", "labels", "tasks", "cv", "permutations", "metric",
            "stages"} <= set(study)
    assert study["cv"] == {"outer": "loo", "inner": "stratified-kfold:5"}
    assert study["permutations"] == 50
    assert [s["name"] for s in study["stages"]] == ["screen", "refine", "tune", "enrich"]
    refine = study["stages"][1]["grid"]
    assert np.prod([len(refine[k]) for k in ("row_scaling", "column_scaling", "dim_reduction")]) == 27
    enrich = study["stages"][3]
    assert enrich["modalities"] == [["qT1", "DTI", "Na"], ["qT1", "DTI"], ["qT1", "Na"]]
    assert enrich["parcellations"] == ["GM", "all"]
    assert "#" in study_path.read_text()  # a documented example
