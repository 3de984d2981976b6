"""A study file resolved against its data: the cohort, derived labels and tasks."""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..data.checks import check_recoded_labels, near_miss_subjects
from ..data.cohort import Cohort
from ..data.labels import build_tasks, columns_used, derive_labels
from ..data.loading import MapFile, load_cohort
from ..data.views import Task
from ..errors import StudyError
from .classifiers import classifier_names
from .configs import CVScheme
from .study_file import StudyFile, load_study_file

__all__ = ["LoadedStudy", "load_study", "imputation_for"]


_IMPUTATION = {"impute-mean": "mean", "impute-median": "median"}


def imputation_for(missing_policy: str) -> str:
    """The in-fold imputation a missing-value policy asks for (``none`` otherwise)."""
    return _IMPUTATION.get(missing_policy, "none")


@dataclass
class LoadedStudy:
    """A validated study: its file, cohort, clinical table with labels, and tasks."""

    path: Path
    spec: StudyFile
    cohort: Cohort
    clinical: pd.DataFrame
    tasks: dict[str, Task]
    label_cuts: dict[str, float] = field(default_factory=dict)
    #: Modalities a stage kind formed for its own plans (e.g. one map alone for the
    #: ``importance`` kind's leave-one-out views): usable by name, not in the defaults.
    formed_modalities: tuple[str, ...] = ()

    @property
    def cv(self) -> CVScheme:
        return CVScheme(
            outer=self.spec.cv.outer,
            inner=self.spec.cv.inner,
            permutations=self.spec.permutations,
            seed=self.spec.seed,
            reduce_inner_k=self.spec.cv.reduce_inner_k,
        )

    @property
    def imputation(self) -> str:
        return imputation_for(self.spec.data.missing)

    def default_modalities(self) -> tuple[str, ...]:
        return tuple(m for m in self.cohort.modalities if m not in self.formed_modalities)


