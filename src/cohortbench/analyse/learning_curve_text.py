"""Sentences about a learning curve for the report (from a :class:`LearningCurveProjection`).

Wording rules, so that tests can check the exact text:

- Gains are in percentage points, rounded to whole points: "each 10 more subjects would add
  about 4 points [0, 9]" ("1 point" in the singular; "less than 1 point" when the gain
  rounds to 0; a negative bound is written with a minus sign, e.g. [-2, 5]).
- Accuracies have two decimals: "at 40 subjects about 0.74 [0.66, 0.81]".
- A projection beyond twice the largest measured size says so in brackets.
- The interval level and "conditional on this cohort" close the sentence.
- Without a projection, the sentence is the result's note (why not).
"""

from __future__ import annotations

import math

from cohortbench.analyse.learning_curve import LearningCurveProjection

__all__ = ["describe_learning_curve", "describe_current_size"]


def _points(value: float) -> int:
    # Half away from zero, as people round (Python's round() goes to even)
    scaled = 100 * value
    return int(math.copysign(math.floor(abs(scaled) + 0.5), scaled))


def _gain_phrase(gain: float, low: float, high: float) -> str:
    g = _points(gain)
    if g == 0:
        amount = "less than 1 point"
    else:
        amount = f"about {g} point{'s' if abs(g) != 1 else ''}"
    return f"each 10 more subjects would add {amount} [{_points(low)}, {_points(high)}]"


def describe_learning_curve(result: LearningCurveProjection) -> str:
    """One sentence: the gain per 10 subjects and the projected accuracies, with intervals.

    Example: "Each 10 more subjects would add about 4 points [0, 9]; at 40 subjects the
    accuracy would be about 0.74 [0.66, 0.81], at 50 about 0.76 [0.66, 0.84] (90 %
    intervals, conditional on this cohort)."
    """
    if not result.projected:
        return result.note
    parts = []
    for k, row in enumerate(result.projection.itertuples(index=False)):
        lead = (f"at {row.n_subjects} subjects the accuracy would be about" if k == 0
                else f"at {row.n_subjects} about")
        text = (f"{lead} {row.predicted_accuracy:.2f} [{row.low:.2f}, {row.high:.2f}]")
        if row.extrapolated:
            text += " (extrapolated: beyond twice the measured sizes)"
        parts.append(text)
    gain = _gain_phrase(result.gain_per_10, result.gain_low, result.gain_high)
    level = f"{100 * result.level:g} %"
    sentence = f"{gain}; {', '.join(parts)} ({level} intervals, conditional on this cohort)."
    return sentence[0].upper() + sentence[1:]


def describe_current_size(result: LearningCurveProjection, label: str) -> str:
    """The measured accuracy at today's size, e.g. for comparing modality sets.

    ``label`` names the curve as a phrase ("adding the Na maps"); returns e.g. "at today's
    30 subjects, adding the Na maps gives 0.66 [0.48, 0.81]" (the interval of the measured
    mean at the largest size: the bootstrap over repeats plus the binomial term).
    """
    last = result.points.iloc[-1]
    return (f"at today's {int(last['n_subjects'])} subjects, {label} gives "
            f"{last['mean_accuracy']:.2f} [{last['low']:.2f}, {last['high']:.2f}]")
