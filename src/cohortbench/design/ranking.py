"""Which evaluation is "the best": one rule for every place that picks one.

The report's summary and the family-wise p (:mod:`cohortbench.analyse.familywise`)
name the best configuration of a task; the ``importance`` stage kind
(:mod:`cohortbench.design.importance_stage`) examines that same configuration. The
rule lives here, in the design layer, so that both read it from one place.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["best_position"]


def best_position(frame: pd.DataFrame, metric: str = "accuracy") -> int:
    """Position (0-based, in row order) of the best row of ``frame``.

    The highest ``metric``, ties broken by the higher Z-score (a missing Z ranks
    last), then by the earlier row (evaluation order).
    """
    metric_values = pd.to_numeric(frame[metric], errors="coerce").to_numpy(dtype=float)
    metric_values = np.where(np.isfinite(metric_values), metric_values, -np.inf)
    z = pd.to_numeric(frame["z_score"], errors="coerce").to_numpy(dtype=float)
    z = np.where(np.isfinite(z), z, -np.inf)
    order = np.lexsort((np.arange(len(frame)), -z, -metric_values))
    return int(order[0])
