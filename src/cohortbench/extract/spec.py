"""The extraction file of ``cohortbench extract``: its schema and its loader.

An extraction file (YAML) says where the subjects, the quantitative maps, the
label images and the lookup table are, and how a region's value is computed::

    subjects: {participants: participants.tsv}      # or {folders: "sub-*"}
    maps:
      qT1: derivatives/{subject}/anat/{subject}_T1map.nii.gz
    labels:
      image: derivatives/{subject}/anat/{subject}_dseg.nii.gz   # or one template image
      lut: FreeSurferColorLUT.txt
    statistic: mean

It is validated like the study file (the same :class:`StudyModel` base), so a
mistake is one sentence naming the file and the key path, e.g.
``extract.yaml: labels.resmple: unknown key; did you mean 'resample'?``.
Relative paths and patterns are relative to the extraction file's folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator

from ..design.study_errors import describe_value, format_validation_error, study_error
from ..design.study_model import StudyModel
from ..errors import StudyError

__all__ = ["ExtractionFile", "ExtractionSpec", "load_extraction_file", "spec_from_mapping",
           "SUBJECT_FIELD", "content_key"]

#: The one placeholder of path patterns.
SUBJECT_FIELD = "subject"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

NonEmptyStr = Annotated[str, Field(min_length=1)]


def _pattern_fields(pattern: str) -> list[str]:
    try:
        return [field for _, field, _, _ in string.Formatter().parse(pattern) if field is not None]
    except ValueError:
        raise study_error(
            f"{describe_value(pattern)} has an unmatched brace; the only placeholder is "
            "{subject}, written with both braces") from None


def _check_pattern(pattern: str, *, needs_subject: bool) -> str:
    fields = _pattern_fields(pattern)
    other = [f for f in fields if f != SUBJECT_FIELD]
    if other:
        raise study_error(
            f"{{{other[0]}}} is not a placeholder; the only one is {{subject}} (each subject's ID)")
    if needs_subject and SUBJECT_FIELD not in fields:
        raise study_error(
            "the pattern needs {subject} where each subject's ID goes, e.g. "
            "derivatives/{subject}/anat/{subject}_T1map.nii.gz")
    return pattern


def _pattern_text(value: Any) -> Any:
    if isinstance(value, dict):
        # An unquoted pattern that starts with {subject} is a YAML flow mapping.
        raise study_error(
            "YAML read this pattern as a mapping because it starts with '{'; put it in quotes, "
            'e.g. "{subject}/anat/{subject}_T1map.nii.gz"')
    return value


PatternText = Annotated[NonEmptyStr, BeforeValidator(_pattern_text)]


def _map_pattern(value: str) -> str:
    return _check_pattern(value, needs_subject=True)


def _label_pattern(value: str) -> str:
    return _check_pattern(value, needs_subject=False)


def _check_map_names(maps: dict[str, str]) -> dict[str, str]:
    for name in maps:
        if not _SAFE_NAME.match(name):
            raise study_error(
                "this map name becomes a file name: use letters, digits, '.', '_' and '-' "
                "(starting with a letter or digit)", name)
    return maps


def _check_keep(value: Any) -> Any:
    if value == "all" and isinstance(value, str):
        return value
    if not isinstance(value, list) or not value:
        raise study_error(
            "must be all or a non-empty list of ROI names, name globs (e.g. 'ctx-lh-*') "
            f"or label values, got {describe_value(value)}")
    seen = set()
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (int, str)) or item == "":
            raise study_error(
                f"expected an ROI name or a label value (a whole number), got {describe_value(item)}",
                index)
        if isinstance(item, int) and item <= 0:
            raise study_error(
                f"{item} is not a region: 0 is the background and label values are positive",
                index)
        if item in seen:
            raise study_error(f"{item!r} is listed twice; list each once", index)
        seen.add(item)
    return value


class SubjectsSection(StudyModel):
    """Who is extracted: the rows of a participants table, or a glob of subject folders."""

    participants: NonEmptyStr | None = None
    folders: NonEmptyStr | None = None
    id_column: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SubjectsSection:
        if self.participants is not None and self.folders is not None:
            raise study_error("give either participants (a table) or folders (a glob), not both",
                              "folders")
        if self.participants is None and self.folders is None:
            raise study_error(
                "give participants (a table with one row per subject, e.g. participants.tsv) "
                'or folders (a glob of subject folders, e.g. "sub-*")')
        if self.id_column is not None and self.participants is None:
            raise study_error("only used with participants; a folder's name is its subject's ID",
                              "id_column")
        return self


class LabelsSection(StudyModel):
    """The label image(s), the names of their labels, which to keep, and resampling."""

    image: Annotated[PatternText, AfterValidator(_label_pattern)]
    lut: NonEmptyStr | None = None
    keep: Annotated[Any, BeforeValidator(_check_keep)] = "all"
    resample: bool = False


class ExtractionFile(StudyModel):
    """A validated extraction file (patterns and paths as written)."""

    _key_hints: ClassVar[dict[str, str]] = {
        "lut": "it belongs under labels (labels: {lut: ...})",
        "keep": "it belongs under labels (labels: {keep: [...]})",
        "resample": "it belongs under labels (labels: {resample: true})",
        "participants": "it belongs under subjects (subjects: {participants: ...})",
        "folders": "it belongs under subjects (subjects: {folders: ...})",
    }

    name: NonEmptyStr | None = None
    subjects: SubjectsSection
    maps: Annotated[dict[NonEmptyStr, Annotated[PatternText, AfterValidator(_map_pattern)]],
                    Field(min_length=1), AfterValidator(_check_map_names)]
    labels: LabelsSection
    statistic: Literal["mean", "median"] = "mean"
    valid_voxels: Literal["finite", "nonzero"] = "finite"
    min_voxels: Annotated[int, Field(ge=1)] = 10


@dataclass(frozen=True)
class ExtractionSpec:
    """An extraction file with absolute paths and patterns.

    Attributes
    ----------
    source : Path
        The extraction file (absolute); ``name`` defaults to its stem.
    participants, folders : Path or str or None
        Where the subjects come from (one of the two).
    maps : tuple of (name, pattern)
        In file order; each pattern holds ``{subject}``.
    label_image : str
        A pattern with ``{subject}`` (one image per subject) or a path (one template image).
    per_subject_labels : bool
        Whether ``label_image`` is a pattern (each subject has its own label image).
    keep : 'all' or tuple
    """

    source: Path
    name: str
    participants: Path | None
    folders: str | None
    id_column: str | None
    maps: tuple[tuple[str, str], ...]
    label_image: str
    per_subject_labels: bool
    lut: Path | None
    keep: str | tuple
    resample: bool
    statistic: str
    valid_voxels: str
    min_voxels: int

    def compute_settings(self) -> dict:
        """The settings that change a region's voxel statistics (part of every result's key)."""
        return {"statistic": self.statistic, "valid_voxels": self.valid_voxels}


def _absolute(text: str, base: Path) -> str:
    path = os.path.expanduser(text)
    return os.path.abspath(path if os.path.isabs(path) else os.path.join(base, path))


def spec_from_mapping(mapping: Any, source: Path) -> ExtractionSpec:
    """Validate an extraction file's mapping; relative paths are relative to ``source``'s folder.

    Raises
    ------
    StudyError
        One sentence naming the file and the key path.
    """
    if not isinstance(mapping, dict):
        raise StudyError(
            f"{source}: the extraction file must be a mapping of keys (subjects, maps, labels, "
            f"...), got {describe_value(mapping)}")
    try:
        model = ExtractionFile.model_validate(mapping)
    except ValidationError as exc:
        raise StudyError(format_validation_error(exc, str(source))) from None
    base = source.parent
    subjects = model.subjects
    keep = model.labels.keep if model.labels.keep == "all" else tuple(model.labels.keep)
    return ExtractionSpec(
        source=source,
        name=model.name or source.stem,
        participants=Path(_absolute(subjects.participants, base)) if subjects.participants else None,
        folders=_absolute(subjects.folders, base) if subjects.folders else None,
        id_column=subjects.id_column,
        maps=tuple((name, _absolute(pattern, base)) for name, pattern in model.maps.items()),
        label_image=_absolute(model.labels.image, base),
        per_subject_labels=SUBJECT_FIELD in _pattern_fields(model.labels.image),
        lut=Path(_absolute(model.labels.lut, base)) if model.labels.lut else None,
        keep=keep,
        resample=model.labels.resample,
        statistic=model.statistic,
        valid_voxels=model.valid_voxels,
        min_voxels=model.min_voxels,
    )


def load_extraction_file(path: str | Path) -> ExtractionSpec:
    """Read and validate an extraction file.

    Parameters
    ----------
    path : str or Path
        The YAML file; relative paths inside it are relative to its folder.

    Raises
    ------
    StudyError
        The file is missing, not YAML, or breaks the schema (one sentence).
    """
    shown = str(path)
    path = Path(os.path.abspath(Path(path).expanduser()))
    if not path.is_file():
        raise StudyError(f"{shown}: extraction file not found; check the path")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise StudyError(f"{shown}: the extraction file is not UTF-8 text; save it as UTF-8") from None
    try:
        mapping = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        line = text.splitlines()[mark.line] if mark is not None and mark.line < len(text.splitlines()) else ""
        hint = ("; a pattern that starts with {subject} must be in quotes, e.g. "
                '"{subject}/anat/{subject}_T1map.nii.gz"' if re.search(r":\s*\{subject\}", line)
                else "; check the indentation, colons and quotes there")
        raise StudyError(f"{shown}: {where}the file is not valid YAML ({problem}){hint}") from None
    if mapping is None:
        raise StudyError(f"{shown}: the extraction file is empty; docs/extract.md has an example")
    return spec_from_mapping(mapping, path)


def content_key(payload: dict) -> str:
    """A stable hash of plain data (the key of a stored result)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
