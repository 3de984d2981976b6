"""The built-in synthetic cohort, shaped like the 7T ALS study (SPEC section 12).

What is generated, for ``n = n_controls + n_slow + n_fast`` subjects (``sub-001``...):

- **Participants** (BIDS style): ``participant_id``, ``group`` (``HC``/``ALS``, in a
  seeded random order), ``alsfrs_r`` (ALSFRS-R score, 0-48) and ``disease_months``
  (disease duration) -- empty for controls --, ``age`` and ``sex``. The ALSFRS-R slope
  ``(48 - alsfrs_r) / disease_months`` of slow progressors lies in about 0.15-0.55 points
  per month and that of fast progressors in about 0.8-1.8, so a median split over the
  patients gives exactly ``n_slow`` slow and ``n_fast`` fast (this needs
  ``n_slow == n_fast`` or ``n_slow == n_fast + 1``, because values equal to the median go
  to the first class).
- **ROIs**: ``n_rois`` names; the first ``n_gm`` are grey-matter parcels
  (``GM_superiorfrontal_L``, ``GM_superiorfrontal_R``, ``GM_insula_L``...; Desikan-Killiany
  cortical and subcortical regions, numbered ``GM_precentral2_L`` when more are needed; motor
  regions are spread through the order),
  the rest white-matter tracts (``WM_corticospinal_L``...).
- **Maps** qT1 (ms), FA, MD, AD, RD (10^-3 mm^2/s), TSC (mmol/L), T2s, T2l (ms), fNa, in
  three modalities qT1 / DTI / Na. Each value is built as::

      value = gain[subject, map] * (roi_mean + effect + noise) + offset[subject, map]

  ``roi_mean``: the tissue's typical value times ``1 + N(0, ROI_SPREAD)``, fixed per ROI.
  ``noise``: spatially correlated -- an AR(1) process along the ROI order with correlation
  ``NOISE_RHO`` -- with standard deviation ``NOISE_SD`` of the tissue value.
  ``effect``: in motor-related ROIs (``MOTOR_REGIONS``) patients differ from controls by
  ``SLOW_EFFECT`` (slow) or ``FAST_EFFECT`` (fast) noise standard deviations, in a
  per-map direction (e.g. lower FA, higher MD). ``gain`` ~ ``1 + N(0, GAIN_SD)`` and
  ``offset`` ~ ``N(0, OFFSET_SD)`` times the map's typical value are per subject and map:
  scanner and calibration effects that swamp the regional effect column by column and
  that scaling each subject's row removes.

Everything comes from ``numpy.random.default_rng(seed)``: the same seed gives the same
cohort.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

import numpy as np
import pandas as pd

from cohortbench.errors import DataError

__all__ = ["SyntheticCohort", "make_synthetic_cohort", "write_synthetic_cohort", "MODALITIES"]

MODALITIES = {"qT1": ["qT1"], "DTI": ["FA", "MD", "AD", "RD"], "Na": ["TSC", "T2s", "T2l", "fNa"]}
# map -> (grey-matter value, white-matter value, direction of the ALS effect, decimals kept)
MAP_VALUES = {
    "qT1": (1900.0, 1150.0, +1.0, 1), "FA": (0.18, 0.45, -1.0, 4),
    "MD": (0.95, 0.75, +1.0, 4), "AD": (1.15, 1.25, +0.5, 4), "RD": (0.85, 0.50, +1.0, 4),
    "TSC": (42.0, 32.0, +1.0, 2), "T2s": (3.5, 3.0, -0.5, 3), "T2l": (28.0, 22.0, +0.5, 2),
    "fNa": (0.62, 0.58, -1.0, 4),
}
FRACTIONS = frozenset({"FA", "fNa"})  # maps bounded by 0 and 1
ROI_SPREAD, NOISE_SD, NOISE_RHO = 0.06, 0.04, 0.7
GAIN_SD, OFFSET_SD = 0.06, 0.04
SLOW_EFFECT, FAST_EFFECT = 0.6, 1.3
# Region order: motor regions sit among others, so that any ROI count keeps a modest share
GM_REGIONS = (
    "superiorfrontal", "insula", "precentral", "superiortemporal", "lingual", "postcentral",
    "thalamus", "precuneus", "paracentral", "caudalmiddlefrontal", "rostralmiddlefrontal",
    "parsopercularis", "parstriangularis", "parsorbitalis", "lateralorbitofrontal",
    "medialorbitofrontal", "frontalpole", "caudalanteriorcingulate", "rostralanteriorcingulate",
    "posteriorcingulate", "isthmuscingulate", "middletemporal", "inferiortemporal",
    "transversetemporal", "bankssts", "temporalpole", "entorhinal", "parahippocampal",
    "fusiform", "supramarginal", "superiorparietal", "inferiorparietal", "cuneus",
    "pericalcarine", "lateraloccipital", "caudate", "putamen", "pallidum", "hippocampus",
    "amygdala", "accumbens", "cerebellum",
)
WM_REGIONS = (
    "corpuscallosum_genu", "uncinate", "corticospinal", "cingulum", "superiorlongitudinal",
    "internalcapsule_posterior", "corpuscallosum_body", "internalcapsule_anterior",
    "coronaradiata_anterior", "coronaradiata_superior", "coronaradiata_posterior",
    "corpuscallosum_splenium", "inferiorfrontooccipital", "inferiorlongitudinal",
    "cerebralpeduncle", "fornix", "externalcapsule", "sagittalstratum",
    "thalamicradiation_posterior", "middlecerebellarpeduncle",
)
MOTOR_REGIONS = frozenset({"precentral", "postcentral", "paracentral", "corticospinal",
                           "internalcapsule_posterior"})


@dataclass(frozen=True)
class SyntheticCohort:
    """A generated cohort, in memory.

    Attributes
    ----------
    maps : dict of str -> DataFrame
        Map -> values (index ``participant_id`` = subject IDs, columns = ``roi_names``).
    participants : DataFrame
        ``participant_id, group, alsfrs_r, disease_months, age, sex``; NaN where missing.
    roi_names : list of str
    gm_rois : list of str
        The first ``n_gm`` ROIs (the ``GM`` parcellation).
    modalities : dict of str -> list of str
    progression : dict of str -> str
        Subject -> ``HC``, ``slow`` or ``fast``: the truth the labels should recover.
    motor_rois : list of str
        The ROIs carrying the group effect.
    """

    maps: dict[str, pd.DataFrame]
    participants: pd.DataFrame
    roi_names: list[str]
    gm_rois: list[str]
    modalities: dict[str, list[str]]
    progression: dict[str, str]
    motor_rois: list[str]


def _roi_names(prefix: str, regions: tuple[str, ...], count: int) -> list[str]:
    names = []
    for k in range(count):
        pair, hemi = divmod(k, 2)
        repeat, index = divmod(pair, len(regions))
        suffix = str(repeat + 1) if repeat else ""
        names.append(f"{prefix}_{regions[index]}{suffix}_{'LR'[hemi]}")
    return names


def _region(roi: str) -> str:
    return roi.split("_", 1)[1].rsplit("_", 1)[0].rstrip("0123456789")


def _ar1_noise(rng: np.random.Generator, n_subjects: int, n_rois: int) -> np.ndarray:
    """Unit-variance noise, correlated ``NOISE_RHO ** distance`` along the ROI order."""
    shocks = rng.standard_normal((n_subjects, n_rois))
    noise = np.empty_like(shocks)
    noise[:, 0] = shocks[:, 0]
    scale = np.sqrt(1.0 - NOISE_RHO**2)
    for j in range(1, n_rois):
        noise[:, j] = NOISE_RHO * noise[:, j - 1] + scale * shocks[:, j]
    return noise


def _clinical_scores(rng: np.random.Generator, n_slow: int, n_fast: int):
    """ALSFRS-R and months whose slopes put every slow patient below every fast one."""
    def draw(n, slopes, months):
        m = rng.integers(months[0], months[1] + 1, size=n)
        s = rng.uniform(slopes[0], slopes[1], size=n)
        score = np.clip(np.rint(48 - s * m), 0, 47).astype(int)
        return score, m
    slow = draw(n_slow, (0.15, 0.50), (12, 60))
    fast = draw(n_fast, (0.85, 1.80), (6, 24))
    slow_slopes = (48 - slow[0]) / slow[1]
    fast_slopes = (48 - fast[0]) / fast[1]
    # rounding moves a slope by at most 0.5/12 (slow) or 0.5/6 (fast): the ranges stay apart
    assert slow_slopes.max() < fast_slopes.min()
    return slow, fast


def make_synthetic_cohort(*, n_controls: int = 14, n_slow: int = 8, n_fast: int = 8,
                          n_rois: int = 332, n_gm: int = 187, seed: int = 0) -> SyntheticCohort:
    """Generate the synthetic cohort (see the module docstring for the model).

    Parameters
    ----------
    n_controls, n_slow, n_fast : int
        Subjects per group (``n_slow`` must equal ``n_fast`` or ``n_fast + 1``).
    n_rois, n_gm : int
        ROIs per map, of which the first ``n_gm`` are grey matter.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    SyntheticCohort

    Raises
    ------
    DataError
        Sizes that cannot give the described cohort.
    """
    if min(n_controls, n_slow, n_fast) < 1 or n_slow not in (n_fast, n_fast + 1):
        raise DataError("The synthetic cohort needs at least one subject per group and "
                        f"n_slow equal to n_fast or n_fast + 1 (got {n_controls}/{n_slow}/"
                        f"{n_fast}), so that the median slope splits the patients cleanly.")
    if not 1 <= n_gm <= n_rois:
        raise DataError(f"The synthetic cohort needs 1 <= n_gm <= n_rois (got n_gm={n_gm}, "
                        f"n_rois={n_rois}).")
    rng = np.random.default_rng(seed)
    n = n_controls + n_slow + n_fast
    ids = [f"sub-{i + 1:03d}" for i in range(n)]
    kinds = np.array(["HC"] * n_controls + ["slow"] * n_slow + ["fast"] * n_fast)
    kinds = kinds[rng.permutation(n)]
    (slow_score, slow_months), (fast_score, fast_months) = _clinical_scores(rng, n_slow, n_fast)
    alsfrs = np.full(n, np.nan)
    months = np.full(n, np.nan)
    alsfrs[kinds == "slow"], months[kinds == "slow"] = slow_score, slow_months
    alsfrs[kinds == "fast"], months[kinds == "fast"] = fast_score, fast_months
    participants = pd.DataFrame({
        "participant_id": ids,
        "group": np.where(kinds == "HC", "HC", "ALS"),
        "alsfrs_r": alsfrs,
        "disease_months": months,
        "age": np.rint(rng.normal(np.where(kinds == "HC", 55.0, 58.0), 9.0)).astype(int),
        "sex": rng.choice(["M", "F"], size=n),
    })

    roi_names = _roi_names("GM", GM_REGIONS, n_gm) + _roi_names("WM", WM_REGIONS, n_rois - n_gm)
    grey = np.arange(n_rois) < n_gm
    motor = np.array([_region(r) in MOTOR_REGIONS for r in roi_names])
    severity = np.select([kinds == "slow", kinds == "fast"], [SLOW_EFFECT, FAST_EFFECT], 0.0)
    maps = {}
    for name, (gm_value, wm_value, direction, decimals) in MAP_VALUES.items():
        tissue = np.where(grey, gm_value, wm_value)
        roi_mean = tissue * (1.0 + ROI_SPREAD * rng.standard_normal(n_rois))
        noise_sd = NOISE_SD * tissue
        noise = _ar1_noise(rng, n, n_rois) * noise_sd
        effect = direction * severity[:, None] * (motor * noise_sd)[None, :]
        gain = 1.0 + GAIN_SD * rng.standard_normal((n, 1))
        offset = OFFSET_SD * tissue.mean() * rng.standard_normal((n, 1))
        values = gain * (roi_mean + effect + noise) + offset
        values = np.clip(values, 0.01, 0.99) if name in FRACTIONS else np.maximum(values, 1e-3)
        maps[name] = pd.DataFrame(np.round(values, decimals), columns=roi_names,
                                  index=pd.Index(ids, name="participant_id"))
    return SyntheticCohort(
        maps=maps, participants=participants, roi_names=roi_names, gm_rois=roi_names[:n_gm],
        modalities={k: list(v) for k, v in MODALITIES.items()},
        progression=dict(zip(ids, kinds.tolist())),
        motor_rois=[r for r, m in zip(roi_names, motor) if m],
    )


def write_synthetic_cohort(directory: Path, *, seed: int = 0, **sizes) -> Path:
    """Write the synthetic cohort in the on-disk input format, with a study file.

    Writes ``maps/<map>.tsv``, ``participants.tsv`` (``n/a`` for missing),
    ``rois_gm.txt`` and ``study.yaml`` (the published study as a documented example)
    under ``directory`` (created if needed; existing files are overwritten).

    Parameters
    ----------
    directory : Path
    seed : int
        Seed of the data (and the study's ``seed``).
    **sizes
        ``n_controls``, ``n_slow``, ``n_fast``, ``n_rois``, ``n_gm`` of
        :func:`make_synthetic_cohort`.

    Returns
    -------
    Path
        The ``study.yaml`` written.
    """
    cohort = make_synthetic_cohort(seed=seed, **sizes)
    directory = Path(directory)
    (directory / "maps").mkdir(parents=True, exist_ok=True)
    for name, table in cohort.maps.items():
        table.to_csv(directory / "maps" / f"{name}.tsv", sep="\t")
    participants = cohort.participants.astype({"alsfrs_r": "Int64", "disease_months": "Int64"})
    participants.to_csv(directory / "participants.tsv", sep="\t", index=False, na_rep="n/a")
    (directory / "rois_gm.txt").write_text(
        "# Grey-matter ROIs of the synthetic cohort: the `GM` parcellation (one name per line)\n"
        + "\n".join(cohort.gm_rois) + "\n", encoding="utf-8")
    study = directory / "study.yaml"
    study.write_text(STUDY_TEMPLATE.substitute(seed=int(seed)), encoding="utf-8")
    return study


STUDY_TEMPLATE = Template("""\
# cohortbench study file: the built-in synthetic cohort, analysed as in the published
# 7T ALS study (Appukuttan et al., 2025). Copy this file next to your own data and edit it.
# Relative paths are relative to this file. `cohortbench validate study.yaml` checks it.
name: synthetic-als
seed: $seed                                   # everything random derives from this one seed

data:
  maps:                                     # one table per map: participant_id + one column per ROI
    qT1: maps/qT1.tsv
    FA: maps/FA.tsv
    MD: maps/MD.tsv
    AD: maps/AD.tsv
    RD: maps/RD.tsv
    TSC: maps/TSC.tsv
    T2s: maps/T2s.tsv
    T2l: maps/T2l.tsv
    fNa: maps/fNa.tsv
  participants: participants.tsv            # the clinical table; it decides who is in the cohort
  id_column: participant_id
  # exclude: [ICV, "*_total"]               # columns that are never features (names or globs)
  modalities:                               # named groups of maps
    qT1: [qT1]
    DTI: [FA, MD, AD, RD]
    Na: [TSC, T2s, T2l, fNa]
  parcellations:                            # `all` (every ROI) always exists
    GM: rois_gm.txt                         # grey matter: one ROI name per line
  missing: error                            # error | drop-subjects | impute-mean | impute-median

labels:
  # ALSFRS-R slope in points per month; safe arithmetic over clinical columns
  slope: {expression: "(48 - alsfrs_r) / disease_months"}
  # slow (<= median) vs fast (> median), the median taken over the patients only
  progression: {from: slope, split: median, classes: [slow, fast], among: {group: ALS}}

tasks:                                      # class -> conditions (all must hold; a list = any of)
  2-class:
    classes: {HC: {group: HC}, ALS: {group: ALS}}
  3-class:
    classes: {HC: {group: HC}, slow: {progression: slow}, fast: {progression: fast}}
  SvF:
    classes: {slow: {progression: slow}, fast: {progression: fast}}
    # train_only: {slow: {group: HC}}       # hybrid training: controls join training as `slow`

cv: {outer: loo, inner: "stratified-kfold:5"}
permutations: 50                            # shuffled-label repeats per evaluation (0 = none)
metric: accuracy

stages:
  - name: screen                            # every classifier, default settings
    classifiers: all
    pipeline: {row_scaling: standard, column_scaling: standard}
    shortlist: {min_accuracy: 0.6}          # keep those >= 0.6 on every task (or `keep: [names]`)
  - name: refine                            # 297 pipelines per shortlisted classifier
    classifiers: shortlist
    grid:
      row_scaling: [none, standard, minmax]
      column_scaling: [none, standard, minmax]
      feature_selection: [none, kbest, rfe]
      n_features: [10, 25, 50, 100, 150]
      dim_reduction: [none, pca, lda]
  - name: tune                              # hyperparameter search strategies, matched budgets
    classifiers: shortlist
    pipeline: best
    search: [grid, random, bayes]
  - name: enrich                            # which modalities and parcellation carry the signal
    classifiers: [MLR_L2]
    pipeline: {row_scaling: standard, column_scaling: standard}
    search: [grid]
    modalities: [[qT1, DTI, Na], [qT1, DTI], [qT1, Na]]
    parcellations: [GM, all]
    tasks: [3-class, SvF, 2-class]

# execution:                                # used by `cohortbench run --cluster slurm`
#   slurm: {queue: normal, cores: 32, memory: 64GB, walltime: "04:00:00", jobs: 4}
""")
