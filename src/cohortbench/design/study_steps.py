"""Pipeline steps in a study file: one fixed pipeline, or a grid of them.

``pipeline:`` names one configuration of the steps of SPEC section 3;
``grid:`` lists the options of each step and expands to their cartesian product,
``n_features`` pairing only with a feature selector (so the study's grid of
3 row x 3 column x (none + 2 selectors x 5 k) x 3 reductions gives 297 pipelines).
Missing-value imputation is not a pipeline step here: it follows ``data.missing``.

Two steps use per-subject side data (issue 21, ``docs/harmonization.md``):
``confounds`` (``none`` or a list of ``data.covariates`` regressed out in-fold) and
``harmonize`` (``none``, ``combat``, or ``{method: combat, preserve: [...],
unseen_site: error | fit-unlabeled}``). In a ``grid`` each lists its options:
``confounds: [none, [age, sex], [age, sex, icv]]`` (a list of lists),
``harmonize: [none, combat]``. A step dict carries them as texts
(:mod:`~cohortbench.design.side_options`) and only when not ``none``, so that a
study without them plans exactly what it planned before.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag, model_validator

from .side_options import confounds_text, harmonize_text
from .study_errors import no_repeats, study_error, union_tag
from .study_model import StudyModel

__all__ = [
    "RowScaling",
    "ColumnScaling",
    "FeatureSelection",
    "DimReduction",
    "HarmonizeSpec",
    "ConfoundsOption",
    "HarmonizeOption",
    "option_text",
    "side_options_of",
    "side_settings",
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


class HarmonizeSpec(StudyModel):
    """ComBat with settings: ``{method: combat, preserve: [age, sex], unseen_site: error}``.

    Attributes
    ----------
    method : {'combat'}
    preserve : list of str or None
        Covariates (of ``data.covariates``) whose effects ComBat keeps; never the class
        label or anything recoding it (refused).
    unseen_site : {'error', 'fit-unlabeled'}
        What a held-out subject from a site unseen in training gets: an error, or that
        site's parameters estimated from its own held-out rows without labels
        (transductive).
    """

    method: Literal["combat"] = "combat"
    preserve: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1),
                        AfterValidator(no_repeats)] | None = None
    unseen_site: Literal["error", "fit-unlabeled"] = "error"


def _word_or_list(value: Any) -> str:
    return union_tag("word") if isinstance(value, str) else union_tag("list")


def _word_or_mapping(value: Any) -> str:
    return union_tag("settings") if isinstance(value, (dict, HarmonizeSpec)) else union_tag("word")


_Covariates = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1),
                        AfterValidator(no_repeats)]
def _one_covariate_word(value: Any) -> Any:
    if isinstance(value, str) and value != "none":
        raise study_error(f"give none or a list of covariates, e.g. [{value}]")
    return value


def _grid_of_options(value: Any) -> Any:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value) \
            and any(v != "none" for v in value):
        raise study_error("a grid lists options, each none or a list of covariates; write "
                          f"[none, [{', '.join(v for v in value if v != 'none')}]]")
    return value


#: ``none``, or the covariates to regress out.
ConfoundsOption = Annotated[
    Union[Annotated[Literal["none"], Tag(union_tag("word"))],
          Annotated[_Covariates, Tag(union_tag("list"))]],
    Discriminator(_word_or_list),
    BeforeValidator(_one_covariate_word),
]
#: ``none``, ``combat``, or ComBat with settings.
HarmonizeOption = Annotated[
    Union[Annotated[Literal["none", "combat"], Tag(union_tag("word"))],
          Annotated[HarmonizeSpec, Tag(union_tag("settings"))]],
    Discriminator(_word_or_mapping),
]


def option_text(step: str, value) -> str:
    """A side step's option as the text stored and exported (``none`` when unset)."""
    if value is None or value == "none":
        return "none"
    if step == "confounds":
        return confounds_text(value)
    if isinstance(value, HarmonizeSpec):
        return harmonize_text(value.method, value.preserve or (), value.unseen_site)
    return harmonize_text(value)


def _distinct_options(step: str):
    def check(values: list) -> list:
        seen: dict[str, int] = {}
        for index, value in enumerate(values):
            text = option_text(step, value)
            if text in seen:
                raise study_error(f"the same option as entry {seen[text]} ({text}); list each "
                                  "once", index)
            seen[text] = index
        return values
    return check


