"""What a reader may conclude from a result, in plain words.

- :func:`verdict` — the verdict table of issue 18 for one configuration:

  ========================================  ==================================================
  condition                                 verdict (``key``)
  ========================================  ==================================================
  fewer than 19 shuffles (for alpha 0.05)   too few shuffles to tell; the smallest possible p
                                            is 1/(P+1) (``too-few-shuffles``)
  family-wise p < 0.05                      above chance even after choosing the best of N
                                            (``above-chance-familywise``)
  p < 0.05, family-wise p ≥ 0.05            this configuration alone is above chance, but not
                                            once the choice among N is accounted for
                                            (``above-chance-alone``)
  otherwise                                 not distinguishable from chance (``chance``)
  ========================================  ==================================================

  The permutation p-value is (1 + #{shuffles at least as accurate}) / (1 + P), so it can
  never be smaller than 1/(P+1): with P < 19 shuffles it cannot reach 0.05 whatever the
  data, and a Z-score computed from so few null accuracies means little
  (:func:`p_floor`, :func:`z_is_meaningful`).

  "p < 0.05" in the table is applied as p <= alpha: rejecting when (1 + b)/(1 + P) <= alpha
  is a valid test of level alpha (Phipson & Smyth 2010, "Permutation p-values should
  never be zero", Stat. Appl. Genet. Mol. Biol. 9:39), and it is what makes 19 shuffles
  (floor 1/20 = 0.05) enough, as the table's first row says. With the strict inequality
  19 shuffles could never give "above chance" and 20 would be the minimum.
- :func:`wilcoxon_floor` — the smallest p-value a per-step Wilcoxon signed-rank row can
  reach with n pairs.
- :func:`explain_below_chance` — the leave-one-out class-balance artefact behind
  accuracies far below chance.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "MIN_PERMUTATIONS",
    "Verdict",
    "verdict",
    "p_floor",
    "permutations_needed",
    "z_is_meaningful",
    "format_p",
    "WilcoxonFloor",
    "wilcoxon_floor",
    "loo_training_majority",
    "explain_below_chance",
]

# p-values that differ from the floor by rounding only count as the floor.
_TOLERANCE = 1e-12


def permutations_needed(alpha: float = 0.05) -> int:
    """Fewest shuffles P whose floor 1/(P+1) reaches ``alpha`` (19 for 0.05, 99 for 0.01)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1; got {alpha}.")
    return max(0, math.ceil(1.0 / alpha - 1.0 - 1e-9))


#: Fewest shuffles with which p can reach 0.05: the floor 1/(19 + 1) is 0.05 itself.
MIN_PERMUTATIONS = permutations_needed(0.05)


def p_floor(n_permutations: int) -> float:
    """The smallest permutation p-value possible with P shuffles: 1 / (P + 1)."""
    n_permutations = int(n_permutations)
    if n_permutations < 0:
        raise ValueError(f"the number of shuffles must be >= 0; got {n_permutations}.")
    return 1.0 / (n_permutations + 1)


def z_is_meaningful(n_permutations: int) -> bool:
    """Whether a Z-score from P shuffles is worth showing (P >= 19, the 0.05 floor)."""
    return int(n_permutations) >= MIN_PERMUTATIONS


