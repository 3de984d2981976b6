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
scikit-learn ``Pipeline`` (``fitted``) and the training rows as given to ``fit``
(``X_train``), the fast engine None. For a record registered with
``needs_model=True`` the fast engine passes instead what it computed of the model in
``model_parts`` (:class:`~cohortbench.execute.activation.FoldModelParts`:
:mod:`cohortbench.execute.fast.model_parts`); a record that needs a fitted model
otherwise must say what it returns without one.

A record may also name a ``combine`` function (:func:`register_record`): the
runner then stores ``combine(values, problem)`` instead of the per-fold values
(:func:`finish_records`), once every label vector of the evaluation is in, e.g. to
keep fold means instead of every fold (the ``importance`` record,
:mod:`~cohortbench.execute.importance_fold`).

Record functions are registered by name (:func:`register_record`); a run sends
the ones it uses to its worker processes, which import cohortbench afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FoldRecordInput", "register_record", "unregister_record", "record_functions",
           "ensure_records", "needs_a_model", "collect_records", "assemble_records", "finish_records",
           "jsonable"]


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
    X_train : ndarray or None
        The training rows exactly as given to ``fitted.fit`` (not row-scaled), when
        ``fitted`` is given.
    classes : tuple of str
        The problem's class names, in label-code order.
    model_parts : object or None
        What an engine without a fitted ``Pipeline`` computed for the records it
        was asked for (see the record's documentation), or None.
    """

    label_vector: int
    fold: int
    train: np.ndarray
    test: np.ndarray
    y_train: np.ndarray
    predicted: np.ndarray
    fitted: Any = None
    X_train: np.ndarray | None = None
    classes: tuple = ()
    model_parts: Any = None


_RECORDS: dict[str, Callable[[FoldRecordInput], Any]] = {}
_COMBINE: dict[str, Callable] = {}
_NEEDS_MODEL: set[str] = set()


def register_record(name: str, function: Callable[[FoldRecordInput], Any],
                    combine: Callable | None = None, needs_model: bool = False) -> None:
    """Make a per-fold record available by name (replacing one of that name).

    Parameters
    ----------
    name : str
    function : callable
        ``function(fold: FoldRecordInput)`` -> a JSON-able value.
    combine : callable, optional
        ``combine(values, problem)`` -> the JSON-able value stored instead of
        ``values`` (``[[value per fold] per label vector]``); called once per
        evaluation by the runner (:func:`finish_records`). None: every fold's value
        is stored.
    needs_model : bool, default False
        The record reads the fitted model: the reference engine passes ``fitted``,
        the fast engine computes ``model_parts`` for it
        (:class:`~cohortbench.execute.activation.FoldModelParts`, one extra classifier
        fit per fold; :mod:`cohortbench.execute.fast.model_parts`).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"A record name must be a non-empty string; got {name!r}.")
    if not callable(function):
        raise TypeError(f"The record {name!r} needs a callable; got {function!r}.")
    if combine is not None and not callable(combine):
        raise TypeError(f"The record {name!r} needs a callable combine; got {combine!r}.")
    _RECORDS[name] = function
    _COMBINE.pop(name, None)
    _NEEDS_MODEL.discard(name)
    if needs_model:
        _NEEDS_MODEL.add(name)
    if combine is not None:
        _COMBINE[name] = combine


def unregister_record(name: str) -> None:
    _RECORDS.pop(name, None)
    _COMBINE.pop(name, None)
    _NEEDS_MODEL.discard(name)


def needs_a_model(names) -> tuple[str, ...]:
    """Those of the records ``names`` registered with ``needs_model=True``."""
    return tuple(name for name in names if name in _NEEDS_MODEL)


def record_functions(names) -> dict:
    """``{name: (function, needs_model)}`` for ``names`` (sent with the work to worker
    processes, which register them with :func:`ensure_records`)."""
    missing = [n for n in names if n not in _RECORDS]
    if missing:
        raise ValueError(f"Unknown per-fold record(s) {', '.join(missing)}; register them "
                         "with cohortbench.execute.fold_records.register_record.")
    return {name: (_RECORDS[name], name in _NEEDS_MODEL) for name in dict.fromkeys(names)}


def ensure_records(functions: dict) -> None:
    """Register the records this (worker) process does not know yet.

    ``functions`` as :func:`record_functions` gives them (a bare function is taken as
    a record that needs no model).
    """
    for name, entry in functions.items():
        function, needs_model = entry if isinstance(entry, tuple) else (entry, False)
        if name not in _RECORDS:
            _RECORDS[name] = function
            if needs_model:
                _NEEDS_MODEL.add(name)


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


def finish_records(records: dict, problem) -> dict:
    """The records as stored: each registered ``combine`` applied to its values.

    Parameters
    ----------
    records : dict
        ``{name: [[value per fold] per label vector]}`` of one whole evaluation
        (every label vector joined).
    problem : Problem
        The evaluation's problem (feature names, classes).

    Returns
    -------
    dict
        ``{name: stored value}``.
    """
    return {name: (_COMBINE[name](values, problem) if name in _COMBINE else values)
            for name, values in records.items()}


# The built-in records register themselves (after the names above exist).
from . import importance_fold as _importance_fold  # noqa: E402,F401
