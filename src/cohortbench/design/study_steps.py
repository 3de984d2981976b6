"""Pipeline steps in a study file: one fixed pipeline, or a grid of them.

``pipeline:`` names one configuration of the steps of SPEC section 3;
``grid:`` lists the options of each step and expands to their cartesian product,
``n_features`` pairing only with a feature selector (so the study's grid of
3 row x 3 column x (none + 2 selectors x 5 k) x 3 reductions gives 297 pipelines).
Missing-value imputation is not a pipeline step here: it follows ``data.missing``.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from .study_errors import no_repeats, study_error
from .study_model import StudyModel

__all__ = [
    "RowScaling",
    "ColumnScaling",
    "FeatureSelection",
    "DimReduction",
    "STEP_KEYS",
    "PipelineSpec",
    "GridSpec",
]

RowScaling = Literal["none", "standard", "minmax"]
ColumnScaling = Literal["none", "standard", "minmax"]
FeatureSelection = Literal["none", "kbest", "rfe"]
DimReduction = Literal["none", "pca", "lda"]

#: The keys of a step dict, in pipeline order.
STEP_KEYS = ("row_scaling", "column_scaling", "feature_selection", "n_features", "dim_reduction")

_SELECTORS = ("kbest", "rfe")
_IMPUTATION_HINT = (
    "missing values are handled by data.missing (impute-mean or impute-median), "
    "not by a pipeline step"
)


def _options(kind):
    return Annotated[list[kind], Field(min_length=1), AfterValidator(no_repeats)]


_RowOptions = _options(RowScaling)
_ColumnOptions = _options(ColumnScaling)
_SelectionOptions = _options(FeatureSelection)
_FeatureCounts = _options(Annotated[int, Field(ge=1)])
_ReductionOptions = _options(DimReduction)


class PipelineSpec(StudyModel):
    """One fixed pipeline: an option per step (``none`` where not given).

    Attributes
    ----------
    row_scaling, column_scaling : {'none', 'standard', 'minmax'}
    feature_selection : {'none', 'kbest', 'rfe'}
    n_features : int or None
        The number of features a selector keeps; required with a selector and
        only with one.
    dim_reduction : {'none', 'pca', 'lda'}
    """

    _key_hints = {"imputation": _IMPUTATION_HINT}

    row_scaling: RowScaling = "none"
    column_scaling: ColumnScaling = "none"
    feature_selection: FeatureSelection = "none"
    n_features: Annotated[int, Field(ge=1)] | None = None
    dim_reduction: DimReduction = "none"

    @model_validator(mode="after")
    def _n_features_with_selector(self) -> PipelineSpec:
        if self.feature_selection != "none" and self.n_features is None:
            raise study_error(
                f"required with feature_selection {self.feature_selection}; give the number "
                "of features to keep, e.g. n_features: 50",
                "n_features",
            )
        if self.feature_selection == "none" and self.n_features is not None:
            raise study_error(
                "only used with a feature selector; set feature_selection to kbest or rfe, "
                "or remove n_features",
                "n_features",
            )
        return self

    def steps(self) -> dict:
        """The step dict (keys :data:`STEP_KEYS`) of this pipeline."""
        return {key: getattr(self, key) for key in STEP_KEYS}


class GridSpec(StudyModel):
    """The options of each step; the stage evaluates their cartesian product.

    Attributes
    ----------
    row_scaling, column_scaling, feature_selection, dim_reduction : list of str
        The options of that step (default ``[none]``), each listed once.
    n_features : list of int or None
        The numbers of features tried with each selector; required when
        ``feature_selection`` lists ``kbest`` or ``rfe``, and only then.
    """

    _key_hints = {"imputation": _IMPUTATION_HINT}

    row_scaling: _RowOptions = Field(default_factory=lambda: ["none"])
    column_scaling: _ColumnOptions = Field(default_factory=lambda: ["none"])
    feature_selection: _SelectionOptions = Field(default_factory=lambda: ["none"])
    n_features: _FeatureCounts | None = None
    dim_reduction: _ReductionOptions = Field(default_factory=lambda: ["none"])

    @model_validator(mode="after")
    def _n_features_with_selector(self) -> GridSpec:
        selectors = [s for s in self.feature_selection if s in _SELECTORS]
        if selectors and self.n_features is None:
            raise study_error(
                f"required because feature_selection lists {' and '.join(selectors)}; "
                "give the numbers of features to try, e.g. [10, 25, 50]",
                "n_features",
            )
        if not selectors and self.n_features is not None:
            raise study_error(
                "only used with a feature selector; add kbest or rfe to feature_selection, "
                "or remove n_features",
                "n_features",
            )
        return self

    def expand(self) -> list[dict]:
        """Every pipeline of the grid, as step dicts, in a fixed order.

        The order is row scaling, then column scaling, then feature selection
        (``none`` first, then each selector with each ``n_features`` in the
        order given), then dimensionality reduction, the last varying fastest.

        Returns
        -------
        list of dict
            Keys :data:`STEP_KEYS`; ``n_features`` is None without a selector.
        """
        selections = []
        for selector in self.feature_selection:
            if selector == "none":
                selections.append(("none", None))
            else:
                selections.extend((selector, k) for k in self.n_features or ())
        return [
            {
                "row_scaling": row,
                "column_scaling": column,
                "feature_selection": selector,
                "n_features": k,
                "dim_reduction": reduction,
            }
            for row, column, (selector, k), reduction in itertools.product(
                self.row_scaling, self.column_scaling, selections, self.dim_reduction
            )
        ]

    def size(self) -> int:
        """The number of pipelines :meth:`expand` returns."""
        per_selector = sum(
            1 if s == "none" else len(self.n_features or ()) for s in self.feature_selection
        )
        return (
            len(self.row_scaling) * len(self.column_scaling) * per_selector
            * len(self.dim_reduction)
        )
