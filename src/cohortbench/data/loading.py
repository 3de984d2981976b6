"""Read and validate a cohort's tables (SPEC section 7) into a :class:`Cohort`.

Rules kept here, each said in one sentence when broken:

- The clinical table decides who is in the cohort; map tables are aligned on it
  (subjects it lacks are left out with a warning; subjects a map lacks miss that
  map). IDs match exactly unless ``id_match`` says otherwise; when they do not
  match, the message says why if it can tell (:mod:`cohortbench.data.ids`).
- ``id_column`` names the clinical table's ID column; a map table without it reads
  its IDs from its first column (said in the summary), as FreeSurfer tables
  always do (:mod:`cohortbench.data.freesurfer`), whose summary columns are left
  out of the features unless ``keep_summary_columns`` keeps them.
- Nothing that defines a label is a feature (:mod:`cohortbench.data.checks`).
- A subject missing a whole map under an ``impute-*`` policy is imputed only with
  a warning naming the subjects and maps.
- A covariate (``data.covariates``) that is not a clinical column may be a column a
  map table leaves out of the features (a FreeSurfer summary such as
  ``EstimatedTotalIntraCranialVol``, or an ``exclude:`` column): it is joined to the
  clinical table (:mod:`cohortbench.data.covariates`).
"""

from __future__ import annotations

import difflib
import hashlib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cohortbench.data.checks import check_label_named_features, odd_rows
from cohortbench.data.cohort import MISSING_POLICIES, Cohort, _names, _unknown
from cohortbench.data.covariates import attach_map_covariates
from cohortbench.data.freesurfer import is_freesurfer_table, summary_columns
from cohortbench.data.ids import ID_MATCHES, keyed_ids, mismatch_hint
from cohortbench.data.tables import (
    find_id_column,
    is_excluded,
    match_blocks,
    read_roi_list,
    read_table,
    subject_ids,
    to_numeric_block,
)
from cohortbench.errors import DataError

__all__ = ["MapFile", "load_cohort"]

@dataclass(frozen=True)
class MapFile:
    """One map table: its file and, where it differs from the study's, its ID column and sheet."""

    file: Path
    id_column: str | None = None
    sheet: str | None = None


def load_cohort(*, maps: Mapping[str, Path | MapFile] | None = None,
                participants: Path | None = None, table: Path | None = None,
                blocks: dict[str, str] | None = None, id_column: str | None = None,
                id_match: str = "exact", exclude: Sequence[str] = (),
                keep_summary_columns: Sequence[str] = (),
                modalities: dict[str, list[str]] | None = None,
                parcellations: dict[str, Path | list[str]] | None = None,
                missing: str = "error", sheet: str | None = None,
                protected: Mapping[str, str] | None = None,
                covariates: Sequence[str] = ()) -> Cohort:
    """Read and validate a cohort from per-map tables and/or one wide table.

    Parameters
    ----------
    maps : dict of str -> Path or MapFile, optional
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
        ID column of the clinical (or wide) table (default: ``participant_id`` when
        present, else the first column). A map table without it uses its first column.
    id_match : {'exact', 'digits', 'case-insensitive'}
        How IDs are compared across tables (:mod:`cohortbench.data.ids`).
    exclude : sequence of str
        Column names or globs never used as features (ICV, totals...).
    keep_summary_columns : sequence of str
        FreeSurfer summary columns (names or globs) to keep as features.
    modalities : dict of str -> list of str, optional
        Modality -> its maps (default: each map is its own modality).
    parcellations : dict of str -> Path or list of str, optional
        Name -> ROI names, or a text file with one per line (``#`` comments allowed).
        ``all`` (every ROI) always exists.
    missing : str
        One of :data:`MISSING_POLICIES`.
    sheet : str, optional
        The Excel sheet to read from workbooks with several.
    protected : mapping of str -> str, optional
        Clinical columns that define labels or tasks -> where the study uses them;
        a feature column of that name is refused.
    covariates : sequence of str
        ``data.covariates``: those that are not clinical columns are looked up among
        the columns map tables leave out of the features and joined to the clinical
        table.

    Raises
    ------
    DataError
        Any rule of SPEC section 7 broken; the message names file, column or subject.
    """
    if missing not in MISSING_POLICIES:
        raise DataError(f"`data.missing` is '{missing}'; use one of {', '.join(MISSING_POLICIES)}.")
    if id_match not in ID_MATCHES:
        raise DataError(f"`data.id_match` is '{id_match}'; use one of {', '.join(ID_MATCHES)}.")
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
    protected = dict(protected or {})
    notes: list[str] = []
    decisions: list[str] = []
    used_patterns: set[str] = set()
    raw_maps: dict[str, tuple[str, pd.DataFrame]] = {}
    feature_columns: dict[str, tuple[str, list[str]]] = {}
    left_out: dict[str, tuple[str, pd.DataFrame]] = {}  # covariates among maps' other columns

    wide = wide_ids = None
    if table is not None:
        wide = read_table(Path(table), sheet=sheet)
        wide_id = find_id_column(wide, file=table, id_column=id_column)
        wide_ids = subject_ids(wide, wide_id, file=table)
        matched = match_blocks(wide, wide_id, blocks, exclude, used_patterns, table)
        for name, (columns, rois) in matched.items():
            feature_columns[name] = (str(table), list(columns))
        check_label_named_features(feature_columns, protected)
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

    digests: dict[str, str] = {}
    for name, entry in (maps or {}).items():
        entry = entry if isinstance(entry, MapFile) else MapFile(Path(entry))
        path = entry.file
        if name in raw_maps:
            raise DataError(f"Map '{name}' is given both in `data.maps` and `data.blocks`; "
                            "rename one of them.")
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest() if Path(path).is_file() else ""
        if digest and digest in digests:
            raise DataError(f"{path} (map '{name}') holds exactly the same data as the table of "
                            f"map '{digests[digest]}'; give each map its own table.")
        digests[digest] = name
        frame = read_table(Path(path), sheet=entry.sheet or sheet)
        frame_id = _map_id_column(frame, path, name, entry, id_column, decisions)
        ids = subject_ids(frame, frame_id, file=path)
        candidates = [c for c in frame.columns if c != frame_id]
        summaries = []
        if is_freesurfer_table(list(frame.columns)):
            summaries = summary_columns(candidates, keep_summary_columns)
            if summaries:
                decisions.append(
                    f"{path} (map '{name}') is a FreeSurfer stats table: its summary "
                    f"column(s) {_names(summaries, 8)} are left out of the features (they are "
                    "not regions); list any you want to keep under `data.keep_summary_columns`.")
        features = [c for c in candidates if c not in summaries
                    and not is_excluded(c, exclude, used_patterns)]
        if not features:
            raise DataError(f"{path} (map '{name}') has no ROI column left besides the ID "
                            f"column '{frame_id}'; check `exclude:` and the file.")
        feature_columns[name] = (str(path), features)
        wanted = [c for c in candidates if c in set(covariates) and c not in features]
        if wanted:
            left_out[name] = (str(path), frame.loc[:, wanted].set_axis(pd.Index(ids), axis=0))
        check_label_named_features({name: feature_columns[name]}, protected)
        raw_maps[name] = (str(path), _numeric(frame.loc[:, features], ids, path))

    unused = [p for p in exclude if p not in used_patterns]
    if unused:
        notes.append(f"`exclude` pattern(s) {_names(unused)} match no feature column.")
    shared = sorted({c for _, columns in feature_columns.values() for c in columns}
                    & set(map(str, clinical.columns)))
    if shared:
        notes.append(f"Column(s) {_names(shared)} are both clinical columns and features of a "
                     "map table; if they are not regional measures, list them under `exclude:`.")

    clinical, found = attach_map_covariates(
        clinical, covariates, left_out,
        lambda values, source: _matched_ids(values, clinical.index, id_match, source))
    decisions.extend(found)
    cohort_maps, sources = {}, {}
    for name, (source, values) in raw_maps.items():
        values = _matched_ids(values, clinical.index, id_match, source)
        cohort_maps[name] = _align(name, source, values, clinical.index, notes)
        sources[name] = source
        notes.extend(odd_rows(name, cohort_maps[name]))
    notes.extend(_imputed_whole_maps(cohort_maps, missing))
    modality_map = _modalities(modalities, list(cohort_maps))
    parcellation_map = _parcellations(parcellations, cohort_maps, sources, notes)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return Cohort(clinical=clinical, maps=cohort_maps, modalities=modality_map,
                  parcellations=parcellation_map, missing=missing, warnings=notes,
                  sources=sources, decisions=decisions)


