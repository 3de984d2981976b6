"""Selection-aware (family-wise, max-statistic) significance of the best configuration.

Every configuration of one task in one stage sees the same P label shuffles (same
permutation index = same shuffled labels), so for shuffle *i* the best accuracy reached by
*any* of the N configurations is known. Comparing the reported best accuracy with that
distribution of maxima gives a p-value that accounts for having picked the best of N.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cohortbench.design.ranking import best_position
from cohortbench.design.vocabulary import KEY_FIELDS, pipeline_key

__all__ = ["familywise_best", "familywise_per_task", "FAMILYWISE_EXPLANATION",
           "describe_configuration"]

#: One sentence for readers of the report.
FAMILYWISE_EXPLANATION = (
    "Picking the best of many configurations makes its own Z-score and p-value look better "
    "than they are, so the family-wise p-value instead compares the best accuracy with the "
    "best accuracy that any of the configurations reached on each shuffled-label run, which "
    "stays honest after choosing the winner."
)

# Accuracies that differ only by floating-point rounding count as equal.
_TOLERANCE = 1e-12

_COLUMNS = [
    "stage", "task", "n_configurations", "n_permutations", "evaluation_id", "classifier",
    "configuration", "accuracy", "z_score", "p_value", "familywise_p", "null_max_mean",
    "null_max_q95",
]


def describe_configuration(row, fields=None) -> str:
    """A short human-readable description of an evaluation's pipeline.

    ``fields`` limits it to those pipeline fields (e.g. the ones that vary in a stage).
    """
    values = dict(zip(KEY_FIELDS, pipeline_key(row)))
    shown = set(KEY_FIELDS if fields is None else fields)
    if "n_features" in shown:
        shown.add("feature_selection")
    parts = []
    for name, label in (("row_scaling", "row"), ("harmonize", "harmonize"),
                        ("confounds", "confounds"), ("column_scaling", "column"),
                        ("imputation", "impute"), ("feature_selection", "selection"),
                        ("dim_reduction", "reduction"), ("search", "search")):
        value = values[name]
        if name not in shown or (name in ("imputation", "harmonize", "confounds")
                                 and value in ("none", "")):
            continue
        if name == "feature_selection" and value != "none":
            value = f"{value}-{values['n_features']}"
        parts.append(f"{label} {value}")
    for name in ("modalities", "parcellation"):
        if name in shown and values[name]:
            parts.append(values[name])
    return ", ".join(parts) or "the same pipeline as the other evaluations"


def _as_float(value) -> float:
    return float("nan") if value is None or pd.isna(value) else float(value)


def _best_row(group: pd.DataFrame, metric: str) -> int:
    """Position of the best row: highest metric, then highest Z, then first in order."""
    return best_position(group, metric)


def _null_matrix(group: pd.DataFrame, nulls_by_id, stage, task) -> np.ndarray:
    counts = group["n_permutations"].fillna(0).astype(int).unique()
    if counts.size != 1:
        raise ValueError(
            f"Stage {stage}, task {task}: configurations have different permutation counts "
            f"({', '.join(map(str, sorted(counts)))}), so their nulls are not paired; rerun "
            "them with one 'permutations' setting."
        )
    n_permutations = int(counts[0])
    if "folds_id" in group.columns and group["folds_id"].nunique(dropna=False) > 1:
        raise ValueError(
            f"Stage {stage}, task {task}: configurations were evaluated on different folds "
            "(folds_id differs), so their label shuffles are not paired."
        )
    matrix = np.empty((len(group), n_permutations))
    if n_permutations == 0:
        return matrix
    for position, evaluation_id in enumerate(group["evaluation_id"]):
        values = nulls_by_id.get(evaluation_id)
        if values is None or len(values) != n_permutations or not np.array_equal(
            values.index.to_numpy(), np.arange(n_permutations)
        ):
            raise ValueError(
                f"Evaluation {evaluation_id} (stage {stage}, task {task}) does not have "
                f"null accuracies for permutations 0..{n_permutations - 1}; the nulls are "
                "not paired across configurations."
            )
        matrix[position] = values.to_numpy(dtype=float)
    return matrix


def familywise_best(evaluations: pd.DataFrame, nulls: pd.DataFrame, *,
                    metric: str = "accuracy") -> pd.DataFrame:
    """The best configuration of each stage × task and its family-wise p-value.

    Parameters
    ----------
    evaluations : pandas.DataFrame
        The ``evaluations.csv`` columns (SPEC section 8); ``folds_id`` is checked if present.
    nulls : pandas.DataFrame
        Columns evaluation_id, permutation (0-based), accuracy.
    metric : str
        Only ``"accuracy"``: the null accuracies are what the permutation test records.

    Returns
    -------
    pandas.DataFrame
        One row per stage × task (in order of appearance) with columns stage, task,
        n_configurations (N), n_permutations (P), evaluation_id, classifier, configuration
        (a readable description), accuracy, z_score, p_value (per configuration),
        familywise_p = (1 + #{i : max over the N configurations of null accuracy i ≥ best
        accuracy}) / (1 + P), and the mean and 95th percentile of those maxima. The best is
        the highest accuracy, ties broken by the higher Z-score, then by evaluation order.
        With P = 0 the family-wise columns are NaN.

    Raises
    ------
    ValueError
        When the configurations of a stage × task do not share the same P shuffles (different
        permutation counts or folds, or missing null rows), or when ``metric`` is not
        ``"accuracy"``.
    """
    if metric != "accuracy":
        raise ValueError(f"familywise_best supports metric 'accuracy' only; got {metric!r}.")
    nulls_by_id = {
        evaluation_id: group.set_index("permutation")["accuracy"].sort_index()
        for evaluation_id, group in nulls.groupby("evaluation_id", sort=False)
    }
    rows = []
    for (stage, task), group in evaluations.groupby(["stage", "task"], sort=False):
        group = group.reset_index(drop=True)
        matrix = _null_matrix(group, nulls_by_id, stage, task)
        best_position = _best_row(group, metric)
        best = group.iloc[best_position]
        best_accuracy = float(best[metric])
        n_permutations = matrix.shape[1]
        if n_permutations:
            maxima = matrix.max(axis=0)
            exceed = int(np.sum(maxima >= best_accuracy - _TOLERANCE))
            familywise_p = (1 + exceed) / (1 + n_permutations)
            max_mean, max_q95 = float(maxima.mean()), float(np.quantile(maxima, 0.95))
        else:
            familywise_p = max_mean = max_q95 = float("nan")
        rows.append({
            "stage": stage, "task": task, "n_configurations": len(group),
            "n_permutations": n_permutations, "evaluation_id": best["evaluation_id"],
            "classifier": best["classifier"], "configuration": describe_configuration(best),
            "accuracy": best_accuracy, "z_score": _as_float(best["z_score"]),
            "p_value": _as_float(best["p_value"]), "familywise_p": familywise_p,
            "null_max_mean": max_mean, "null_max_q95": max_q95,
        })
    return pd.DataFrame(rows, columns=_COLUMNS)


_TASK_COLUMNS = [
    "task", "n_configurations", "n_in_task", "n_permutations", "evaluation_id", "stage",
    "classifier", "configuration", "accuracy", "z_score", "p_value", "familywise_p",
]


def familywise_per_task(evaluations: pd.DataFrame, nulls: pd.DataFrame) -> pd.DataFrame:
    """The best configuration of each task across stages, and its family-wise p-value.

    The family is every configuration of the task, in any stage, evaluated on the
    same subjects, folds and shuffles as the best one (same ``folds_id``,
    ``n_subjects`` and ``n_permutations``): for those, shuffle *i* is the same
    label vector, so the maximum null accuracy over all of them is the null of
    "the best of N". Configurations evaluated otherwise (other subjects after
    ``drop-subjects``, another number of shuffles) are left out of the family and
    counted (``n_in_task`` - ``n_configurations``).

    Parameters
    ----------
    evaluations : DataFrame
        The ``evaluations.csv`` columns of the stages whose evaluations compare
        across stages.
    nulls : DataFrame
        evaluation_id, permutation, accuracy.

    Returns
    -------
    DataFrame
        One row per task, in order of appearance.
    """
    rows = []
    for task, group in evaluations.groupby("task", sort=False):
        group = group.reset_index(drop=True)
        best = group.iloc[_best_row(group, "accuracy")]
        same = np.ones(len(group), dtype=bool)
        for column in ("folds_id", "n_subjects", "n_permutations"):
            if column in group.columns:
                same &= (group[column].astype(str) == str(best[column])).to_numpy()
        family = group[same].reset_index(drop=True)
        result = familywise_best(family.assign(stage="all"), nulls).iloc[0]
        rows.append({
            "task": task, "n_configurations": len(family), "n_in_task": len(group),
            "n_permutations": int(result["n_permutations"]), "evaluation_id": best["evaluation_id"],
            "stage": best["stage"], "classifier": best["classifier"],
            "configuration": describe_configuration(best), "accuracy": float(best["accuracy"]),
            "z_score": _as_float(best["z_score"]), "p_value": _as_float(best["p_value"]),
            "familywise_p": float(result["familywise_p"]),
        })
    return pd.DataFrame(rows, columns=_TASK_COLUMNS)
