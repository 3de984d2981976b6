"""Covariates that live in a map table: columns left out of the features, joined to the clinical table.

``data.covariates`` usually names clinical columns (age, sex). Head size is the exception:
FreeSurfer writes ``EstimatedTotalIntraCranialVol`` (and other whole-brain summaries)
into every stats table, and the loader leaves those summary columns out of the features
(:mod:`cohortbench.data.freesurfer`), as it leaves out the columns ``exclude:`` names. A
covariate that is not a clinical column is looked up among these left-out columns and
added to the clinical table, matched on the subject IDs like the map itself; the
decision is said. Whether the names exist at all, and whether they define a label, is
checked by the study loader (one sentence each).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cohortbench.errors import DataError

__all__ = ["LeftOutColumns", "attach_map_covariates"]

#: map name -> (file, the left-out columns wanted as covariates, indexed by the map's IDs)
LeftOutColumns = Mapping[str, tuple[str, pd.DataFrame]]


def attach_map_covariates(clinical: pd.DataFrame, covariates: Sequence[str],
                          left_out: LeftOutColumns, match_ids) -> tuple[pd.DataFrame, list[str]]:
    """Add the covariates found among maps' left-out columns to the clinical table.

    Parameters
    ----------
    clinical : DataFrame
        Indexed by subject; a covariate already among its columns is kept as it is.
    covariates : sequence of str
        ``data.covariates``.
    left_out : mapping
        Map name -> (file, its left-out columns that are covariates, indexed by the
        map's subject IDs).
    match_ids : callable
        ``match_ids(frame, source)`` renames a map's IDs to the clinical table's
        (the study's ``id_match``).

    Returns
    -------
    clinical : DataFrame
        A copy with the covariates found in maps added (numeric when every present
        value is a number; a subject without a row in that map has a missing value).
    decisions : list of str
        One sentence per covariate added, naming the map and file it came from.

    Raises
    ------
    DataError
        When two maps hold the same covariate with different values.
    """
    added: dict[str, pd.Series] = {}
    decisions: list[str] = []
    for name in covariates:
        if name in clinical.columns:
            continue
        sources = [(map_name, source, frame[name]) for map_name, (source, frame)
                   in left_out.items() if name in frame.columns]
        if not sources:
            continue
        first_map, first_source, _ = sources[0]
        aligned = []
        for map_name, source, values in sources:
            values = match_ids(values.to_frame(), source)[name]
            values = values[~values.index.duplicated()].reindex(clinical.index)
            aligned.append((map_name, source, _typed(values)))
        reference = aligned[0][2]
        for map_name, source, values in aligned[1:]:
            if not _same(reference, values):
                raise DataError(
                    f"Covariate {name!r} differs between map '{first_map}' ({first_source}) "
                    f"and map '{map_name}' ({source}) for some subjects: fix the files so that "
                    "both hold the same values, or drop the column from one of them."
                )
        added[name] = reference
        decisions.append(
            f"data.covariates: {name!r} is read from map '{first_map}' ({first_source}), whose "
            "column is left out of the features; subjects without a row there miss it.")
    if not added:
        return clinical, decisions
    return clinical.assign(**added), decisions


def _typed(values: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    if (values.notna() & numbers.isna()).any():
        return values.astype(object)
    return numbers.astype("float64")


def _same(a: pd.Series, b: pd.Series) -> bool:
    both = a.notna() & b.notna()
    if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
        return bool(np.allclose(a[both].to_numpy(float), b[both].to_numpy(float),
                                rtol=1e-9, atol=0))
    return bool((a[both].astype(str) == b[both].astype(str)).all())
