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
    "HARMONIZATIONS",
    "UNSEEN_SITE_RULES",
    "content_id",
]

ROW_SCALINGS = ("none", "standard", "minmax")
COLUMN_SCALINGS = ("none", "standard", "minmax")
IMPUTATIONS = ("none", "mean", "median")
FEATURE_SELECTIONS = ("none", "kbest", "rfe")
DIM_REDUCTIONS = ("none", "pca", "lda")
SEARCHES = ("none", "grid", "random", "bayes")
HARMONIZATIONS = ("none", "combat")
#: What a held-out subject from a site unseen in training gets (docs/harmonization.md).
UNSEEN_SITE_RULES = ("error", "fit-unlabeled")

# The steps added for covariates and sites (issue 21), with their defaults. A
# configuration that leaves them at their defaults has exactly the dict (and id) it
# had before they existed, so stored evaluation keys and exports stay the same.
_SIDE_DEFAULTS = {"confounds": (), "harmonize": "none", "preserve": (), "unseen_site": "error"}


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

    ``confounds`` names the covariates regressed out of every feature (in-fold);
    ``harmonize='combat'`` harmonizes the sites with ComBat, keeping the effects of
    the ``preserve`` covariates, and ``unseen_site`` says what a held-out subject
    from a site unseen in training gets (see ``docs/harmonization.md``). At their
    defaults these fields are left out of :meth:`to_dict`.
    """

    classifier: str
    row_scaling: str = "none"
    imputation: str = "none"
    column_scaling: str = "none"
    feature_selection: str = "none"
    n_features: int | None = None
    dim_reduction: str = "none"
    search: str = "none"
    confounds: tuple[str, ...] = ()
    harmonize: str = "none"
    preserve: tuple[str, ...] = ()
    unseen_site: str = "error"

    def __post_init__(self):
        for name in ("confounds", "preserve"):  # lists from callers become tuples
            value = getattr(self, name)
            if isinstance(value, str):
                raise ValueError(f"{name} must be a sequence of covariate names; got {value!r}.")
            object.__setattr__(self, name, tuple(str(v) for v in value))
            if len(set(getattr(self, name))) != len(getattr(self, name)):
                raise ValueError(f"{name} names a covariate twice: {value!r}.")
        for name, allowed in (
            ("row_scaling", ROW_SCALINGS),
            ("imputation", IMPUTATIONS),
            ("column_scaling", COLUMN_SCALINGS),
            ("feature_selection", FEATURE_SELECTIONS),
            ("dim_reduction", DIM_REDUCTIONS),
            ("search", SEARCHES),
            ("harmonize", HARMONIZATIONS),
            ("unseen_site", UNSEEN_SITE_RULES),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}.")
        if self.feature_selection == "none" and self.n_features is not None:
            raise ValueError("n_features is only meaningful with a feature selector.")
        if self.feature_selection != "none" and (self.n_features is None or self.n_features < 1):
            raise ValueError("a feature selector needs n_features >= 1.")
        if self.harmonize == "none" and (self.preserve or self.unseen_site != "error"):
            raise ValueError("preserve and unseen_site are only meaningful with harmonize='combat'.")

    @property
    def uses_side_data(self) -> bool:
        """Whether a step needs the covariates or the site (confounds, harmonize)."""
        return bool(self.confounds) or self.harmonize != "none"

    def to_dict(self) -> dict:
        """The fields as a dict; the side-data fields only where not at their default."""
        out = asdict(self)
        for name, default in _SIDE_DEFAULTS.items():
            if out[name] == default:
                del out[name]
            else:
                out[name] = list(out[name]) if isinstance(default, tuple) else out[name]
        return out

    @property
    def id(self) -> str:
        return content_id(self.to_dict())


@dataclass(frozen=True)
class CVScheme:
    """How an evaluation is cross-validated and permutation-tested.

    outer : ``loo`` | ``stratified-kfold:K`` | ``repeated-stratified-kfold:K:R`` |
        ``leave-site-out`` (one fold per site of the problem's batch column)
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
