"""Statistics over finished evaluations: per-step tests, top performers, family-wise p.

This layer reads plain DataFrames (the ``evaluations``/``nulls`` tables of SPEC section 8)
and never runs an evaluation.
"""

from cohortbench.analyse.familywise import (
    FAMILYWISE_EXPLANATION,
    describe_configuration,
    familywise_best,
)
from cohortbench.analyse.step_tests import (
    STEP_COLUMNS,
    benjamini_hochberg,
    holm,
    step_table_for_display,
    step_tests,
)
from cohortbench.analyse.top_performers import top_performers

__all__ = [
    "step_tests",
    "step_table_for_display",
    "holm",
    "benjamini_hochberg",
    "STEP_COLUMNS",
    "top_performers",
    "familywise_best",
    "FAMILYWISE_EXPLANATION",
    "describe_configuration",
]
