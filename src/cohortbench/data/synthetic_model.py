"""The generative model behind the synthetic cohort (documented in :mod:`.synthetic`).

Split out of ``synthetic.py`` so that the model (constants, population parameters, drawing
subjects) stays readable apart from the on-disk writer and its study template.

Random streams, written down because the built-in cohort must stay byte-identical:

- **Legacy** (``make_synthetic_cohort(seed=s)``, no ``population_seed``): one
  ``default_rng(s)`` gives, in this order, the group order, the clinical scores, age, sex,
  then per map ``roi_mean``, noise, gain, offset. The population (``roi_mean``) is drawn in
  between subject values, so it cannot be kept while drawing other subjects.
- **Population** (:func:`make_synthetic_population`): ``roi_mean`` of every map comes from
  the population's own generator; :meth:`SyntheticPopulation.sample` takes the subjects'
  generator and draws the same subject values in the same order, minus ``roi_mean``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cohortbench.errors import DataError

__all__ = [
    "SyntheticCohort",
    "SyntheticPopulation",
    "make_synthetic_population",
    "MODALITIES",
    "MAP_VALUES",
    "MOTOR_REGIONS",
    "NULL_MODALITY",
]

MODALITIES = {"qT1": ["qT1"], "DTI": ["FA", "MD", "AD", "RD"], "Na": ["TSC", "T2s", "T2l", "fNa"]}
# map -> (grey-matter value, white-matter value, direction of the ALS effect, decimals kept)
MAP_VALUES = {
    "qT1": (1900.0, 1150.0, +1.0, 1), "FA": (0.18, 0.45, -1.0, 4),
    "MD": (0.95, 0.75, +1.0, 4), "AD": (1.15, 1.25, +0.5, 4), "RD": (0.85, 0.50, +1.0, 4),
    "TSC": (42.0, 32.0, +1.0, 2), "T2s": (3.5, 3.0, -0.5, 3), "T2l": (28.0, 22.0, +0.5, 2),
    "fNa": (0.62, 0.58, -1.0, 4),
}
# Null maps (``null1``, ``null2``...): arbitrary units, never an effect
NULL_VALUES = (100.0, 80.0, 0.0, 3)
NULL_MODALITY = "Noise"  # not "Null": YAML reads that key as null
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
# Tags the population's seed so that population_seed == seed gives unrelated streams
_POPULATION_STREAM = 0x706F70


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
        The ROIs carrying the group effect (in the maps of ``effect_maps``).
    effect_maps : list of str
        The maps carrying the group effect; every other map (``null`` maps included) has
        none.
    """

    maps: dict[str, pd.DataFrame]
    participants: pd.DataFrame
    roi_names: list[str]
    gm_rois: list[str]
    modalities: dict[str, list[str]]
    progression: dict[str, str]
    motor_rois: list[str]
    effect_maps: list[str] = field(default_factory=lambda: list(MAP_VALUES))


@dataclass(frozen=True)
class _Layout:
    """ROI names and masks, and the maps with their settings (fixed by the arguments)."""

    roi_names: list[str]
    n_gm: int
    maps: dict[str, tuple[float, float, float, int]]
    effect_maps: list[str]
    effect_size: float

    @property
    def grey(self) -> np.ndarray:
        return np.arange(len(self.roi_names)) < self.n_gm

    @property
    def motor(self) -> np.ndarray:
        return np.array([_region(r) in MOTOR_REGIONS for r in self.roi_names])

    def modalities(self) -> dict[str, list[str]]:
        out = {k: list(v) for k, v in MODALITIES.items()}
        nulls = [m for m in self.maps if m not in MAP_VALUES]
        if nulls:
            out[NULL_MODALITY] = nulls
        return out


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


