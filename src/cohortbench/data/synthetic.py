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
  ``effect``: in motor-related ROIs (``MOTOR_REGIONS``; listed in ``motor_rois``) of the
  maps in ``effect_maps``, patients differ from controls by ``SLOW_EFFECT`` (0.6, slow) or
  ``FAST_EFFECT`` (1.3, fast) noise standard deviations times ``effect_size``, in a
  per-map direction (e.g. lower FA, higher MD; half as strong in AD, T2s and T2l).
  ``gain`` ~ ``1 + N(0, GAIN_SD)`` and
  ``offset`` ~ ``N(0, OFFSET_SD)`` times the map's typical value are per subject and map:
  scanner and calibration effects that swamp the regional effect column by column and
  that scaling each subject's row removes.
- **Null maps** ``null1``... (``n_null_maps``, modality ``Noise``; arbitrary units around
  100 in grey and 80 in white matter): built the same way, never with an effect.

Parameters of :func:`make_synthetic_cohort` (all keywords):

- ``n_controls=14, n_slow=8, n_fast=8`` subjects per group; ``n_rois=332`` ROIs per map of
  which the first ``n_gm=187`` are grey matter.
- ``seed=0``: seed of the subjects.
- ``population_seed=None``: without it, everything (population and subjects) comes from
  ``numpy.random.default_rng(seed)`` -- the built-in cohort, byte-identical for a given
  seed and sizes. With it, the per-ROI means come from the population's own stream
  (:func:`make_synthetic_population`) and only the subjects from ``seed``: cohorts with the
  same ``population_seed`` are independent samples of one population, e.g. a small
  training cohort and a test set of thousands of subjects. (Population parameters are the
  per-ROI means; effect maps, effect ROIs, effect size and the map settings are fixed by
  the arguments.) ``SyntheticPopulation.sample(n_controls, n_slow, n_fast, rng)`` draws
  more subjects from one population without redrawing it.
- ``effect_maps=None``: the maps carrying the effect (``None``: all nine); the others carry
  none (exposed as ``SyntheticCohort.effect_maps``).
- ``n_null_maps=0``: extra maps without any effect.
- ``effect_size=1.0``: multiplier of both effects (0: pure noise; 0.5: a hard cohort; 2: an
  easy one).

Any sample size works (2,000 subjects x 332 ROIs x 9 maps take about 0.3 s), but
the study file's median split recovers the slow/fast groups only when ``n_slow`` equals
``n_fast`` or ``n_fast + 1`` (above), so the generator keeps that rule for every sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from string import Template

import numpy as np

from cohortbench.data.synthetic_model import (
    MAP_VALUES,
    MODALITIES,
    MOTOR_REGIONS,
    NULL_MODALITY,
    SyntheticCohort,
    SyntheticPopulation,
    _roi_mean,
    check_group_sizes,
    draw_cohort,
    make_layout,
    make_synthetic_population,
)

__all__ = ["SyntheticCohort", "SyntheticPopulation", "make_synthetic_cohort",
           "make_synthetic_population", "write_synthetic_cohort", "MODALITIES", "MAP_VALUES",
           "MOTOR_REGIONS", "NULL_MODALITY"]


