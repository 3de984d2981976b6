"""What confound removal and harmonization did: each configuration against its twin without.

When a study varies ``confounds`` or ``harmonize`` (issue 21), every evaluation with one
of them set has a twin: the same stage, task, classifier and every other pipeline field
(the other side step included), with that step at ``none``. The two predicted the same
subjects on the same outer folds, so they are compared subject by subject with the exact
McNemar test (:mod:`cohortbench.analyse.paired`), as the report's other paired
comparisons are. The per-step Wilcoxon tests (:mod:`cohortbench.analyse.step_tests`)
summarise the same pairs over a whole grid; this table shows each pair.
"""

from __future__ import annotations

import pandas as pd

from cohortbench.analyse.familywise import describe_configuration
from cohortbench.analyse.paired import EvaluationPredictions, paired_comparison
from cohortbench.design.vocabulary import FIELD_LABELS, KEY_FIELDS, SIDE_STEPS, pipeline_key

__all__ = ["SIDE_EFFECT_COLUMNS", "side_step_comparisons"]

_SAME = "the same pipeline as the other evaluations"  # describe_configuration's fallback

#: The columns of :func:`side_step_comparisons`.
SIDE_EFFECT_COLUMNS = ["stage", "task", "classifier", "step", "option", "configuration",
                       "accuracy_with", "accuracy_without", "right_only_with",
                       "right_only_without", "p_value", "sentence", "evaluation_with",
                       "evaluation_without"]


def side_step_comparisons(evaluations: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """Exact McNemar comparisons of every side-step option with its twin at ``none``.

    Parameters
    ----------
    evaluations, predictions : DataFrame
        The ``evaluations.csv`` and ``predictions.csv`` tables.

    Returns
    -------
    DataFrame
        Columns :data:`SIDE_EFFECT_COLUMNS`, one row per (evaluation with a side step
        set, step) whose twin exists and is comparable, in the evaluations' order.
        Empty when the evaluations have no side-step column.
    """
    steps = [s for s in SIDE_STEPS if s in evaluations.columns]
    if not steps or predictions is None or predictions.empty or evaluations.empty:
        return pd.DataFrame(columns=SIDE_EFFECT_COLUMNS)
    fields = list(KEY_FIELDS)
    varying = [f for f in fields if f in evaluations.columns
               and evaluations[f].astype(str).nunique() > 1]
    twins = {(row["stage"], row["task"], row["classifier"], pipeline_key(row)): row
             for _, row in evaluations.iterrows()}
    rows = []
    for (stage, task, classifier, key), row in twins.items():
        for step in steps:
            option = key[fields.index(step)]
            if option == "none":
                continue
            partner = list(key)
            partner[fields.index(step)] = "none"
            other = twins.get((stage, task, classifier, tuple(partner)))
            if other is None:
                continue
            a = EvaluationPredictions.from_frames(evaluations, predictions, row["evaluation_id"])
            b = EvaluationPredictions.from_frames(evaluations, predictions,
                                                  other["evaluation_id"])
            label = FIELD_LABELS[step].lower()
            compared = paired_comparison(a, b, names=(f"with {label} ({option})",
                                                      f"without {label}"))
            if not compared.comparable:
                continue
            rows.append({
                "stage": stage, "task": task, "classifier": classifier, "step": step,
                "option": option, "configuration": _others(other, varying, step),
                "accuracy_with": float(row["accuracy"]),
                "accuracy_without": float(other["accuracy"]),
                "right_only_with": compared.b, "right_only_without": compared.c,
                "p_value": compared.p_value, "sentence": compared.sentence,
                "evaluation_with": row["evaluation_id"],
                "evaluation_without": other["evaluation_id"],
            })
    return pd.DataFrame(rows, columns=SIDE_EFFECT_COLUMNS)


def _others(row, varying: list[str], step: str) -> str:
    """The twin's other varying fields in words ('' when none is set)."""
    others = [f for f in varying if f != step]
    text = describe_configuration(row, others) if others else ""
    return "" if text == _SAME else text
