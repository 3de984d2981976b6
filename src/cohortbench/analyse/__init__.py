"""Statistics over finished evaluations: per-step tests, top performers, family-wise p,
intervals, paired (McNemar) comparisons and verdicts in plain words.

This layer reads plain DataFrames (the ``evaluations``/``nulls`` tables of SPEC section 8)
and never runs an evaluation.
"""

from cohortbench.analyse.familywise import (
    FAMILYWISE_EXPLANATION,
    describe_configuration,
    familywise_best,
)
from cohortbench.store.intervals import (
    EvaluationIntervals,
    Interval,
    accuracy_interval,
    balanced_accuracy_interval,
    evaluation_intervals,
    intervals_from_confusion,
)
from cohortbench.analyse.paired import EvaluationPredictions, PairedComparison, paired_comparison
from cohortbench.analyse.step_tests import (
    STEP_COLUMNS,
    benjamini_hochberg,
    holm,
    step_table_for_display,
    step_tests,
)
from cohortbench.analyse.top_performers import top_performers
from cohortbench.analyse.verdicts import (
    Verdict,
    explain_below_chance,
    p_floor,
    verdict,
    wilcoxon_floor,
    z_is_meaningful,
)

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
    "Interval",
    "EvaluationIntervals",
    "accuracy_interval",
    "balanced_accuracy_interval",
    "evaluation_intervals",
    "intervals_from_confusion",
    "EvaluationPredictions",
    "PairedComparison",
    "paired_comparison",
    "Verdict",
    "verdict",
    "p_floor",
    "z_is_meaningful",
    "wilcoxon_floor",
    "explain_below_chance",
]
