"""Which features, maps and regions drive a result, with family-wise significance (issue 20).

Input: an :class:`~cohortbench.execute.importance_record.ImportanceRecord` (the
activation patterns of one evaluation, label vector 0 = real labels, 1..P the
shuffles shared by every configuration of the task).

Statistics, one value per decision function ``c`` and feature ``j``:

- **mean activation** ``m[c, j]``: the mean over outer folds of the activation
  (a correlation in [-1, 1]; its sign says whether the feature is higher in the
  subjects the model pushes toward the function's first class);
- **fold range**: the 2.5th and 97.5th percentiles of the real labels' per-fold
  activations. It describes how much the folds' models differ (little under
  leave-one-out, whose training sets share all but one subject); it is **not** a
  confidence interval, the p-values carry the inference;
- **permutation p**, two-sided: the statistic is ``T = |m|``, recomputed under
  every shuffle (the whole evaluation was refitted on it), and
  ``p = (1 + #{i : T_i >= T_0}) / (1 + P)`` as in
  :mod:`cohortbench.execute.permutations`;
- **family-wise p** by the max statistic (Westfall & Young 1993, single step;
  Nichols & Holmes 2002): ``p_fw = (1 + #{i : max_{c,j} T_i[c, j] >= T_0[c, j]}) /
  (1 + P)``, the maximum taken over every feature and decision function. It
  controls the family-wise error over all of them (weak and strong control under
  subset pivotality); the "+1" counts the real labels as one of the 1 + P
  equally likely label vectors, whose own maximum is always >= ``T_0[c, j]``;
- **selection frequency**: the fraction of the real labels' outer folds whose
  selector kept the feature.

Aggregates per map and per ROI use ``|m|`` (signed values of different regions and
classes would cancel): the mean of ``|m[c, j]|`` over the group's features and
every decision function, with its own permutation and family-wise p (maximum over
the groups of the same level).

Only fold means (every label vector) and per-fold values (real labels) are used;
that is what the compact record keeps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..execute.importance_record import ImportanceRecord

__all__ = [
    "IMPORTANCE_EXPLANATION",
    "importance_by",
    "importance_export",
    "importance_table",
    "max_statistic_p",
    "permutation_p",
    "split_feature_name",
    "survivors",
]

#: One sentence for readers of the report.
IMPORTANCE_EXPLANATION = (
    "Each feature's activation is the correlation between that feature and the model's "
    "decision values on the training subjects, averaged over outer folds; its family-wise "
    "p-value compares it with the largest activation that any feature reached on each "
    "shuffled-label run, which stays honest after looking at every region and map."
)

# Statistics that differ only by floating-point rounding count as equal (as in familywise.py).
_TOLERANCE = 1e-12

_TABLE_COLUMNS = ["function", "feature", "map", "roi", "mean_activation", "fold_low",
                  "fold_high", "p_value", "p_familywise", "selection_frequency", "mean_weight"]


def split_feature_name(name: str) -> tuple[str, str]:
    """``"<map>:<roi>"`` -> ``(map, roi)``, split at the first colon (a ROI may contain one)."""
    map_name, sep, roi = str(name).partition(":")
    return (map_name, roi) if sep else ("", map_name)


def _check_statistic(statistic) -> np.ndarray:
    T = np.asarray(statistic, dtype=np.float64)
    if T.ndim < 1 or T.shape[0] < 1:
        raise ValueError("The statistic needs a leading label-vector axis (real labels first).")
    return T


def permutation_p(statistic) -> np.ndarray:
    """Per-element permutation p of the real statistic against its own shuffles.

    Parameters
    ----------
    statistic : array-like of shape (1 + P, ...)
        Larger = more extreme; index 0 is the real labels.

    Returns
    -------
    ndarray of shape (...)
        ``(1 + #{i >= 1 : T_i >= T_0}) / (1 + P)``; NaN where ``T_0`` is NaN (a NaN
        shuffle value never counts as exceeding).
    """
    T = _check_statistic(statistic)
    exceed = np.sum(T[1:] >= T[0] - _TOLERANCE, axis=0)
    p = (1.0 + exceed) / T.shape[0]
    return np.where(np.isnan(T[0]), np.nan, p)


def max_statistic_p(statistic) -> np.ndarray:
    """Family-wise p by the single-step max statistic over every element.

    Parameters
    ----------
    statistic : array-like of shape (1 + P, ...)
        Larger = more extreme; index 0 is the real labels. The maximum is taken over
        all trailing axes (features and decision functions), NaN ignored.

    Returns
    -------
    ndarray of shape (...)
        ``(1 + #{i >= 1 : max(T_i) >= T_0}) / (1 + P)``; NaN where ``T_0`` is NaN.
    """
    T = _check_statistic(statistic)
    flat = T[1:].reshape(T.shape[0] - 1, -1)
    null_max = np.max(np.where(np.isnan(flat), -np.inf, flat), axis=1, initial=-np.inf)
    # Sorting the null maxima once makes this O((P + n) log P) for thousands of features.
    null_max = np.sort(null_max)
    below = np.searchsorted(null_max, T[0] - _TOLERANCE, side="left")
    p = (1.0 + (null_max.size - below)) / T.shape[0]
    return np.where(np.isnan(T[0]), np.nan, p)


def _fold_range(real_folds: np.ndarray, coverage: float) -> tuple[np.ndarray, np.ndarray]:
    tail = 50.0 * (1.0 - coverage)
    finite = np.isfinite(real_folds).any(axis=0)
    safe = np.where(finite[None], real_folds, 0.0)
    low, high = np.nanpercentile(safe, [tail, 100.0 - tail], axis=0)
    return np.where(finite, low, np.nan), np.where(finite, high, np.nan)


def importance_table(record: ImportanceRecord, *, coverage: float = 0.95) -> pd.DataFrame:
    """Per decision function and feature: mean activation, fold range, p, family-wise p.

    Parameters
    ----------
    record : ImportanceRecord
    coverage : float, default=0.95
        Central fraction of the folds covered by ``fold_low``/``fold_high``.

    Returns
    -------
    pandas.DataFrame
        Columns function, feature, map, roi, mean_activation, fold_low, fold_high,
        p_value, p_familywise (NaN without shuffles), selection_frequency (NaN without
        a selector), mean_weight (NaN unless raw weights were recorded); one row per
        function x feature, functions outermost, features in record order. For a
        non-linear pipeline one row per feature, function ``""``, activation columns NaN.
    """
    features = list(record.feature_names)
    p = len(features)
    frequency = (np.full(p, np.nan) if record.selected is None
                 else np.asarray(record.selected, dtype=float).mean(axis=0))
    maps, rois = zip(*map(split_feature_name, features)) if features else ((), ())
    if record.kind != "linear":
        frame = pd.DataFrame({"function": "", "feature": features, "map": maps, "roi": rois,
                              "selection_frequency": frequency})
        return frame.reindex(columns=_TABLE_COLUMNS)
    means = record.fold_means.astype(np.float64)
    T = np.abs(means)
    n_functions = means.shape[1]
    if record.n_permutations:
        p_value, p_fw = permutation_p(T), max_statistic_p(T)
    else:
        p_value = p_fw = np.full(means.shape[1:], np.nan)
    low, high = _fold_range(record.real_folds.astype(np.float64), coverage)
    weights = (np.full(means.shape[1:], np.nan) if record.weights_mean is None
               else record.weights_mean.astype(np.float64))
    return pd.DataFrame({
        "function": np.repeat(record.function_names, p),
        "feature": features * n_functions,
        "map": list(maps) * n_functions,
        "roi": list(rois) * n_functions,
        "mean_activation": means[0].ravel(),
        "fold_low": low.ravel(),
        "fold_high": high.ravel(),
        "p_value": p_value.ravel(),
        "p_familywise": p_fw.ravel(),
        "selection_frequency": np.tile(frequency, n_functions),
        "mean_weight": weights.ravel(),
    }, columns=_TABLE_COLUMNS)


def importance_by(record: ImportanceRecord, level: str) -> pd.DataFrame:
    """Importance of each map or each ROI: the mean ``|mean activation|`` of its features.

    Parameters
    ----------
    record : ImportanceRecord
        Of a linear pipeline.
    level : {"map", "roi"}

    Returns
    -------
    pandas.DataFrame
        Columns ``level`` (the map or ROI name, in order of first appearance),
        n_features, mean_abs_activation, p_value, p_familywise (over the groups of
        this level), selection_frequency (mean over the group's features).
    """
    if level not in ("map", "roi"):
        raise ValueError(f"level must be 'map' or 'roi'; got {level!r}.")
    if record.kind != "linear":
        raise ValueError("Map and ROI importance needs activation patterns: the evaluation's "
                         "classifier is not linear.")
    part = 0 if level == "map" else 1
    keys = [split_feature_name(name)[part] for name in record.feature_names]
    groups = list(dict.fromkeys(keys))
    index = np.array([groups.index(k) for k in keys])
    membership = np.zeros((len(keys), len(groups)))
    membership[np.arange(len(keys)), index] = 1.0
    sizes = membership.sum(axis=0)
    # (L, C, p) -> (L, p) mean over functions -> (L, G) mean over each group's features.
    per_feature = np.abs(record.fold_means.astype(np.float64)).mean(axis=1)
    T = (np.nan_to_num(per_feature, nan=0.0) @ membership) / sizes
    n_perm = record.n_permutations
    frequency = (np.full(len(groups), np.nan) if record.selected is None
                 else np.asarray(record.selected, float).mean(axis=0) @ membership / sizes)
    return pd.DataFrame({
        level: groups,
        "n_features": sizes.astype(int),
        "mean_abs_activation": T[0],
        "p_value": permutation_p(T) if n_perm else np.nan,
        "p_familywise": max_statistic_p(T) if n_perm else np.nan,
        "selection_frequency": frequency,
    })


def survivors(table: pd.DataFrame, n_permutations: int, alpha: float = 0.05) -> dict:
    """How many features survive family-wise correction, and one plain sentence saying so.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`importance_table`.
    n_permutations : int
        P (``record.n_permutations``): no p-value can be below ``1 / (1 + P)``.
    alpha : float, default=0.05

    Returns
    -------
    dict
        ``n_tests`` (features x decision functions), ``n_surviving``,
        ``min_p_familywise``, ``min_possible_p`` and ``sentence``.
    """
    p_fw = table["p_familywise"].to_numpy(dtype=float)
    n_tests = int(np.isfinite(p_fw).sum())
    n_surviving = int(np.sum(p_fw < alpha))
    smallest = float(np.nanmin(p_fw)) if n_tests else float("nan")
    floor = 1.0 / (1 + n_permutations) if n_permutations else float("nan")
    if not n_tests:
        sentence = "No family-wise p-values: the evaluation ran no label shuffles."
    elif n_surviving:
        sentence = (f"{n_surviving} of {n_tests:,} feature tests survive family-wise "
                    f"correction at {alpha:g}.")
    else:
        sentence = (f"None of {n_tests:,} feature tests survives family-wise correction at "
                    f"{alpha:g} (smallest family-wise p = {smallest:.3g}; with {n_permutations} "
                    f"shuffles no p can be below {floor:.3g}), which is common at small n: "
                    "rank the regions by mean activation, but do not call any one of them "
                    "significant.")
    return {"n_tests": n_tests, "n_surviving": n_surviving, "min_p_familywise": smallest,
            "min_possible_p": floor, "sentence": sentence}


def importance_export(table: pd.DataFrame, *, evaluation_id: str, task: str) -> pd.DataFrame:
    """The ``importance.csv`` rows (issue 20, item 8) of one :func:`importance_table`.

    Long format: statistic ``mean_activation`` (with p_value and p_familywise),
    ``selection_frequency`` and ``mean_weight`` (p columns empty), rows whose value
    is NaN left out. Columns evaluation_id, task, class, map, roi, statistic, value,
    p_value, p_familywise; ``class`` is the decision function's name.
    """
    parts = []
    for statistic in ("mean_activation", "selection_frequency", "mean_weight"):
        frame = table[["function", "map", "roi", statistic]].rename(
            columns={"function": "class", statistic: "value"})
        if statistic == "selection_frequency":
            # One value per feature, whatever the number of decision functions.
            frame = frame.drop_duplicates(["map", "roi"]).assign(**{"class": ""})
        is_activation = statistic == "mean_activation"
        frame = frame.assign(
            statistic=statistic,
            p_value=table["p_value"] if is_activation else np.nan,
            p_familywise=table["p_familywise"] if is_activation else np.nan)
        parts.append(frame[frame["value"].notna()])
    out = pd.concat(parts, ignore_index=True)
    out.insert(0, "task", task)
    out.insert(0, "evaluation_id", evaluation_id)
    return out[["evaluation_id", "task", "class", "map", "roi", "statistic", "value",
                "p_value", "p_familywise"]]
