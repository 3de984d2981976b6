"""Side data (covariates, site) carried as trailing columns of the problem's matrix.

Confound removal and harmonization need per-subject values that are not features:
covariates (age, sex, ICV) and the site. They travel *inside* X, as designated
trailing "side columns", so that everything downstream keeps the one contract every
engine, search and ``Pipeline`` already relies on: a plain float matrix whose rows are
subjects. The layout is::

    [ features (p columns) | covariates (numeric as is, categorical one-hot) | site code ]

Steps before harmonization leave side columns unchanged (:class:`RowScaler` with
``n_side`` scales only the feature blocks; ``SimpleImputer`` has nothing to impute in
complete side columns). :class:`ComBatHarmonizer` reads the site and the preserved
covariates and passes the side columns through; :class:`ConfoundRemover` residualizes
the features on the covariates and drops every side column, so that column scaling,
selection, reduction and the classifier see features only. Why this and not
scikit-learn's metadata routing is written in ``docs/harmonization.md``.

Encoding (done once for the whole cohort; it learns nothing from values, only the list
of levels, so it cannot leak a fold's information):

- numeric covariates are copied as float;
- a categorical covariate with L levels becomes L - 1 indicator columns, the first level
  in sorted order being the reference (dropped): the confound regression and the ComBat
  design both have an intercept-like part, and a full set of indicators would be
  collinear with it;
- the site becomes an integer code (sites in sorted order), stored as float.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError, StudyError

__all__ = [
    "SideLayout",
    "encode_side_columns",
    "append_side_columns",
    "side_steps",
    "check_covariates_complete",
    "check_levels_in_folds",
]


@dataclass(frozen=True)
class SideLayout:
    """Where each piece of side data sits within the side block.

    Column indices are relative to the side block (0 = its first column), so they do
    not depend on how many feature columns a view has.

    Attributes
    ----------
    column_names : tuple of str
        One name per side column: ``age``, ``sex=M`` (indicator of level ``M``),
        ``site`` (the batch code).
    covariates : tuple of (str, tuple of int)
        Covariate name -> its side columns (one for a numeric covariate, L - 1 for a
        categorical one with L levels), in the order given.
    batch_column : int or None
        Side column of the site code, or None without a batch.
    sites : tuple of str
        Site names indexed by their code.
    """

    column_names: tuple[str, ...]
    covariates: tuple[tuple[str, tuple[int, ...]], ...]
    batch_column: int | None
    sites: tuple[str, ...]

    @property
    def n_side(self) -> int:
        """Number of side columns."""
        return len(self.column_names)

    def columns(self, names: Sequence[str], key: str = "data.covariates") -> tuple[int, ...]:
        """Side columns of the named covariates, in order.

        Raises
        ------
        StudyError
            When a name is not one of the encoded covariates.
        """
        lookup = dict(self.covariates)
        out: list[int] = []
        for name in names:
            if name not in lookup:
                raise StudyError(
                    f"{key}: {name!r} is not a covariate of the study; list it under "
                    f"data.covariates (known: {', '.join(lookup) or 'none'})."
                )
            out.extend(lookup[name])
        return tuple(out)


def check_covariates_complete(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """Refuse a covariate with missing values (ComBat and the regression need them all).

    Raises
    ------
    DataError
        Naming the first incomplete covariate, how many subjects miss it and a few of them.
    """
    for name in columns:
        if name not in frame.columns:
            raise StudyError(f"data.covariates: column {name!r} is not in the clinical table.")
        missing = frame.index[frame[name].isna().to_numpy()]
        if len(missing):
            few = ", ".join(map(str, missing[:3])) + (", ..." if len(missing) > 3 else "")
            raise DataError(
                f"Covariate {name!r} is missing for {len(missing)} subject(s) ({few}): fill it "
                "in, set data.missing: drop-subjects to leave those subjects out, or leave "
                "the covariate out of data.covariates."
            )


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def encode_side_columns(frame: pd.DataFrame, covariates: Sequence[str] = (),
                        batch: str | None = None) -> tuple[np.ndarray, SideLayout]:
    """Encode covariates and the site as a float side block.

    Parameters
    ----------
    frame : DataFrame
        One row per subject of the problem, in the problem's row order (the caller
        aligns it), holding the covariate and batch columns.
    covariates : sequence of str
        Covariate columns; numeric ones are copied, others one-hot encoded with the
        first level (sorted) dropped.
    batch : str or None
        The site column, encoded as integer codes of the sorted site names.

    Returns
    -------
    side : ndarray of shape (n_subjects, n_side), float64
    layout : SideLayout
    """
    check_covariates_complete(frame, [*covariates, *([batch] if batch else [])])
    blocks, names, groups = [], [], []
    for name in covariates:
        series = frame[name]
        start = len(names)
        if _is_numeric(series):
            blocks.append(series.to_numpy(dtype=np.float64)[:, None])
            names.append(name)
        else:
            values = series.astype(str).to_numpy()
            levels = np.unique(values)
            if len(levels) < 2:
                raise DataError(
                    f"Covariate {name!r} has the single level {str(levels[0])!r} in this task: it "
                    "explains nothing, so leave it out of data.covariates."
                )
            blocks.append((values[:, None] == levels[None, 1:]).astype(np.float64))
            names.extend(f"{name}={level}" for level in levels[1:])
        groups.append((name, tuple(range(start, len(names)))))
    batch_column, sites = None, ()
    if batch is not None:
        values = frame[batch].astype(str).to_numpy()
        site_names, codes = np.unique(values, return_inverse=True)
        blocks.append(codes.astype(np.float64)[:, None])
        batch_column, sites = len(names), tuple(str(s) for s in site_names)
        names.append(batch)
    side = np.hstack(blocks) if blocks else np.empty((len(frame), 0))
    return side, SideLayout(tuple(names), tuple(groups), batch_column, sites)


def append_side_columns(X: np.ndarray, side: np.ndarray) -> np.ndarray:
    """``[X | side]`` as one float64 matrix (rows must already be aligned)."""
    X = np.asarray(X, dtype=np.float64)
    side = np.asarray(side, dtype=np.float64)
    if X.shape[0] != side.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but the side block has {side.shape[0]}.")
    return np.hstack([X, side])


def check_levels_in_folds(frame: pd.DataFrame, categorical: Sequence[str], folds,
                          subjects: Sequence[str] | None = None) -> None:
    """Refuse a categorical level that some training fold never sees.

    A level absent from a training fold leaves its indicator column constant (zero)
    there, so its effect is never estimated and a held-out subject with that level is
    adjusted as if it had the reference level.

    Parameters
    ----------
    frame : DataFrame
        The covariates, rows in the order the fold indices refer to.
    categorical : sequence of str
        The categorical covariates to check.
    folds : sequence of (train_idx, test_idx)
        Outer (or inner) folds.
    subjects : sequence of str, optional
        Subject ids by row, for the message (default: the frame's index).

    Raises
    ------
    DataError
        Naming the covariate, the level, its subjects and the first fold that misses it.
    """
    ids = list(frame.index if subjects is None else subjects)
    for name in categorical:
        values = frame[name].astype(str).to_numpy()
        for number, (train, _test) in enumerate(folds):
            seen = set(values[np.asarray(train)])
            for level in map(str, np.unique(values)):
                if level not in seen:
                    holders = [str(ids[i]) for i in np.flatnonzero(values == level)]
                    raise DataError(
                        f"Covariate {name!r} level {level!r} has {len(holders)} subject(s) "
                        f"({', '.join(holders[:3])}), too few for training fold {number} to "
                        "see it: merge it with another level or leave the covariate out."
                    )


def side_steps(layout: SideLayout, *, confounds: Sequence[str] = (), harmonize: str = "none",
               preserve: Sequence[str] = (), unseen_site: str = "error") -> list[tuple]:
    """The pipeline steps that consume the side block, in their documented order.

    Insert them after row scaling and imputation and before column scaling. When the
    problem carries side columns the last step is always a :class:`ConfoundRemover`
    (with no covariates when ``confounds`` is empty) because it is the step that drops
    the side columns.

    Parameters
    ----------
    layout : SideLayout
    confounds : sequence of str
        Covariates regressed out of every feature (``confounds:`` in the study).
    harmonize : {"none", "combat"}
    preserve : sequence of str
        Covariates whose effects ComBat keeps (``harmonize.preserve``).
    unseen_site : {"error", "fit-unlabeled"}

    Returns
    -------
    list of (name, transformer)
        Empty when the layout has no side columns.
    """
    from .confounds import ConfoundRemover
    from .harmonization import ComBatHarmonizer

    if layout.n_side == 0:
        if harmonize != "none" or confounds:
            raise StudyError("confounds and harmonize need data.covariates or a batch column.")
        return []
    steps: list[tuple] = []
    if harmonize == "combat":
        if layout.batch_column is None:
            raise StudyError("harmonize: combat needs harmonize.batch (the site column).")
        steps.append(("harmonize", ComBatHarmonizer(
            n_side=layout.n_side, batch_column=layout.batch_column,
            preserve=layout.columns(preserve, "harmonize.preserve"), unseen_site=unseen_site,
            site_names=layout.sites)))
    elif harmonize != "none":
        raise StudyError(f"harmonize must be none or combat; got {harmonize!r}.")
    name = "confounds" if confounds else "drop_side"
    steps.append((name, ConfoundRemover(n_side=layout.n_side,
                                        covariate_columns=layout.columns(confounds,
                                                                         "confounds"))))
    return steps
