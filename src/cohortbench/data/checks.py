"""Checks that stop a study from giving a wrong answer without a word.

- Nothing that defines a label is ever a feature: a feature column named like a
  clinical column that a label, a task condition or ``train_only`` uses is
  refused (:func:`check_label_named_features`), and so is a feature column whose
  values recode a task's classes one to one (:func:`check_recoded_labels`) —
  the group coded 0/1 under another name.
- Odd subject rows: all-zero or constant rows of a map (:func:`odd_rows`),
  flagged like constant columns.
- Class values that nearly match a condition (``'1,0'`` for ``1``, another case)
  and so leave a subject out of a task silently (:func:`near_miss_subjects`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cohortbench.errors import DataError

__all__ = ["check_label_named_features", "check_recoded_labels", "odd_rows",
           "near_miss_subjects"]

_FIX = ("list it under `exclude:`, or, if the file is one wide table of clinical and "
        "regional columns, read it with `data.table` and `data.blocks` naming the feature "
        "columns")


def _names(items: Sequence, limit: int = 5) -> str:
    items = [str(i) for i in items]
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def check_label_named_features(features: Mapping[str, tuple[str, Sequence[str]]],
                               used: Mapping[str, str]) -> None:
    """Refuse a feature column named like a clinical column that defines a label or task.

    Parameters
    ----------
    features : mapping
        Map name -> (its file, its feature columns as named in the file).
    used : mapping
        Clinical column -> where the study uses it (e.g. ``"task '2-class'"``).

    Raises
    ------
    DataError
    """
    for name, (file, columns) in features.items():
        for column in columns:
            if column in used:
                raise DataError(
                    f"{file} (map '{name}'): column '{column}' is the clinical column that "
                    f"{used[column]} uses, so it would be a feature that gives the answer away; "
                    f"{_FIX}.")


def check_recoded_labels(maps: Mapping[str, pd.DataFrame], sources: Mapping[str, str],
                         tasks: Mapping) -> None:
    """Refuse a feature column whose values recode a task's classes one to one.

    Over each task's own subjects with a value, a column taking one distinct value
    per class, and a different one for each class, is the label under another
    name (e.g. the group coded 0/1).

    Parameters
    ----------
    maps : mapping
        Map name -> values (index = subject, columns = ROI).
    sources : mapping
        Map name -> file, for the message.
    tasks : mapping
        Task name -> :class:`~cohortbench.data.views.Task`.
    """
    for task in tasks.values():
        labels = pd.Series(task.labels, index=list(task.subjects))
        for name, table in maps.items():
            values = table.reindex(labels.index)
            present = values.notna()
            # Cheap screen: a recoding has as many distinct values as there are classes.
            distinct = values.nunique(dropna=True)
            for column in distinct.index[distinct == len(task.classes)]:
                rows = present[column].to_numpy()
                pairs = pd.DataFrame({"v": values[column].to_numpy()[rows],
                                      "c": labels.to_numpy()[rows]})
                if pairs["c"].nunique() != len(task.classes):
                    continue
                if pairs.groupby("v")["c"].nunique().max() == 1 and \
                        pairs.groupby("c")["v"].nunique().max() == 1:
                    coding = pairs.drop_duplicates().sort_values("c")
                    shown = ", ".join(f"{c} = {v:g}" for v, c in coding.itertuples(index=False))
                    raise DataError(
                        f"{sources.get(name, name)} (map '{name}'): column '{column}' recodes the "
                        f"classes of task '{task.name}' one to one ({shown}), so it would be a "
                        f"feature that gives the answer away; {_FIX}.")


def odd_rows(name: str, table: pd.DataFrame) -> list[str]:
    """Warnings for subjects whose row of a map is all zero or constant (2+ values)."""
    values = table.to_numpy(dtype=float)
    counts = np.sum(~np.isnan(values), axis=1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: counted above
        low, high = np.nanmin(values, axis=1), np.nanmax(values, axis=1)
    zero = (counts > 0) & (low == 0) & (high == 0)
    constant = (counts > 1) & (low == high) & ~zero
    notes = []
    if zero.any():
        notes.append(f"Map '{name}': subject(s) {_names(list(table.index[zero]))} have only "
                     "zeros in this map (a failed measurement?); check them or mark the "
                     "values missing (empty or n/a).")
    if constant.any():
        notes.append(f"Map '{name}': subject(s) {_names(list(table.index[constant]))} have "
                     "the same value in every region of this map; check them or mark the "
                     "values missing.")
    return notes


def _squeezed(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = "".join(str(value).split()).casefold().replace(",", ".")
    try:
        number = float(text)
        return repr(number) if np.isfinite(number) else text
    except ValueError:
        return text


def near_miss_subjects(table: pd.DataFrame, task_spec: Mapping, assigned: set) -> list[str]:
    """Subjects in no class whose value is close to a class's value (case, spaces, a comma).

    Parameters
    ----------
    table : DataFrame
        The clinical table with derived labels (index = subject).
    task_spec : mapping
        ``{"classes": {class: {column: value or [values]}}, ...}``.
    assigned : set
        Subjects the task's classes (or train_only) already hold.

    Returns
    -------
    list of str
        ``"sub-01 ('1,0' for group 1)"`` descriptions, in table order.
    """
    found = []
    for subject in table.index:
        if subject in assigned:
            continue
        for conditions in (task_spec.get("classes") or {}).values():
            for column, wanted in conditions.items():
                if column not in table.columns:
                    continue
                cell = table.at[subject, column]
                values = wanted if isinstance(wanted, (list, tuple)) else [wanted]
                cell_key = _squeezed(cell)
                if cell_key is None:
                    continue
                hits = [v for v in values if _squeezed(v) == cell_key
                        and str(v).strip() != str(cell).strip()]
                if hits:
                    found.append(f"{subject} ('{cell}' for {column} {hits[0]})")
                    break
            else:
                continue
            break
    return found
