"""Everything checked before a voxel is read or a file written: subjects, files, grids, labels.

:func:`make_plan` finds each subject's map files and label image, refuses what
cannot work (a pattern that matches no file for any subject, a 4D image, a label
image on another grid without permission to resample, or not overlapping the map
in scanner coordinates, a kept label in no label image, a broken LUT) with one
sentence, and returns the :class:`Plan` the runner executes. Missing files of some
subjects are not errors: those subjects miss that map.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..data.tables import find_id_column, read_table, subject_ids
from ..errors import DataError
from .images import Grid, load_labels, present_labels, read_grid, same_grid, world_overlap
from .lut import Region, read_lut, select_labels
from .spec import SUBJECT_FIELD, ExtractionSpec
from .store import FileCache

__all__ = ["Plan", "SubjectFiles", "make_plan"]

_GLOB_CHARACTERS = set("*?[")


@dataclass(frozen=True)
class SubjectFiles:
    """One subject's inputs; a path is None when the file is missing."""

    subject: str
    labels: Path | None
    maps: tuple[tuple[str, Path | None], ...]


@dataclass
class Plan:
    """What to extract, checked.

    ``resampled`` holds the (subject, map) pairs whose labels are moved onto the
    map's grid; ``digests`` maps each input file to its content digest.
    """

    spec: ExtractionSpec
    id_column: str
    participants: pd.DataFrame | None
    subjects: tuple[SubjectFiles, ...]
    regions: tuple[Region, ...]
    resampled: frozenset
    digests: dict[str, str]
    notes: list[str] = field(default_factory=list)

    @property
    def map_names(self) -> list[str]:
        return [name for name, _ in self.spec.maps]


def _subjects(spec: ExtractionSpec) -> tuple[list[str], str, pd.DataFrame | None]:
    if spec.participants is not None:
        table = read_table(spec.participants)
        column = find_id_column(table, file=spec.participants, id_column=spec.id_column)
        ids = subject_ids(table, column, file=spec.participants)
        return ids, column, table
    found = sorted(p for p in glob.glob(spec.folders) if os.path.isdir(p))
    if not found:
        raise DataError(f"{spec.source}: subjects.folders: '{spec.folders}' matches no folder; "
                        "check the glob (relative to the extraction file), e.g. \"sub-*\".")
    names = [os.path.basename(os.path.normpath(p)) for p in found]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"{spec.source}: subjects.folders matches several folders named "
                        f"'{repeated[0]}'; a folder's name is its subject's ID, so make the glob "
                        "match each subject once.")
    return names, "participant_id", None


def _check_id(subject: str, spec: ExtractionSpec) -> None:
    if not subject or "/" in subject or "\\" in subject or subject in (".", ".."):
        raise DataError(f"Subject ID '{subject}' (from {spec.participants or spec.folders}) "
                        "cannot be part of a file path; fix the ID.")


def _find(pattern: str, subject: str, key: str) -> Path | None:
    placeholder = "{" + SUBJECT_FIELD + "}"
    if _GLOB_CHARACTERS & set(pattern.replace(placeholder, "")):
        matches = sorted(glob.glob(pattern.replace(placeholder, glob.escape(subject))))
        if len(matches) > 1:
            raise DataError(f"{key}: for subject '{subject}' the pattern matches "
                            f"{len(matches)} files ({', '.join(matches[:3])}); make it match one.")
        return Path(matches[0]) if matches else None
    path = Path(pattern.replace(placeholder, subject))
    return path if path.is_file() else None


def _example(pattern: str, subject: str) -> str:
    return pattern.replace("{" + SUBJECT_FIELD + "}", subject)


class _Grids:
    """Header-only grids, read once per file."""

    def __init__(self):
        self._grids: dict[Path, Grid] = {}

    def __call__(self, path: Path, role: str) -> Grid:
        if path not in self._grids:
            self._grids[path] = read_grid(path, role)
        return self._grids[path]


