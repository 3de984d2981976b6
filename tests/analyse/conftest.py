"""Hand-built evaluation tables shaped like the study's refine grid."""

import itertools

import numpy as np
import pandas as pd
import pytest

ROWS = ("none", "standard", "minmax")
SELECTIONS = [("none", None)] + [(s, k) for s in ("kbest", "rfe") for k in (10, 25, 50, 100, 150)]
REDUCTIONS = ("none", "pca", "lda")


def refine_grid(classifiers=("MLR_L2",), tasks=("3-class",), seed=0, n_subjects=30,
                stage="refine"):
    """297 configurations per classifier × task, accuracies k/n drawn at random."""
    rng = np.random.default_rng(seed)
    rows = []
    for classifier, task in itertools.product(classifiers, tasks):
        for row_scaling, column_scaling, (selection, k), reduction in itertools.product(
            ROWS, ROWS, SELECTIONS, REDUCTIONS
        ):
            accuracy = rng.integers(8, 25) / n_subjects
            rows.append({
                "evaluation_id": f"e{len(rows):05d}", "stage": stage, "task": task,
                "classifier": classifier, "row_scaling": row_scaling,
                "imputation": "none", "column_scaling": column_scaling,
                "feature_selection": selection, "n_features": np.nan if k is None else float(k),
                "dim_reduction": reduction, "search": "none", "modalities": "qT1+DTI+Na",
                "parcellation": "all", "n_subjects": n_subjects, "accuracy": accuracy,
                "balanced_accuracy": accuracy, "f1_macro": accuracy, "n_permutations": 10,
                "null_mean": 0.4, "null_std": 0.1, "z_score": (accuracy - 0.4) / 0.1,
                "p_value": 0.5, "seconds": 1.0, "folds_id": f"folds-{task}",
                "view_fingerprint": "view-1", "config_id": f"c{len(rows)}",
                "engine": "reference",
            })
    return pd.DataFrame(rows)


@pytest.fixture
def make_grid():
    return refine_grid