def make_layout(n_rois: int, n_gm: int, effect_maps: Sequence[str] | None,
                n_null_maps: int, effect_size: float) -> _Layout:
    """Validate the model's arguments and fix names, maps and effects."""
    if not 1 <= n_gm <= n_rois:
        raise DataError(f"The synthetic cohort needs 1 <= n_gm <= n_rois (got n_gm={n_gm}, "
                        f"n_rois={n_rois}).")
    if int(n_null_maps) != n_null_maps or n_null_maps < 0:
        raise DataError(f"The synthetic cohort's n_null_maps must be a whole number >= 0 "
                        f"(got {n_null_maps!r}).")
    if not (np.isfinite(effect_size) and effect_size >= 0):
        raise DataError(f"The synthetic cohort's effect_size must be a finite number >= 0 "
                        f"(got {effect_size!r}); 1 is the built-in cohort's effect.")
    effect_maps = list(MAP_VALUES) if effect_maps is None else list(effect_maps)
    unknown = [m for m in effect_maps if m not in MAP_VALUES]
    if unknown:
        raise DataError(f"The synthetic cohort has no map {unknown[0]!r} for effect_maps: "
                        f"choose among {', '.join(MAP_VALUES)}.")
    maps = dict(MAP_VALUES)
    maps.update({f"null{k + 1}": NULL_VALUES for k in range(int(n_null_maps))})
    roi_names = _roi_names("GM", GM_REGIONS, n_gm) + _roi_names("WM", WM_REGIONS, n_rois - n_gm)
    return _Layout(roi_names=roi_names, n_gm=n_gm, maps=maps,
                   effect_maps=[m for m in MAP_VALUES if m in effect_maps],
                   effect_size=float(effect_size))


def check_group_sizes(n_controls: int, n_slow: int, n_fast: int) -> None:
    if min(n_controls, n_slow, n_fast) < 1 or n_slow not in (n_fast, n_fast + 1):
        raise DataError("The synthetic cohort needs at least one subject per group and "
                        f"n_slow equal to n_fast or n_fast + 1 (got {n_controls}/{n_slow}/"
                        f"{n_fast}), so that the median slope splits the patients cleanly.")


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


def _roi_mean(rng: np.random.Generator, tissue: np.ndarray) -> np.ndarray:
    return tissue * (1.0 + ROI_SPREAD * rng.standard_normal(len(tissue)))


def draw_cohort(rng: np.random.Generator, layout: _Layout, n_controls: int, n_slow: int,
                n_fast: int, roi_mean_of: Callable[[str, np.ndarray], np.ndarray],
                first_id: int = 1) -> SyntheticCohort:
    """Draw subjects; ``roi_mean_of(map, tissue)`` gives each map's population ROI means.

    ``roi_mean_of`` is called between the map's subject draws, in the legacy position of
    ``roi_mean``, so that a callable drawing from ``rng`` itself reproduces the built-in
    cohort's stream exactly.
    """
    check_group_sizes(n_controls, n_slow, n_fast)
    n = n_controls + n_slow + n_fast
    n_rois = len(layout.roi_names)
    ids = [f"sub-{i:03d}" for i in range(first_id, first_id + n)]
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

    grey, motor = layout.grey, layout.motor
    # effect_size multiplies both effects; 1.0 leaves the built-in values bit for bit
    severity = np.select([kinds == "slow", kinds == "fast"],
                         [SLOW_EFFECT * layout.effect_size, FAST_EFFECT * layout.effect_size],
                         0.0)
    maps = {}
    for name, (gm_value, wm_value, direction, decimals) in layout.maps.items():
        tissue = np.where(grey, gm_value, wm_value)
        roi_mean = roi_mean_of(name, tissue)
        noise_sd = NOISE_SD * tissue
        noise = _ar1_noise(rng, n, n_rois) * noise_sd
        carried = direction if name in layout.effect_maps else 0.0
        effect = carried * severity[:, None] * (motor * noise_sd)[None, :]
        gain = 1.0 + GAIN_SD * rng.standard_normal((n, 1))
        offset = OFFSET_SD * tissue.mean() * rng.standard_normal((n, 1))
        values = gain * (roi_mean + effect + noise) + offset
        values = np.clip(values, 0.01, 0.99) if name in FRACTIONS else np.maximum(values, 1e-3)
        maps[name] = pd.DataFrame(np.round(values, decimals), columns=layout.roi_names,
                                  index=pd.Index(ids, name="participant_id"))
    return SyntheticCohort(
        maps=maps, participants=participants, roi_names=list(layout.roi_names),
        gm_rois=layout.roi_names[:layout.n_gm], modalities=layout.modalities(),
        progression=dict(zip(ids, kinds.tolist())),
        motor_rois=[r for r, m in zip(layout.roi_names, motor) if m],
        effect_maps=list(layout.effect_maps),
    )


