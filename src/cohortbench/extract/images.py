"""Reading maps and label images (nibabel) and putting labels on a map's grid (nilearn).

A map is never resampled: its voxels are the measurements. Labels are moved onto
the map's grid with nearest-neighbour interpolation (so a voxel keeps one of the
label values, never a blend), and only when the extraction file allows it
(``labels.resample: true``); before that, the two images must overlap in scanner
(world) coordinates, which catches a label image of another subject or space.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["Grid", "read_grid", "same_grid", "world_overlap", "load_map", "load_labels",
           "labels_on_grid", "present_labels", "file_digest", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = ".nii, .nii.gz, .mgz or .mgh"
# Tools store affines in float32 and round them differently; a grid that differs
# by less than this (mm) is the same grid.
_AFFINE_TOLERANCE = 1e-3
# Above this label value, counting by np.bincount would allocate too much.
_BINCOUNT_LIMIT = 1 << 24


@dataclass(frozen=True)
class Grid:
    """The voxel grid of a 3D image: its shape and voxel-to-world affine (as tuples)."""

    shape: tuple[int, int, int]
    affine: tuple[tuple[float, ...], ...]

    @property
    def matrix(self) -> np.ndarray:
        return np.asarray(self.affine, dtype=np.float64)

    def describe(self) -> str:
        zooms = np.sqrt((self.matrix[:3, :3] ** 2).sum(axis=0))
        return (f"{'x'.join(map(str, self.shape))} voxels of "
                f"{'x'.join(f'{z:.3g}' for z in zooms)} mm")


def _load(path: Path, role: str):
    import nibabel as nib
    from nibabel.filebasedimages import ImageFileError

    try:
        image = nib.load(str(path))
    except FileNotFoundError:
        raise DataError(f"The {role} {path} does not exist.") from None
    except (ImageFileError, OSError, ValueError, EOFError) as exc:
        raise DataError(f"The {role} {path} cannot be read as an image ({exc}); give a "
                        f"{IMAGE_SUFFIXES} file.") from None
    shape = tuple(int(n) for n in image.shape)
    extra = [n for n in shape[3:] if n != 1]
    if extra:
        raise DataError(f"The {role} {path} is {len(shape)}D ({'x'.join(map(str, shape))}); a "
                        "3D image is expected: split the volumes (e.g. fslsplit) and point the "
                        "extraction file at one.")
    if len(shape) < 3:
        raise DataError(f"The {role} {path} is {len(shape)}D; a 3D image is expected.")
    if len(shape) > 3:
        image = nib.funcs.squeeze_image(image)
    return image


def read_grid(path: Path, role: str) -> Grid:
    """The grid of a 3D image, from its header only; refuse 2D and 4D images."""
    image = _load(path, role)
    return Grid(tuple(int(n) for n in image.shape[:3]),
                tuple(tuple(float(x) for x in row) for row in image.affine))


def same_grid(a: Grid, b: Grid) -> bool:
    """Same shape and (within rounding) the same voxel-to-world affine."""
    return a.shape == b.shape and np.allclose(a.matrix, b.matrix, atol=_AFFINE_TOLERANCE)


def _world_box(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    # The grid's field of view reaches half a voxel beyond the outer voxel centres.
    corners = np.array([[i, j, k] for i in (-0.5, grid.shape[0] - 0.5)
                        for j in (-0.5, grid.shape[1] - 0.5)
                        for k in (-0.5, grid.shape[2] - 0.5)])
    world = corners @ grid.matrix[:3, :3].T + grid.matrix[:3, 3]
    return world.min(axis=0), world.max(axis=0)


def world_overlap(a: Grid, b: Grid) -> bool:
    """Whether the two fields of view share a volume in world (scanner) coordinates."""
    low_a, high_a = _world_box(a)
    low_b, high_b = _world_box(b)
    return bool(np.all(np.minimum(high_a, high_b) > np.maximum(low_a, low_b)))


def _voxels(image, path: Path, *, scaled: bool) -> np.ndarray:
    # The header was read when the inputs were checked; a truncated file fails only here.
    try:
        if scaled:
            return np.asarray(image.get_fdata(dtype=np.float64))
        return np.asarray(image.dataobj)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise DataError(f"The voxels of {path} cannot be read ({exc}); the file may be "
                        "truncated or damaged: write it again.") from None


def load_map(path: Path) -> np.ndarray:
    """A map's voxel values as float64 (scaling applied), 3D."""
    return _voxels(_load(path, "map"), path, scaled=True)


def _as_labels(data: np.ndarray, path: Path) -> np.ndarray:
    if data.dtype.kind in "iub":
        labels = data.astype(np.int64, copy=False)
    else:
        finite = np.isfinite(data)
        whole = finite & (data == np.round(data))
        if not whole.all():
            bad = data[~whole][0]
            raise DataError(f"The label image {path} holds values that are not whole numbers "
                            f"(e.g. {bad:.6g}); give an integer label image (e.g. aparc+aseg), "
                            "not a probability or intensity map.")
        labels = data.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise DataError(f"The label image {path} holds negative values (e.g. {labels.min()}); "
                        "labels are whole numbers >= 0 with 0 for the background.")
    return labels


def load_labels(path: Path) -> np.ndarray:
    """A label image as int64 (3D); refuse non-whole or negative values."""
    return _as_labels(_voxels(_load(path, "label image"), path, scaled=False), path)


def labels_on_grid(path: Path, grid: Grid) -> np.ndarray:
    """The label image moved onto ``grid`` by nearest neighbour (0 outside its field of view)."""
    from nilearn.image import resample_img

    image = _load(path, "label image")
    _as_labels(_voxels(image, path, scaled=False), path)  # refuse a non-label image first
    moved = resample_img(image, target_affine=grid.matrix, target_shape=grid.shape,
                         interpolation="nearest", fill_value=0, force_resample=True,
                         copy_header=True)
    return _as_labels(np.asarray(moved.dataobj), path)


def present_labels(labels: np.ndarray) -> dict[int, int]:
    """Label value -> voxel count, for every label but the background 0."""
    flat = labels.ravel(order="K")  # counting does not need an order: no copy
    if flat.size == 0:
        return {}
    if int(flat.max()) < _BINCOUNT_LIMIT:
        counts = np.bincount(flat)
        values = np.nonzero(counts)[0]
        counts = counts[values]
    else:
        values, counts = np.unique(flat, return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts) if v != 0}


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (hex, shortened)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()[:32]
