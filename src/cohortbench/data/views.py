"""Plain data handed from the data layer to everything downstream."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Block", "View", "Task"]


@dataclass(frozen=True)
class Block:
    """One map's contiguous columns ``[start, stop)`` in a view's feature matrix."""

    name: str
    start: int
    stop: int


@dataclass(frozen=True, eq=False)
class View:
    """A (modalities, parcellation) view of a cohort as a feature matrix.

    Attributes
    ----------
    X : ndarray of shape (n_subjects, n_features), float64
        Features; NaN marks a missing value.
    subjects : tuple of str
        Subject IDs, one per row (after any ``drop-subjects`` policy).
    columns : tuple of str
        Feature names ``"<map>:<roi>"``, in a stable order (maps in modality order,
        ROIs in the order of the map table).
    blocks : tuple of Block
        Column boundaries of each map (the row scaler scales within each).
    modalities : tuple of str
        Modality names used, in the order given.
    parcellation : str
        Parcellation name.
    dropped : dict
        Subject ID -> reason, for subjects left out of this view.
    """

    X: np.ndarray
    subjects: tuple[str, ...]
    columns: tuple[str, ...]
    blocks: tuple[Block, ...]
    modalities: tuple[str, ...]
    parcellation: str
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def block_bounds(self) -> tuple[tuple[int, int], ...]:
        return tuple((b.start, b.stop) for b in self.blocks)

    @property
    def fingerprint(self) -> str:
        """Content hash of the matrix, subjects, columns and blocks."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.X, dtype=np.float64).tobytes())
        for part in (self.subjects, self.columns, tuple(map(repr, self.blocks))):
            h.update("\x1f".join(part).encode())
            h.update(b"\x1e")
        return h.hexdigest()[:16]


@dataclass(frozen=True)
class Task:
    """A classification task resolved against the clinical table.

    Attributes
    ----------
    name : str
    classes : tuple of str
        Class names, in the order the study gives them (label code = position).
    subjects : tuple of str
        Subjects that are evaluated (each appears in a test fold once).
    labels : tuple of str
        Class name of each of ``subjects``.
    train_only_subjects : tuple of str
        Hybrid training: subjects that join every training fold, never a test fold.
    train_only_labels : tuple of str
        Class name given to each train-only subject.
    """

    name: str
    classes: tuple[str, ...]
    subjects: tuple[str, ...]
    labels: tuple[str, ...]
    train_only_subjects: tuple[str, ...] = ()
    train_only_labels: tuple[str, ...] = ()

    def class_counts(self) -> dict[str, int]:
        return {c: self.labels.count(c) for c in self.classes}
