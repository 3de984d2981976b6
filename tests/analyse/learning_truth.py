"""Truth harness for learning-curve projections (issue 19), shared by tests and benchmarks.

For each population seed: draw a small cohort (default 14 HC / 8 slow / 8 fast) from a
synthetic population, measure its learning curve with a pluggable ``measure_curve``,
project it to ``target`` subjects, and compare with the truth: the mean accuracy of the
same pipeline trained on ``target - 1`` subjects drawn from the population and tested on
``n_test`` independent subjects, averaged over ``n_draws`` training draws.

``measure_curve(cohort, *, task, sizes, repeats, seed, n_permutations) -> DataFrame`` must
return the per-(size, repeat) table of :mod:`cohortbench.analyse.learning_curve`
(``n_subjects, n_train, repeat, accuracy`` and, at least at the largest size, the
permutation columns ``null_mean, null_std, p_value``). :func:`sklearn_curve` is the plain
scikit-learn version; the ``learn`` stage can be plugged in instead (write the cohort with
``write_synthetic_cohort(directory, cohort=cohort)``, run a study whose learn stage uses
``row_scaling: standard, column_scaling: standard`` and ``MLR_L2`` without search, and read
``learning_curve.csv``) so that the same truth checks the real stage: :func:`stage_curve`
does exactly that.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from cohortbench.analyse.learning_curve import (
    LearningCurveProjection,
    project_learning_curve,
)
from cohortbench.data.synthetic import (
    SyntheticCohort,
    make_synthetic_population,
    write_synthetic_cohort,
)
from cohortbench.design.subsamples import size_ladder, stratified_subsample, subset_key
from cohortbench.execute.permutations import label_shuffles, permutation_stats
from cohortbench.execute.row_scaling import RowScaler

#: Group -> class of each task, as in the default study file.
TASKS = {
    "2-class": {"HC": "HC", "slow": "ALS", "fast": "ALS"},
    "3-class": {"HC": "HC", "slow": "slow", "fast": "fast"},
}


def task_data(cohort: SyntheticCohort, task: str) -> tuple[np.ndarray, np.ndarray, list]:
    """Features (maps side by side, rows scaled per map), labels and the map blocks.

    Row scaling uses only each subject's own values, so scaling every row once is the same
    as scaling inside every fold (and saves refitting it thousands of times).
    """
    ids = list(cohort.maps[next(iter(cohort.maps))].index)
    X = np.hstack([cohort.maps[m].loc[ids].to_numpy(np.float64) for m in cohort.maps])
    width = len(cohort.roi_names)
    blocks = [(k * width, (k + 1) * width) for k in range(len(cohort.maps))]
    X = RowScaler("standard", blocks=blocks).fit_transform(X)
    y = np.array([TASKS[task][cohort.progression[s]] for s in ids])
    return X, y, blocks


def pipeline():
    """The pipeline after row scaling: column StandardScaler + LogisticRegression (MLR_L2)."""
    return make_pipeline(StandardScaler(), LogisticRegression())


def _loo_predictions(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.empty_like(y)
    for i in range(len(y)):
        train = np.r_[0:i, i + 1:len(y)]
        out[i] = clone(pipeline()).fit(X[train], y[train]).predict(X[i:i + 1])[0]
    return out


def sklearn_curve(cohort: SyntheticCohort, *, task: str, sizes=None, repeats: int = 20,
                  seed: int = 0, n_permutations: int = 40) -> pd.DataFrame:
    """Learning curve by leave-one-out on stratified subsamples, plain scikit-learn.

    The whole cohort is evaluated once (every repeat would be the same subsample); the
    permutation test runs at the largest size only (where the projection checks it), with
    the within-subsample shuffles the ``learn`` stage makes (the study's generator seeded by
    the task and the subset's key, :func:`~cohortbench.execute.permutations.label_shuffles`).
    """
    X, y, _ = task_data(cohort, task)
    _, counts = np.unique(y, return_counts=True)
    sizes = size_ladder(counts, "loo") if sizes is None else tuple(sizes)
    rows = []
    with threadpool_limits(1):
        for size in sizes:
            for repeat in range(1 if size == len(y) else repeats):
                idx = stratified_subsample(y, size, seed=seed, task=task, repeat=repeat)
                Xs, ys = X[idx], y[idx]
                predicted = _loo_predictions(Xs, ys)
                accuracy = float(np.mean(predicted == ys))
                row = {"n_subjects": size, "n_train": size - 1, "repeat": repeat,
                       "accuracy": accuracy,
                       "balanced_accuracy": balanced_accuracy_score(ys, predicted),
                       "null_mean": np.nan, "null_std": np.nan, "p_value": np.nan}
                if size == sizes[-1] and n_permutations:
                    shuffles = label_shuffles(ys, n_permutations, seed,
                                              f"{task}|{subset_key(size, repeat)}")
                    nulls = [np.mean(_loo_predictions(Xs, s) == s) for s in shuffles]
                    mean, std, _, p = permutation_stats(accuracy, nulls)
                    row.update(null_mean=mean, null_std=std, p_value=p)
                rows.append(row)
    return pd.DataFrame(rows)


def stage_curve(cohort: SyntheticCohort, *, task: str, sizes=None, repeats: int = 20,
                seed: int = 0, n_permutations: int = 40, jobs: int = 1,
                directory: Path | None = None) -> pd.DataFrame:
    """The same curve measured by the real ``learn`` stage: ``cb.run`` on the written cohort.

    The cohort is written with :func:`write_synthetic_cohort`; the study keeps its data,
    labels and tasks and has one stage: ``kind: learn``, MLR_L2 (``LogisticRegression()``,
    no search) after row and column standard scaling, every map, the task, ``repeats``
    subsamples per size and ``n_permutations`` shuffles of each (at every size; the
    projection reads them at the largest). Returns the run's ``learning_curve`` table.
    """
    import yaml

    import cohortbench as cb

    with tempfile.TemporaryDirectory() as scratch:
        base = Path(directory or scratch)
        study_path = write_synthetic_cohort(base / "cohort", cohort=cohort)
        doc = yaml.safe_load(study_path.read_text(encoding="utf-8"))
        options = {"repeats": int(repeats)}
        if sizes is not None:
            options["sizes"] = [int(s) for s in sizes]
        doc.update(seed=int(seed), permutations=int(n_permutations), stages=[{
            "name": "learn", "kind": "learn", "classifiers": ["MLR_L2"],
            "pipeline": {"row_scaling": "standard", "column_scaling": "standard"},
            "tasks": [task], "options": options}])
        study_path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        outcome = cb.run(study_path, base / "run", jobs=jobs, build_report=False)
        if outcome.failed:
            raise RuntimeError(f"the learn stage failed: {outcome}")
        return cb.results(base / "run")["learning_curve"]


def population_truth(population, *, task: str, train_counts, test_counts, n_draws: int,
                     rng: np.random.Generator) -> tuple[float, float]:
    """Mean (and its standard error over draws) accuracy of the pipeline trained on
    ``train_counts`` subjects of the population, on ``test_counts`` independent ones."""
    test = population.sample(*test_counts, rng, first_id=100_001)
    X_test, y_test, _ = task_data(test, task)
    scores = []
    with threadpool_limits(1):
        for _ in range(n_draws):
            train = population.sample(*train_counts, rng)
            X, y, _ = task_data(train, task)
            scores.append(np.mean(clone(pipeline()).fit(X, y).predict(X_test) == y_test))
    scores = np.asarray(scores)
    return float(scores.mean()), float(scores.std(ddof=1) / np.sqrt(n_draws))


@dataclass(frozen=True, eq=False)
class TruthCase:
    population_seed: int
    curve: pd.DataFrame
    projection: LearningCurveProjection
    target: int
    truth: float
    truth_se: float
    truth_at_N: float  # the same truth for LOO's training size at the cohort's size

    @property
    def row(self):
        """The projection row at the target size."""
        table = self.projection.projection
        return table[table["n_subjects"] == self.target].iloc[0]

    @property
    def covered(self) -> bool | None:
        """Whether the interval contains the truth (None when nothing was projected)."""
        if not self.projection.projected:
            return None
        return bool(self.row["low"] <= self.truth <= self.row["high"])


def truth_case(population_seed: int, *, measure_curve=sklearn_curve, task: str = "2-class",
               cohort_counts=(14, 8, 8), target: int = 60, effect_size: float = 1.0,
               n_rois: int = 40, n_gm: int = 24, repeats: int = 20, n_permutations: int = 40,
               level: float = 0.9, n_boot: int = 1000, n_draws: int = 20,
               test_counts=(700, 400, 400)) -> TruthCase:
    """One population: its cohort's projection to ``target`` subjects, and the truth."""
    population = make_synthetic_population(seed=population_seed, n_rois=n_rois, n_gm=n_gm,
                                           effect_size=effect_size)
    rng = np.random.default_rng(np.random.SeedSequence([population_seed, 19]))
    cohort = population.sample(*cohort_counts, rng)
    curve = measure_curve(cohort, task=task, sizes=None, repeats=repeats, seed=population_seed,
                          n_permutations=n_permutations)
    projection = project_learning_curve(curve, rng=rng, project_to=(target,), level=level,
                                        n_boot=n_boot)
    truth, se = population_truth(population, task=task,
                                 train_counts=_train_counts(cohort_counts, target - 1),
                                 test_counts=test_counts, n_draws=n_draws, rng=rng)
    now, _ = population_truth(population, task=task,
                              train_counts=_train_counts(cohort_counts, sum(cohort_counts) - 1),
                              test_counts=test_counts, n_draws=n_draws, rng=rng)
    return TruthCase(population_seed, curve, projection, target, truth, se, now)


def _train_counts(cohort_counts, n_train: int) -> tuple[int, int, int]:
    """Training sets of ``n_train`` subjects in the cohort's proportions (LOO's training
    size), keeping the generator's rule n_slow in (n_fast, n_fast + 1)."""
    scale = n_train / sum(cohort_counts)
    n_fast = int(round(cohort_counts[2] * scale))
    n_slow = n_fast + (1 if round(cohort_counts[1] * scale) > n_fast else 0)
    return n_train - n_slow - n_fast, n_slow, n_fast


def summarise(cases: list[TruthCase]) -> pd.DataFrame:
    """One row per case: accuracy at the cohort size, projection, interval, truth, covered."""
    rows = []
    for case in cases:
        points = case.projection.points
        row = {"population_seed": case.population_seed,
               "accuracy_at_N": float(points["mean_accuracy"].iloc[-1]),
               "truth_at_N": case.truth_at_N, "status": case.projection.status,
               "truth": case.truth, "truth_se": case.truth_se}
        if case.projection.projected:
            row.update(projected=case.row["predicted_accuracy"], low=case.row["low"],
                       high=case.row["high"], covered=case.covered)
        rows.append(row)
    return pd.DataFrame(rows)