def make_synthetic_cohort(*, n_controls: int = 14, n_slow: int = 8, n_fast: int = 8,
                          n_rois: int = 332, n_gm: int = 187, seed: int = 0,
                          population_seed: int | None = None,
                          effect_maps: Sequence[str] | None = None, n_null_maps: int = 0,
                          effect_size: float = 1.0) -> SyntheticCohort:
    """Generate the synthetic cohort (see the module docstring for the model).

    Parameters
    ----------
    n_controls, n_slow, n_fast : int
        Subjects per group (``n_slow`` must equal ``n_fast`` or ``n_fast + 1``).
    n_rois, n_gm : int
        ROIs per map, of which the first ``n_gm`` are grey matter.
    seed : int
        Seed of ``numpy.random.default_rng`` for the subjects (and, without
        ``population_seed``, for the population too: the built-in cohort).
    population_seed : int or None
        Seed of the population (per-ROI means) drawn by
        :func:`make_synthetic_population`; cohorts with the same ``population_seed`` and
        different ``seed`` are independent samples of one population.
    effect_maps : sequence of str or None
        The maps carrying the group effect (``None``: all nine).
    n_null_maps : int
        Extra maps ``null1``... (modality ``Noise``) without any effect.
    effect_size : float
        Multiplier of the slow and fast effects (1: the built-in values).

    Returns
    -------
    SyntheticCohort

    Raises
    ------
    DataError
        Sizes or settings that cannot give the described cohort.
    """
    check_group_sizes(n_controls, n_slow, n_fast)
    if population_seed is not None:
        population = make_synthetic_population(
            n_rois=n_rois, n_gm=n_gm, seed=population_seed, effect_maps=effect_maps,
            n_null_maps=n_null_maps, effect_size=effect_size)
        return population.sample(n_controls, n_slow, n_fast, np.random.default_rng(seed))
    layout = make_layout(n_rois, n_gm, effect_maps, n_null_maps, effect_size)
    rng = np.random.default_rng(seed)
    # Legacy stream: each map's ROI means come from the subjects' generator, in between
    # their values, exactly as the built-in cohort has always been drawn.
    return draw_cohort(rng, layout, n_controls, n_slow, n_fast,
                       lambda name, tissue: _roi_mean(rng, tissue))


def write_synthetic_cohort(directory: Path, *, seed: int = 0,
                           cohort: SyntheticCohort | None = None, **settings) -> Path:
    """Write the synthetic cohort in the on-disk input format, with a study file.

    Writes ``maps/<map>.tsv``, ``participants.tsv`` (``n/a`` for missing),
    ``rois_gm.txt`` and ``study.yaml`` (the published study as a documented example)
    under ``directory`` (created if needed; existing files are overwritten). Null maps, when
    the cohort has any, are listed in the study's maps and in a modality ``Noise``.

    Parameters
    ----------
    directory : Path
    seed : int
        Seed of the data (and the study's ``seed``).
    cohort : SyntheticCohort, optional
        A cohort already generated (e.g. a sample of a :class:`SyntheticPopulation`) to
        write instead of generating one; ``settings`` must then be empty.
    **settings
        ``n_controls``, ``n_slow``, ``n_fast``, ``n_rois``, ``n_gm`` and the other keywords
        of :func:`make_synthetic_cohort`.

    Returns
    -------
    Path
        The ``study.yaml`` written.
    """
    if cohort is not None and settings:
        raise TypeError("write_synthetic_cohort takes either a cohort or the settings of "
                        f"make_synthetic_cohort, not both (got {', '.join(settings)}).")
    if cohort is None:
        cohort = make_synthetic_cohort(seed=seed, **settings)
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
    study.write_text(_study_text(int(seed), [m for m in cohort.maps if m not in MAP_VALUES]),
                     encoding="utf-8")
    return study


def _study_text(seed: int, extra_maps: list[str]) -> str:
    """The study template; extra (null) maps inserted after the standard ones."""
    text = STUDY_TEMPLATE.substitute(seed=seed)
    if extra_maps:
        last_map, last_modality = "    fNa: maps/fNa.tsv\n", "    Na: [TSC, T2s, T2l, fNa]\n"
        text = text.replace(last_map, last_map + "".join(
            f"    {m}: maps/{m}.tsv\n" for m in extra_maps), 1)
        text = text.replace(last_modality, last_modality
                            + f"    {NULL_MODALITY}: [{', '.join(extra_maps)}]\n", 1)
    return text


