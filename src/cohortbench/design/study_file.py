"""The study file (SPEC section 10b): its schema, and the loader that checks it.

:func:`load_study_file` reads YAML safely (no tags are constructed), validates it
against :class:`StudyFile` and raises :class:`~cohortbench.errors.StudyError` with
one sentence naming the file and the key path, e.g.
``study.yaml: stages[0].pipline: unknown key; did you mean 'pipeline'?``.
Relative paths in ``data`` are resolved against the study file's folder; whether
the files exist, and whether classifier, modality and parcellation names are
known, is checked later against the registry and the data.
"""

from __future__ import annotations

import copy
import difflib
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, model_validator

from ..errors import StudyError
from .configs import CVScheme
from .study_errors import describe_value, format_validation_error, study_error
from .study_model import StudyModel
from .study_sections import (
    AnalysisSection,
    CVSection,
    DataSection,
    ExecutionSection,
    LabelSpec,
    NonEmptyStr,
    TaskSpec,
)
from .study_stage import ShortlistRule, Stage
from .study_steps import GridSpec, PipelineSpec, side_options_of
from .study_yaml import read_study_yaml

__all__ = [
    "ShortlistRule",
    "Stage",
    "PipelineSpec",
    "GridSpec",
    "DataSection",
    "LabelSpec",
    "TaskSpec",
    "CVSection",
    "ExecutionSection",
    "AnalysisSection",
    "StudyFile",
    "load_study_file",
    "study_from_mapping",
]