def _check_space(subject: str, map_name: str, map_path: Path, label_path: Path,
                 grids: _Grids, allow_resample: bool) -> bool:
    """Whether the labels must be resampled onto the map's grid; refuse what cannot work."""
    map_grid = grids(map_path, f"map '{map_name}'")
    label_grid = grids(label_path, "label image")
    if same_grid(map_grid, label_grid):
        return False
    if not world_overlap(map_grid, label_grid):
        raise DataError(f"Subject '{subject}': the label image {label_path} and map '{map_name}' "
                        f"({map_path}) do not overlap in scanner coordinates, so they are not in "
                        "the same space; register them first (extract does not register).")
    if not allow_resample:
        raise DataError(f"Subject '{subject}': map '{map_name}' ({map_path}; "
                        f"{map_grid.describe()}) and the label image {label_path} "
                        f"({label_grid.describe()}) are on different grids; set "
                        "labels.resample: true to move the labels onto each map's grid (nearest "
                        "neighbour), or resample them yourself.")
    return True


def _present_labels(paths: list[Path], cache: FileCache, digests: dict[str, str]) -> set[int]:
    present: set[int] = set()
    for path in paths:
        digest = digests[str(path)]
        known = cache.labels_of(digest)
        if known is None:
            known = tuple(present_labels(load_labels(path)))
            cache.remember_labels(digest, known)
        present.update(known)
    return present


def make_plan(spec: ExtractionSpec, cache: FileCache) -> Plan:
    """Resolve and check every input of ``spec``.

    Raises
    ------
    DataError
        One sentence naming the file, subject or key and the fix.
    """
    ids, id_column, participants = _subjects(spec)
    for subject in ids:
        _check_id(subject, spec)
    lut = read_lut(spec.lut) if spec.lut is not None else None
    found_maps = {}
    for name, pattern in spec.maps:
        paths = [_find(pattern, s, f"maps.{name}") for s in ids]
        if not any(paths):
            raise DataError(f"{spec.source}: maps.{name}: the pattern matches no file for any of "
                            f"the {len(ids)} subjects (e.g. {_example(pattern, ids[0])}); check "
                            "the pattern (relative to the extraction file).")
        found_maps[name] = paths
    if spec.per_subject_labels:
        label_paths = [_find(spec.label_image, s, "labels.image") for s in ids]
        if not any(label_paths):
            raise DataError(f"{spec.source}: labels.image: the pattern matches no file for any of "
                            f"the {len(ids)} subjects (e.g. {_example(spec.label_image, ids[0])}); "
                            "check the pattern.")
    else:
        template = Path(spec.label_image)
        if not template.is_file():
            raise DataError(f"{spec.source}: labels.image: {template} does not exist; check the "
                            "path (relative to the extraction file).")
        label_paths = [template] * len(ids)
    notes = []
    lacking = [s for s, p in zip(ids, label_paths) if p is None]
    if lacking:
        notes.append(f"{len(lacking)} subject(s) have no label image and miss every map: "
                     f"{', '.join(lacking[:10])}{', ...' if len(lacking) > 10 else ''}")

    grids = _Grids()
    resampled = set()
    subjects = []
    for i, subject in enumerate(ids):
        label_path = label_paths[i]
        if label_path is not None:
            grids(label_path, "label image")
        maps = []
        for name, _ in spec.maps:
            path = found_maps[name][i]
            if path is not None:
                grids(path, f"map '{name}'")
                if label_path is not None and _check_space(subject, name, path, label_path,
                                                           grids, spec.resample):
                    resampled.add((subject, name))
            maps.append((name, path))
        subjects.append(SubjectFiles(subject, label_path, tuple(maps)))

    files = {p for s in subjects for _, p in s.maps if p is not None}
    used_labels = sorted({s.labels for s in subjects if s.labels is not None})
    digests = {str(p): cache.digest(p) for p in sorted(files | set(used_labels))}
    present = _present_labels(used_labels, cache, digests)
    where = (f"the label image {used_labels[0]}" if len(used_labels) == 1 else
             f"the {len(used_labels)} label images (e.g. {used_labels[0]})")
    regions, lut_notes = select_labels(spec.keep, present, lut, lut_path=spec.lut,
                                       where_images=where)
    return Plan(spec=spec, id_column=id_column, participants=participants,
                subjects=tuple(subjects), regions=tuple(regions), resampled=frozenset(resampled),
                digests=digests, notes=notes + lut_notes)