STUDY_TEMPLATE = Template("""\
# cohortbench study file: the built-in synthetic cohort, analysed as in the published
# 7T ALS study (Appukuttan et al., 2025). Copy this file next to your own data and edit it.
# Relative paths are relative to this file. `cohortbench validate study.yaml` checks it.
# Every key the study file accepts is below, set or commented out, with its default.
#
# How long: this is the full published protocol. On the built-in cohort it takes about 5 hours
# on 2 cores (fast engine; benchmarks/RESULTS.md), most of it in refine (RFE on unscaled values,
# and the shortlisted classifiers' fits on 297 pipelines). `cohortbench validate study.yaml`
# prints an estimate for your data and machine before you start (`--jobs N` for N workers).
# A first, smaller run: `cohortbench demo --quick` (about a minute), or here `permutations: 5`
# and a smaller refine grid (e.g. `feature_selection: [none, kbest]`, one row and one column
# scaling), then restore them for the real analysis (into a new `--out` directory).
name: synthetic-als
seed: $seed                                   # everything random derives from this one seed

data:
  # Either one table per map (rows = subjects; an ID column + one column per ROI) ...
  maps:
    qT1: maps/qT1.tsv
    FA: maps/FA.tsv
    MD: maps/MD.tsv
    AD: maps/AD.tsv
    RD: maps/RD.tsv
    TSC: maps/TSC.tsv
    T2s: maps/T2s.tsv
    T2l: maps/T2l.tsv
    fNa: maps/fNa.tsv
    # a map may set its own ID column (and Excel sheet), e.g. a FreeSurfer table:
    # thickness: {file: lh.aparc.thickness.txt, id_column: lh.aparc.thickness, sheet: null}
  participants: participants.tsv            # the clinical table; it decides who is in the cohort
  id_column: participant_id                 # the clinical table's ID column (default:
                                            #  participant_id if present, else the first column);
                                            #  a map table without it uses its first column
  # id_match: exact                         # exact | digits (001 = 1 = sub-001) | case-insensitive
  # ... or one wide table holding IDs, clinical columns and features:
  # table: cohort.xlsx
  # blocks: {qT1: "qT1_*", FA: "FA_*"}      # map name -> column-name glob (with `table` only)
  # sheet: Sheet1                           # the Excel sheet, when a workbook has several
  # exclude: [ICV, "*_total"]               # columns never used as features (names or globs)
  # keep_summary_columns: [eTIV]            # FreeSurfer summary columns to keep as features
                                            #  (left out by default; names or globs)
  modalities:                               # named groups of maps (default: each map alone)
    qT1: [qT1]
    DTI: [FA, MD, AD, RD]
    Na: [TSC, T2s, T2l, fNa]
  parcellations:                            # `all` (every ROI) always exists
    GM: rois_gm.txt                         # a file with one ROI name per line, or a list
  missing: error                            # error | drop-subjects | impute-mean | impute-median
  # covariates: [age, sex, EstimatedTotalIntraCranialVol]  # for the confounds/harmonize steps:
                                            #  clinical columns, or summary columns a FreeSurfer
                                            #  map table leaves out of the features
  # batch: site                             # the site (scanner) column: label shuffles within
                                            #  sites, harmonize, cv.outer: leave-site-out

labels:                                     # derived labels (optional)
  # ALSFRS-R slope in points per month: safe arithmetic (+ - * /, parentheses) over columns
  slope: {expression: "(48 - alsfrs_r) / disease_months"}
  # slow (<= the cut) vs fast (> the cut); split: median or a number; among: who is split
  progression: {from: slope, split: median, classes: [slow, fast], among: {group: ALS}}

tasks:                                      # class -> conditions (all must hold; a list = any of)
  2-class:
    classes: {HC: {group: HC}, ALS: {group: ALS}}
  3-class:
    classes: {HC: {group: HC}, slow: {progression: slow}, fast: {progression: fast}}
  SvF:
    classes: {slow: {progression: slow}, fast: {progression: fast}}
    # train_only: {slow: {group: HC}}       # hybrid training: controls join training as `slow`
                                            #  but are never tested

cv:
  outer: loo                                # loo | stratified-kfold:K | repeated-stratified-kfold:K:R
                                            #  | leave-site-out (one fold per site of data.batch)
  inner: "stratified-kfold:5"               # the hyperparameter search's CV (stratified-kfold:K)
  reduce_inner_k: false                     # lower the inner K to the smallest class instead of failing
permutations: 50                            # shuffled-label repeats per evaluation (0 = none;
                                            #  at least 19 for a p-value that can reach 0.05)
metric: accuracy                            # accuracy | balanced_accuracy | f1_macro (ranks results)

stages:
  - name: screen                            # every classifier, default settings
    # kind: standard                        # the stage's kind (default standard); other
    # options: {}                           #  registered kinds take their settings here
    classifiers: all                        # all | shortlist | [names]
    pipeline: {row_scaling: standard, column_scaling: standard}
    shortlist: {min_accuracy: 0.6}          # keep those >= 0.6 on every task, or keep: [names]
  - name: refine                            # 297 pipelines per shortlisted classifier
    classifiers: shortlist
    grid:                                   # cartesian product of these options
      row_scaling: [none, standard, minmax]
      column_scaling: [none, standard, minmax]
      feature_selection: [none, kbest, rfe]
      n_features: [10, 25, 50, 100, 150]    # only with a selector (kbest, rfe)
      dim_reduction: [none, pca, lda]
      # harmonize: [none, combat]             # ComBat across data.batch sites, fitted in-fold; or
      #   {method: combat, preserve: [age], unseen_site: error}   # error | fit-unlabeled
      # confounds: [none, [age, sex]]         # none, or covariates regressed out in-fold
      # skip: [{row_scaling: none, column_scaling: none, feature_selection: rfe}]
      #                                     # combinations left out (this one: RFE on raw
      #                                     #  values, flagged numerically unreliable anyway)
  - name: tune                              # hyperparameter search strategies, matched budgets
    classifiers: shortlist
    pipeline: best                          # best of the previous stage, or explicit steps
    search: [grid, random, bayes]           # none | grid | random | bayes (default: [none])
  - name: enrich                            # which modalities and parcellation carry the signal
    classifiers: [MLR_L2]
    pipeline: {row_scaling: standard, column_scaling: standard, feature_selection: none,
               n_features: null, dim_reduction: none}
    search: [grid]
    modalities: [[qT1, DTI, Na], [qT1, DTI], [qT1, Na]]   # modalities, maps or `all`
    parcellations: [GM, all]                # default: [all]
    tasks: [3-class, SvF, 2-class]          # default: every task
  - name: learn                             # would more subjects help? (docs/learning_curves.md)
    kind: learn                             # standard (default) | learn: learning curves
    classifiers: [MLR_L2]                   # enrich's classifier and pipeline, no search
    pipeline: {row_scaling: standard, column_scaling: standard}
    modalities: [[qT1, DTI, Na], [qT1, DTI], [qT1, Na]]   # one curve per set, same subsamples
    tasks: [3-class, SvF, 2-class]
    options:                                # a kind's own settings
      # sizes: [0.5, 0.75, 1.0]             # subject counts or fractions of the cohort (default:
                                            #  8 sizes from the smallest the CV allows to all)
      repeats: 20                           # class-stratified subsamples per size
      # permutations: 50                    # label shuffles per subsample (default: the study's)
      # project_to: [40, 50, 60]            # subject counts to project to (default: N+10, N+20, 2N)
  # - name: importance                      # which maps and regions drive the best result
  #   kind: importance                      #  (docs/importance.md); kept out of comparisons
  #   options:
  #     of: [refine, tune]                  # whose best configuration per task is examined
  #                                         #  (default: every earlier stage that compares)
  #     maps: true                          # accuracy without each map/modality and alone
  #     regions: true                       # activation patterns, family-wise p per region
  #     resampling: "repeated-stratified-kfold:5:10"  # outer CV of the regions evaluation
  #                                         #  (default: cv.outer; for selection stability)
  #   tasks: [3-class, SvF]                 # default: every task with results

analysis:
  top_performers:                           # configurations good on every one of these tasks
    # tasks: [3-class, SvF]                 # default: every task of the study
    min_accuracy: 0.6
    min_z: 2.0
    strict_accuracy: 0.7                    # the stricter tier

# execution:                                # used by `cohortbench run --cluster slurm`
#   slurm:
#     queue: normal
#     cores: 32                             # cores per SLURM job
#     memory: 64GB                          # memory per SLURM job
#     walltime: "04:00:00"                  # quoted: YAML reads 04:00:00 as a number
#     jobs: 4                               # SLURM jobs to start
#     processes: null                       # worker processes per job (default: one per core)
#     job_extra_directives: []              # extra #SBATCH lines, e.g. ["--account=myproject"]
#     job_directives_skip: []               # #SBATCH directives to leave out, e.g. ["--mem"]
""")