def _suggest(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean '{close[0]}'?" if close else f"; known: {', '.join(known)}"


def _resolve_stage_modalities(spec: StudyFile, cohort: Cohort) -> None:
    """Let stages name ``all`` or a map in ``modalities`` (saying what that means).

    ``all`` stands for every modality of the study; a map that is not a modality
    becomes a modality of its own (a note says so). The stage is replaced by a
    resolved copy, so the resolved study (``RUN_DIR/study.yaml``) shows what ran.
    """
    modalities = list(cohort.modalities)
    for i, stage in enumerate(spec.stages):
        if not stage.modalities:
            continue
        resolved = []
        for combo in stage.modalities:
            names: list[str] = []
            for name in combo:
                if name == "all" and "all" not in cohort.modalities:
                    names += modalities
                    continue
                if name not in cohort.modalities and name in cohort.maps:
                    cohort.modalities[name] = (name,)
                    cohort.decisions.append(
                        f"stages[{i}].modalities names the map '{name}', which no modality "
                        "groups: it is used as a modality of its own.")
                names.append(name)
            resolved.append(list(dict.fromkeys(names)))
        if resolved != stage.modalities:  # stages are frozen: put a resolved copy in its place
            spec.stages[i] = stage.model_copy(update={"modalities": resolved})


def _check_kinds(spec: StudyFile, where: str) -> None:
    """Each stage's kind is registered and its ``options`` are what the kind takes."""
    from pydantic import ValidationError

    from .stage_kinds import stage_kind
    from .study_errors import format_validation_error

    for i, stage in enumerate(spec.stages):
        try:
            kind = stage_kind(stage)
        except StudyError as exc:
            raise StudyError(f"{where}: stages[{i}].kind: {exc}") from None
        if kind.options is None:
            if stage.options:
                raise StudyError(f"{where}: stages[{i}].options: stages of kind '{kind.name}' "
                                 "take no options; remove the key.")
            continue
        try:
            kind.options.model_validate(stage.options or {})
        except ValidationError as exc:
            message = format_validation_error(exc, where)
            raise StudyError(message.replace(f"{where}: ", f"{where}: stages[{i}].options.", 1)) \
                from None


def _load_kinds(spec: StudyFile, cohort: Cohort, where: str) -> tuple[str, ...]:
    """Run each stage kind's ``on_load`` hook; the modalities the hooks formed."""
    from .stage_kinds import stage_kind

    formed: list[str] = []
    for i, stage in enumerate(spec.stages):
        hook = stage_kind(stage).on_load
        if hook is None:
            continue
        try:
            formed += hook(spec, cohort, i) or ()
        except StudyError as exc:
            raise StudyError(f"{where}: {exc}") from None
    return tuple(dict.fromkeys(formed))


def _check_names(spec: StudyFile, cohort: Cohort, where: str) -> None:
    known_clf = classifier_names()
    for i, stage in enumerate(spec.stages):
        if isinstance(stage.classifiers, list):
            for name in stage.classifiers:
                if name not in known_clf:
                    raise StudyError(
                        f"{where}: stages[{i}].classifiers: unknown classifier '{name}'"
                        f"{_suggest(name, known_clf)}"
                    )
        if stage.shortlist is not None and getattr(stage.shortlist, "keep", None):
            for name in stage.shortlist.keep:
                if name not in known_clf:
                    raise StudyError(
                        f"{where}: stages[{i}].shortlist.keep: unknown classifier '{name}'"
                        f"{_suggest(name, known_clf)}"
                    )
        for combo in stage.modalities or []:
            for name in combo:
                if name not in cohort.modalities:
                    raise StudyError(
                        f"{where}: stages[{i}].modalities: unknown modality or map '{name}'"
                        f"{_suggest(name, list(cohort.modalities) + list(cohort.maps))}; "
                        "name modalities (data.modalities), maps, or all"
                    )
        for name in stage.parcellations or []:
            if name not in cohort.parcellations:
                raise StudyError(
                    f"{where}: stages[{i}].parcellations: unknown parcellation '{name}'"
                    f"{_suggest(name, list(cohort.parcellations))}"
                )


def _check_side_columns(spec: StudyFile, clinical: pd.DataFrame, protected: dict,
                        where: str) -> None:
    """``data.covariates`` and ``data.batch`` name columns that exist and define no label."""
    d = spec.data
    named = [(f"data.covariates[{i}]", name) for i, name in enumerate(d.covariates or [])]
    if d.batch is not None:
        named.append(("data.batch", d.batch))
    for key, name in named:
        if name not in clinical.columns:
            raise StudyError(
                f"{where}: {key}: '{name}' is not a column of the clinical table, nor a "
                f"column a map table leaves out of the features{_suggest(name, clinical.columns)}")
        if name in protected:
            raise StudyError(
                f"{where}: {key}: '{name}' defines {protected[name]}, so adjusting for it would "
                "remove or leak the very difference to predict; remove it from "
                f"{key.split('[')[0]}")


def load_study(path: str | Path) -> LoadedStudy:
    """Read a study file and everything it points at; raise on any bad input.

    Parameters
    ----------
    path : str or Path
        The study YAML file.

    Returns
    -------
    LoadedStudy
    """
    path = Path(path)
    spec = load_study_file(path)
    d = spec.data
    labels = {name: lab.model_dump(by_alias=True, exclude_none=True) for name, lab in spec.labels.items()}
    tasks_spec = {
        name: task.model_dump(exclude_none=True) for name, task in spec.tasks.items()
    }
    maps = {name: MapFile(entry.file, entry.id_column, entry.sheet) if hasattr(entry, "file")
            else MapFile(entry) for name, entry in (d.maps or {}).items()}
    cohort = load_cohort(
        maps=maps,
        participants=d.participants,
        table=d.table,
        blocks=d.blocks,
        id_column=d.id_column,
        id_match=d.id_match,
        exclude=list(d.exclude),
        keep_summary_columns=list(d.keep_summary_columns),
        modalities=d.modalities,
        parcellations=d.parcellations,
        missing=d.missing,
        sheet=d.sheet,
        protected=columns_used(labels, tasks_spec),
        covariates=list(d.covariates or []),
    )
    _resolve_stage_modalities(spec, cohort)
    _check_kinds(spec, path.name)
    formed = _load_kinds(spec, cohort, path.name)
    _check_names(spec, cohort, path.name)
    clinical = derive_labels(cohort.clinical, labels)
    _check_side_columns(spec, clinical, columns_used(labels, tasks_spec), path.name)
    tasks = build_tasks(clinical, tasks_spec)
    check_recoded_labels(cohort.maps, cohort.sources, tasks)
    for name, task in tasks.items():
        near = near_miss_subjects(clinical, tasks_spec[name],
                                  set(task.subjects) | set(task.train_only_subjects))
        if near:
            note = (f"Task '{name}': {len(near)} subject(s) are in no class although their value "
                    f"is close to a class's: {', '.join(near[:5])}"
                    f"{' and more' if len(near) > 5 else ''}; fix the cells (case, spaces, a "
                    "decimal comma) or the task's conditions.")
            cohort.warnings.append(note)
            warnings.warn(note, UserWarning, stacklevel=2)
    cuts = dict(clinical.attrs.get("label_cuts", {}))
    study = LoadedStudy(path=path, spec=spec, cohort=cohort, clinical=clinical, tasks=tasks,
                        label_cuts=cuts, formed_modalities=formed)
    from .stage_kinds import check_stage_kinds

    check_stage_kinds(study)  # what a stage's kind cannot do with these tasks
    return study
