"""Per-step paired comparisons of pipeline options (SPEC section 6, the study's Table 1).

For one stage, task and classifier, every configuration that uses an option of a
pipeline step (say ``row_scaling = standard``) is paired with the configuration that is
identical in every other pipeline field but has that step set to ``none``. A Wilcoxon
signed-rank test (zero differences discarded, ``zero_method="wilcox"``) runs over the
accuracy differences option − none of those pairs.

Conventions, written down once:

- ``median_difference`` is 100 × the median of *all* paired differences, zeros included,
  in percentage points. (The test discards zeros; the effect size does not, which is why
  the study can report "+0.0 %" beside p = .014.)
- Differences are rounded to 12 decimals before the test, so that two differences that are
  equal in exact arithmetic (1/30 − 0 and 2/30 − 1/30) count as ties in the ranks.
- When no non-zero difference remains the test is undefined: ``p_value``, ``p_holm`` and
  ``p_bh`` are NaN and ``stars`` is ``"undefined"``.
- Holm and Benjamini–Hochberg adjustments run within each stage × task × classifier table,
  over the defined p-values only.
- The side steps (``harmonize``, ``confounds``; issue 21) are steps like the others where
  the evaluations have them: an option (``combat``, ``age+sex``) is paired with the
  configuration identical in every other field, the other side step included, that has
  ``none``. Their rows come after the four steps; without them nothing changes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from cohortbench.design.vocabulary import (
    FIELD_LABELS,
    KEY_FIELDS,
    OPTION_ORDER,
    SIDE_STEPS,
    STEPS,
    option_text,
    pipeline_key,
)

__all__ = [
    "STEP_COLUMNS",
    "UNDEFINED",
    "step_tests",
    "holm",
    "benjamini_hochberg",
    "stars_for",
    "step_table_for_display",
]

#: The columns of the step_tests table (SPEC section 8, in this order).
STEP_COLUMNS = [
    "stage", "task", "classifier", "step", "option", "n_features", "n_pairs",
    "median_difference", "p_value", "p_holm", "p_bh", "stars", "n_nonzero",
]
#: The ``stars`` text of a row whose test is undefined (all differences zero).
UNDEFINED = "undefined"

_GROUP = ["stage", "task", "classifier"]
#: Every step that may be tested, in the order rows are listed.
_ALL_STEPS = STEPS + SIDE_STEPS


def stars_for(p: float) -> str:
    """Significance stars of a raw p-value (``"undefined"`` for NaN)."""
    if p is None or not np.isfinite(p):
        return UNDEFINED
    if p < 0.001:
        return "***"
    if p < 0.01:
        return "**"
    if p < 0.05:
        return "*"
    return ""


def holm(p_values) -> np.ndarray:
    """Holm step-down adjusted p-values (NaN entries stay NaN and are not counted)."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    defined = np.flatnonzero(np.isfinite(p))
    m = defined.size
    if m == 0:
        return out
    order = defined[np.argsort(p[defined], kind="stable")]
    # Multiply the i-th smallest by (m - i), then keep the sequence non-decreasing.
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (NaN entries stay NaN and are not counted)."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    defined = np.isfinite(p)
    if defined.any():
        out[defined] = stats.false_discovery_control(p[defined], method="bh")
    return out


def _check_same_provenance(option_row, none_row, step) -> None:
    for column in ("folds_id", "view_fingerprint"):
        if column not in option_row.index:
            continue
        a, b = option_row[column], none_row[column]
        if pd.isna(a) and pd.isna(b):
            continue
        if a != b:
            raise ValueError(
                f"Cannot pair evaluation {option_row['evaluation_id']} with "
                f"{none_row['evaluation_id']} for step {step}: their {column} differ "
                f"({a!r} vs {b!r}), so they were not computed on the same data and folds; "
                "compare only results of one run."
            )


def _wilcoxon(differences: np.ndarray) -> float:
    nonzero = differences[differences != 0]
    if nonzero.size == 0:
        return float("nan")
    return float(stats.wilcoxon(differences, zero_method="wilcox").pvalue)


def _option_sort_key(step, option, n_features):
    order = OPTION_ORDER[step]
    rank = order.index(option) if option in order else len(order)
    return (rank, option, -1 if n_features is None else n_features)


