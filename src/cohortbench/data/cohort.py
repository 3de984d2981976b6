"""The cohort: clinical table, feature maps, modalities, parcellations, missing-value policy.

:func:`~cohortbench.data.loading.load_cohort` reads and validates the input tables
(SPEC section 7); :meth:`Cohort.view` turns a (modalities, parcellation) choice into the plain
:class:`~cohortbench.data.views.View` the engines consume.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cohortbench.data.views import Block, View
from cohortbench.errors import DataError

__all__ = ["Cohort", "MISSING_POLICIES"]

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
    decisions : list of str
        What the loader decided for the user (columns left out, where the IDs were
        read from): said by ``validate``, the run and the report.
    """

    clinical: pd.DataFrame
    maps: dict[str, pd.DataFrame]
    modalities: dict[str, tuple[str, ...]]
    parcellations: dict[str, tuple[str, ...] | None]
    missing: str = "error"
    warnings: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    decisions: list[str] = field(default_factory=list)

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
            "decisions": list(self.decisions),
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
