"""step_tests.csv of a real run equals a recomputation from evaluations.csv with scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

import cohortbench as cb

PIPELINE = ["row_scaling", "imputation", "column_scaling", "feature_selection", "n_features",
            "dim_reduction", "search", "modalities", "parcellation"]


def test_step_tests_csv_recomputed_with_scipy(tiny_run, tmp_path):
    _study, run_dir = tiny_run
    paths = cb.export(run_dir, tmp_path)
    evals = pd.read_csv(paths["evaluations"], keep_default_na=False, na_values={"n_features": [""]})
    steps = pd.read_csv(paths["step_tests"])
    refine = evals[evals.stage == "refine"]
    assert len(steps) > 0 and set(steps.stage) == {"refine"}
    checked = 0
    for row in steps.itertuples():
        group = refine[(refine.task == row.task) & (refine.classifier == row.classifier)]
        others = [c for c in PIPELINE if c != row.step and not (row.step == "feature_selection" and c == "n_features")]
        key = lambda df: df[others].astype(object).fillna("").astype(str).agg("|".join, axis=1)  # noqa: E731
        if row.step == "feature_selection":
            treated = group[(group.feature_selection == row.option) & (group.n_features == row.n_features)]
        else:
            treated = group[group[row.step] == row.option]
        base = group[group[row.step] == "none"]
        pairs = pd.merge(treated.assign(k=key(treated)), base.assign(k=key(base)), on="k", suffixes=("", "_none"))
        diff = (pairs["accuracy"] - pairs["accuracy_none"]).to_numpy()
        assert row.n_pairs == len(diff)
        assert np.isclose(row.median_difference, 100 * np.median(diff))
        nonzero = np.round(diff, 12) != 0
        if nonzero.any():
            assert np.isclose(row.p_value, wilcoxon(diff[nonzero], zero_method="wilcox").pvalue)
        else:
            assert np.isnan(row.p_value) and row.stars == "undefined"
        checked += 1
    assert checked == len(steps)