def _group_rows(group: pd.DataFrame) -> list[dict]:
    stage, task, classifier = (group.iloc[0][c] for c in _GROUP)
    by_key = {}
    for _, row in group.iterrows():
        key = pipeline_key(row)
        if key in by_key:
            raise ValueError(
                f"Evaluations {by_key[key]['evaluation_id']} and {row['evaluation_id']} "
                f"(stage {stage}, task {task}, classifier {classifier}) have the same "
                "pipeline; remove the duplicate before comparing steps."
            )
        by_key[key] = row
    fields = list(KEY_FIELDS)
    steps = STEPS + tuple(s for s in SIDE_STEPS if s in group.columns)
    pairs: dict[tuple, list[float]] = {}
    for key, row in by_key.items():
        for step in steps:
            position = fields.index(step)
            option = key[position]
            if option == "none":
                continue
            partner = list(key)
            partner[position] = "none"
            n_features = None
            if step == "feature_selection":
                n_features = key[fields.index("n_features")]
                partner[fields.index("n_features")] = None
            none_row = by_key.get(tuple(partner))
            if none_row is None:
                continue
            _check_same_provenance(row, none_row, step)
            difference = round(float(row["accuracy"]) - float(none_row["accuracy"]), 12)
            pairs.setdefault((step, option, n_features), []).append(difference)
    rows = []
    for (step, option, n_features) in sorted(
        pairs, key=lambda k: (_ALL_STEPS.index(k[0]), _option_sort_key(*k))
    ):
        differences = np.asarray(pairs[(step, option, n_features)], dtype=float)
        rows.append({
            "stage": stage, "task": task, "classifier": classifier,
            "step": step, "option": option, "n_features": n_features,
            "n_pairs": int(differences.size),
            "median_difference": 100.0 * float(np.median(differences)),
            "p_value": _wilcoxon(differences),
            # the pairs the test uses: with n of them no p can be below 2 / 2**n
            "n_nonzero": int(np.count_nonzero(differences)),
        })
    p = np.array([r["p_value"] for r in rows], dtype=float)
    for row, p_h, p_b in zip(rows, holm(p), benjamini_hochberg(p)):
        row["p_holm"] = float(p_h)
        row["p_bh"] = float(p_b)
        row["stars"] = stars_for(row["p_value"])
    return rows


def step_tests(evaluations: pd.DataFrame) -> pd.DataFrame:
    """Paired Wilcoxon tests of every pipeline option against ``none``.

    Parameters
    ----------
    evaluations : pandas.DataFrame
        One row per evaluation with the SPEC section 8 ``evaluations.csv`` columns
        (``imputation``, ``folds_id`` and ``view_fingerprint`` are used when present).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`STEP_COLUMNS`, one row per (stage, task, classifier, step, option
        [, n_features]) that has at least one pair; stage × task × classifier groups in
        the order they first appear, steps in SPEC order, options in the spec's order.
        ``n_features`` is an ``Int64`` column, empty except on feature-selection rows.

    Raises
    ------
    ValueError
        When two paired evaluations differ in ``folds_id`` or ``view_fingerprint``, when a
        required column is missing, or when one group holds the same pipeline twice.
    """
    required = ["evaluation_id", *_GROUP, "accuracy", *STEPS, "n_features"]
    missing = [c for c in required if c not in evaluations.columns]
    if missing:
        raise ValueError(f"evaluations lack the column(s) {', '.join(missing)}.")
    rows: list[dict] = []
    if len(evaluations):
        for _, group in evaluations.groupby(_GROUP, sort=False, dropna=False):
            rows.extend(_group_rows(group))
    table = pd.DataFrame(rows, columns=STEP_COLUMNS)
    table["n_features"] = pd.array(
        [None if v is None or (isinstance(v, float) and math.isnan(v)) else int(v)
         for v in table["n_features"]],
        dtype="Int64",
    )
    table["n_pairs"] = table["n_pairs"].astype(int)
    for column in ("median_difference", "p_value", "p_holm", "p_bh"):
        table[column] = table[column].astype(float)
    table["stars"] = table["stars"].astype(object)
    return table


def _format_p(p: float) -> str:
    if not np.isfinite(p):
        return "n/a"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.2e}"


def step_table_for_display(table: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """The step_tests rows of one table laid out like the study's Table 1.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of :func:`step_tests` (usually one stage × task × classifier).
    alpha : float
        Level for the "can reach" column.

    Returns
    -------
    pandas.DataFrame
        String columns: Pipeline step, Option, n, Median difference, p-value, Holm p,
        BH p, Significance, Smallest possible p (with the n pairs that differ, a row
        that cannot reach ``alpha`` is marked).
    """
    from cohortbench.analyse.verdicts import wilcoxon_floor

    shown = []
    for _, row in table.iterrows():
        nonzero = row.get("n_nonzero")
        nonzero = int(row["n_pairs"]) if nonzero is None or pd.isna(nonzero) else int(nonzero)
        floor = wilcoxon_floor(nonzero, alpha)
        shown.append({
            "Pipeline step": FIELD_LABELS.get(row["step"], row["step"]),
            "Option": option_text(row["step"], row["option"], row["n_features"]),
            "n": str(int(row["n_pairs"])),
            "Median difference": f"{row['median_difference']:+.1f} pp",
            "p-value": _format_p(row["p_value"]),
            "Holm p": _format_p(row["p_holm"]),
            "BH p": _format_p(row["p_bh"]),
            "Significance": row["stars"],
            "Smallest possible p": (_format_p(floor.smallest_p)
                                    + ("" if floor.can_reach else f" (cannot reach {alpha:g})")),
        })
    columns = ["Pipeline step", "Option", "n", "Median difference", "p-value", "Holm p",
               "BH p", "Significance", "Smallest possible p"]
    return pd.DataFrame(shown, columns=columns)
