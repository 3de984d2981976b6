"""The study's covariates and site for every subject: what a problem's side block comes from.

:func:`study_side_data` reads ``data.covariates`` and ``data.batch`` from the loaded
study's clinical table once and encodes them for the whole cohort
(:func:`~cohortbench.execute.side_columns.encode_side_columns`: numeric covariates as
they are, categorical ones as indicators of their levels but the first, the site as a
code). Levels and site codes are those of the whole cohort, so every task and subset
encodes a subject the same way; a level absent from a task gives an all-zero column,
which the confound regression and ComBat's least squares leave at a zero effect. The
encoding learns nothing from values, so doing it once cannot leak a fold.

A subject missing a covariate or its site cannot be adjusted: under ``data.missing:
drop-subjects`` it is left out of the problems (said, like the view's dropped
subjects); under any other policy the problem is refused in one sentence naming the
covariate and the subjects (imputing a covariate is not offered).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..design.configs import content_id
from ..errors import DataError
from .side_columns import SideLayout, check_covariates_complete, encode_side_columns

__all__ = ["SideData", "study_side_data", "ProblemSide"]


@dataclass(frozen=True, eq=False)
class ProblemSide:
    """The side block of one problem.

    Attributes
    ----------
    values : ndarray of shape (n, n_side), float64
        Rows in the problem's row order.
    layout : SideLayout
    sites : ndarray of str or None
        The site of every row (None without a batch column).
    content : dict
        What identifies it in an evaluation's content key.
    """

    values: np.ndarray
    layout: SideLayout
    sites: np.ndarray | None
    content: dict


@dataclass(frozen=True, eq=False)
class SideData:
    """Covariates and site of every cohort subject, encoded once.

    Attributes
    ----------
    raw : DataFrame
        The covariate and batch columns as read, indexed by subject.
    encoded : DataFrame
        The side block of every subject with complete values (columns
        ``layout.column_names``).
    layout : SideLayout
    covariates : tuple of str
    batch : str or None
    drop_missing : bool
        ``data.missing: drop-subjects``: subjects missing a value are left out.
    """

    raw: pd.DataFrame
    encoded: pd.DataFrame
    layout: SideLayout
    covariates: tuple[str, ...]
    batch: str | None
    drop_missing: bool

    def missing(self, subject: str) -> list[str]:
        """The side columns ``subject`` has no value for (empty when complete)."""
        row = self.raw.loc[subject]
        return [str(name) for name in self.raw.columns if pd.isna(row[name])]

    def check_complete(self, subjects) -> None:
        """Refuse, in one sentence, a subject missing a value (under a policy that keeps it)."""
        frame = self.raw.loc[list(subjects)]
        check_covariates_complete(frame, list(self.covariates))
        if self.batch is not None:
            missing = frame.index[frame[self.batch].isna().to_numpy()]
            if len(missing):
                raise DataError(
                    f"The batch column {self.batch!r} is empty for {len(missing)} subject(s) "
                    f"({', '.join(map(str, missing[:3]))}{', ...' if len(missing) > 3 else ''}): "
                    "every subject needs a site; fill it in, or set data.missing: "
                    "drop-subjects to leave them out.")

    def for_rows(self, subjects) -> ProblemSide:
        """The side block of these subjects (all complete), in this order."""
        subjects = list(subjects)
        values = self.encoded.loc[subjects].to_numpy(dtype=np.float64)
        sites = None
        if self.batch is not None:
            sites = self.raw.loc[subjects, self.batch].astype(str).to_numpy(dtype=str)
        content = {"covariates": list(self.covariates), "batch": self.batch,
                   "values": content_id([subjects, values.tolist()])}
        return ProblemSide(np.ascontiguousarray(values), self.layout, sites, content)


def study_side_data(study) -> SideData | None:
    """The side data of a loaded study (None when it names no covariate and no batch)."""
    data = study.spec.data
    covariates = tuple(data.covariates or ())
    batch = data.batch
    if not covariates and batch is None:
        return None
    columns = list(dict.fromkeys([*covariates, *([batch] if batch else [])]))
    raw = study.clinical.loc[:, columns]
    complete = raw.dropna()
    if complete.empty:
        raise DataError(f"No subject has a value for every one of {', '.join(columns)} "
                        "(data.covariates, data.batch): fill them in or name fewer columns.")
    values, layout = encode_side_columns(complete, covariates, batch)
    encoded = pd.DataFrame(values, index=complete.index, columns=list(layout.column_names))
    return SideData(raw=raw, encoded=encoded, layout=layout, covariates=covariates, batch=batch,
                    drop_missing=data.missing == "drop-subjects")
