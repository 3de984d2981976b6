"""Pipeline configurations: frozen, hashable, with a stable content-derived id."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

__all__ = [
    "PipelineConfig",
    "CVScheme",
    "ROW_SCALINGS",
    "COLUMN_SCALINGS",
    "IMPUTATIONS",
    "FEATURE_SELECTIONS",
    "DIM_REDUCTIONS",
    "SEARCHES",
    "content_id",
]

ROW_SCALINGS = ("none", "standard", "minmax")
COLUMN_SCALINGS = ("none", "standard", "minmax")
IMPUTATIONS = ("none", "mean", "median")
FEATURE_SELECTIONS = ("none", "kbest", "rfe")
DIM_REDUCTIONS = ("none", "pca", "lda")
SEARCHES = ("none", "grid", "random", "bayes")


def content_id(obj) -> str:
    """A short, stable hash of a JSON-serialisable object (keys sorted)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PipelineConfig:
    """One pipeline: the steps of SPEC section 3 in their fixed order.

    ``n_features`` is given only with a feature selector (``kbest`` or ``rfe``);
    the engine caps it at the number of available features and records the cap.
    ``search='none'`` means the classifier's library defaults, no inner CV.
    """

    classifier: str
    row_scaling: str = "none"
    imputation: str = "none"
    column_scaling: str = "none"
    feature_selection: str = "none"
    n_features: int | None = None
    dim_reduction: str = "none"
    search: str = "none"

    def __post_init__(self):
        for name, allowed in (
            ("row_scaling", ROW_SCALINGS),
            ("imputation", IMPUTATIONS),
            ("column_scaling", COLUMN_SCALINGS),
            ("feature_selection", FEATURE_SELECTIONS),
            ("dim_reduction", DIM_REDUCTIONS),
            ("search", SEARCHES),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}.")
        if self.feature_selection == "none" and self.n_features is not None:
            raise ValueError("n_features is only meaningful with a feature selector.")
        if self.feature_selection != "none" and (self.n_features is None or self.n_features < 1):
            raise ValueError("a feature selector needs n_features >= 1.")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def id(self) -> str:
        return content_id(self.to_dict())


@dataclass(frozen=True)
class CVScheme:
    """How an evaluation is cross-validated and permutation-tested.

    outer : ``loo`` | ``stratified-kfold:K`` | ``repeated-stratified-kfold:K:R``
    inner : ``stratified-kfold:K`` (used only when a search runs)
    permutations : number of label shuffles (0 = no permutation test)
    seed : the study seed; every random choice derives from it
    reduce_inner_k : lower the inner K to the smallest class size instead of failing
    """

    outer: str = "loo"
    inner: str = "stratified-kfold:5"
    permutations: int = 50
    seed: int = 0
    reduce_inner_k: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def id(self) -> str:
        return content_id(self.to_dict())
