"""Reading images, grids, world-space overlap and nearest-neighbour resampling of labels."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from cohortbench.errors import DataError
from cohortbench.extract.images import (labels_on_grid, load_labels, load_map, present_labels,
                                        read_grid, same_grid, world_overlap)

from .synthetic_images import AFFINE, SHAPE, label_array, write_image


def test_mgz_labels_read_with_their_affine(tmp_path):
    path = write_image(tmp_path / "aparc+aseg.mgz", label_array())
    assert isinstance(nib.load(path), nib.MGHImage)
    assert np.array_equal(load_labels(path), label_array())
    grid = read_grid(path, "label image")
    assert grid.shape == SHAPE and np.allclose(grid.matrix, AFFINE)


def test_singleton_fourth_dimension_is_squeezed_and_4d_is_refused(tmp_path):
    data = np.arange(np.prod(SHAPE), dtype=np.float64).reshape(SHAPE)
    one = write_image(tmp_path / "one.nii.gz", data[..., None])
    assert np.array_equal(load_map(one), data)
    four = write_image(tmp_path / "four.nii.gz", np.stack([data, data], axis=-1))
    with pytest.raises(DataError, match=r"is 4D \(12x12x12x2\); a 3D image is expected"):
        read_grid(four, "map 'qT1'")


def test_non_label_images_are_refused(tmp_path):
    with pytest.raises(DataError, match="not whole numbers"):
        load_labels(write_image(tmp_path / "p.nii.gz", np.full(SHAPE, 0.37)))
    with pytest.raises(DataError, match="negative"):
        load_labels(write_image(tmp_path / "n.nii.gz", -np.ones(SHAPE, dtype=np.int16)))
    (tmp_path / "junk.nii.gz").write_bytes(b"not an image")
    with pytest.raises(DataError, match="cannot be read as an image"):
        read_grid(tmp_path / "junk.nii.gz", "map 'qT1'")


def test_float_label_images_with_whole_values_are_labels(tmp_path):
    path = write_image(tmp_path / "f.nii.gz", label_array().astype(np.float32))
    assert load_labels(path).dtype == np.int64
    assert present_labels(load_labels(path)) == present_labels(label_array())


def test_grids_compare_within_rounding_and_overlap_in_world_space(tmp_path):
    a = read_grid(write_image(tmp_path / "a.nii.gz", label_array()), "x")
    rounded = AFFINE + 1e-5
    b = read_grid(write_image(tmp_path / "b.nii.gz", label_array(), rounded), "x")
    assert same_grid(a, b)
    far = AFFINE.copy()
    far[:3, 3] += 1000.0
    c = read_grid(write_image(tmp_path / "c.nii.gz", label_array(), far), "x")
    assert not same_grid(a, c) and not world_overlap(a, c)
    # half a field of view away (12 voxels x 2 mm = 24 mm wide): overlapping
    half = AFFINE.copy()
    half[0, 3] += 12.0
    d = read_grid(write_image(tmp_path / "d.nii.gz", label_array(), half), "x")
    assert world_overlap(a, d) and not same_grid(a, d)
    # just touching faces is not an overlap
    touch = AFFINE.copy()
    touch[0, 3] += 24.0
    e = read_grid(write_image(tmp_path / "e.nii.gz", label_array(), touch), "x")
    assert not world_overlap(a, e)


def fine_labels() -> tuple[np.ndarray, np.ndarray]:
    """label_array() at 1 mm: each 2 mm voxel split into 2 x 2 x 2, covering the same space."""
    fine = label_array()
    for axis in range(3):
        fine = np.repeat(fine, 2, axis=axis)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = AFFINE[:3, 3] - 0.5  # 1 mm voxel centres half a mm either side of 2 mm ones
    return fine, affine


@pytest.mark.parametrize("suffix", [".nii.gz", ".mgz"])
def test_labels_at_another_resolution_are_resampled_by_nearest_neighbour(tmp_path, suffix):
    fine, affine = fine_labels()
    path = write_image(tmp_path / f"fine{suffix}", fine, affine)
    target = read_grid(write_image(tmp_path / "map.nii.gz", np.zeros(SHAPE)), "map")
    assert not same_grid(read_grid(path, "labels"), target)
    moved = labels_on_grid(path, target)
    assert moved.shape == SHAPE and moved.dtype == np.int64
    assert np.array_equal(moved, label_array())  # no blended values, no lost voxel


def test_resampling_outside_the_label_field_of_view_gives_background(tmp_path):
    shifted = AFFINE.copy()
    shifted[0, 3] += 12.0  # the labels cover only the upper half in x
    path = write_image(tmp_path / "half.nii.gz", label_array(), shifted)
    target = read_grid(write_image(tmp_path / "map.nii.gz", np.zeros(SHAPE)), "map")
    moved = labels_on_grid(path, target)
    assert (moved[:6] == 0).all()
    assert np.array_equal(moved[6:], label_array()[:6])


def test_a_truncated_image_is_one_sentence(tmp_path):
    path = write_image(tmp_path / "map.nii.gz", np.random.default_rng(0).normal(size=SHAPE))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    read_grid(path, "map")  # the header is still there
    with pytest.raises(DataError, match="cannot be read .* truncated or damaged"):
        load_map(path)