def format_p(p: float) -> str:
    """A p-value for sentences: three decimals, two significant digits below 0.001."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "not available"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.2g}"


@dataclass(frozen=True)
class Verdict:
    """One row of the verdict table.

    Attributes
    ----------
    key : str
        ``too-few-shuffles``, ``above-chance-familywise``, ``above-chance-alone`` or
        ``chance``.
    sentence : str
        What the reader may conclude, in plain words.
    """

    key: str
    sentence: str


def _missing(value) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and math.isnan(value))


def _p_words(p: float, n_permutations: int) -> str:
    if abs(p - p_floor(n_permutations)) <= _TOLERANCE:
        return f"{format_p(p)}, the smallest possible with {n_permutations} shuffles"
    return format_p(p)


def verdict(accuracy: float, ci_low: float | None, ci_high: float | None,
            p_value: float | None, familywise_p: float | None, n_permutations: int,
            n_configurations: int, *, alpha: float = 0.05,
            confidence: float = 0.95) -> Verdict:
    """The verdict on one (best) configuration, by the table of the module docstring.

    Parameters
    ----------
    accuracy : float
    ci_low, ci_high : float or None
        Its interval (:func:`cohortbench.store.intervals.accuracy_interval`); None to
        leave it out of the sentence.
    p_value : float or None
        Its own permutation p-value (None only when P = 0).
    familywise_p : float or None
        The family-wise p-value of the best of the N configurations; ignored (taken as
        ``p_value``) when N = 1, required when N > 1 and P >= 19.
    n_permutations : int
        P, the number of shuffles.
    n_configurations : int
        N, the configurations the best was chosen from.
    alpha : float, default 0.05
    confidence : float, default 0.95
        Of the interval, for the sentence.

    Returns
    -------
    Verdict
    """
    n_permutations, n_configurations = int(n_permutations), int(n_configurations)
    head = f"Accuracy {accuracy:.3f}"
    if not (_missing(ci_low) or _missing(ci_high)):
        head += f" ({100 * confidence:g} % interval {ci_low:.3f}–{ci_high:.3f})"
    needed = permutations_needed(alpha)
    if n_permutations < needed:
        if n_permutations == 0:
            return Verdict("too-few-shuffles", (
                f"{head}: no shuffled-label runs were made, so whether it is above chance "
                f"cannot be told; at least {needed} shuffles are needed for "
                f"p ≤ {alpha:g}."))
        return Verdict("too-few-shuffles", (
            f"{head}: too few shuffles to tell; with {n_permutations} shuffled-label runs "
            f"the smallest possible p-value is 1/{n_permutations + 1} = "
            f"{format_p(p_floor(n_permutations))}, so at least {needed} are "
            f"needed for p ≤ {alpha:g}."))
    if _missing(p_value):
        raise ValueError("p_value is required when shuffles were run.")
    if n_configurations <= 1:
        familywise_p = p_value
    elif _missing(familywise_p):
        raise ValueError("familywise_p is required when the best of several configurations "
                         "is judged.")
    own = _p_words(p_value, n_permutations)
    family = _p_words(familywise_p, n_permutations)
    if familywise_p <= alpha + _TOLERANCE:
        if n_configurations <= 1:
            return Verdict("above-chance-familywise",
                           f"{head} is above chance (p = {own}).")
        return Verdict("above-chance-familywise", (
            f"{head} is above chance even after choosing the best of {n_configurations} "
            f"configurations (family-wise p = {family}; its own p = {own})."))
    if p_value <= alpha + _TOLERANCE:
        return Verdict("above-chance-alone", (
            f"{head}: this configuration alone is above chance (p = {own}), but not once "
            f"the choice among {n_configurations} configurations is accounted for "
            f"(family-wise p = {family})."))
    extra = f", family-wise p = {family}" if n_configurations > 1 else ""
    return Verdict("chance", f"{head} is not distinguishable from chance (p = {own}{extra}).")


@dataclass(frozen=True)
class WilcoxonFloor:
    """The best a Wilcoxon signed-rank row can do with its number of pairs.

    Attributes
    ----------
    n_pairs : int
        Non-zero paired differences.
    smallest_p : float
        Exact two-sided minimum, 2 / 2**n (capped at 1): every difference of one sign.
    can_reach : bool
        Whether ``smallest_p`` < alpha.
    sentence : str
    """

    n_pairs: int
    smallest_p: float
    can_reach: bool
    sentence: str


def wilcoxon_floor(n_pairs: int, alpha: float = 0.05) -> WilcoxonFloor:
    """The smallest attainable two-sided exact Wilcoxon signed-rank p with n pairs.

    Parameters
    ----------
    n_pairs : int
        The number of non-zero differences (the test discards zeros, so with the step
        table's ``n_pairs``, which counts them, this is a lower bound on the floor).
    alpha : float, default 0.05

    Returns
    -------
    WilcoxonFloor
        With n pairs the exact null puts probability 2**-n on each sign pattern; the most
        extreme patterns (all + or all -) give p = 2 / 2**n, so n >= 6 is needed to reach
        0.05 (2/64 = 0.031; with 5 pairs 2/32 = 0.0625).
    """
    n = int(n_pairs)
    if n < 0:
        raise ValueError(f"n_pairs must be >= 0; got {n}.")
    smallest = min(1.0, 2.0 / 2.0**n)
    can_reach = smallest < alpha
    if n == 0:
        sentence = "With no non-zero difference there is nothing to test."
    elif can_reach:
        sentence = f"With {n} pairs the smallest possible p-value is {format_p(smallest)}."
    else:
        sentence = (f"With {n} pairs the smallest possible p-value is {format_p(smallest)}, "
                    f"so this row cannot reach {alpha:g}.")
    return WilcoxonFloor(n, smallest, can_reach, sentence)


def loo_training_majority(y_true) -> list:
    """The largest class of each leave-one-out training fold (None on a tie).

    Parameters
    ----------
    y_true : array-like, shape (n_subjects,)

    Returns
    -------
    list
        Entry i: the class with most subjects once subject i is left out, or None when
        several classes tie for it.
    """
    y_true = list(y_true)
    counts = Counter(y_true)
    out = []
    for label in y_true:
        fold = dict(counts)
        fold[label] -= 1
        top = max(fold.values())
        winners = [c for c, k in fold.items() if k == top]
        out.append(winners[0] if len(winners) == 1 else None)
    return out


def explain_below_chance(y_true, y_pred, *, chance: float | None = None,
                         share: float = 0.75) -> str | None:
    """Explain a below-chance leave-one-out accuracy by the class balance, if it applies.

    Leaving one subject out of a (nearly) balanced cohort makes the *other* class the
    larger one of that training fold. A classifier that learns little beyond the class
    balance then predicts, for every held-out subject, a class it does not belong to, and
    the accuracy falls far below chance (to 0 in the extreme). This is an artefact, not
    a reversed signal.

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n_subjects,)
        True and predicted labels of the evaluated subjects (leave-one-out).
    chance : float, optional
        The chance level to compare with (default 1 / number of classes). Not the null
        mean: under this artefact the shuffled runs fall just as low.
    share : float, default 0.75
        How concentrated the predictions must be: the fraction of subjects predicted as
        their training fold's largest class, or given the most frequent prediction.

    Returns
    -------
    str or None
        A sentence when the accuracy is below chance and the predictions follow the
        training folds' majority class or sit mostly on one class; None otherwise.
    """
    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError("y_true and y_pred need one entry per subject each.")
    classes = pd.unique(y_true)
    chance = 1.0 / len(classes) if chance is None else float(chance)
    accuracy = float(np.mean(y_true == y_pred))
    if accuracy >= chance:
        return None
    majority = loo_training_majority(y_true)
    decided = [(m, p) for m, p in zip(majority, y_pred) if m is not None]
    follows = sum(m == p for m, p in decided)
    head = f"Accuracy {accuracy:.3f} is below chance ({chance:.3f})"
    other = "the other class" if len(classes) == 2 else "another class"
    if decided and follows / len(decided) >= share:
        return (f"{head} because the classifier mostly predicted the larger class of its "
                f"training fold ({follows} of {len(decided)} subjects): leaving one subject "
                f"out makes {other} the larger one, so a classifier that learns little "
                "beyond the class balance is wrong on nearly every held-out subject; this is "
                "an artefact of leave-one-out on balanced classes, not a reversed signal.")
    top, count = Counter(y_pred.tolist()).most_common(1)[0]
    if count / y_pred.size >= share:
        return (f"{head} and {count} of {y_pred.size} predictions are '{top}': the "
                "classifier learned little beyond the class balance of its training folds, "
                "and with leave-one-out that balance tilts against each held-out subject; "
                "read it as no signal, not as a reversed one.")
    return None
