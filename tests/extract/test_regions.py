"""Region statistics against plain NumPy boolean masks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cohortbench.extract.regions import RegionStats, region_stats, valid_mask

from .synthetic_images import MAP_LEVELS, NAMES, expected, label_array, map_array


@pytest.mark.parametrize("statistic", ["mean", "median"])
def test_statistics_equal_boolean_mask_computation(statistic):
    rng = np.random.default_rng(1)
    labels = label_array()
    values = map_array(labels, MAP_LEVELS["qT1"], rng, offset=3.0, n_nan=5)
    got = region_stats(values, labels, statistic=statistic, valid_voxels="finite")
    want = expected(values, labels, statistic)
    assert got.labels == tuple(sorted(NAMES))
    for value, voxels, valid, stat in zip(got.labels, got.voxels, got.valid, got.values):
        assert (voxels, valid) == want[value][:2]
        assert stat == pytest.approx(want[value][2], rel=1e-12)
    # the NaN voxels are left out, not counted as 0 (nilearn's ensure_finite would do that)
    assert got.valid[0] == got.voxels[0] - 5
    assert np.isfinite(got.values).all()


def test_a_label_without_valid_voxels_is_nan_and_neighbours_are_not_shifted():
    labels = label_array()
    values = np.where(labels == 2, np.nan, 10.0 * labels)
    for statistic in ("mean", "median"):
        got = region_stats(values, labels, statistic=statistic, valid_voxels="finite")
        by_label = dict(zip(got.labels, got.values))
        assert np.isnan(by_label[2])
        assert by_label[1] == 10.0 and by_label[5] == 50.0 and by_label[7] == 70.0
        assert dict(zip(got.labels, got.valid))[2] == 0


def test_scipy_median_of_an_absent_label_is_not_nan_which_is_why_it_is_never_asked():
    # scipy issue #7706: ndimage.median returns a value for a label that is absent.
    data = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    lab = np.array([1, 1, 2, 2, 0])
    assert not np.isnan(ndimage.median(data, labels=lab, index=[1, 2, 3])[2])
    got = region_stats(data, lab, statistic="median", valid_voxels="finite")
    assert got.labels == (1, 2)


def test_nonzero_rule_leaves_out_zeros_and_non_finite_values():
    values = np.array([0.0, 2.0, np.inf, 4.0, -np.inf, 0.0, 6.0])
    labels = np.array([1, 1, 1, 1, 2, 2, 2])
    assert valid_mask(values, "finite").tolist() == [True, True, False, True, False, True, True]
    got = region_stats(values, labels, statistic="mean", valid_voxels="nonzero")
    assert got.valid == (2, 1) and got.voxels == (4, 3)
    assert got.values == (3.0, 6.0)
    got = region_stats(values, labels, statistic="mean", valid_voxels="finite")
    assert got.values == (2.0, 3.0)


def test_round_trip_through_json_keeps_nan():
    stats = RegionStats((1, 2), (3, 4), (0, 4), (float("nan"), 1.5))
    back = RegionStats.from_json(stats.to_json())
    assert back.labels == stats.labels and np.isnan(back.values[0]) and back.values[1] == 1.5
