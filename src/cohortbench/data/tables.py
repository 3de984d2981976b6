"""Read users' tables (CSV, TSV, Parquet, Excel) and validate their IDs and numbers.

Every cell is read as text first so that this module, not the file reader, decides what
is missing and what is a number: an empty cell, whitespace and the tokens of
:data:`MISSING_TOKENS` (``n/a`` is the BIDS convention) are missing; anything else in a
feature column must parse as a finite number.

The frame :func:`read_table` returns has the header's column names (stripped), object
cells (``str`` or NaN) and, as its index, the 1-based row number of each data row in the
file, so that later messages can point at the row a user sees.
"""

from __future__ import annotations

import fnmatch
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cohortbench.errors import DataError

__all__ = [
    "MISSING_TOKENS",
    "TEXT_SUFFIXES",
    "PARQUET_SUFFIXES",
    "EXCEL_SUFFIXES",
    "read_table",
    "backslash_hint",
    "to_numeric_block",
    "find_id_column",
    "subject_ids",
    "read_roi_list",
    "is_excluded",
    "match_blocks",
]

#: Cell texts (after stripping whitespace) that mean "missing".
MISSING_TOKENS = frozenset({"", "n/a", "N/A", "NA", "NaN", "nan"})
#: Suffix -> the separator expected when the header line does not say otherwise.
TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": "\t", ".tab": "\t"}
PARQUET_SUFFIXES = (".parquet", ".pq")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
_SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}


def read_table(path: Path, *, sheet: str | None = None) -> pd.DataFrame:
    """Read a CSV, TSV, Parquet or Excel table as text cells.

    Parameters
    ----------
    path : Path
        The file. ``.csv``/``.tsv``/``.txt``/``.tab`` are text (UTF-8, with or without a
        byte-order mark, any line endings; the separator -- comma, semicolon or tab -- is
        taken from the header line), ``.parquet``/``.pq`` Parquet, ``.xlsx``/``.xlsm`` Excel.
    sheet : str, optional
        The Excel sheet to read; required when the workbook has several. Ignored for
        other formats.

    Returns
    -------
    DataFrame
        Object cells: stripped strings, NaN where missing. Index: 1-based data row number.
        Rows in which every cell is missing are dropped.

    Raises
    ------
    DataError
        The file does not exist, has an unsupported format, cannot be parsed, has
        duplicate column names, or has no data row.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Data file {path} does not exist; check the path in the study file "
                        f"(relative paths are relative to the study file){backslash_hint(path)}.")
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        raw = _read_text(path, TEXT_SUFFIXES[suffix])
    elif suffix in PARQUET_SUFFIXES:
        raw = _read_parquet(path)
    elif suffix in EXCEL_SUFFIXES:
        raw = _read_excel(path, sheet)
    elif suffix == ".xls":
        raise DataError(f"{path} is an old-style .xls workbook; save it as .xlsx (or CSV) "
                        "and point the study file at that.")
    else:
        known = ", ".join([*TEXT_SUFFIXES, *PARQUET_SUFFIXES, *EXCEL_SUFFIXES])
        raise DataError(f"{path} has an unsupported file type '{suffix}'; use one of {known}.")
    return _finish(raw, path)


def backslash_hint(path) -> str:
    """A hint for Windows-style paths, whose backslashes are no folder separators here."""
    if "\\" in str(path):
        return ("; write the path with / instead of \\ (a backslash is not a folder separator "
                "here, and YAML reads \\n or \\t inside double quotes as a new line or a tab)")
    return ""


def _read_text(path: Path, default_sep: str) -> pd.DataFrame:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheet exports on Windows are often cp1252; latin-1 never fails to decode.
        text = data.decode("latin-1")
    if not text.strip():
        raise DataError(f"{path} is empty; it needs a header line and one row per subject.")
    header = text.lstrip("\r\n").splitlines()[0]
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    best = max(counts.values())
    sep = default_sep if best == 0 or counts[default_sep] == best else max(counts, key=counts.get)
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, header=None, dtype=str,
                           keep_default_na=False, skip_blank_lines=True)
    except (pd.errors.ParserError, ValueError) as exc:
        reason = " ".join(str(exc).split())  # pandas' parser messages end in a newline
        raise DataError(f"{path} cannot be read as a {_SEPARATORS[sep]}-separated table "
                        f"({reason}); every line needs as many cells as the header.") from exc


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for bad files
        raise DataError(f"{path} cannot be read as a Parquet file ({exc}).") from exc
    cells = [[str(c) for c in table.columns]]
    columns = [table[c].map(_cell_text).tolist() for c in table.columns]
    cells += [list(row) for row in zip(*columns)]
    return pd.DataFrame(cells, dtype=object)


def _cell_text(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))  # repr round-trips a float exactly
    return str(value)


def _read_excel(path: Path, sheet: str | None) -> pd.DataFrame:
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # openpyxl/zipfile raise various types for a bad workbook
        raise DataError(f"{path} cannot be read as an Excel workbook ({exc}).") from exc
    with book:
        names = list(book.sheet_names)
        if sheet is None:
            if len(names) > 1:
                raise DataError(f"{path} has sheets {', '.join(names)}; set which one to read "
                                "with `sheet:` in the study file's data section.")
            sheet = names[0]
        elif sheet not in names:
            raise DataError(f"{path} has no sheet '{sheet}'; its sheets are {', '.join(names)}.")
        return pd.read_excel(book, sheet_name=sheet, header=None, dtype=str,
                             keep_default_na=False)


def _finish(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Header row -> column names; missing tokens -> NaN; index -> data row numbers."""
    if raw.shape[0] == 0:
        raise DataError(f"{path} is empty; it needs a header line and one row per subject.")
    cells = np.array([[_strip(v) for v in row] for row in raw.itertuples(index=False)],
                     dtype=object).reshape(raw.shape)
    names = [name or f"unnamed_{i + 1}" for i, name in enumerate(cells[0])]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"{path} has duplicate column names {', '.join(repeated)}; "
                        "rename them so that each column is unique.")
    body = cells[1:]
    missing = np.isin(body, list(MISSING_TOKENS))
    body[missing] = np.nan
    keep = ~missing.all(axis=1)
    rows = pd.RangeIndex(1, len(body) + 1, name="row")[keep]
    body = pd.DataFrame(body[keep], index=rows, columns=names, dtype=object)
    if body.empty:
        raise DataError(f"{path} has a header but no data rows; add one row per subject.")
    return body


