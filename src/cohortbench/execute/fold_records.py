"""Extra per-fold records: what an evaluation keeps besides its predictions.

A stage kind may ask, per planned evaluation, for named records
(``PlannedEvaluation.records``): for every label vector (the real labels, then
each shuffle) and every outer fold, both engines call the record's function with
a :class:`FoldRecordInput` and keep what it returns. The result carries them as
``EvaluationResult.records[name][label_vector][fold]`` (JSON-able values) and the
store keeps them beside the evaluation. Importance statistics (activation
patterns, selection masks) are records; so is a learning curve's training size.

A record function gets what both engines have for a fold: the rows, the training
labels and the predicted codes; the reference engine also passes the fitted
scikit-learn ``Pipeline`` (``fitted``), the fast engine None, so a function that
needs a fitted model must say what it returns without one.

Record functions are registered by name (:func:`register_record`); a run sends
the ones it uses to its worker processes, which import cohortbench afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FoldRecordInput", "register_record", "unregister_record", "record_functions",
           "ensure_records", "collect_records", "assemble_records", "jsonable"]


@dataclass(frozen=True)
class FoldRecordInput:
    """One (label vector, outer fold) as a record function sees it.

    Attributes
    ----------
    label_vector : int
        0 for the real labels, ``i`` for the ``i``-th shuffle.
    fold : int
        The outer fold's index.
    train, test : ndarray of int
        Row indices into the problem's matrix.
    y_train : ndarray of int
        The training rows' label codes under this label vector.
    predicted : ndarray of int
        The test rows' predicted codes.
    fitted : object or None
        The fitted scikit-learn ``Pipeline`` (reference engine), or None.
    """

    label_vector: int
    fold: int
    train: np.ndarray
    test: np.ndarray
    y_train: np.ndarray
    predicted: np.ndarray
    fitted: Any = None


_RECORDS: dict[str, Callable[[FoldRecordInput], Any]] = {}


def register_record(name: str, function: Callable[[FoldRecordInput], Any]) -> None:
    """Make a per-fold record available by name (replacing one of that name)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"A record name must be a non-empty string; got {name!r}.")
    if not callable(function):
        raise TypeError(f"The record {name!r} needs a callable; got {function!r}.")
    _RECORDS[name] = function


def unregister_record(name: str) -> None:
    _RECORDS.pop(name, None)


def record_functions(names) -> dict:
    """``{name: function}`` for ``names`` (sent with the work to worker processes)."""
    missing = [n for n in names if n not in _RECORDS]
    if missing:
        raise ValueError(f"Unknown per-fold record(s) {', '.join(missing)}; register them "
                         "with cohortbench.execute.fold_records.register_record.")
    return {name: _RECORDS[name] for name in dict.fromkeys(names)}


def ensure_records(functions: dict) -> None:
    """Register the records this (worker) process does not know yet."""
    for name, function in functions.items():
        _RECORDS.setdefault(name, function)


def jsonable(value):
    """A record value as plain JSON data (arrays become lists, numpy scalars numbers)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def collect_records(names, fold: FoldRecordInput) -> dict:
    """``{name: value}`` of the records ``names`` for one fold."""
    return {name: jsonable(_RECORDS[name](fold)) for name in names}


def assemble_records(names, per_fold: dict, n_label_vectors: int, n_folds: list[int]) -> dict:
    """``{name: [[value per fold] per label vector]}`` from ``{(vector, fold): {name: value}}``."""
    return {name: [[per_fold[(v, f)][name] for f in range(n_folds[v])]
                   for v in range(n_label_vectors)] for name in names}
