"""The cohort: clinical table, feature maps, modalities, parcellations, missing-value policy.

:func:`load_cohort` reads and validates the input tables (SPEC section 7);
:meth:`Cohort.view` turns a (modalities, parcellation) choice into the plain
:class:`~cohortbench.data.views.View` the engines consume.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cohortbench.data.tables import (
    find_id_column,
    is_excluded,
    match_blocks,
    read_roi_list,
    read_table,
    subject_ids,
    to_numeric_block,
)
from cohortbench.data.views import Block, View
from cohortbench.errors import DataError

__all__ = ["Cohort", "load_cohort", "MISSING_POLICIES"]

MISSING_POLICIES = ("error", "drop-subjects", "impute-mean", "impute-median")
_SHOWN = 5  # how many names a message lists before "and N more"


def _names(items: Sequence[str], limit: int = _SHOWN) -> str:
    items = list(items)
    shown = ", ".join(map(str, items[:limit]))
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _unknown(kind: str, name: str, known: Sequence[str], fix: str) -> DataError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return DataError(f"Unknown {kind} '{name}'{hint}; the known ones are {', '.join(known)}; "
                     f"{fix}.")


@dataclass(eq=False)
class Cohort:
    """A validated cohort.

    Attributes
    ----------
    clinical : DataFrame
        One row per subject (index ``subject``, str IDs); a column is numeric when every
        non-missing value is a number, else text.
    maps : dict of str -> DataFrame
        Each map's ROI values (float64, columns = ROI names), indexed exactly like
        ``clinical``; a subject absent from a map table has an all-NaN row.
    modalities : dict of str -> tuple of str
        Modality name -> its maps.
    parcellations : dict of str -> tuple of str or None
        Parcellation name -> ROI names; ``"all"`` -> None (every ROI).
    missing : str
        Missing-value policy, one of :data:`MISSING_POLICIES`.
    warnings : list of str
        What the loader found worth telling the user.
    sources : dict of str -> str
        Map name -> the file it came from.
    """

    clinical: pd.DataFrame
    maps: dict[str, pd.DataFrame]
    modalities: dict[str, tuple[str, ...]]
    parcellations: dict[str, tuple[str, ...] | None]
    missing: str = "error"
    warnings: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def subjects(self) -> tuple[str, ...]:
        return tuple(self.clinical.index)

    def view(self, modalities: Sequence[str] | None = None, parcellation: str = "all") -> View:
        """The feature matrix of some modalities restricted to one parcellation.

        Parameters
        ----------
        modalities : sequence of str, optional
            Modality names, in the order their blocks are concatenated (default: all).
        parcellation : str
            A name of :attr:`parcellations` (default ``"all"``).

        Returns
        -------
        View
            Columns ``"<map>:<roi>"``; one block per map. Under ``drop-subjects`` the
            subjects missing any value of these maps are left out and listed in
            ``dropped``; under ``impute-*`` NaNs stay for the engine to impute in-fold.

        Raises
        ------
        DataError
            Unknown modality or parcellation; a parcellation ROI in none of the maps used;
            a missing value under the ``error`` policy.
        """
        if isinstance(modalities, str):
            modalities = [modalities]
        names = tuple(self.modalities) if modalities is None else tuple(modalities)
        if not names:
            raise DataError("A view needs at least one modality; name one of "
                            f"{', '.join(self.modalities)}.")
        for name in names:
            if name not in self.modalities:
                raise _unknown("modality", name, list(self.modalities),
                               "define it under `data.modalities` or fix the stage")
        if parcellation not in self.parcellations:
            raise _unknown("parcellation", parcellation, list(self.parcellations),
                           "define it under `data.parcellations` or fix the stage")
        map_names = list(dict.fromkeys(m for name in names for m in self.modalities[name]))
        rois = self.parcellations[parcellation]
        if rois is not None:
            used = set().union(*(self.maps[m].columns for m in map_names))
            absent = [r for r in rois if r not in used]
            if absent:
                raise DataError(f"Parcellation '{parcellation}' names ROI(s) {_names(absent)} "
                                f"that are in none of the maps {', '.join(map_names)}; fix the "
                                "parcellation's list or the modalities of the stage.")
        frames, blocks, start = [], [], 0
        keep = None if rois is None else set(rois)
        for m in map_names:
            table = self.maps[m]
            if keep is not None:
                table = table.loc[:, [c for c in table.columns if c in keep]]
                if table.shape[1] == 0:
                    raise DataError(f"Parcellation '{parcellation}' keeps no ROI of map '{m}'; "
                                    "use the map with another parcellation or add its ROIs.")
            frames.append(table.add_prefix(f"{m}:"))
            blocks.append(Block(m, start, start + table.shape[1]))
            start += table.shape[1]
        data = pd.concat(frames, axis=1)
        values, column_names = data.to_numpy(dtype=np.float64), list(data.columns)
        dropped = self._apply_policy(values, data.index, blocks, column_names)
        kept = data.loc[[s for s in data.index if s not in dropped]]
        if kept.empty:
            raise DataError(f"Every subject misses a value of {', '.join(map_names)}, so the "
                            "`drop-subjects` policy leaves no one; use an `impute-*` policy"
                            f"{_empty_columns_hint(values, column_names, blocks)}.")
        return View(
            X=np.ascontiguousarray(kept.to_numpy(dtype=np.float64)),
            subjects=tuple(kept.index),
            columns=tuple(kept.columns),
            blocks=tuple(blocks),
            modalities=names,
            parcellation=parcellation,
            dropped=dropped,
        )

    def _apply_policy(self, X: np.ndarray, subjects: pd.Index, blocks: list[Block],
                      columns: list[str]) -> dict[str, str]:
        """Subject -> reason for the subjects this view leaves out (or raise under `error`)."""
        holes = {b.name: np.isnan(X[:, b.start:b.stop]).sum(axis=1) for b in blocks}
        if self.missing == "error":
            detail = "; ".join(f"{m}: {int(n.sum())} in {int((n > 0).sum())} subject(s), "
                               f"e.g. {_names(list(subjects[n > 0]), 3)}"
                               for m, n in holes.items() if n.any())
            if detail:
                raise DataError(
                    f"Missing values in the maps used ({detail}); set `data.missing` in the "
                    "study file to one of drop-subjects, impute-mean, impute-median, or fill "
                    f"the values{_empty_columns_hint(X, columns, blocks)}.")
            return {}
        if self.missing != "drop-subjects":
            return {}
        dropped = {}
        for i, subject in enumerate(subjects):
            parts = [f"{int(n[i])} values in {m}" for m, n in holes.items() if n[i]]
            if parts:
                dropped[str(subject)] = "missing " + ", ".join(parts)
        return dropped

    def summary(self) -> dict:
        """A JSON-able description: subjects, maps, modalities, parcellations, warnings."""
        maps = []
        for name, table in self.maps.items():
            whole = table.isna().all(axis=1)
            maps.append({
                "name": name,
                "source": self.sources.get(name, ""),
                "n_rois": int(table.shape[1]),
                "n_missing": int(table.isna().to_numpy().sum()),
                "subjects_missing_whole_map": [str(s) for s in table.index[whole]],
            })
        parcellations = {}
        for name, rois in self.parcellations.items():
            keep = None if rois is None else set(rois)
            per_map = {m: t.shape[1] if keep is None else sum(c in keep for c in t.columns)
                       for m, t in self.maps.items()}
            parcellations[name] = {"n_rois": sum(per_map.values()), "per_map": per_map}
        return {
            "n_subjects": int(len(self.clinical)),
            "clinical_columns": [str(c) for c in self.clinical.columns],
            "maps": maps,
            "modalities": {k: list(v) for k, v in self.modalities.items()},
            "parcellations": parcellations,
            "missing": self.missing,
            "warnings": list(self.warnings),
        }


def _empty_columns_hint(X: np.ndarray, columns: Sequence[str], blocks: Sequence[Block]) -> str:
    """'; column(s) ... have no value at all ...' when a whole feature column is missing."""
    empty = []
    for b in blocks:
        for j in range(b.start, b.stop):
            if np.isnan(X[:, j]).all():
                empty.append(f"{str(columns[j])[len(b.name) + 1:]} (map {b.name})")
    if not empty:
        return ""
    return (f"; column(s) {_names(empty)} have no value at all, so no policy can use them: "
            "remove them from the map table or list them under `exclude:`")


def load_cohort(*, maps: dict[str, Path] | None = None, participants: Path | None = None,
                table: Path | None = None, blocks: dict[str, str] | None = None,
                id_column: str | None = None, exclude: Sequence[str] = (),
                modalities: dict[str, list[str]] | None = None,
                parcellations: dict[str, Path | list[str]] | None = None,
                missing: str = "error", sheet: str | None = None) -> Cohort:
    """Read and validate a cohort from per-map tables and/or one wide table.

    Parameters
    ----------
    maps : dict of str -> Path, optional
        Map name -> a table with the ID column and one column per ROI.
    participants : Path, optional
        The clinical table (BIDS ``participants.tsv`` style). It decides who is in the
        cohort. Required unless ``table`` is given, which then serves as clinical table.
    table : Path, optional
        One wide table with IDs, clinical columns and the feature columns of ``blocks``.
    blocks : dict of str -> str, optional
        With ``table``: map name -> column-name glob (fnmatch). When the glob has a single
        ``*`` (e.g. ``qT1_*``) the ROI name is the part the ``*`` matched, so the same ROI
        names (and parcellations) work across maps; otherwise it is the column name.
    id_column : str, optional
        ID column of every table (default: ``participant_id`` when present, else the first).
    exclude : sequence of str
        Column names or globs never used as features (ICV, totals...).
    modalities : dict of str -> list of str, optional
        Modality -> its maps (default: each map is its own modality).
    parcellations : dict of str -> Path or list of str, optional
        Name -> ROI names, or a text file with one per line (``#`` comments allowed).
        ``all`` (every ROI) always exists.
    missing : str
        One of :data:`MISSING_POLICIES`.
    sheet : str, optional
        The Excel sheet to read from workbooks with several.

    Raises
    ------
    DataError
        Any rule of SPEC section 7 broken; the message names file, column or subject.
    """
    if missing not in MISSING_POLICIES:
        raise DataError(f"`data.missing` is '{missing}'; use one of {', '.join(MISSING_POLICIES)}.")
    if table is None and blocks:
        raise DataError("`data.blocks` needs `data.table` (the wide table the globs refer to).")
    if table is not None and not blocks:
        raise DataError(f"The wide table {table} needs `data.blocks` (map name -> column glob, "
                        "e.g. {qT1: 'qT1_*'}) to say which columns are features.")
    if not maps and table is None:
        raise DataError("The study names no feature data; give `data.maps` (one table per map) "
                        "or `data.table` with `data.blocks`.")
    if participants is None and table is None:
        raise DataError("The study has per-map tables but no clinical table; give "
                        "`data.participants` (one row per subject with its ID and clinical "
                        "columns).")
    notes: list[str] = []
    used_patterns: set[str] = set()
    raw_maps: dict[str, tuple[str, pd.DataFrame]] = {}

    wide = wide_ids = None
    if table is not None:
        wide = read_table(Path(table), sheet=sheet)
        wide_id = find_id_column(wide, file=table, id_column=id_column)
        wide_ids = subject_ids(wide, wide_id, file=table)
        matched = match_blocks(wide, wide_id, blocks, exclude, used_patterns, table)
        for name, (columns, rois) in matched.items():
            block = wide.loc[:, columns].set_axis(rois, axis=1)
            raw_maps[name] = (str(table), _numeric(block, wide_ids, table))
        features = {c for columns, _ in matched.values() for c in columns}
        clinical_columns = [c for c in wide.columns if c != wide_id and c not in features]
    if participants is not None:
        clin = read_table(Path(participants), sheet=sheet)
        clin_id = find_id_column(clin, file=participants, id_column=id_column)
        ids = subject_ids(clin, clin_id, file=participants)
        clinical = clin.drop(columns=[clin_id]).set_axis(pd.Index(ids, name="subject"), axis=0)
    else:
        clinical = wide.loc[:, clinical_columns].set_axis(pd.Index(wide_ids, name="subject"))
    clinical = _typed_clinical(clinical)

    for name, path in (maps or {}).items():
        if name in raw_maps:
            raise DataError(f"Map '{name}' is given both in `data.maps` and `data.blocks`; "
                            "rename one of them.")
        frame = read_table(Path(path), sheet=sheet)
        frame_id = find_id_column(frame, file=path, id_column=id_column)
        ids = subject_ids(frame, frame_id, file=path)
        features = [c for c in frame.columns
                    if c != frame_id and not is_excluded(c, exclude, used_patterns)]
        if not features:
            raise DataError(f"{path} (map '{name}') has no ROI column left besides the ID "
                            f"column '{frame_id}'; check `exclude:` and the file.")
        raw_maps[name] = (str(path), _numeric(frame.loc[:, features], ids, path))

    unused = [p for p in exclude if p not in used_patterns]
    if unused:
        notes.append(f"`exclude` pattern(s) {_names(unused)} match no feature column.")

    cohort_maps, sources = {}, {}
    for name, (source, values) in raw_maps.items():
        cohort_maps[name] = _align(name, source, values, clinical.index, notes)
        sources[name] = source
    modality_map = _modalities(modalities, list(cohort_maps))
    parcellation_map = _parcellations(parcellations, cohort_maps, sources, notes)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return Cohort(clinical=clinical, maps=cohort_maps, modalities=modality_map,
                  parcellations=parcellation_map, missing=missing, warnings=notes, sources=sources)


def _numeric(frame: pd.DataFrame, ids: list[str], file) -> pd.DataFrame:
    values = to_numeric_block(frame, file=file, id_values=ids, row_numbers=list(frame.index))
    return values.set_axis(pd.Index(ids, name="subject"), axis=0)


def _typed_clinical(clinical: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns where every non-missing value is a number; text otherwise."""
    out = {}
    for column in clinical.columns:
        cells = clinical[column]
        values = pd.to_numeric(cells, errors="coerce")
        numeric = not (cells.notna() & values.isna()).any()
        out[column] = values.astype("float64") if numeric else cells.astype(object)
    return pd.DataFrame(out, index=clinical.index, columns=clinical.columns)


def _align(name, source, values, subjects: pd.Index, notes: list[str]) -> pd.DataFrame:
    """Reindex a map on the clinical subjects; note outsiders, holes and odd columns."""
    inside = values.index.isin(subjects)
    if not inside.any():
        raise DataError(f"No subject ID of {source} (map '{name}'; e.g. "
                        f"{_names(list(values.index), 3)}) is in the clinical table (e.g. "
                        f"{_names(list(subjects), 3)}); make the IDs match or set `id_column`.")
    outsiders = list(values.index[~inside])
    if outsiders:
        notes.append(f"{len(outsiders)} subject(s) of {source} (map '{name}') are not in the "
                     f"clinical table and are left out: {_names(outsiders)}.")
    aligned = values.reindex(subjects)
    absent = [s for s in subjects if s not in set(values.index)]
    if absent:
        notes.append(f"{len(absent)} subject(s) of the clinical table have no row in {source} "
                     f"and miss the whole map '{name}': {_names(absent)}.")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns are reported below
        low, high = np.nanmin(aligned.to_numpy(), axis=0), np.nanmax(aligned.to_numpy(), axis=0)
    counts = aligned.notna().sum(axis=0).to_numpy()
    empty = list(aligned.columns[counts == 0])
    if empty:
        notes.append(f"Map '{name}' has all-missing column(s) {_names(empty)}.")
    constant = list(aligned.columns[(counts > 1) & (low == high)])
    if constant:
        notes.append(f"Map '{name}' has constant column(s) {_names(constant)}; they carry no "
                     "information (consider `exclude:`).")
    return aligned


def _modalities(modalities, map_names: list[str]) -> dict[str, tuple[str, ...]]:
    if not modalities:
        return {m: (m,) for m in map_names}
    out = {}
    for modality, members in modalities.items():
        members = [members] if isinstance(members, str) else list(members)
        if not members:
            raise DataError(f"Modality '{modality}' in `data.modalities` lists no map; "
                            f"name some of {', '.join(map_names)}.")
        for m in members:
            if m not in map_names:
                raise _unknown("map", m, map_names,
                               f"fix modality '{modality}' in `data.modalities`")
        out[str(modality)] = tuple(dict.fromkeys(members))
    return out


def _parcellations(parcellations, maps: dict[str, pd.DataFrame], sources: dict[str, str],
                   notes: list[str]) -> dict[str, tuple | None]:
    out: dict[str, tuple[str, ...] | None] = {"all": None}
    every_roi = set().union(*(t.columns for t in maps.values()))
    for name, value in (parcellations or {}).items():
        if name == "all":
            raise DataError("The parcellation name 'all' is reserved (every ROI); rename yours "
                            "in `data.parcellations`.")
        if isinstance(value, (str, Path)):
            rois = read_roi_list(Path(value), name=name)
        else:
            rois = [str(r).strip() for r in value]
        rois = list(dict.fromkeys(r for r in rois if r))
        if not rois:
            raise DataError(f"Parcellation '{name}' lists no ROI; give at least one ROI name.")
        absent = [r for r in rois if r not in every_roi]
        if absent:
            close = difflib.get_close_matches(absent[0], sorted(every_roi), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise DataError(f"Parcellation '{name}' names ROI(s) {_names(absent)}{hint} that are "
                            "in no map; fix the names so they match the map tables' columns.")
        out[str(name)] = tuple(rois)
        for m, table in maps.items():
            # Maps may cover different ROIs (block sizes differ), but a map holding some of a
            # parcellation's ROIs and lacking others is usually a renamed or dropped column.
            lacking = [r for r in rois if r not in set(table.columns)]
            if 0 < len(lacking) < len(rois):
                notes.append(f"Parcellation '{name}': map '{m}' ({sources.get(m, m)}) lacks "
                             f"ROI(s) {_names(lacking)}, so its block keeps "
                             f"{len(rois) - len(lacking)} of the {len(rois)} ROIs; check that "
                             "file's column names.")
    return out