def _strip(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).strip()


def to_numeric_block(df: pd.DataFrame, *, file, id_values: Sequence[str],
                     row_numbers: Sequence[int] | None = None) -> pd.DataFrame:
    """Convert feature columns to float64, refusing any cell that is not a number.

    Parameters
    ----------
    df : DataFrame
        Feature columns only (text or numbers; NaN where missing).
    file : str or Path
        Named in messages.
    id_values : sequence of str
        The subject ID of each row, named in messages.
    row_numbers : sequence of int, optional
        1-based data row number of each row (default: position + 1).

    Returns
    -------
    DataFrame of float64
        Same index and columns as ``df``.

    Raises
    ------
    DataError
        A non-missing cell is not a finite number; the message names the file, the row,
        the subject and the column.
    """
    rows = list(row_numbers) if row_numbers is not None else list(range(1, len(df) + 1))
    cells = df.to_numpy(dtype=object)
    flat = pd.Series(cells.ravel(), dtype=object)
    values = pd.to_numeric(flat, errors="coerce").to_numpy(dtype=np.float64).reshape(cells.shape)
    bad = (~pd.isna(cells) & np.isnan(values)) | np.isinf(values)
    if bad.any():
        wordy = bad & np.vectorize(_is_word, otypes=[bool])(cells)
        # A column of words (3 or more, at least half of its cells), not a stray cell.
        text_columns = [c for j, c in enumerate(df.columns)
                        if wordy[:, j].sum() >= max(3, 0.5 * (~pd.isna(cells[:, j])).sum())]
        if text_columns:  # the table holds clinical columns
            j = list(df.columns).index(text_columns[0])
            example = str(cells[int(np.nonzero(bad[:, j])[0][0]), j])
            more = (f"; {len(text_columns) - 1} more column(s) hold text too"
                           if len(text_columns) > 1 else "")
            raise DataError(
                f"{file}: column '{text_columns[0]}' holds text (e.g. '{example}'), so it cannot "
                f"be a feature{more}; if {Path(str(file)).name} mixes clinical and "
                "regional columns, read it as one wide table (`data.table` with `data.blocks` "
                "naming the feature columns), or list the clinical columns under `exclude:`.")
        i, j = (int(k[0]) for k in np.nonzero(bad))  # first bad cell in reading order
        cell = str(cells[i, j])
        hint = (" (it uses a decimal comma; use a decimal point)"
                if cell.replace(",", "", 1).lstrip("-").isdigit() else "")
        more = int(bad.sum()) - 1
        extra = f"; {more} more cell(s) in this table are not numbers either" if more else ""
        raise DataError(
            f"{file}, row {rows[i]} (subject '{id_values[i]}'), column '{df.columns[j]}': "
            f"'{cell}' is not a number{hint}{extra}; fix the cell, or leave it empty / `n/a` "
            "to mark a missing value, or exclude the column with `exclude:`.")
    return pd.DataFrame(values, index=df.index, columns=df.columns, dtype="float64")


