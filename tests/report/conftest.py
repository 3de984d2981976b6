"""A small fake run with all four stage kinds, built by hand (no engine needed)."""

import itertools

import numpy as np
import pandas as pd
import pytest

from cohortbench.store.intervals import accuracy_interval

EVIL = "<script>alert(1)</script>"
N_PERMUTATIONS = 20


def _row(stage, task, classifier, accuracy, **pipeline):
    base = {"row_scaling": "standard", "imputation": "none", "column_scaling": "standard",
            "feature_selection": "none", "n_features": np.nan, "dim_reduction": "none",
            "search": "none", "modalities": "qT1+DTI+Na", "parcellation": "all"}
    base.update(pipeline)
    return {"stage": stage, "task": task, "classifier": classifier, **base,
            "accuracy": accuracy}


def make_run(seed=0):
    """Evaluations, nulls, predictions and context of a tiny four-stage study."""
    rng = np.random.default_rng(seed)
    tasks = ["3-class", "SvF"]
    rows = []
    for classifier, task in itertools.product(["KNN", "MLR_L2", "SVM_LIN", "RF"], tasks):
        rows.append(_row("screen", task, classifier, rng.integers(10, 26) / 30))
    for classifier, task in itertools.product(["MLR_L2", "SVM_LIN"], tasks):
        for r, c, (s, k), d in itertools.product(
                ["none", "standard"], ["none", "standard"],
                [("none", np.nan), ("kbest", 10.0), ("kbest", 50.0)], ["none", "pca"]):
            # Continuous accuracies (no tied differences) keep scipy's Wilcoxon on its fast
            # exact path; with ties and n <= 13 it enumerates every sign pattern (~0.5 s).
            rows.append(_row("refine", task, classifier, round(rng.uniform(0.3, 0.85), 4),
                             row_scaling=r, column_scaling=c, feature_selection=s,
                             n_features=k, dim_reduction=d))
    for classifier, task, search in itertools.product(["MLR_L2", "SVM_LIN"], tasks,
                                                      ["grid", "random", "bayes"]):
        rows.append(_row("tune", task, classifier, rng.integers(14, 26) / 30, search=search))
    for task, modalities, parcellation in itertools.product(
            tasks, ["qT1+DTI+Na", "qT1+DTI", "qT1+Na"], ["GM", "all"]):
        rows.append(_row("enrich", task, "MLR_L2", rng.integers(14, 28) / 30, search="grid",
                         modalities=modalities, parcellation=parcellation))
    evaluations = pd.DataFrame(rows)
    n = len(evaluations)
    evaluations.insert(0, "evaluation_id", [f"ev{i:04d}" for i in range(n)])
    null_values = np.clip(rng.normal(0.42, 0.08, size=(n, N_PERMUTATIONS)), 0, 1).round(4)
    evaluations["n_subjects"] = 30
    evaluations["balanced_accuracy"] = evaluations["accuracy"]
    evaluations["f1_macro"] = evaluations["accuracy"]
    evaluations["n_permutations"] = N_PERMUTATIONS
    evaluations["null_mean"] = null_values.mean(axis=1)
    evaluations["null_std"] = null_values.std(axis=1)
    evaluations["z_score"] = (evaluations["accuracy"] - evaluations["null_mean"]) / evaluations["null_std"]
    evaluations["p_value"] = (1 + (null_values >= evaluations["accuracy"].to_numpy()[:, None])
                              .sum(axis=1)) / (1 + N_PERMUTATIONS)
    evaluations["seconds"] = rng.uniform(0.05, 30, size=n).round(3)
    evaluations["folds_id"] = "folds-" + evaluations["task"]
    evaluations["view_fingerprint"] = evaluations["modalities"] + "/" + evaluations["parcellation"]
    evaluations["config_id"] = [f"c{i}" for i in range(n)]
    evaluations["engine"] = "reference"
    # Columns of issue 18 (store schema v2): the accuracy's Wilson interval over the 30
    # subjects, from the store's own function, and no RFE ranking fit checked (NA).
    bounds = [accuracy_interval(np.full(30, a)) for a in evaluations["accuracy"]]
    evaluations["accuracy_ci_low"] = [b.low for b in bounds]
    evaluations["accuracy_ci_high"] = [b.high for b in bounds]
    evaluations["balanced_accuracy_ci_low"] = evaluations["accuracy_ci_low"]
    evaluations["balanced_accuracy_ci_high"] = evaluations["accuracy_ci_high"]
    evaluations["numerically_reliable"] = pd.array([pd.NA] * n, dtype="boolean")
    evaluations["unreliable_fraction"] = np.nan
    nulls = pd.DataFrame({
        "evaluation_id": np.repeat(evaluations["evaluation_id"], N_PERMUTATIONS),
        "permutation": np.tile(np.arange(N_PERMUTATIONS), n),
        "accuracy": null_values.ravel(),
    }).reset_index(drop=True)
    subjects = [f"sub-{i:02d}" for i in range(29)] + [EVIL]
    classes = {"3-class": ["HC", "slow", EVIL], "SvF": ["slow", EVIL]}
    predictions = []
    for _, row in evaluations.iterrows():
        labels = classes[row["task"]]
        truth = [labels[i % len(labels)] for i in range(30)]
        predicted = [t if rng.random() < row["accuracy"] else labels[0] for t in truth]
        predictions += [{"evaluation_id": row["evaluation_id"], "subject": s,
                         "true_label": t, "predicted_label": p}
                        for s, t, p in zip(subjects, truth, predicted)]
    context = {
        "study_name": f"ALS demo {EVIL}",
        "settings": {"seed": 0, "cv": {"outer": "loo", "inner": "stratified-kfold:5"},
                     "permutations": N_PERMUTATIONS, "metric": "accuracy",
                     "missing": "drop-subjects"},
        "cohort_summary": {
            "n_subjects": 30,
            "tasks": {"3-class": {"HC": 10, "slow": 10, EVIL: 10},
                      "SvF": {"slow": 10, EVIL: 10}},
            "maps": [{"name": "qT1", "n_rois": 332, "n_missing": 0},
                     {"name": "FA", "n_rois": 332, "n_missing": 3}],
            "parcellations": {"GM": 187, "all": 332},
            "dropped": {EVIL: "missing FA map", "sub-99": "not in the clinical table"},
            "label_cuts": {"progression": 0.62},
        },
        "decisions": [
            {"stage": "screen", "kind": "shortlist",
             "payload": {"min_accuracy": 0.6, "classifiers": ["MLR_L2", "SVM_LIN"]}},
            {"stage": "refine", "kind": "best pipeline",
             "payload": {"row_scaling": "standard", "column_scaling": "standard"}},
        ],
        "warnings": [f"subject {EVIL} has no FA map"],
        "versions": {"cohortbench": "0.1.0", "scikit-learn": "1.9.0"},
        "reductions": ["20 permutations instead of 50"],
    }
    return evaluations, nulls, pd.DataFrame(predictions), context


@pytest.fixture(scope="session")
def fake_run():
    return make_run()


@pytest.fixture(scope="session")
def built_report(fake_run, tmp_path_factory):
    """The report of the fake run, built once for the HTML and browser tests."""
    from cohortbench.report import build_report

    evaluations, nulls, predictions, context = fake_run
    run_dir = tmp_path_factory.mktemp("run")
    path = build_report(run_dir, evaluations=evaluations, predictions=predictions,
                        nulls=nulls, context=context)
    return path
