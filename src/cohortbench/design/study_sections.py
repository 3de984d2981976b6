"""The sections of a study file other than its stages (SPEC section 10b).

``data`` (where the cohort is and how it is organised), ``labels`` (derived
labels), ``tasks`` (classes by conditions), ``cv``, ``execution`` (SLURM) and
``analysis`` (top-performer thresholds). Only what the file alone can tell is
checked here; file existence, columns, map, modality and parcellation names are
checked against the data when it is loaded.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .study_errors import describe_value, no_repeats, study_error, union_tag
from .study_model import StudyModel

__all__ = [
    "NonEmptyStr",
    "Names",
    "ResolvedPath",
    "ConditionValue",
    "Conditions",
    "MapSource",
    "DataSection",
    "LabelSpec",
    "TaskSpec",
    "CVSection",
    "SlurmSection",
    "ExecutionSection",
    "TopPerformersSection",
    "AnalysisSection",
]

NonEmptyStr = Annotated[str, Field(min_length=1)]


#: A non-empty list of distinct names.
Names = Annotated[list[NonEmptyStr], Field(min_length=1), AfterValidator(no_repeats)]


def _plain_names(values: list[str]) -> list[str]:
    """Refuse names holding the characters that separate names in option texts."""
    from .side_options import RESERVED_CHARACTERS

    for index, value in enumerate(values):
        bad = [c for c in RESERVED_CHARACTERS if c in value]
        if bad:
            raise study_error(
                f"'{value}' holds '{bad[0]}', which cohortbench uses to join covariate names; "
                "rename the column (e.g. with _ instead)", index)
    return values


def _resolve_path(value: Any, info: ValidationInfo) -> Path:
    # Relative paths are relative to the study file, whose folder the loader
    # passes in the validation context; existence is checked by the data loader.
    if isinstance(value, Path):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise study_error(f"expected a file path (text), got {describe_value(value)}")
    if not text:
        raise study_error("expected a file path, got empty text")
    path = Path(text).expanduser()
    if not path.is_absolute():
        context = info.context or {}
        base = Path(context.get("base_dir") or os.getcwd())
        path = base / path
    return Path(os.path.abspath(path))


#: A file path, made absolute relative to the study file's folder.
ResolvedPath = Annotated[Path, BeforeValidator(_resolve_path)]


def _check_condition_value(value: Any) -> Any:
    scalars = (str, int, float, bool)
    if isinstance(value, scalars):
        return value
    if isinstance(value, list) and value:
        for index, item in enumerate(value):
            if not isinstance(item, scalars):
                raise study_error(
                    f"expected a value (text, number, true/false), got {describe_value(item)}",
                    index,
                )
        return value
    if isinstance(value, list):
        raise study_error("an empty list matches no subject; give at least one value")
    raise study_error(
        "expected a value (text, number, true/false) or a list of values meaning any of them, "
        f"got {describe_value(value)}"
    )


#: A condition's value: one value, or a list meaning "any of".
ConditionValue = Annotated[Any, BeforeValidator(_check_condition_value)]
#: Column or label name -> value; every condition must hold.
Conditions = Annotated[dict[NonEmptyStr, ConditionValue], Field(min_length=1)]


def _parcellation_kind(value: Any) -> str:
    return union_tag("roi list") if isinstance(value, list) else union_tag("roi file")


Parcellation = Annotated[
    Union[
        Annotated[ResolvedPath, Tag(union_tag("roi file"))],
        Annotated[Names, Tag(union_tag("roi list"))],
    ],
    Discriminator(_parcellation_kind),
]


class MapSource(StudyModel):
    """One map table with its own settings: ``{file: ..., id_column: ..., sheet: ...}``.

    For a map table whose ID column is named differently from the clinical
    table's (the study-wide ``id_column``), or an Excel sheet of its own.
    """

    file: ResolvedPath
    id_column: NonEmptyStr | None = None
    sheet: NonEmptyStr | None = None


def _map_kind(value: Any) -> str:
    return union_tag("map settings") if isinstance(value, dict) else union_tag("map file")


MapEntry = Annotated[
    Union[
        Annotated[ResolvedPath, Tag(union_tag("map file"))],
        Annotated[MapSource, Tag(union_tag("map settings"))],
    ],
    Discriminator(_map_kind),
]


class DataSection(StudyModel):
    """Where the cohort is: one table per map, or one wide table.

    Exactly one of ``maps`` and ``table``; ``blocks`` goes with ``table`` (map name
    -> column-name glob) and ``participants`` (the clinical table) with ``maps``.
    Every path is absolute once validated. ``id_column`` names the clinical table's
    ID column; a map table without that column uses its first column (a map may
    set its own, ``{file: ..., id_column: ...}``). ``id_match`` says how IDs are
    compared across tables; ``keep_summary_columns`` keeps FreeSurfer summary
    columns that are otherwise left out of the features.

    ``covariates`` names per-subject columns for the ``confounds`` and ``harmonize``
    steps: clinical columns, or summary columns of a FreeSurfer map table that are left
    out of the features (``EstimatedTotalIntraCranialVol``); numeric or categorical.
    ``batch`` names the site (scanner, centre) column: with it, label shuffles stay
    within sites, inner folds keep each site's class balance, and ``harmonize`` and
    ``cv.outer: leave-site-out`` become available.
    """

    maps: Annotated[dict[NonEmptyStr, MapEntry], Field(min_length=1)] | None = None
    participants: ResolvedPath | None = None
    id_column: NonEmptyStr | None = None
    id_match: Literal["exact", "digits", "case-insensitive"] = "exact"
    table: ResolvedPath | None = None
    blocks: Annotated[dict[NonEmptyStr, NonEmptyStr], Field(min_length=1)] | None = None
    sheet: NonEmptyStr | None = None
    exclude: list[NonEmptyStr] = Field(default_factory=list)
    keep_summary_columns: list[NonEmptyStr] = Field(default_factory=list)
    modalities: Annotated[dict[NonEmptyStr, Names], Field(min_length=1)] | None = None
    parcellations: dict[NonEmptyStr, Parcellation] = Field(default_factory=dict)
    missing: Literal["error", "drop-subjects", "impute-mean", "impute-median"] = "error"
    covariates: Annotated[Names, AfterValidator(_plain_names)] | None = None
    batch: NonEmptyStr | None = None

    @field_validator("maps")
    @classmethod
    def _one_file_per_map(cls, value: dict | None) -> dict | None:
        seen: dict = {}
        for name, entry in (value or {}).items():
            path = entry.file if isinstance(entry, MapSource) else entry
            if path in seen:
                raise study_error(
                    f"map '{name}' reads the same file as map '{seen[path]}' ({path.name}); "
                    "give each map its own table (one file cannot be two maps)", name)
            seen[path] = name
        return value

    def map_files(self) -> dict[str, Path]:
        """Map name -> the file of each ``maps`` entry."""
        return {name: (entry.file if isinstance(entry, MapSource) else entry)
                for name, entry in (self.maps or {}).items()}

    def files(self) -> dict[str, Path]:
        """Every file the data section reads, by role (``map qT1``, ``participants``,
        ``table``, ``parcellation GM``)."""
        out = {f"map {name}": path for name, path in self.map_files().items()}
        for key in ("participants", "table"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        for name, value in self.parcellations.items():
            if isinstance(value, Path):
                out[f"parcellation {name}"] = value
        return out

    def read_options(self) -> dict:
        """The options that change what is read from the files (paths aside)."""
        per_map = {name: {"id_column": entry.id_column, "sheet": entry.sheet}
                   for name, entry in (self.maps or {}).items() if isinstance(entry, MapSource)}
        return {
            "exclude": list(self.exclude), "blocks": self.blocks, "id_column": self.id_column,
            "sheet": self.sheet, "missing": self.missing, "modalities": self.modalities,
            "id_match": self.id_match, "keep_summary_columns": list(self.keep_summary_columns),
            "parcellations": {name: (value if isinstance(value, list) else "file")
                              for name, value in self.parcellations.items()},
            "maps": per_map,
            "covariates": list(self.covariates or []), "batch": self.batch,
        }

    @field_validator("parcellations")
    @classmethod
    def _all_is_reserved(cls, value: dict) -> dict:
        if "all" in value:
            raise study_error(
                "the parcellation name 'all' is reserved for every ROI and always exists; "
                "choose another name",
                "all",
            )
        return value

    @model_validator(mode="after")
    def _one_layout(self) -> DataSection:
        if self.maps is not None and self.table is not None:
            raise study_error(
                "give either maps (one table per map) or table (one wide table), not both",
                "table",
            )
        if self.maps is None and self.table is None:
            raise study_error(
                "give maps (one table per map, e.g. {qT1: maps/qT1.tsv}) or table "
                "(one wide table with blocks)"
            )
        if self.table is not None and self.blocks is None:
            raise study_error(
                "required with table; map each map name to a column-name glob, "
                'e.g. {qT1: "qT1_*"}',
                "blocks",
            )
        if self.maps is not None and self.blocks is not None:
            raise study_error(
                "only used with table; with maps each file is one map, so remove blocks",
                "blocks",
            )
        if self.maps is not None and self.participants is None:
            raise study_error(
                "required with maps; give the clinical table (e.g. participants.tsv) that "
                "decides who is in the cohort",
                "participants",
            )
        return self

    def map_names(self) -> list[str]:
        """The map names the study declares (``maps`` or ``blocks`` keys), in order."""
        return list(self.maps or self.blocks or {})


def _check_split(value: Any) -> Any:
    if value == "median" and isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise study_error(f"must be median or a number (the cut), got {describe_value(value)}")


Split = Annotated[Union[Literal["median"], float], BeforeValidator(_check_split)]


class LabelSpec(StudyModel):
    """A derived label: a safe expression, or a two-class split of a column or label.

    Either ``{expression: "(48 - alsfrs_r) / disease_months"}`` (a numeric label)
    or ``{from: slope, split: median, classes: [slow, fast], among: {group: ALS}}``:
    values at or below the cut go to the first class. ``among`` restricts the
    subjects the median is taken over (and labelled).
    """

    expression: NonEmptyStr | None = None
    from_: NonEmptyStr | None = Field(default=None, alias="from")
    split: Split | None = None
    classes: Names | None = None
    among: Conditions | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> LabelSpec:
        if self.expression is not None and self.from_ is not None:
            raise study_error("give either expression or from, not both", "from")
        if self.expression is None and self.from_ is None:
            raise study_error(
                "give expression (a formula over clinical columns) or from (a column or "
                "label to split into two classes)"
            )
        if self.expression is not None:
            for key in ("split", "classes", "among"):
                if getattr(self, key) is not None:
                    raise study_error(
                        "only used with from; an expression label is numeric, so split it "
                        "in a second label with from",
                        key,
                    )
            return self
        if self.split is None:
            raise study_error("required with from; use median or a number", "split")
        if self.classes is None:
            raise study_error(
                "required with from; give two class names, e.g. [slow, fast]", "classes"
            )
        if len(self.classes) != 2:
            raise study_error(
                f"a split gives exactly two classes, got {len(self.classes)}; "
                "give two names, e.g. [slow, fast]",
                "classes",
            )
        return self


class TaskSpec(StudyModel):
    """A classification task: class name -> conditions on columns or labels.

    ``train_only`` names extra subjects per class that join every training fold
    but never a test fold (hybrid training).
    """

    classes: Annotated[dict[NonEmptyStr, Conditions], Field(min_length=2)]
    train_only: Annotated[dict[NonEmptyStr, Conditions], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _train_only_classes_exist(self) -> TaskSpec:
        for name in self.train_only or {}:
            if name not in self.classes:
                raise study_error(
                    f"'{name}' is not a class of this task; use one of "
                    f"{', '.join(self.classes)}",
                    "train_only",
                    name,
                )
        return self


_OUTER = re.compile(r"^(loo|stratified-kfold:(\d+)|repeated-stratified-kfold:(\d+):(\d+))$")
_INNER = re.compile(r"^stratified-kfold:(\d+)$")


class CVSection(StudyModel):
    """Cross-validation: the outer scheme, the inner one (for searches).

    ``outer``: ``loo`` | ``stratified-kfold:K`` | ``repeated-stratified-kfold:K:R``
    (K >= 2, R >= 1) | ``leave-site-out`` (one fold per site of ``data.batch``);
    ``inner``: ``stratified-kfold:K`` (stratified by class within sites when
    ``data.batch`` is set). ``reduce_inner_k`` lowers the inner K to the smallest
    class size instead of failing.
    """

    outer: str = "loo"
    inner: str = "stratified-kfold:5"
    reduce_inner_k: bool = False

    @field_validator("outer")
    @classmethod
    def _check_outer(cls, value: str) -> str:
        if value.strip() == "leave-site-out":
            return "leave-site-out"
        match = _OUTER.match(value.strip())
        numbers = [int(g) for g in match.groups()[1:] if g is not None] if match else []
        if not match or (numbers and numbers[0] < 2) or (len(numbers) == 2 and numbers[1] < 1):
            raise study_error(
                "must be loo, stratified-kfold:K (K >= 2), repeated-stratified-kfold:K:R "
                f"(K >= 2, R >= 1) or leave-site-out, got {describe_value(value)}"
            )
        return value.strip()

    @field_validator("inner")
    @classmethod
    def _check_inner(cls, value: str) -> str:
        match = _INNER.match(value.strip())
        if not match or int(match.group(1)) < 2:
            raise study_error(
                f"must be stratified-kfold:K with K >= 2, got {describe_value(value)}"
            )
        return value.strip()


_MEMORY = re.compile(r"^\d+(\.\d+)?\s*([kmgtp]i?b?|b)$", re.IGNORECASE)
_WALLTIME = re.compile(r"^(\d+-\d+(:\d\d){0,2}|\d+(:\d\d){0,2})$")


class SlurmSection(StudyModel):
    """SLURM resources for ``run --cluster slurm`` (passed to dask-jobqueue)."""

    queue: NonEmptyStr
    cores: Annotated[int, Field(ge=1)] = 1
    memory: str = "4GB"
    walltime: str = "01:00:00"
    jobs: Annotated[int, Field(ge=1)] = 1
    # default: one single-threaded worker process per core (the work is CPU-bound Python)
    processes: Annotated[int, Field(ge=1)] | None = None
    job_extra_directives: list[str] = Field(default_factory=list)
    job_directives_skip: list[str] = Field(default_factory=list)

    @field_validator("memory", mode="before")
    @classmethod
    def _check_memory(cls, value: Any) -> Any:
        if not isinstance(value, str) or not _MEMORY.match(value.strip()):
            raise study_error(
                f"must be an amount with a unit, e.g. 64GB, got {describe_value(value)}"
            )
        return value.strip()

    @field_validator("walltime", mode="before")
    @classmethod
    def _check_walltime(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 reads an unquoted 4:00:00 as the number 14400.
            raise study_error(
                'was read as a number; put it in quotes, e.g. "04:00:00"'
            )
        if not isinstance(value, str) or not _WALLTIME.match(value.strip()):
            raise study_error(
                'must be a SLURM time such as "04:00:00" or "1-00:00:00", '
                f"got {describe_value(value)}"
            )
        return value.strip()


class ExecutionSection(StudyModel):
    """How ``run`` may execute the study beyond local processes."""

    slurm: SlurmSection | None = None


_Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class TopPerformersSection(StudyModel):
    """Thresholds of the top-performer analysis (SPEC section 6).

    ``tasks`` defaults to 3-class and SvF where those tasks exist, else every task
    (see ``StudyFile.top_performer_tasks``).
    """

    tasks: Names | None = None
    min_accuracy: _Fraction = 0.6
    min_z: float = 2.0
    strict_accuracy: _Fraction = 0.7

    @model_validator(mode="after")
    def _strict_is_stricter(self) -> TopPerformersSection:
        if self.strict_accuracy < self.min_accuracy:
            raise study_error(
                f"must be at least min_accuracy ({self.min_accuracy}); it is the stricter tier",
                "strict_accuracy",
            )
        return self


class AnalysisSection(StudyModel):
    """Settings of the analyses run on the results."""

    top_performers: TopPerformersSection = Field(default_factory=TopPerformersSection)