def _is_word(cell) -> bool:
    """A cell that is text (a letter or more, not inf/nan), not a mistyped number."""
    if not isinstance(cell, str):
        return False
    return any(ch.isalpha() for ch in cell) and cell.strip().lower() not in ("inf", "-inf", "+inf", "infinity", "nan")


def find_id_column(df: pd.DataFrame, *, file, id_column: str | None = None) -> str:
    """The column holding subject IDs.

    ``id_column`` when given (it must exist), else ``participant_id`` when present, else
    the first column (FreeSurfer ``aparcstats2table`` style, whatever its header).
    """
    if id_column is not None:
        if id_column not in df.columns:
            shown = ", ".join(map(str, df.columns[:12])) + (", ..." if df.shape[1] > 12 else "")
            raise DataError(f"{file} has no ID column '{id_column}' (set by `id_column:`); "
                            f"its columns are {shown}.")
        return id_column
    if "participant_id" in df.columns:
        return "participant_id"
    return str(df.columns[0])


def subject_ids(df: pd.DataFrame, column: str, *, file) -> list[str]:
    """The stripped subject IDs of ``column``; refuse empty and duplicate IDs."""
    ids = df[column]
    empty = ids.isna()
    if empty.any():
        rows = ", ".join(str(r) for r in df.index[empty][:5])
        raise DataError(f"{file} has no subject ID in column '{column}' at row(s) {rows}; "
                        "give every row an ID or delete the row.")
    ids = [str(v).strip() for v in ids]
    seen: set[str] = set()
    repeated = []
    for value in ids:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    if repeated:
        raise DataError(f"{file} has duplicate subject IDs in column '{column}': "
                        f"{_shown(repeated, 5)}; "
                        "each subject must appear once.")
    return ids


def read_roi_list(path: Path, *, name: str) -> list[str]:
    """ROI names of a parcellation file: one per line; blank lines and ``#`` comments ignored."""
    if not path.is_file():
        raise DataError(f"The ROI list {path} of parcellation '{name}' does not exist; check the "
                        f"path (relative paths are relative to the study file){backslash_hint(path)}.")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    return [kept for line in lines if (kept := line.split("#", 1)[0].strip())]


def is_excluded(column: str, patterns: Sequence[str], used: set[str]) -> bool:
    """Whether ``column`` matches a name/glob of ``patterns``; matched patterns go to ``used``."""
    hits = [p for p in patterns if fnmatch.fnmatchcase(column, p)]
    used.update(hits)
    return bool(hits)


def match_blocks(wide: pd.DataFrame, id_col: str, blocks: dict[str, str],
                 exclude: Sequence[str], used: set[str], file) -> dict[str, tuple[list, list]]:
    """Split a wide table's feature columns into maps.

    Returns map name -> (its columns, their ROI names) for each ``name: glob`` of
    ``blocks`` (fnmatch, case-sensitive), after dropping the ID column and the columns
    matching ``exclude`` (the patterns that matched are added to ``used``). A glob with a
    single ``*`` (``qT1_*``) names each ROI by what the ``*`` matched, so that ROI names
    and parcellations are shared across maps; otherwise the ROI name is the column name.
    """
    candidates = [c for c in wide.columns if c != id_col and not is_excluded(c, exclude, used)]
    owner: dict[str, str] = {}
    out = {}
    for name, glob in blocks.items():
        columns = [c for c in candidates if fnmatch.fnmatchcase(c, glob)]
        if not columns:
            shown = _shown(list(wide.columns), 8)
            raise DataError(f"The glob '{glob}' of map '{name}' in `data.blocks` matches no column "
                            f"of {file}; its columns start {shown}"
                            f"{'' if shown.endswith('...') else '.'}")
        for c in columns:
            if c in owner:
                raise DataError(f"Column '{c}' of {file} matches the globs of both map "
                                f"'{owner[c]}' and map '{name}'; make the globs disjoint.")
            owner[c] = name
        out[name] = (columns, _roi_names(glob, columns))
    return out


def _roi_names(glob: str, columns: list[str]) -> list[str]:
    if glob.count("*") != 1 or any(ch in glob for ch in "?["):
        return columns
    head, tail = glob.split("*")
    rois = [c[len(head):len(c) - len(tail)] for c in columns]
    if any(not r for r in rois) or len(set(rois)) != len(rois):
        return columns
    return rois


def _shown(items: list, limit: int) -> str:
    return ", ".join(map(str, items[:limit])) + (", ..." if len(items) > limit else "")
