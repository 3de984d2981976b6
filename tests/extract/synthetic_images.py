"""Small synthetic cohorts of images for the extraction tests (12 x 12 x 12 voxels).

Each label image holds known regions; each map holds a known value per region plus
Gaussian noise, with a few NaN voxels. The expected region statistics are computed
here with plain NumPy boolean masks, independently of the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np

SHAPE = (12, 12, 12)
AFFINE = np.array([[2.0, 0, 0, -12.0], [0, 2.0, 0, -14.0], [0, 0, 2.0, -10.0], [0, 0, 0, 1]])
#: label value -> name, as in the LUT the tests write
NAMES = {1: "Left-Cortex", 2: "Right-Cortex", 5: "Left-Hippocampus", 7: "Brain-Stem"}
FREESURFER_LUT = """\
#$Id: FreeSurferColorLUT.txt (a small excerpt for tests) $
#No. Label Name:                            R   G   B   A

0   Unknown                                 0   0   0   0
1   Left-Cortex                             70  130 180 0
2   Right-Cortex                            245 245 245 0
5   Left-Hippocampus                        220 216 20  0   # inline comment
7   Brain-Stem                              119 159 176 0
99  Not-In-Any-Image                        1   2   3   0
"""
#: the region values of each map, by label
MAP_LEVELS = {"qT1": {1: 1500.0, 2: 1400.0, 5: 1800.0, 7: 900.0},
              "FA": {1: 0.2, 2: 0.25, 5: 0.15, 7: 0.6}}


def label_array(shift: int = 0, drop: tuple[int, ...] = ()) -> np.ndarray:
    """Slabs of labels 1, 2, 5 and 7 (shifted along x by ``shift`` voxels); 0 elsewhere."""
    lab = np.zeros(SHAPE, dtype=np.int32)
    lab[1 + shift:5 + shift, 1:11, 1:6] = 1
    lab[5 + shift:9 + shift, 1:11, 1:6] = 2
    lab[2:6, 2:10, 6:11] = 5
    lab[7:11, 3:9, 6:11] = 7
    for value in drop:
        lab[lab == value] = 0
    return lab


def write_image(path: Path, data: np.ndarray, affine: np.ndarray = AFFINE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if str(path).endswith((".mgz", ".mgh")):
        nib.save(nib.MGHImage(data, affine), str(path))
    else:
        nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


def map_array(labels: np.ndarray, levels: dict[int, float], rng: np.random.Generator,
              offset: float, n_nan: int = 3) -> np.ndarray:
    """Region levels + subject offset + noise; ``n_nan`` NaN voxels inside label 1."""
    values = np.full(SHAPE, 50.0)
    for value, level in levels.items():
        values[labels == value] = level + offset
    values += rng.normal(0.0, 0.05 * abs(np.mean(list(levels.values()))), SHAPE)
    inside = np.argwhere(labels == 1)
    for i, j, k in inside[rng.choice(len(inside), size=n_nan, replace=False)]:
        values[i, j, k] = np.nan
    return values


def expected(values: np.ndarray, labels: np.ndarray, statistic: str = "mean") -> dict:
    """Label -> (voxels, valid voxels, statistic over the finite voxels), by boolean masks."""
    out = {}
    for value in NAMES:
        inside = labels == value
        finite = values[inside][np.isfinite(values[inside])]
        stat = (float(np.mean(finite)) if statistic == "mean" else float(np.median(finite))) \
            if finite.size else float("nan")
        out[value] = (int(inside.sum()), int(finite.size), stat)
    return out


@dataclass
class Cohort:
    root: Path
    subjects: list[str]
    labels: dict[str, np.ndarray] = field(default_factory=dict)   # subject -> label array
    maps: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # (subject, map) -> values

    def write_spec(self, text: str, name: str = "extract.yaml") -> Path:
        path = self.root / name
        path.write_text(text, encoding="utf-8")
        return path


def make_cohort(root: Path, *, n_subjects: int = 4, per_subject_labels: bool = True,
                label_suffix: str = ".nii.gz", seed: int = 0, participants: bool = True,
                groups: tuple[str, ...] = ("HC", "ALS")) -> Cohort:
    """Write ``root/derivatives/sub-XX/anat/...`` maps (qT1, FA) and label images.

    With ``per_subject_labels`` each subject has its own (shifted) label image, the
    second subject lacking label 7; otherwise one template image
    ``root/atlas/labels<suffix>`` serves everyone.
    """
    rng = np.random.default_rng(seed)
    subjects = [f"sub-{i + 1:02d}" for i in range(n_subjects)]
    cohort = Cohort(root=root, subjects=subjects)
    if not per_subject_labels:
        write_image(root / "atlas" / f"labels{label_suffix}", label_array())
    for i, subject in enumerate(subjects):
        anat = root / "derivatives" / subject / "anat"
        labels = label_array(shift=i % 2, drop=(7,) if i == 1 else ()) if per_subject_labels \
            else label_array()
        cohort.labels[subject] = labels
        if per_subject_labels:
            write_image(anat / f"{subject}_dseg{label_suffix}", labels)
        for name, levels in MAP_LEVELS.items():
            values = map_array(labels, levels, rng, offset=0.01 * i * levels[1])
            cohort.maps[(subject, name)] = values
            write_image(anat / f"{subject}_{name}.nii.gz", values.astype(np.float64))
    (root / "FreeSurferColorLUT.txt").write_text(FREESURFER_LUT, encoding="utf-8")
    if participants:
        rows = [f"{s}\t{groups[i % len(groups)]}\t{40 + i}" for i, s in enumerate(subjects)]
        (root / "participants.tsv").write_text("participant_id\tgroup\tage\n" + "\n".join(rows) + "\n",
                                               encoding="utf-8")
    return cohort


SPEC = """\
subjects: {{participants: participants.tsv}}
maps:
  qT1: derivatives/{{subject}}/anat/{{subject}}_qT1.nii.gz
  FA: derivatives/{{subject}}/anat/{{subject}}_FA.nii.gz
labels:
  image: {image}
  lut: FreeSurferColorLUT.txt
statistic: {statistic}
min_voxels: {min_voxels}
"""
PER_SUBJECT_IMAGE = "derivatives/{subject}/anat/{subject}_dseg.nii.gz"


def spec_text(image: str = PER_SUBJECT_IMAGE, statistic: str = "mean", min_voxels: int = 10) -> str:
    return SPEC.format(image=image, statistic=statistic, min_voxels=min_voxels)