def _suggestion(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return f"the study defines {', '.join(known)}"


class StudyFile(StudyModel):
    """A validated study file (SPEC section 10b); every path in ``data`` is absolute.

    ``base_dir`` (the study file's folder), ``source_path`` and ``raw`` (the
    mapping as read) are kept beside the fields.
    """

    name: NonEmptyStr
    seed: Annotated[int, Field(ge=0)] = 0
    data: DataSection
    labels: dict[NonEmptyStr, LabelSpec] = Field(default_factory=dict)
    tasks: Annotated[dict[NonEmptyStr, TaskSpec], Field(min_length=1)]
    cv: CVSection = Field(default_factory=CVSection)
    permutations: Annotated[int, Field(ge=0)] = 50
    metric: Literal["accuracy", "balanced_accuracy", "f1_macro"] = "accuracy"
    stages: Annotated[list[Stage], Field(min_length=1)]
    execution: ExecutionSection | None = None
    analysis: AnalysisSection = Field(default_factory=AnalysisSection)

    _base_dir: Path | None = PrivateAttr(default=None)
    _source_path: Path | None = PrivateAttr(default=None)
    _raw: dict | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _cross_references(self) -> StudyFile:
        for name, label in self.labels.items():
            if label.from_ == name:
                raise study_error(
                    "a label cannot be split from itself; name the column or earlier label",
                    "labels", name, "from",
                )
        task_names = list(self.tasks)
        first_index: dict[str, int] = {}
        for index, stage in enumerate(self.stages):
            if stage.name in first_index:
                raise study_error(
                    f"'{stage.name}' is already the name of stages[{first_index[stage.name]}]; "
                    "give each stage its own name",
                    "stages", index, "name",
                )
            first_index[stage.name] = index
            if stage.classifiers == "shortlist":
                if index == 0:
                    raise study_error(
                        "shortlist means the shortlist of an earlier stage, so the first stage "
                        "cannot use it; write all or a list of classifier names",
                        "stages", 0, "classifiers",
                    )
                if self.shortlist_source(index) is None:
                    raise study_error(
                        "shortlist needs an earlier stage with a shortlist rule; add e.g. "
                        f"shortlist: {{min_accuracy: 0.6}} to stage '{self.stages[0].name}'",
                        "stages", index, "classifiers",
                    )
            if stage.pipeline == "best" and index == 0:
                raise study_error(
                    "best means the best pipeline of the previous stage, so the first stage "
                    "cannot use it; give the steps, e.g. {row_scaling: standard}",
                    "stages", 0, "pipeline",
                )
            for j, task in enumerate(stage.tasks or ()):
                if task not in self.tasks:
                    raise study_error(
                        f"unknown task '{task}'; {_suggestion(task, task_names)}",
                        "stages", index, "tasks", j,
                    )
        self._check_side_steps()
        for j, task in enumerate(self.analysis.top_performers.tasks or ()):
            if task not in self.tasks:
                raise study_error(
                    f"unknown task '{task}'; {_suggestion(task, task_names)}",
                    "analysis", "top_performers", "tasks", j,
                )
        return self

    def _check_side_steps(self) -> None:
        """Confounds and preserved covariates are study covariates; sites need a batch."""
        covariates = list(self.data.covariates or [])
        batch = self.data.batch
        if self.cv.outer == "leave-site-out" and batch is None:
            raise study_error("leave-site-out needs the site column; name it in data.batch "
                              "(e.g. batch: site)", "cv", "outer")
        for index, stage in enumerate(self.stages):
            for subpath, step, option in side_options_of(stage):
                where = ("stages", index, *subpath)
                if option is None or option == "none":
                    continue
                if step == "harmonize" and batch is None:
                    raise study_error("harmonization needs the site column; name it in "
                                      "data.batch (e.g. batch: site)", *where)
                names = option if step == "confounds" else (
                    getattr(option, "preserve", None) or [])
                for j, name in enumerate(names):
                    path = (*where, j) if step == "confounds" else (*where, "preserve", j)
                    if name == batch and step == "harmonize":
                        raise study_error(f"'{name}' is the batch column, which ComBat removes; "
                                          "it cannot also be preserved", *path)
                    if name not in covariates:
                        known = ", ".join(covariates) or "none yet"
                        raise study_error(f"'{name}' is not a covariate of the study; list it "
                                          f"under data.covariates (now: {known})", *path)

    @property
    def base_dir(self) -> Path | None:
        """The folder relative paths were resolved against (the study file's)."""
        return self._base_dir

    @property
    def source_path(self) -> Path | None:
        """The study file this was read from (None when built from a mapping)."""
        return self._source_path

    @property
    def raw(self) -> dict | None:
        """A copy of the mapping as read from the file, original path texts included."""
        return copy.deepcopy(self._raw)

    def shortlist_source(self, index: int) -> int | None:
        """The index of the latest stage before ``index`` with a shortlist rule, if any."""
        for earlier in range(index - 1, -1, -1):
            if self.stages[earlier].shortlist is not None:
                return earlier
        return None

    def stage_tasks(self, stage: Stage | int) -> list[str]:
        """The tasks a stage runs on (its own list, else every task of the study)."""
        if isinstance(stage, int):
            stage = self.stages[stage]
        return list(stage.tasks) if stage.tasks else list(self.tasks)

    def top_performer_tasks(self) -> list[str]:
        """The tasks of the top-performer analysis.

        As given in ``analysis.top_performers.tasks``; by default ``3-class`` and
        ``SvF`` where the study has them (as the published study), else every task.
        """
        chosen = self.analysis.top_performers.tasks
        if chosen:
            return list(chosen)
        usual = [task for task in ("3-class", "SvF") if task in self.tasks]
        return usual or list(self.tasks)

    def cv_scheme(self) -> CVScheme:
        """The cross-validation and permutation settings as a :class:`CVScheme`."""
        return CVScheme(
            outer=self.cv.outer,
            inner=self.cv.inner,
            permutations=self.permutations,
            seed=self.seed,
            reduce_inner_k=self.cv.reduce_inner_k,
        )

    def modality_names_used(self) -> list[str]:
        """Modality names the stages name, in order of first appearance."""
        names = [m for stage in self.stages for combo in stage.modalities or () for m in combo]
        return list(dict.fromkeys(names))

    def parcellation_names_used(self) -> list[str]:
        """Parcellation names the stages name, in order of first appearance."""
        names = [p for stage in self.stages for p in stage.parcellations or ()]
        return list(dict.fromkeys(names))

    def classifier_names_used(self) -> list[str]:
        """Classifier names the stages name (lists and ``shortlist.keep``), in order."""
        names: list[str] = []
        for stage in self.stages:
            if isinstance(stage.classifiers, list):
                names.extend(stage.classifiers)
            if stage.shortlist is not None and stage.shortlist.keep:
                names.extend(stage.shortlist.keep)
        return list(dict.fromkeys(names))

    def to_yaml_dict(self) -> dict:
        """The resolved study as plain data (paths as absolute strings, defaults filled).

        Loading it again gives the same study, whatever folder it is written to.
        """
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def study_from_mapping(
    mapping: Any, base_dir: str | Path | None = None, source: str = "study"
) -> StudyFile:
    """Validate a study given as a mapping (e.g. parsed YAML).

    Parameters
    ----------
    mapping : dict
        The study's keys, as in a study file.
    base_dir : str or Path, optional
        The folder relative paths are relative to (default: the current folder).
    source : str
        What error messages call the study (a file name).

    Returns
    -------
    StudyFile

    Raises
    ------
    StudyError
        With one sentence naming ``source`` and the key path.
    """
    if not isinstance(mapping, dict):
        raise StudyError(
            f"{source}: the study must be a mapping of keys (name, data, tasks, stages, ...), "
            f"got {describe_value(mapping)}"
        )
    base = Path(os.path.abspath(base_dir if base_dir is not None else os.getcwd()))
    try:
        study = StudyFile.model_validate(mapping, context={"base_dir": base})
    except ValidationError as exc:
        raise StudyError(format_validation_error(exc, source)) from None
    study._base_dir = base
    study._raw = copy.deepcopy(mapping)
    return study


def load_study_file(path: str | Path) -> StudyFile:
    """Read and validate a study file.

    Parameters
    ----------
    path : str or Path
        The study YAML file; relative paths inside it are relative to its folder.

    Returns
    -------
    StudyFile
        With ``base_dir``, ``source_path`` and ``raw`` set.

    Raises
    ------
    StudyError
        One sentence naming the file, the key path (or line) and the fix.
    """
    source = str(path)
    path = Path(path).expanduser()
    mapping = read_study_yaml(path, source)
    if mapping is None:
        raise StudyError(
            f"{source}: the study file is empty; `cohortbench init DIR` writes an example to start from"
        )
    if not isinstance(mapping, dict):
        raise StudyError(
            f"{source}: the top level must be a mapping of keys (name, data, tasks, stages, ...), "
            f"got {describe_value(mapping)}"
        )
    absolute = Path(os.path.abspath(path))
    study = study_from_mapping(mapping, base_dir=absolute.parent, source=source)
    study._source_path = absolute
    return study
