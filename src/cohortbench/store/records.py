"""The result record of one evaluation: plain data written to the store."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["EvaluationResult"]


@dataclass(frozen=True, repr=False)
class EvaluationResult:
    """Everything one evaluation produced (SPEC section 3.6).

    Labels are class names. ``null_*``, ``z_score`` and ``p_value`` are ``None``
    when no permutation test ran. ``chosen_params`` holds one dict per outer fold
    (empty dicts when no search ran). ``engine`` says which path computed it.
    ``records`` holds the extra per-fold records the evaluation asked for:
    ``{name: [[value per outer fold] per label vector]}`` (label vector 0 = real labels).
    ``numerically_reliable`` is False when some of the evaluation's RFE ranking fits
    (``unreliable_fraction`` of them, real and shuffled labels) violate their
    optimality conditions on the float64 problem (None: no RFE ranking fit).
    """

    task: str
    classes: tuple[str, ...]
    config_id: str
    view_fingerprint: str
    folds_id: str
    accuracy: float
    balanced_accuracy: float
    f1_macro: float
    confusion: tuple[tuple[int, ...], ...]
    subjects: tuple[str, ...]
    true_labels: tuple[str, ...]
    predicted_labels: tuple[str, ...]
    null_accuracies: tuple[float, ...] = ()
    null_mean: float | None = None
    null_std: float | None = None
    z_score: float | None = None
    p_value: float | None = None
    chosen_params: tuple[dict, ...] = ()
    seconds: float = 0.0
    n_features_used: int | None = None
    engine: str = "reference"
    warnings: tuple[str, ...] = field(default_factory=tuple)
    records: dict = field(default_factory=dict)
    numerically_reliable: bool | None = None
    unreliable_fraction: float | None = None

    def __repr__(self) -> str:
        # The full record holds every prediction and null accuracy: show the headline.
        p = "no permutation test" if self.p_value is None else \
            f"p={self.p_value:.3g} over {len(self.null_accuracies)} shuffles"
        return (f"EvaluationResult(task={self.task!r}, accuracy={self.accuracy:.3f}, "
                f"balanced_accuracy={self.balanced_accuracy:.3f}, {p}, "
                f"n_subjects={len(self.subjects)}, engine={self.engine!r})")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "EvaluationResult":
        d = dict(d)
        for key in ("classes", "subjects", "true_labels", "predicted_labels",
                    "null_accuracies", "chosen_params", "warnings"):
            d[key] = tuple(d.get(key) or ())
        d["confusion"] = tuple(tuple(row) for row in d["confusion"])
        d["records"] = dict(d.get("records") or {})
        return cls(**d)
