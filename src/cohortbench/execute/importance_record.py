"""The compact importance record of one evaluation (issue 20, part B, item 6).

Every outer fold of every label vector yields one activation pattern
(:class:`~cohortbench.execute.activation.FoldImportance`): on the published shape
(30 folds x 51 label vectors x 2,988 features x n_functions) that is 18.3 MB of
float32 per decision function. The statistics
(:mod:`cohortbench.analyse.importance`) need much less:

- the **fold mean** of every label vector, shape ``(L, C, p)`` (the test statistic
  and its permutation and max-statistic nulls are functions of it alone);
- the real labels' **per-fold values**, shape ``(F, C, p)`` (the spread over folds);
- the real labels' **selection masks**, shape ``(F, p)`` bool (selection frequency
  and stability); the shuffles' masks are not used;
- optionally the real labels' fold-mean **raw weights**, shape ``(C, p)``.

That is ``(L + F) * C * p`` float32 values, 0.97 MB per decision function on the
published shape (19x less); :func:`record_nbytes` states both sizes. Label vector
0 is the real labels, 1..P the shared shuffles in their order.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np

from .activation import FoldImportance, decision_function_names

__all__ = [
    "ImportanceAccumulator",
    "ImportanceRecord",
    "compact_importance",
    "record_from_bytes",
    "record_nbytes",
    "record_to_bytes",
]


@dataclass(frozen=True, eq=False)
class ImportanceRecord:
    """Compact importance of one evaluation.

    Attributes
    ----------
    feature_names : tuple of str
        ``"<map>:<roi>"``, as ``View.columns``.
    function_names : tuple of str
        One per decision function (see
        :func:`~cohortbench.execute.activation.decision_function_names`); empty
        when ``kind`` is ``"not-linear"``.
    kind : {"linear", "not-linear"}
    fold_means : ndarray of shape (L, C, p), float32, or None
        Mean activation over outer folds of each label vector (NaN folds skipped).
    real_folds : ndarray of shape (F, C, p), float32, or None
        The real labels' activation per outer fold.
    selected : ndarray of shape (F, p), bool, or None
        The real labels' selection mask per outer fold (None without a selector).
    weights_mean : ndarray of shape (C, p), float32, or None
        The real labels' raw weights, mean over folds (secondary).
    """

    feature_names: tuple[str, ...]
    function_names: tuple[str, ...]
    kind: str
    fold_means: np.ndarray | None
    real_folds: np.ndarray | None
    selected: np.ndarray | None = None
    weights_mean: np.ndarray | None = None

    @property
    def n_permutations(self) -> int:
        """P, the number of shuffled label vectors (0 without activations)."""
        return 0 if self.fold_means is None else self.fold_means.shape[0] - 1


def _float32(array):
    return None if array is None else np.ascontiguousarray(array, dtype=np.float32)


def compact_importance(activations, *, feature_names, function_names, selected=None,
                       weights=None) -> ImportanceRecord:
    """The compact record of full per-fold arrays.

    Parameters
    ----------
    activations : array-like of shape (L, F, C, p) or None
        Label vector 0 = real labels; None for a non-linear pipeline.
    feature_names, function_names : sequence of str
    selected : array-like of shape (L, F, p) or (F, p), bool, optional
        Only the real labels' masks are kept.
    weights : array-like of shape (F, C, p), optional
        The real labels' raw weights per fold.

    Returns
    -------
    ImportanceRecord
    """
    real_masks = None
    if selected is not None:
        selected = np.asarray(selected, dtype=bool)
        real_masks = selected[0] if selected.ndim == 3 else selected
    if activations is None:
        return ImportanceRecord(tuple(feature_names), (), "not-linear", None, None, real_masks)
    A = np.asarray(activations, dtype=np.float64)
    if A.ndim != 4 or A.shape[2] != len(function_names) or A.shape[3] != len(feature_names):
        raise ValueError(f"Activations must be (label vectors, folds, {len(function_names)} "
                         f"functions, {len(feature_names)} features); got {A.shape}.")
    sums, counts = np.zeros(A[:, 0].shape), np.zeros(A[:, 0].shape)
    for fold in range(A.shape[1]):          # fold by fold, as the accumulator adds them
        finite = np.isfinite(A[:, fold])
        sums += np.where(finite, A[:, fold], 0.0)
        counts += finite
    weights_mean = None if weights is None else np.mean(np.asarray(weights, float), axis=0)
    return ImportanceRecord(tuple(feature_names), tuple(function_names), "linear",
                            _fold_mean(sums, counts), _float32(A[0]), real_masks,
                            _float32(weights_mean))


def _fold_mean(sums, counts):
    """float32 mean over folds; NaN where every fold was NaN (missing-class folds)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return _float32(sums / counts)


