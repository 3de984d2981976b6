"""Per-region statistics of one map under one label image (scipy.ndimage).

Why not nilearn's ``NiftiLabelsMasker`` / ``img_to_signals_labels``: they read
the data with ``ensure_finite=True``, which turns NaN voxels into 0 and pulls a
region's mean towards 0 instead of leaving the voxel out; they drop (or, with
``keep_masked_labels``, zero) labels a subject lacks, so columns shift or hold a
false 0; and they report no voxel counts. Here each subject's own valid-voxel
mask is applied first, statistics come from :func:`scipy.ndimage.mean` /
:func:`scipy.ndimage.labeled_comprehension` (with :func:`numpy.median`) with an
explicit ``index`` of the labels that still have a valid voxel (only those:
``ndimage.median`` even returns a value for a label that is absent, scipy issue
#7706), and results are keyed by label value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .images import present_labels

__all__ = ["RegionStats", "region_stats", "valid_mask"]


@dataclass(frozen=True)
class RegionStats:
    """Every label that has a voxel on the map's grid (background excluded).

    Attributes
    ----------
    labels : tuple of int
        Ascending label values.
    voxels : tuple of int
        Voxels of each label on the map's grid.
    valid : tuple of int
        Of those, voxels whose map value is valid.
    values : tuple of float
        The statistic over the valid voxels (NaN when there is none).
    """

    labels: tuple[int, ...]
    voxels: tuple[int, ...]
    valid: tuple[int, ...]
    values: tuple[float, ...]

    def to_json(self) -> dict:
        return {"labels": list(self.labels), "voxels": list(self.voxels),
                "valid": list(self.valid), "values": list(self.values)}

    @classmethod
    def from_json(cls, data: dict) -> RegionStats:
        return cls(tuple(data["labels"]), tuple(data["voxels"]), tuple(data["valid"]),
                   tuple(float(v) for v in data["values"]))


def valid_mask(values: np.ndarray, rule: str) -> np.ndarray:
    """Voxels that count: finite values; with ``nonzero`` also not exactly 0."""
    mask = np.isfinite(values)
    if rule == "nonzero":
        mask &= values != 0
    return mask


def region_stats(values: np.ndarray, labels: np.ndarray, *, statistic: str,
                 valid_voxels: str) -> RegionStats:
    """The statistic of ``values`` over each label's valid voxels.

    Parameters
    ----------
    values : ndarray of float
        The map, on the same grid as ``labels``.
    labels : ndarray of int
        Label values (0 = background).
    statistic : {'mean', 'median'}
    valid_voxels : {'finite', 'nonzero'}
        See :func:`valid_mask`.
    """
    if values.shape != labels.shape:
        raise ValueError(f"map {values.shape} and labels {labels.shape} are not on one grid")
    # nibabel and nilearn give Fortran-ordered arrays: flattening in that order copies nothing.
    flat_values = values.ravel(order="F")
    flat_labels = labels.ravel(order="F")
    every = present_labels(flat_labels)
    counted_voxels = valid_mask(flat_values, valid_voxels) & (flat_labels > 0)
    inside_values, inside_labels = flat_values[counted_voxels], flat_labels[counted_voxels]
    counted = present_labels(inside_labels)
    order = sorted(every)
    with_valid = [v for v in order if counted.get(v, 0) > 0]
    stats: dict[int, float] = {}
    if with_valid:
        if statistic == "mean":
            result = ndimage.mean(inside_values, labels=inside_labels, index=with_valid)
        else:
            # ndimage.median sorts (label, value) pairs of every voxel: 4x slower on a 256^3 map
            result = ndimage.labeled_comprehension(inside_values, inside_labels, with_valid,
                                                   np.median, np.float64, np.nan)
        stats = {v: float(x) for v, x in zip(with_valid, np.atleast_1d(result))}
    return RegionStats(
        labels=tuple(order),
        voxels=tuple(every[v] for v in order),
        valid=tuple(counted.get(v, 0) for v in order),
        values=tuple(stats.get(v, float("nan")) for v in order),
    )
