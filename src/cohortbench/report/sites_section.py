"""The report's covariates-and-sites block (in the Cohort section), for studies that use them.

Built from what the run recorded (``run_info["sites"]``: covariates, batch column, per
task the site x class counts) and the result tables:

- the covariates and the batch column used;
- per task, the site x class table with each site's class shares, the test of equal
  class balance (Fisher's exact test, or Freeman-Halton) and its warnings
  (:mod:`cohortbench.analyse.sites`), a site holding one class named;
- when the study varies ``confounds`` or ``harmonize``, each configuration against its
  twin without the step, subject by subject (exact McNemar;
  :mod:`cohortbench.analyse.side_effects`).

A study without covariates or a batch column gets no block (an empty dict).
"""

from __future__ import annotations

import pandas as pd

from cohortbench.analyse.side_effects import side_step_comparisons
from cohortbench.analyse.sites import balance_from_counts

__all__ = ["sites_section", "MAX_EFFECT_ROWS"]

#: The paired comparisons shown at most (smallest p first); the rest are counted.
MAX_EFFECT_ROWS = 30


def sites_section(info: dict | None, evaluations: pd.DataFrame,
                  predictions: pd.DataFrame | None) -> dict:
    """What the template shows about covariates and sites.

    Parameters
    ----------
    info : dict or None
        ``run_info["sites"]``.
    evaluations, predictions : DataFrame
        The exported tables.

    Returns
    -------
    dict
        Empty without covariates and batch; else ``text`` (str), ``tables``
        (list of (title, DataFrame)), ``warnings`` (list of str), ``effects``
        (DataFrame, possibly empty) and ``effects_text`` (str).
    """
    if not info:
        return {}
    covariates = list(info.get("covariates") or [])
    batch = info.get("batch")
    parts = [f"Covariates: {', '.join(covariates)}." if covariates else "No covariates."]
    if batch:
        parts.append(f"Sites from column '{batch}': label shuffles stay within sites, and "
                     "the inner folds of a search keep each site's class balance.")
    tables, warnings = [], []
    for task, counts in (info.get("tasks") or {}).items():
        balance = balance_from_counts(counts)
        shown = balance.table().reset_index()
        shown = shown.rename(columns={shown.columns[0]: "Site"})
        p = "–" if balance.p_value is None else f"{balance.p_value:.3g}"
        tables.append((f"Task {task}: subjects per site and class ({balance.test}, p = {p})",
                       shown))
        warnings += [f"Task {task}: {w}" for w in balance.warnings]
    effects = side_step_comparisons(evaluations, predictions)
    total = len(effects)
    if total:
        effects = effects.sort_values("p_value", kind="stable").head(MAX_EFFECT_ROWS)
    more = f" The {MAX_EFFECT_ROWS} with the smallest p of {total} are shown." \
        if total > MAX_EFFECT_ROWS else ""
    effects_text = (
        "Each configuration with confound removal or harmonization against the same "
        "configuration without it, on the same subjects and folds: how many subjects only "
        "one of the two classified correctly, and the exact McNemar p-value (approximate, "
        f"because cross-validated predictions are not independent).{more}")
    shown_effects = pd.DataFrame({
        "Stage": effects["stage"], "Task": effects["task"], "Classifier": effects["classifier"],
        "Step": effects["step"], "Option": effects["option"],
        "Other steps": effects["configuration"],
        "Accuracy with": effects["accuracy_with"], "Accuracy without": effects["accuracy_without"],
        "Right only with": effects["right_only_with"],
        "Right only without": effects["right_only_without"], "McNemar p": effects["p_value"],
    })
    return {"text": " ".join(parts), "tables": tables, "warnings": warnings,
            "effects": shown_effects, "effects_text": effects_text}