class ImportanceAccumulator:
    """Builds an :class:`ImportanceRecord` fold by fold, in any order, in O((L + F) C p) memory.

    Parameters
    ----------
    feature_names : sequence of str
    class_names : sequence of str
        The task's classes, in code order.
    n_label_vectors : int
        1 + P.
    n_folds : int
        Outer folds per label vector (K x R for repeated CV).
    """

    def __init__(self, feature_names, class_names, n_label_vectors: int, n_folds: int):
        self.feature_names = tuple(feature_names)
        self.class_names = tuple(class_names)
        self.n_label_vectors = int(n_label_vectors)
        self.n_folds = int(n_folds)
        self._kind = self._scheme = None
        self._sums = self._counts = self._real = self._masks = self._weights = None
        self._seen = np.zeros((self.n_label_vectors, self.n_folds), dtype=bool)

    def _start(self, fold: FoldImportance):
        self._kind = "not-linear" if fold.kind == "not-linear" else "linear"
        self._scheme = fold.scheme
        p = len(self.feature_names)
        if self._kind == "linear":
            c = fold.activation.shape[0]
            self._sums = np.zeros((self.n_label_vectors, c, p))
            self._counts = np.zeros((self.n_label_vectors, c, p))
            self._real = np.full((self.n_folds, c, p), np.nan)
        if fold.selected is not None:
            self._masks = np.zeros((self.n_folds, p), dtype=bool)

    def add(self, label_vector: int, fold: int, record: FoldImportance) -> None:
        """Add one fold's record (label vector 0 = real labels)."""
        if self._seen[label_vector, fold]:
            raise ValueError(f"Fold {fold} of label vector {label_vector} was added twice.")
        if self._kind is None:
            self._start(record)
        elif (record.kind == "not-linear") != (self._kind == "not-linear") or \
                record.scheme != self._scheme:
            raise ValueError("Every fold of one evaluation must use the same decision scheme.")
        self._seen[label_vector, fold] = True
        if self._kind == "linear":
            values = record.activation
            finite = np.isfinite(values)
            self._sums[label_vector] += np.where(finite, values, 0.0)
            self._counts[label_vector] += finite
            if label_vector == 0:
                self._real[fold] = values
        if label_vector == 0 and self._masks is not None:
            self._masks[fold] = record.selected
        if label_vector == 0 and record.weights is not None:
            if self._weights is None:
                self._weights = np.zeros_like(record.weights)
            self._weights += record.weights

    def record(self) -> ImportanceRecord:
        """The compact record; every (label vector, fold) must have been added."""
        if not self._seen.all():
            missing = np.argwhere(~self._seen)[0]
            raise ValueError(f"Fold {missing[1]} of label vector {missing[0]} was not added.")
        if self._kind == "not-linear":
            return ImportanceRecord(self.feature_names, (), "not-linear", None, None, self._masks)
        names = decision_function_names(self.class_names, self._scheme)
        weights = None if self._weights is None else self._weights / self.n_folds
        return ImportanceRecord(self.feature_names, names, "linear",
                                _fold_mean(self._sums, self._counts), _float32(self._real),
                                self._masks, _float32(weights))


def record_nbytes(n_label_vectors: int, n_folds: int, n_features: int, n_functions: int,
                  selector: bool = True) -> dict:
    """Bytes of the full per-fold float32 array and of the compact record.

    The published shape, ``record_nbytes(51, 30, 2988, 1)``, gives 18,286,560 full and
    968,112 + 11,220 (packed masks) compact bytes; with 3 functions 54.9 MB and 2.9 MB.
    """
    full = 4 * n_label_vectors * n_folds * n_features * n_functions
    compact = 4 * (n_label_vectors + n_folds) * n_features * n_functions
    masks = n_folds * ((n_features + 7) // 8) if selector else 0
    return {"full": full, "compact": compact + masks}


def record_to_bytes(record: ImportanceRecord) -> bytes:
    """Serialise a record (``.npz``, masks bit-packed; read back without pickle)."""
    arrays = {
        # Names as UTF-8 JSON: numpy's own string arrays take 4 bytes a character.
        "names": np.frombuffer(json.dumps({
            "features": record.feature_names, "functions": record.function_names,
            "kind": record.kind}).encode("utf-8"), dtype=np.uint8),
    }
    for name in ("fold_means", "real_folds", "weights_mean"):
        if getattr(record, name) is not None:
            arrays[name] = getattr(record, name)
    if record.selected is not None:
        arrays["selected_bits"] = np.packbits(record.selected, axis=1)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def record_from_bytes(blob: bytes) -> ImportanceRecord:
    """The record :func:`record_to_bytes` wrote."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        names = json.loads(data["names"].tobytes().decode("utf-8"))
        features = tuple(names["features"])
        selected = None
        if "selected_bits" in data:
            selected = np.unpackbits(data["selected_bits"], axis=1,
                                     count=len(features)).astype(bool)
        return ImportanceRecord(
            features, tuple(names["functions"]), names["kind"],
            data.get("fold_means"), data.get("real_folds"), selected, data.get("weights_mean"))