@dataclass(frozen=True, eq=False)
class SyntheticPopulation:
    """Fixed population parameters from which independent subjects can be drawn.

    Build it with :func:`make_synthetic_population`; every :meth:`sample` call draws new
    subjects (new noise, gains, offsets, clinical scores) around the same per-ROI means,
    with the same effect maps, effect ROIs and effect size.

    Attributes
    ----------
    roi_names, gm_rois, motor_rois, effect_maps : list of str
        As in :class:`SyntheticCohort`.
    maps : list of str
        Every map drawn (the nine standard maps, then ``null1``, ``null2``...).
    effect_size : float
        Multiplier of the slow and fast effects.
    roi_means : dict of str -> ndarray
        Map -> population mean of each ROI (read-only).
    """

    layout: _Layout = field(repr=False)
    roi_means: dict[str, np.ndarray] = field(repr=False)

    @property
    def roi_names(self) -> list[str]:
        return list(self.layout.roi_names)

    @property
    def gm_rois(self) -> list[str]:
        return self.layout.roi_names[:self.layout.n_gm]

    @property
    def motor_rois(self) -> list[str]:
        return [r for r, m in zip(self.layout.roi_names, self.layout.motor) if m]

    @property
    def effect_maps(self) -> list[str]:
        return list(self.layout.effect_maps)

    @property
    def maps(self) -> list[str]:
        return list(self.layout.maps)

    @property
    def effect_size(self) -> float:
        return self.layout.effect_size

    def sample(self, n_controls: int, n_slow: int, n_fast: int, rng: np.random.Generator,
               *, first_id: int = 1) -> SyntheticCohort:
        """Draw ``n_controls + n_slow + n_fast`` new subjects of this population.

        Parameters
        ----------
        n_controls, n_slow, n_fast : int
            Subjects per group (``n_slow`` must equal ``n_fast`` or ``n_fast + 1``, so that
            the study file's median split recovers the groups; any size works, thousands
            included).
        rng : numpy.random.Generator
            The subjects' generator (consumed).
        first_id : int, default=1
            Number of the first subject ID (``sub-001``...); give disjoint ranges to
            samples that will be put in one table.

        Returns
        -------
        SyntheticCohort
        """
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator, e.g. "
                            "numpy.random.default_rng(seed).")
        return draw_cohort(rng, self.layout, n_controls, n_slow, n_fast,
                           lambda name, tissue: self.roi_means[name], first_id=first_id)


def make_synthetic_population(*, n_rois: int = 332, n_gm: int = 187, seed: int = 0,
                              effect_maps: Sequence[str] | None = None, n_null_maps: int = 0,
                              effect_size: float = 1.0) -> SyntheticPopulation:
    """Draw the population parameters (per-ROI means) of a synthetic cohort.

    Parameters
    ----------
    n_rois, n_gm : int
        ROIs per map, of which the first ``n_gm`` are grey matter.
    seed : int
        Seed of the population (a stream of its own: ``seed`` equal to a subjects' seed
        gives unrelated draws).
    effect_maps : sequence of str or None
        The standard maps that carry the group effect (``None``: all nine).
    n_null_maps : int
        Extra maps ``null1``... (modality ``Noise``) with no effect.
    effect_size : float
        Multiplier of the slow and fast effects (0: no effect anywhere; 1: the built-in
        cohort's).

    Returns
    -------
    SyntheticPopulation
    """
    layout = make_layout(n_rois, n_gm, effect_maps, n_null_maps, effect_size)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _POPULATION_STREAM]))
    grey = layout.grey
    roi_means = {}
    for name, (gm_value, wm_value, _, _) in layout.maps.items():
        means = _roi_mean(rng, np.where(grey, gm_value, wm_value))
        means.setflags(write=False)
        roi_means[name] = means
    return SyntheticPopulation(layout=layout, roi_means=roi_means)
