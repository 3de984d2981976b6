"""Figures and the self-contained HTML report (SPEC section 9).

This layer draws what :mod:`cohortbench.analyse` computes; nothing below imports it.
"""

from cohortbench.report.figures import (
    classifier_screen,
    null_comparison,
    save_figure,
    search_strategies,
    step_strips,
    step_strips_pooled,
    top_performer_options,
)
from cohortbench.report.html_report import build_report, infer_stage_kind

__all__ = [
    "build_report",
    "infer_stage_kind",
    "classifier_screen",
    "step_strips",
    "step_strips_pooled",
    "top_performer_options",
    "search_strategies",
    "null_comparison",
    "save_figure",
]
