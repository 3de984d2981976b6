"""FreeSurfer ``aparcstats2table`` / ``asegstats2table`` outputs, read as they are.

Such a table is recognised by its first header, which FreeSurfer writes as
``<hemi>.<parcellation>.<measure>`` (``lh.aparc.thickness``,
``rh.aparc.a2009s.area``, ``lh.BA_exvivo.volume``) or ``Measure:<measure>``
(``Measure:volume``). Its first column holds the subject IDs, whatever that
header says.

Besides one column per region, these tables carry whole-brain and hemisphere
summaries (mean thickness, white-surface area, intracranial and total volumes).
They are not regional features — used as such they move accuracies (one real
site went from 0.73 to 0.81) — so they are left out by default and the summary
says which; ``data.keep_summary_columns`` keeps the ones a study wants. The
list (:data:`SUMMARY_COLUMNS`, names or globs, case-sensitive as FreeSurfer
writes them) covers FreeSurfer 5.3 to 7.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence

__all__ = ["SUMMARY_COLUMNS", "is_freesurfer_table", "summary_columns"]

#: Whole-brain / hemisphere summary columns of FreeSurfer's stats tables.
SUMMARY_COLUMNS = (
    # aparcstats2table
    "*_MeanThickness_thickness", "*_MeanThickness", "*_WhiteSurfArea_area", "*_WhiteSurfArea",
    # asegstats2table (and the two global columns aparcstats2table appends)
    "BrainSegVol", "BrainSegVolNotVent", "BrainSegVolNotVentSurf", "eTIV",
    "EstimatedTotalIntraCranialVol", "lhCortexVol", "rhCortexVol", "CortexVol",
    "lhCerebralWhiteMatterVol", "rhCerebralWhiteMatterVol", "CerebralWhiteMatterVol",
    "lhCorticalWhiteMatterVol", "rhCorticalWhiteMatterVol", "CorticalWhiteMatterVol",
    "SubCortGrayVol", "TotalGrayVol", "SupraTentorialVol", "SupraTentorialVolNotVent",
    "SupraTentorialVolNotVentVox", "MaskVol", "BrainSegVol-to-eTIV", "MaskVol-to-eTIV",
    "lhSurfaceHoles", "rhSurfaceHoles", "SurfaceHoles",
)

_FIRST_HEADER = re.compile(r"^((lh|rh)(\.[A-Za-z0-9_\-]+){2,}|Measure:[A-Za-z0-9_\-]+)$")


def is_freesurfer_table(columns: Sequence[str]) -> bool:
    """Whether a table's header is that of ``aparcstats2table``/``asegstats2table``."""
    return bool(columns) and bool(_FIRST_HEADER.match(str(columns[0]).strip()))


def summary_columns(columns: Sequence[str], keep: Sequence[str] = ()) -> list[str]:
    """The summary columns among ``columns``, less those matching a ``keep`` name/glob."""
    out = []
    for column in columns:
        if any(fnmatch.fnmatchcase(column, p) for p in SUMMARY_COLUMNS) and not any(
                fnmatch.fnmatchcase(column, k) for k in keep):
            out.append(column)
    return out
