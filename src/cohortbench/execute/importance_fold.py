"""The ``importance`` per-fold record: activation patterns and selection masks (issue 20).

A stage asks for it by naming ``"importance"`` in ``PlannedEvaluation.records``
(the ``importance`` stage kind does, for the best configuration of each task).
Both parts of the record mechanism (:mod:`~cohortbench.execute.fold_records`):

- **per fold** (:func:`importance_fold_record`, in the worker): the fold's
  :class:`~cohortbench.execute.activation.FoldImportance` — from the fitted
  ``Pipeline`` and the training rows (reference engine), or from the
  :class:`~cohortbench.execute.activation.FoldModelParts` an engine without a
  ``Pipeline`` computed (``FoldRecordInput.model_parts``; what it must hold is
  written in :mod:`~cohortbench.execute.activation`). Travels as a small JSON-able
  dict: the activation as base64 float32 (``n_functions x p``), the mask bit-packed;
- **per evaluation** (:func:`combine_importance`, in the runner once every label
  vector is in): the compact
  :class:`~cohortbench.execute.importance_record.ImportanceRecord` (fold means of
  every label vector, the real labels' per-fold values and masks), stored as
  ``{"format": "importance-npz", "version": 1, "data": <base64 of record_to_bytes>}``
  in the ``records`` table; :func:`decode_importance` reads it back.

Sizes on the published shape (30 folds x 51 label vectors x 2,988 features, one
decision function): 18.3 MB of float32 travel from the worker (24 MB as base64, in
memory while the evaluation runs); 0.98 MB are kept (1.3 MB as base64 text).
"""

from __future__ import annotations

import base64

import numpy as np

from .activation import FoldImportance, fold_importance, fold_importance_from_parts
from .fold_records import FoldRecordInput, register_record
from .importance_record import (
    ImportanceAccumulator,
    ImportanceRecord,
    record_from_bytes,
    record_to_bytes,
)

__all__ = ["RECORD_NAME", "STORED_FORMAT", "combine_importance", "decode_importance",
           "encode_fold", "decode_fold", "importance_fold_record"]

#: The record's name in ``PlannedEvaluation.records`` and in the store.
RECORD_NAME = "importance"
#: The ``format`` of the stored value.
STORED_FORMAT = "importance-npz"


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def encode_fold(record: FoldImportance) -> dict:
    """A fold's :class:`FoldImportance` as a JSON-able dict (float32 activation, packed mask)."""
    out = {"kind": record.kind, "scheme": record.scheme, "activation": None, "shape": None,
           "selected": None, "n_features": None}
    if record.activation is not None:
        activation = np.asarray(record.activation, dtype=np.float32)
        out["activation"] = _b64(activation)
        out["shape"] = list(activation.shape)
        out["n_features"] = int(activation.shape[1])
    if record.selected is not None:
        mask = np.asarray(record.selected, dtype=bool)
        out["selected"] = _b64(np.packbits(mask))
        out["n_features"] = int(mask.size)
    return out


def decode_fold(value: dict) -> FoldImportance:
    """The :class:`FoldImportance` :func:`encode_fold` wrote (activation as float64)."""
    activation = selected = None
    if value.get("activation") is not None:
        activation = np.frombuffer(base64.b64decode(value["activation"]), dtype=np.float32)
        activation = activation.reshape(value["shape"]).astype(np.float64)
    if value.get("selected") is not None:
        bits = np.frombuffer(base64.b64decode(value["selected"]), dtype=np.uint8)
        selected = np.unpackbits(bits, count=int(value["n_features"])).astype(bool)
    return FoldImportance(value["kind"], value["scheme"], activation, selected)


def importance_fold_record(fold: FoldRecordInput) -> dict:
    """The record function: one fold's activation pattern and selection mask, encoded.

    Raises
    ------
    ValueError
        When the engine gave neither a fitted pipeline with its training rows nor
        :class:`~cohortbench.execute.activation.FoldModelParts`.
    """
    n_classes = len(fold.classes)
    if n_classes < 2:
        raise ValueError("The importance record needs the problem's classes "
                         "(FoldRecordInput.classes).")
    if fold.fitted is not None and fold.X_train is not None:
        record = fold_importance(fold.fitted, fold.X_train, n_classes=n_classes)
    elif fold.model_parts is not None:
        record = fold_importance_from_parts(fold.model_parts, n_classes=n_classes)
    else:
        raise ValueError("The importance record needs the fitted pipeline and its training "
                         "rows, or FoldModelParts from the engine.")
    return encode_fold(record)


def combine_importance(values, problem) -> dict:
    """The stored value: the compact record of every fold of every label vector.

    Parameters
    ----------
    values : list of list of dict
        ``[[encoded fold per fold] per label vector]`` (label vector 0 = real labels).
    problem : Problem
        Gives the feature names (``columns``) and the class names.

    Returns
    -------
    dict
        ``{"format", "version", "data"}``: base64 of
        :func:`~cohortbench.execute.importance_record.record_to_bytes`.
    """
    n_folds = {len(vector) for vector in values}
    if len(n_folds) != 1:
        raise ValueError(f"Label vectors have different numbers of outer folds {sorted(n_folds)}.")
    names = tuple(problem.columns)
    p = len(names)
    accumulator = ImportanceAccumulator(names, problem.classes, len(values), n_folds.pop())
    for vector, folds in enumerate(values):
        for index, encoded in enumerate(folds):
            record = decode_fold(encoded)
            # Side columns (covariates, site) travel after the features: not features.
            accumulator.add(vector, index, FoldImportance(
                record.kind, record.scheme,
                None if record.activation is None else record.activation[:, :p],
                None if record.selected is None else record.selected[:p]))
    blob = record_to_bytes(accumulator.record())
    return {"format": STORED_FORMAT, "version": 1,
            "data": base64.b64encode(blob).decode("ascii")}


def decode_importance(value) -> ImportanceRecord:
    """The :class:`ImportanceRecord` of a stored ``importance`` record value."""
    if not isinstance(value, dict) or value.get("format") != STORED_FORMAT:
        raise ValueError("Not a stored importance record (expected format "
                         f"{STORED_FORMAT!r}).")
    return record_from_bytes(base64.b64decode(value["data"]))


register_record(RECORD_NAME, importance_fold_record, combine=combine_importance,
                needs_model=True)