def _side_steps(harmonize, confounds) -> dict:
    """The step dict's side entries: texts, only for steps not at ``none``."""
    out = {"harmonize": option_text("harmonize", harmonize),
           "confounds": option_text("confounds", confounds)}
    return {key: value for key, value in out.items() if value != "none"}


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
    confounds : 'none' or list of str or None
        Covariates regressed out of every feature, in-fold.
    harmonize : 'none', 'combat', HarmonizeSpec or None
        Site harmonization (needs ``data.batch``).
    """

    _key_hints = {"imputation": _IMPUTATION_HINT}

    row_scaling: RowScaling = "none"
    column_scaling: ColumnScaling = "none"
    feature_selection: FeatureSelection = "none"
    n_features: Annotated[int, Field(ge=1)] | None = None
    dim_reduction: DimReduction = "none"
    confounds: ConfoundsOption | None = None
    harmonize: HarmonizeOption | None = None

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
        """The step dict (keys :data:`STEP_KEYS`, plus side steps set) of this pipeline."""
        return {**{key: getattr(self, key) for key in STEP_KEYS},
                **_side_steps(self.harmonize, self.confounds)}


class GridSpec(StudyModel):
    """The options of each step; the stage evaluates their cartesian product.

    Attributes
    ----------
    row_scaling, column_scaling, feature_selection, dim_reduction : list of str
        The options of that step (default ``[none]``), each listed once.
    n_features : list of int or None
        The numbers of features tried with each selector; required when
        ``feature_selection`` lists ``kbest`` or ``rfe``, and only then.
    confounds : list or None
        Options of confound removal: ``none`` or lists of covariates, e.g.
        ``[none, [age, sex]]``.
    harmonize : list or None
        Options of harmonization, e.g. ``[none, combat]``.
    skip : list of dict or None
        Combinations left out of the product: a pipeline is skipped when it has
        every option one entry names, e.g. ``[{row_scaling: none, column_scaling:
        none, feature_selection: rfe}]`` (RFE on raw values, whose results are
        flagged numerically unreliable anyway). Keys are the steps above and
        ``n_features``; each value must be one of the grid's options for that step.
        The per-step tests pair what remains.
    """

    _key_hints = {"imputation": _IMPUTATION_HINT}

    row_scaling: _RowOptions = Field(default_factory=lambda: ["none"])
    column_scaling: _ColumnOptions = Field(default_factory=lambda: ["none"])
    feature_selection: _SelectionOptions = Field(default_factory=lambda: ["none"])
    n_features: _FeatureCounts | None = None
    dim_reduction: _ReductionOptions = Field(default_factory=lambda: ["none"])
    confounds: Annotated[list[ConfoundsOption], Field(min_length=1),
                         AfterValidator(_distinct_options("confounds")),
                         BeforeValidator(_grid_of_options)] | None = None
    harmonize: Annotated[list[HarmonizeOption], Field(min_length=1),
                         AfterValidator(_distinct_options("harmonize"))] | None = None
    skip: Annotated[list[dict[Literal[STEP_KEYS], Union[str, int]]],
                    Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _skip_names_grid_options(self) -> GridSpec:
        for index, entry in enumerate(self.skip or []):
            if not entry:
                raise study_error("an empty entry would skip every pipeline; name the step "
                                  "options to leave out, e.g. {feature_selection: rfe}",
                                  "skip", index)
            for step, value in entry.items():
                options = (self.n_features or []) if step == "n_features" else getattr(self, step)
                if value not in options:
                    raise study_error(f"{value!r} is not one of the grid's {step} options "
                                      f"({', '.join(map(str, options)) or 'none'})",
                                      "skip", index, step)
        if self.skip and not self.expand():
            raise study_error("skips every pipeline of the grid; leave fewer out", "skip")
        return self

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

        The order is row scaling, then harmonization, then confound removal
        (each in the order given), then column scaling, then feature selection
        (``none`` first, then each selector with each ``n_features`` in the
        order given), then dimensionality reduction, the last varying fastest.

        Returns
        -------
        list of dict
            Keys :data:`STEP_KEYS`, plus ``harmonize``/``confounds`` (texts) where not
            ``none``; ``n_features`` is None without a selector.
        """
        selections = []
        for selector in self.feature_selection:
            if selector == "none":
                selections.append(("none", None))
            else:
                selections.extend((selector, k) for k in self.n_features or ())
        grid = [
            {
                "row_scaling": row,
                "column_scaling": column,
                "feature_selection": selector,
                "n_features": k,
                "dim_reduction": reduction,
                **_side_steps(harmonize, confounds),
            }
            for row, harmonize, confounds, column, (selector, k), reduction in itertools.product(
                self.row_scaling, self.harmonize or ["none"], self.confounds or ["none"],
                self.column_scaling, selections, self.dim_reduction
            )
        ]
        return [steps for steps in grid if not any(
            all(steps.get(step) == value for step, value in entry.items())
            for entry in self.skip or [])]

    def size(self) -> int:
        """The number of pipelines :meth:`expand` returns."""
        if self.skip:
            return len(self.expand())
        per_selector = sum(
            1 if s == "none" else len(self.n_features or ()) for s in self.feature_selection
        )
        return (
            len(self.row_scaling) * len(self.column_scaling) * per_selector
            * len(self.dim_reduction) * len(self.harmonize or [0]) * len(self.confounds or [0])
        )


def side_options_of(stage) -> list[tuple[tuple, str, Any]]:
    """``(key path below the stage, step, option)`` of every side option a stage names.

    Options are as written (``none``, a list of covariates, ``combat``, a
    :class:`HarmonizeSpec`); a stage with ``pipeline: best`` names none of its own.
    """
    out: list[tuple[tuple, str, Any]] = []
    if stage.grid is not None:
        for step in ("harmonize", "confounds"):
            out += [(("grid", step, i), step, option)
                    for i, option in enumerate(getattr(stage.grid, step) or [])]
    elif isinstance(stage.pipeline, PipelineSpec):
        for step in ("harmonize", "confounds"):
            option = getattr(stage.pipeline, step)
            if option is not None:
                out.append((("pipeline", step), step, option))
    return out


def side_settings(stages) -> tuple[list[tuple[str, ...]], list[tuple[tuple[str, ...], str]]]:
    """The confound sets and ComBat settings the stages name (for the checks before a run).

    Returns
    -------
    confound_sets : list of tuple of str
        Each ``confounds`` option that is not ``none``, once.
    combat : list of (preserve, unseen_site)
        Each ``harmonize`` option that is not ``none``, once.
    """
    confound_sets, combat = [], []
    for stage in stages:
        for _, step, option in side_options_of(stage):
            if option is None or option == "none":
                continue
            if step == "confounds":
                entry = tuple(option)
                if entry not in confound_sets:
                    confound_sets.append(entry)
                continue
            spec = option if isinstance(option, HarmonizeSpec) else HarmonizeSpec()
            entry = (tuple(spec.preserve or ()), spec.unseen_site)
            if entry not in combat:
                combat.append(entry)
    return confound_sets, combat