def _map_id_column(frame: pd.DataFrame, path, name: str, entry: MapFile,
                   id_column: str | None, decisions: list[str]) -> str:
    """The ID column of a map table (its own setting, the study's, or its first column)."""
    if entry.id_column is not None:
        return find_id_column(frame, file=path, id_column=entry.id_column)
    first = str(frame.columns[0])
    if is_freesurfer_table(list(frame.columns)):
        return first
    if id_column is not None and id_column not in frame.columns:
        decisions.append(f"{path} (map '{name}') has no column '{id_column}' (the clinical "
                         f"table's ID column); its first column '{first}' is read as the "
                         "subject IDs (set the map's own `id_column` if that is wrong).")
        return first
    return find_id_column(frame, file=path, id_column=id_column)


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


def _matched_ids(values: pd.DataFrame, subjects: pd.Index, how: str, source) -> pd.DataFrame:
    """A map's rows renamed to the clinical table's IDs under ``id_match``."""
    if how == "exact":
        return values
    wanted = keyed_ids(list(subjects), how, file="the clinical table")
    keyed = keyed_ids(list(values.index), how, file=source)
    rename = {subject: wanted[key] for key, subject in keyed.items() if key in wanted}
    return values.rename(index=rename)


def _align(name, source, values, subjects: pd.Index, notes: list[str]) -> pd.DataFrame:
    """Reindex a map on the clinical subjects; note outsiders, holes and odd columns."""
    inside = values.index.isin(subjects)
    if not inside.any():
        raise DataError(f"No subject ID of {source} (map '{name}'; e.g. "
                        f"{_names(list(values.index), 3)}) is in the clinical table (e.g. "
                        f"{_names(list(subjects), 3)}){mismatch_hint(list(values.index), subjects)}"
                        "; make the IDs match, or set `id_column` (the clinical table's ID "
                        "column; each map may set its own).")
    outsiders = list(values.index[~inside])
    hint = mismatch_hint(outsiders, subjects) if outsiders else ""
    if outsiders:
        notes.append(f"{len(outsiders)} subject(s) of {source} (map '{name}') are not in the "
                     f"clinical table and are left out: {_names(outsiders)}"
                     f"{hint if 'id_match' in hint else ''}.")
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


def _imputed_whole_maps(maps: dict[str, pd.DataFrame], missing: str) -> list[str]:
    """Say who an ``impute-*`` policy fills a whole map for (never silently)."""
    if not missing.startswith("impute-"):
        return []
    notes = []
    for name, table in maps.items():
        whole = list(table.index[table.isna().all(axis=1)])
        if whole:
            notes.append(
                f"`missing: {missing}` fills the whole map '{name}' for {len(whole)} of "
                f"{len(table)} subject(s) ({_names(whole)}): their values are imputed from the "
                "other subjects in every training fold, not measured; use `drop-subjects` to "
                "leave them out instead.")
    return notes


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
