"""Which evaluations enter analyses that compare or rank configurations.

A stage kind may keep its evaluations out of them (``StagePlan.cross_stage``; the run
records it in ``run_info["stage_kinds"]``): evaluations on subsets of subjects, or
follow-ups of one configuration, are not alternatives to rank. The per-step tests,
best-of-N, top performers and the summary read only :func:`comparable`.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["comparable", "excluded_stages"]


def excluded_stages(stage_kinds: dict | None) -> list[str]:
    """The stages whose kind keeps their evaluations out of comparisons."""
    return [stage for stage, kind in (stage_kinds or {}).items()
            if isinstance(kind, dict) and not kind.get("cross_stage", True)]


def comparable(evaluations: pd.DataFrame, stage_kinds: dict | None) -> pd.DataFrame:
    """The evaluations of stages whose kind lets them be compared and ranked."""
    excluded = excluded_stages(stage_kinds)
    return evaluations[~evaluations["stage"].isin(excluded)] if excluded else evaluations
