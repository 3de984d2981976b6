"""The built-in synthetic cohort: shape, labels, determinism, the model's properties, files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from cohortbench.data.loading import load_cohort
from cohortbench.data.labels import build_tasks, derive_labels
from cohortbench.data.synthetic import (
    MAP_VALUES,
    make_synthetic_cohort,
    write_synthetic_cohort,
)
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
    assert study["cv"] == {"outer": "loo", "inner": "stratified-kfold:5", "reduce_inner_k": False}
    assert study["permutations"] == 50
    assert [s["name"] for s in study["stages"]] == ["screen", "refine", "tune", "enrich",
                                                    "learn"]
    refine = study["stages"][1]["grid"]
    assert np.prod([len(refine[k]) for k in ("row_scaling", "column_scaling", "dim_reduction")]) == 27
    enrich = study["stages"][3]
    assert enrich["modalities"] == [["qT1", "DTI", "Na"], ["qT1", "DTI"], ["qT1", "Na"]]
    assert enrich["parcellations"] == ["GM", "all"]
    learn = study["stages"][4]  # learning curves on enrich's classifier and pipeline
    assert learn["kind"] == "learn" and learn["classifiers"] == enrich["classifiers"]
    assert learn["pipeline"] == {"row_scaling": "standard", "column_scaling": "standard"}
    assert learn["modalities"] == enrich["modalities"] and learn["options"] == {"repeats": 20}
    assert "#" in study_path.read_text()  # a documented example


# --- Populations, effect maps, null maps, effect size (issues 19 and 20) -----------------

def _digest(c) -> str:
    """A content hash of a cohort: participants, maps (names, ROIs, IDs, float64 values)."""
    import hashlib
    import json

    h = hashlib.sha256()
    people = c.participants
    h.update("\t".join(people.columns).encode())
    for col in people.columns:
        values = people[col]
        h.update(col.encode())
        if values.dtype.kind in "fiu":
            h.update(np.ascontiguousarray(values.to_numpy(np.float64)).tobytes())
        else:
            h.update("\t".join(map(str, values)).encode())
    for name, table in c.maps.items():
        h.update(name.encode())
        h.update("\t".join(table.columns).encode())
        h.update("\t".join(table.index).encode())
        h.update(np.ascontiguousarray(table.to_numpy(np.float64)).tobytes())
    h.update(json.dumps([c.progression, c.motor_rois, c.gm_rois, c.modalities],
                        sort_keys=True).encode())
    return h.hexdigest()[:32]


# Digests computed with main's generator (commit 430c2ed) before populations were added:
# the default arguments must keep giving these cohorts byte for byte.
LEGACY_DIGESTS = [
    (dict(seed=0), "f069a0dcda5d8fcb439b57bb997519df"),
    (dict(seed=3), "c242b602b142e16973ce6285c5a313a8"),
    (dict(seed=11, n_controls=5, n_slow=4, n_fast=3, n_rois=20, n_gm=12),
     "7b7f0b7862534a65fc5c02b4c23909d1"),
    (dict(seed=1, n_controls=6, n_slow=5, n_fast=5, n_rois=12, n_gm=6),
     "be99d05c8c871c06925f64fd78616f04"),
    (dict(seed=7, n_controls=40, n_slow=21, n_fast=20, n_rois=50, n_gm=30),
     "66c8024cd375de30799bf0e089883ad6"),
]


@pytest.mark.parametrize(("settings", "expected"), LEGACY_DIGESTS)
def test_default_arguments_give_the_cohorts_of_before(settings, expected):
    assert _digest(make_synthetic_cohort(**settings)) == expected
    # Explicit defaults of the new settings change nothing either
    assert _digest(make_synthetic_cohort(**settings, population_seed=None, effect_maps=None,
                                         n_null_maps=0, effect_size=1.0)) == expected


def test_written_files_are_those_of_before(tmp_path):
    import hashlib

    write_synthetic_cohort(tmp_path, seed=2, n_controls=5, n_slow=4, n_fast=4, n_rois=16, n_gm=9)
    h = hashlib.sha256()
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file() and path.name != "study.yaml":  # the data; the template evolves
            h.update(str(path.relative_to(tmp_path)).encode())
            h.update(path.read_bytes())
    assert h.hexdigest()[:32] == "504610835572d0be2e1fc3afacbf17af"  # main, commit 430c2ed


def test_samples_of_one_population_share_roi_means_but_not_subjects():
    from cohortbench.data.synthetic import make_synthetic_population

    population = make_synthetic_population(seed=5, n_rois=30, n_gm=18)
    again = make_synthetic_population(seed=5, n_rois=30, n_gm=18)
    other = make_synthetic_population(seed=6, n_rois=30, n_gm=18)
    for name in population.maps:
        np.testing.assert_array_equal(population.roi_means[name], again.roi_means[name])
        assert not np.allclose(population.roi_means[name], other.roi_means[name])
    a = population.sample(4, 3, 3, np.random.default_rng(1))
    b = population.sample(4, 3, 3, np.random.default_rng(2))
    assert not np.allclose(a.maps["qT1"].to_numpy(), b.maps["qT1"].to_numpy())
    pd.testing.assert_frame_equal(a.maps["FA"],
                                  population.sample(4, 3, 3, np.random.default_rng(1)).maps["FA"])
    # make_synthetic_cohort with population_seed is a sample of that population
    via_cohort = make_synthetic_cohort(n_controls=4, n_slow=3, n_fast=3, n_rois=30, n_gm=18,
                                       seed=1, population_seed=5)
    assert _digest(via_cohort) == _digest(a)
    # population_seed equal to seed does not reuse the subjects' stream
    same = make_synthetic_cohort(n_controls=4, n_slow=3, n_fast=3, n_rois=30, n_gm=18, seed=5,
                                 population_seed=5)
    legacy = make_synthetic_cohort(n_controls=4, n_slow=3, n_fast=3, n_rois=30, n_gm=18, seed=5)
    assert not np.allclose(same.maps["MD"].to_numpy(), legacy.maps["MD"].to_numpy())


def test_large_samples_centre_on_the_population_means_and_keep_clean_labels():
    import time

    from cohortbench.data.synthetic import make_synthetic_population

    population = make_synthetic_population(seed=2, n_rois=40, n_gm=24)
    start = time.perf_counter()
    big = population.sample(1000, 500, 500, np.random.default_rng(0), first_id=1001)
    assert time.perf_counter() - start < 5.0
    assert big.maps["qT1"].shape == (2000, 40)
    assert big.maps["qT1"].index[0] == "sub-1001" and big.maps["qT1"].index.is_unique
    # Controls have value = gain * (roi_mean + noise) + offset with E[gain] = 1 and zero-mean
    # noise and offset: per ROI the sample mean estimates roi_mean (z-test per ROI).
    controls = np.array([big.progression[s] == "HC" for s in big.maps["MD"].index])
    values = big.maps["MD"].to_numpy()[controls]
    z = (values.mean(0) - population.roi_means["MD"]) / (values.std(0, ddof=1) / np.sqrt(1000))
    assert np.abs(z).max() < 4.5
    out = derive_labels(big.participants.set_index("participant_id"),
                        {"s": {"expression": "(48 - alsfrs_r) / disease_months"},
                         "p": {"from": "s", "split": "median", "classes": ["slow", "fast"],
                               "among": {"group": "ALS"}}})
    truth = pd.Series(big.progression)
    assert (out["p"].fillna("HC") == truth[out.index]).all()
    with pytest.raises(DataError, match="n_slow equal to n_fast"):
        population.sample(10, 5, 3, np.random.default_rng(0))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        population.sample(4, 3, 3, 0)


def test_effect_lives_only_in_motor_rois_of_effect_maps_and_scales():
    settings = dict(n_controls=6, n_slow=5, n_fast=5, n_rois=40, n_gm=24, seed=3,
                    population_seed=8, n_null_maps=2)
    base = make_synthetic_cohort(**settings, effect_maps=["FA", "TSC"], effect_size=1.0)
    none = make_synthetic_cohort(**settings, effect_maps=["FA", "TSC"], effect_size=0.0)
    double = make_synthetic_cohort(**settings, effect_maps=["FA", "TSC"], effect_size=2.0)
    assert base.effect_maps == ["FA", "TSC"]
    assert base.modalities["Noise"] == ["null1", "null2"]
    assert list(base.maps)[-2:] == ["null1", "null2"]
    patients = np.array([base.progression[s] != "HC" for s in base.maps["FA"].index])
    motor = np.isin(base.roi_names, base.motor_rois)
    for name in base.maps:
        # effect_size only moves the effect term: every other draw is the same
        diff = base.maps[name].to_numpy() - none.maps[name].to_numpy()
        changed = np.abs(diff) > 0
        if name in ("FA", "TSC"):
            assert changed.any()
            assert not changed[~patients].any() and not changed[:, ~motor].any()
            # twice the effect moves the values twice as far, up to the rounding of the
            # stored values (half a unit of the last decimal each: at most 3 units in all)
            twice = double.maps[name].to_numpy() - none.maps[name].to_numpy()
            unit = 10.0 ** -MAP_VALUES[name][3]
            np.testing.assert_allclose(twice[changed], 2 * diff[changed], rtol=0,
                                       atol=3 * unit + 1e-9)
        else:
            assert not changed.any(), name


def test_write_synthetic_cohort_writes_a_given_cohort_with_its_null_maps(tmp_path):
    cohort = make_synthetic_cohort(n_controls=4, n_slow=3, n_fast=3, n_rois=10, n_gm=6,
                                   seed=1, population_seed=2, n_null_maps=1)
    study_path = write_synthetic_cohort(tmp_path, seed=4, cohort=cohort)
    study = yaml.safe_load(study_path.read_text())
    assert study["seed"] == 4
    assert study["data"]["maps"]["null1"] == "maps/null1.tsv"
    assert study["data"]["modalities"]["Noise"] == ["null1"]
    loaded = load_cohort(
        maps={k: tmp_path / v for k, v in study["data"]["maps"].items()},
        participants=tmp_path / "participants.tsv", modalities=study["data"]["modalities"])
    np.testing.assert_array_equal(loaded.maps["null1"].to_numpy(),
                                  cohort.maps["null1"].to_numpy())
    with pytest.raises(TypeError, match="either a cohort"):
        write_synthetic_cohort(tmp_path, cohort=cohort, n_rois=5)


def test_new_settings_are_checked():
    with pytest.raises(DataError, match="no map 'T1w' for effect_maps"):
        make_synthetic_cohort(effect_maps=["FA", "T1w"])
    with pytest.raises(DataError, match="effect_size must be a finite number >= 0"):
        make_synthetic_cohort(effect_size=-1)
    with pytest.raises(DataError, match="n_null_maps must be a whole number"):
        make_synthetic_cohort(n_null_maps=-2)
