"""A stage of a study file: what it evaluates, and what it passes on.

A stage names its classifiers (``all``, ``shortlist`` of an earlier stage, or a
list), its pipelines (one ``pipeline``, ``best`` of the previous stage, or a
``grid``), its search strategies, and optionally the modality combinations,
parcellations and tasks it runs on; a ``shortlist`` rule chooses the classifiers
later stages get with ``classifiers: shortlist``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag, model_validator

from .study_errors import describe_value, no_repeats, study_error, union_tag
from .study_model import StudyModel
from .study_sections import Names, NonEmptyStr
from .study_steps import PipelineSpec, GridSpec

__all__ = ["ShortlistRule", "Stage", "ClassifierChoice", "PipelineChoice"]


class ShortlistRule(StudyModel):
    """Which classifiers of a stage go on: a threshold, or an explicit list.

    ``min_accuracy``: kept when the stage's primary metric reaches it on every task
    of the stage; ``keep``: exactly these classifiers. Give one of the two.
    """

    min_accuracy: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    keep: Names | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ShortlistRule:
        if self.min_accuracy is not None and self.keep is not None:
            raise study_error("give either min_accuracy or keep, not both", "keep")
        if self.min_accuracy is None and self.keep is None:
            raise study_error(
                "give min_accuracy (e.g. {min_accuracy: 0.6}) or keep (a list of classifier names)"
            )
        return self


def _check_classifiers(value: Any) -> Any:
    if isinstance(value, str) and value not in ("all", "shortlist"):
        raise study_error(
            f"must be all, shortlist or a list of classifier names, got {describe_value(value)}; "
            f"for one classifier write [{value}]"
        )
    if not isinstance(value, (str, list)):
        raise study_error(
            f"must be all, shortlist or a list of classifier names, got {describe_value(value)}"
        )
    return value


def _choice_or_list(value: Any) -> str:
    return union_tag("list") if isinstance(value, list) else union_tag("word")


ClassifierChoice = Annotated[
    Union[
        Annotated[Literal["all", "shortlist"], Tag(union_tag("word"))],
        Annotated[Names, Tag(union_tag("list"))],
    ],
    Discriminator(_choice_or_list),
    BeforeValidator(_check_classifiers),
]


def _check_pipeline(value: Any) -> Any:
    if value is None or value == "best" or isinstance(value, dict):
        return value
    raise study_error(
        "must be best (the best pipeline of the previous stage) or a mapping of steps, "
        f"e.g. {{row_scaling: standard}}, got {describe_value(value)}"
    )


def _best_or_steps(value: Any) -> str:
    return union_tag("best") if isinstance(value, str) else union_tag("steps")


PipelineChoice = Annotated[
    Union[
        Annotated[Literal["best"], Tag(union_tag("best"))],
        Annotated[PipelineSpec, Tag(union_tag("steps"))],
    ],
    Discriminator(_best_or_steps),
]


def _no_repeated_sets(combos: list[list[str]]) -> list[list[str]]:
    seen: dict[frozenset, int] = {}
    for index, combo in enumerate(combos):
        key = frozenset(combo)
        if key in seen:
            raise study_error(
                f"the same modalities as entry {seen[key]}; list each combination once", index
            )
        seen[key] = index
    return combos


class Stage(StudyModel):
    """One stage: which classifiers, pipelines, searches, views and tasks to evaluate.

    ``pipeline`` (one pipeline, or ``best`` of the previous stage) and ``grid``
    (a cartesian product) exclude each other; with neither, every step is
    ``none``. ``modalities``, ``parcellations`` and ``tasks`` default to all the
    study's modalities, ``[all]`` and every task.
    """

    name: NonEmptyStr
    kind: NonEmptyStr | None = None
    options: dict[NonEmptyStr, Any] | None = None
    classifiers: ClassifierChoice = "all"
    pipeline: Annotated[PipelineChoice | None, BeforeValidator(_check_pipeline)] = None
    grid: GridSpec | None = None
    search: Annotated[
        list[Literal["none", "grid", "random", "bayes"]],
        Field(min_length=1),
        AfterValidator(no_repeats),
    ] = Field(default_factory=lambda: ["none"])
    shortlist: ShortlistRule | None = None
    modalities: Annotated[
        list[Names], Field(min_length=1), AfterValidator(_no_repeated_sets)
    ] | None = None
    parcellations: Names | None = None
    tasks: Names | None = None

    @model_validator(mode="after")
    def _pipeline_or_grid(self) -> Stage:
        if self.pipeline is not None and self.grid is not None:
            raise study_error(
                "cannot be combined with pipeline; use pipeline for one configuration or "
                "grid for a cartesian product",
                "grid",
            )
        return self

    def steps(self) -> list[dict]:
        """The step dicts of a stage with explicit steps (``grid``, ``pipeline`` or neither).

        Raises
        ------
        ValueError
            For ``pipeline: best``, which only the previous stage's results decide.
        """
        if self.grid is not None:
            return self.grid.expand()
        if self.pipeline == "best":
            raise ValueError(f"stage {self.name!r} takes the best pipeline of the previous stage")
        return [(self.pipeline or PipelineSpec()).steps()]
