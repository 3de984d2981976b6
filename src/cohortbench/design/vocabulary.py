"""The shared vocabulary of pipelines: field names, option orders and the words shown to users.

One place for what the planner, the analyses, the exports, the figures and the report
tables call a pipeline's parts, so that a step is named the same everywhere (a test
compares the label sets of tables, figures and exports).
"""

from __future__ import annotations

import pandas as pd

from .configs import (COLUMN_SCALINGS, DIM_REDUCTIONS, FEATURE_SELECTIONS, HARMONIZATIONS,
                      ROW_SCALINGS, SEARCHES)
from .side_options import SIDE_STEPS

__all__ = [
    "STEPS",
    "STEP_FIELDS",
    "PIPELINE_FIELDS",
    "SIDE_STEPS",
    "KEY_FIELDS",
    "OPTION_ORDER",
    "STEP_LABELS",
    "FIELD_LABELS",
    "pipeline_key",
    "field_value",
    "option_text",
]

#: The steps that are compared against ``none`` (SPEC section 6).
STEPS = ("row_scaling", "column_scaling", "feature_selection", "dim_reduction")
#: The fields of a stage's ``pipeline``/``grid`` (a step's options and the selector's k).
STEP_FIELDS = ("row_scaling", "column_scaling", "feature_selection", "n_features",
               "dim_reduction")
#: Every field that, together with the classifier, identifies a configuration.
PIPELINE_FIELDS = (
    "row_scaling", "imputation", "column_scaling", "feature_selection", "n_features",
    "dim_reduction", "search", "modalities", "parcellation",
)
#: With the side steps (``harmonize``, ``confounds``; issue 21): what tells two
#: configurations apart in analyses. The side steps are columns of the evaluations only
#: when a study uses them (so exports without them keep their bytes); a row without them
#: reads ``none``. They are compared against ``none`` like :data:`STEPS` where present.
KEY_FIELDS = PIPELINE_FIELDS + SIDE_STEPS
#: Each step's options, in the order they are shown (a confounds option is its covariates).
OPTION_ORDER = {
    "row_scaling": ROW_SCALINGS,
    "column_scaling": COLUMN_SCALINGS,
    "feature_selection": FEATURE_SELECTIONS,
    "dim_reduction": DIM_REDUCTIONS,
    "search": SEARCHES,
    "harmonize": HARMONIZATIONS,
    "confounds": ("none",),
}
#: What a step is called in every table, figure and sentence.
STEP_LABELS = {
    "row_scaling": "Row scaling (per subject)",
    "column_scaling": "Column scaling (per feature)",
    "feature_selection": "Feature selection",
    "dim_reduction": "Dimensionality reduction",
}
#: The same for every pipeline field (steps, the selector's k, search, data).
FIELD_LABELS = {
    **STEP_LABELS,
    "imputation": "Imputation",
    "n_features": "Number of selected features",
    "search": "Search strategy",
    "modalities": "Modalities",
    "parcellation": "Parcellation",
    "classifier": "Classifier",
    "harmonize": "Harmonization (sites)",
    "confounds": "Confound removal",
}


def _n_features_value(value):
    """``None`` for an empty n_features (NaN, NA, None), else an int."""
    if value is None or pd.isna(value):
        return None
    return int(value)


def field_value(row, name):
    """One pipeline field of an evaluation row, normalised (``none`` for a step not run)."""
    if name == "n_features":
        return _n_features_value(row.get("n_features"))
    value = row.get(name)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        # Missing optional fields (imputation, search, side steps) mean the step did not run.
        return "none" if name in ("imputation", "search", *SIDE_STEPS) else ""
    return str(value)


def pipeline_key(row) -> tuple:
    """The pipeline fields of one evaluation row as a hashable tuple (KEY_FIELDS order)."""
    return tuple(field_value(row, name) for name in KEY_FIELDS)


def option_text(step: str, option: str, n_features=None) -> str:
    """An option as shown to users: ``kbest (k = 50)``; the option word otherwise."""
    if step == "feature_selection" and option not in ("none", "") and n_features is not None \
            and not pd.isna(n_features):
        return f"{option} (k = {int(n_features)})"
    return str(option)
