"""Region names: lookup tables, and which labels become columns.

Two lookup-table formats are read: FreeSurfer's ``*LUT.txt`` (``index name R G B A``
per line, ``#`` comments) and a table (``.tsv``/``.csv``, e.g. a BIDS ``dseg.tsv``)
with ``index`` and ``name`` columns. A LUT may name far more labels than an image
holds (FreeSurfer's has ~1,300); :func:`select_labels` keeps the labels the user
asked for and refuses only those that no image holds at all.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass
from pathlib import Path

from ..data.tables import read_table
from ..errors import DataError

__all__ = ["read_lut", "select_labels", "Region", "default_name"]

_TABLE_SUFFIXES = (".tsv", ".csv")
_GLOB_CHARACTERS = set("*?[")


@dataclass(frozen=True)
class Region:
    """One kept label: its value in the label images and its column name."""

    value: int
    name: str


def default_name(value: int) -> str:
    """The column name of a label without a LUT entry."""
    return f"label_{value}"


def read_lut(path: Path) -> dict[int, str]:
    """Label value -> name from a FreeSurfer LUT or an index/name table.

    Raises
    ------
    DataError
        The file is missing, a line is not ``index name ...``, an index is not a whole
        number or appears twice, or nothing is named.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"The lookup table {path} (labels.lut) does not exist; check the path "
                        "(relative paths are relative to the extraction file).")
    if path.suffix.lower() in _TABLE_SUFFIXES:
        entries = _table_entries(path)
    else:
        entries = _freesurfer_entries(path)
    names: dict[int, str] = {}
    for where, index, name in entries:
        if index in names:
            raise DataError(f"{path}, {where}: label {index} is already named '{names[index]}'; "
                            "each index may appear once in a lookup table.")
        names[index] = name
    if not names:
        raise DataError(f"{path} names no label; a FreeSurfer LUT has lines 'index name R G B A', "
                        "a table has columns index and name.")
    return names


def _whole(text: str, path: Path, where: str) -> int:
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not number.is_integer():
        raise DataError(f"{path}, {where}: the index '{text}' is not a whole number; a lookup "
                        "table gives 'index name' for each label.")
    return int(number)


def _freesurfer_entries(path: Path) -> list[tuple[str, int, str]]:
    entries = []
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) < 2:
            raise DataError(f"{path}, line {number}: expected 'index name R G B A', got "
                            f"'{line.strip()}'; is this a FreeSurfer lookup table? (a table "
                            "with index and name columns must end in .tsv or .csv)")
        entries.append((f"line {number}", _whole(fields[0], path, f"line {number}"), fields[1]))
    return entries


def _table_entries(path: Path) -> list[tuple[str, int, str]]:
    table = read_table(path)
    columns = {str(c).strip().lower(): c for c in table.columns}
    if "index" not in columns or "name" not in columns:
        raise DataError(f"{path} needs columns 'index' and 'name' (a lookup table); its columns "
                        f"are {', '.join(map(str, table.columns))}.")
    entries = []
    for row, index, name in zip(table.index, table[columns["index"]], table[columns["name"]]):
        where = f"row {row}"
        if not isinstance(index, str) or not isinstance(name, str):
            raise DataError(f"{path}, {where}: give both an index and a name.")
        entries.append((where, _whole(index, path, where), name))
    return entries


def _describe(value: int, lut: dict[int, str] | None) -> str:
    return f"label {value} ({lut[value]})" if lut and value in lut else f"label {value}"


def select_labels(keep, present: set[int], lut: dict[int, str] | None, *,
                  lut_path: Path | None, where_images: str) -> tuple[list[Region], list[str]]:
    """The regions that become columns, ordered by label value, and notes for the user.

    Parameters
    ----------
    keep : 'all' or sequence of (int or str)
        ``labels.keep``: every label the images hold, or label values, LUT names and
        globs over LUT names.
    present : set of int
        The labels (background 0 excluded) held by at least one label image.
    lut : dict or None
        Label value -> name.
    lut_path : Path or None
        Named in messages.
    where_images : str
        Describes the label images in messages (e.g. "the 12 label images (e.g. ...)").

    Raises
    ------
    DataError
        A kept label is in no label image, a name is not in the LUT, or two kept
        labels share a name.
    """
    notes: list[str] = []
    if keep == "all":
        if not present:
            raise DataError(f"{where_images} hold no label other than the background 0; "
                            "check labels.image.")
        values = sorted(present)
        if lut is not None:
            unnamed = [v for v in values if v not in lut]
            values = [v for v in values if v in lut]
            if not values:
                raise DataError(f"None of the labels in {where_images} (e.g. "
                                f"{', '.join(map(str, unnamed[:5]))}) is named in {lut_path}; "
                                "is labels.lut the lookup table of these label images?")
            if unnamed:
                notes.append(f"{len(unnamed)} label(s) in the label images are not in {lut_path} "
                             f"and are left out: {', '.join(map(str, unnamed[:10]))}"
                             f"{', ...' if len(unnamed) > 10 else ''} (list them by value in "
                             "labels.keep to keep them)")
    else:
        values = []
        for index, item in enumerate(keep):
            values.extend(_resolve(item, index, present, lut, lut_path, where_images))
        values = sorted(set(values))
    regions = [Region(v, lut[v] if lut and v in lut else default_name(v)) for v in values]
    owners: dict[str, int] = {}
    for region in regions:
        if region.name in owners:
            raise DataError(f"Labels {owners[region.name]} and {region.value} are both named "
                            f"'{region.name}' in {lut_path}; keep one of them (labels.keep) or "
                            "rename one in the lookup table.")
        owners[region.name] = region.value
    return regions, notes


def _resolve(item, index: int, present: set[int], lut, lut_path, where_images) -> list[int]:
    key = f"labels.keep[{index}]"
    if isinstance(item, int):
        if item not in present:
            raise DataError(f"{key}: {_describe(item, lut)} is in none of {where_images}; remove "
                            "it from labels.keep or check labels.image.")
        return [item]
    if lut is None:
        raise DataError(f"{key}: '{item}' is a region name, and names need a lookup table; set "
                        "labels.lut or give the label value instead.")
    if _GLOB_CHARACTERS & set(item):
        matched = [v for v, name in lut.items() if fnmatch.fnmatchcase(name, item)]
        if not matched:
            raise DataError(f"{key}: the glob '{item}' matches no name in {lut_path}.")
        held = [v for v in matched if v in present]
        if not held:
            raise DataError(f"{key}: the {len(matched)} label(s) matching '{item}' (e.g. "
                            f"{_describe(matched[0], lut)}) are in none of {where_images}; "
                            "remove it from labels.keep or check labels.image.")
        return held
    values = [v for v, name in lut.items() if name == item]
    if not values:
        close = difflib.get_close_matches(item, list(lut.values()), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise DataError(f"{key}: '{item}' is not a name in {lut_path}{hint}")
    if not any(v in present for v in values):
        raise DataError(f"{key}: {_describe(values[0], lut)} is in none of {where_images}; "
                        "remove it from labels.keep or check labels.image.")
    return [v for v in values if v in present]
