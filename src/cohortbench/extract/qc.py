"""From per-subject region statistics to the map tables, the QC table and the warnings.

Every (subject, map, ROI) gets a status in the QC table; only ``ok`` values reach
the map tables, the others are missing values there:

``ok``
    at least ``min_voxels`` valid voxels;
``too-few-voxels`` / ``no-valid-voxels``
    the ROI has voxels, but fewer than ``min_voxels`` (or none) hold a valid value;
``absent``
    the subject's label image has no voxel of this label (on the map's grid);
``missing-file`` / ``missing-labels``
    the subject has no file for this map / no label image: the subject has no row
    in that map's table, so it misses the whole map (SPEC section 7).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pandas as pd

from .plan import Plan
from .regions import RegionStats

__all__ = ["QC_COLUMNS", "STATUSES", "build_tables"]

STATUSES = ("ok", "too-few-voxels", "no-valid-voxels", "absent", "missing-file", "missing-labels")
QC_COLUMNS = ("map", "roi", "label", "voxels", "valid_voxels", "status", "file")
_SHOWN = 8


def _names(items, limit: int = _SHOWN) -> str:
    items = list(items)
    return ", ".join(map(str, items[:limit])) + (", ..." if len(items) > limit else "")


def _status(voxels: int, valid: int, min_voxels: int) -> str:
    if voxels == 0:
        return "absent"
    if valid == 0:
        return "no-valid-voxels"
    return "too-few-voxels" if valid < min_voxels else "ok"


def build_tables(plan: Plan, stats: dict[tuple[str, str], RegionStats | None]
                 ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, list[str]]:
    """The map tables, the QC table and the warnings of an extraction.

    Parameters
    ----------
    plan : Plan
    stats : dict
        (subject, map) -> the region statistics (None when a file is missing).

    Returns
    -------
    tables : dict of str -> DataFrame
        Map -> one row per subject with both files (index named ``plan.id_column``),
        one float column per region in ``plan.regions`` order.
    qc : DataFrame
        One row per subject x map x region: ``plan.id_column`` then :data:`QC_COLUMNS`.
    warnings : list of str
    """
    regions = plan.regions
    names = [r.name for r in regions]
    min_voxels = plan.spec.min_voxels
    qc_rows = []
    tables: dict[str, pd.DataFrame] = {}
    missing_files: dict[str, list[str]] = defaultdict(list)
    absent: dict[tuple[int, str], set[str]] = defaultdict(set)
    sparse: dict[str, list[tuple[str, str, int, int]]] = defaultdict(list)
    for map_name in plan.map_names:
        rows, index = [], []
        for files in plan.subjects:
            path = dict(files.maps)[map_name]
            result = stats.get((files.subject, map_name))
            if path is None or files.labels is None or result is None:
                status = "missing-file" if path is None else "missing-labels"
                if path is None:
                    missing_files[map_name].append(files.subject)
                shown = "" if path is None else str(path)
                qc_rows += [(files.subject, map_name, r.name, r.value, None, None, status, shown)
                            for r in regions]
                continue
            found = dict(zip(result.labels, zip(result.voxels, result.valid, result.values)))
            row = []
            for region in regions:
                voxels, valid, value = found.get(region.value, (0, 0, math.nan))
                status = _status(voxels, valid, min_voxels)
                if status == "absent":
                    absent[(region.value, region.name)].add(files.subject)
                elif status != "ok":
                    sparse[map_name].append((files.subject, region.name, valid, voxels))
                row.append(value if status == "ok" else math.nan)
                qc_rows.append((files.subject, map_name, region.name, region.value, voxels, valid,
                                status, str(path)))
            rows.append(row)
            index.append(files.subject)
        tables[map_name] = pd.DataFrame(np.array(rows, dtype=np.float64).reshape(len(rows), len(names)),
                                        index=pd.Index(index, name=plan.id_column), columns=names)
    qc = pd.DataFrame(qc_rows, columns=[plan.id_column, *QC_COLUMNS])
    qc = qc.astype({"voxels": "Int64", "valid_voxels": "Int64", "label": "int64"})
    return tables, qc, _warnings(plan, missing_files, absent, sparse)


def _warnings(plan: Plan, missing_files, absent, sparse) -> list[str]:
    notes = list(plan.notes)
    for map_name, subjects in missing_files.items():
        notes.append(f"map '{map_name}': no file for {len(subjects)} subject(s), who miss this "
                     f"map: {_names(subjects)} (qc.tsv status missing-file)")
    for (value, name), subjects in sorted(absent.items()):
        ordered = [f.subject for f in plan.subjects if f.subject in subjects]
        notes.append(f"ROI '{name}' (label {value}) has no voxel in the labels of "
                     f"{len(ordered)} subject(s), whose values are missing: {_names(ordered)} "
                     "(qc.tsv status absent)")
    for map_name, cases in sparse.items():
        subjects = list(dict.fromkeys(s for s, *_ in cases))
        subject, roi, valid, voxels = cases[0]
        notes.append(f"map '{map_name}': {len(cases)} value(s) in {len(subjects)} subject(s) "
                     f"rest on fewer than {plan.spec.min_voxels} valid voxels and are missing "
                     f"(e.g. {subject} {roi}: {valid} valid of {voxels}; qc.tsv status "
                     "too-few-voxels / no-valid-voxels)")
    return notes
