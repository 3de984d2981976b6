"""Two evaluations on the same subjects: the exact McNemar test.

Two pipelines evaluated on the same subjects with the same folds are compared subject
by subject: only the *discordant* subjects count, those one pipeline classified
correctly and the other did not (b: A right and B wrong; c: A wrong and B right). Under
the hypothesis that the two are equally good, each discordant subject is a fair coin, so
the exact two-sided p-value is that of a binomial test of b successes in b + c trials
with probability 1/2 (McNemar 1947; the exact form recommended by Dietterich 1998 for
comparing classifiers). With no discordant subject p = 1.

Two caveats, said in the sentence and in ``docs/interpreting.md``:

- Cross-validated predictions are not independent (the training sets of the folds
  overlap almost entirely), so the test's independence assumption holds only
  approximately and its p is approximate.
- With repeated k-fold the store keeps one predicted label per subject, the majority vote
  over the repeats; the test then compares those votes, while the accuracies shown are
  the pooled ones.

Evaluations are comparable only when they are of the same task, on the same subjects
with the same true labels, and on the same outer folds (same ``folds_id``); otherwise
:func:`paired_comparison` returns ``comparable=False`` with a one-sentence reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from scipy import stats

from cohortbench.store.intervals import (
    EvaluationIntervals,
    evaluation_intervals,
    intervals_from_confusion,
)
from cohortbench.analyse.verdicts import format_p

__all__ = ["EvaluationPredictions", "PairedComparison", "mcnemar_exact", "paired_comparison"]

#: Why the p-value is approximate, for readers.
DEPENDENCE_CAVEAT = "approximate, because cross-validated predictions are not independent"


@dataclass(frozen=True)
class EvaluationPredictions:
    """One evaluation's per-subject predictions and what decides comparability.

    Attributes
    ----------
    evaluation_id, task : str
    folds_id : str or None
        Content id of the outer folds (``evaluations.csv``); None when unknown.
    subjects, true_labels, predicted_labels : tuple of str
        One entry per distinct evaluated subject (the ``predictions.csv`` rows).
    confusion : tuple of tuple of int, optional
        The stored pooled confusion matrix (rows = true class, summed over repeats). When
        given, the intervals and accuracy come from it (exact for repeated k-fold);
        otherwise from the predicted labels.
    description : str
        How to name it for readers (stage, task, classifier, pipeline).
    """

    evaluation_id: str
    task: str
    folds_id: str | None
    subjects: tuple[str, ...]
    true_labels: tuple[str, ...]
    predicted_labels: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...] | None = None
    description: str = ""

    @classmethod
    def from_frames(cls, evaluations: pd.DataFrame, predictions: pd.DataFrame,
                    evaluation_id: str, confusion=None,
                    description: str = "") -> "EvaluationPredictions":
        """Build from the exported ``evaluations`` and ``predictions`` tables."""
        row = evaluations.loc[evaluations["evaluation_id"] == evaluation_id]
        if len(row) != 1:
            raise ValueError(f"evaluations hold {len(row)} rows for {evaluation_id!r}, not 1.")
        row = row.iloc[0]
        rows = predictions.loc[predictions["evaluation_id"] == evaluation_id]
        folds = row.get("folds_id")
        return cls(
            evaluation_id=str(evaluation_id),
            task=str(row["task"]),
            folds_id=None if folds is None or pd.isna(folds) else str(folds),
            subjects=tuple(map(str, rows["subject"])),
            true_labels=tuple(map(str, rows["true_label"])),
            predicted_labels=tuple(map(str, rows["predicted_label"])),
            confusion=None if confusion is None else tuple(tuple(int(v) for v in r)
                                                          for r in confusion),
            description=description,
        )

    @property
    def n_repeats(self) -> int:
        """Repeats of the outer CV (1 unless repeated k-fold; from the confusion matrix)."""
        if self.confusion is None or not self.subjects:
            return 1
        return max(1, round(sum(map(sum, self.confusion)) / len(self.subjects)))

    def intervals(self, confidence: float = 0.95) -> EvaluationIntervals:
        """Accuracy and balanced-accuracy intervals (:mod:`cohortbench.store.intervals`)."""
        if self.confusion is not None:
            return intervals_from_confusion(self.confusion, len(self.subjects),
                                            confidence=confidence)
        rows = pd.DataFrame({"subject": self.subjects, "true_label": self.true_labels,
                             "predicted_label": self.predicted_labels})
        return evaluation_intervals(rows, confidence=confidence)


@dataclass(frozen=True)
class PairedComparison:
    """The outcome of comparing evaluations A and B.

    Attributes
    ----------
    comparable : bool
        False when the two differ in task, subjects, labels or folds; then only
        ``reason`` and ``sentence`` (the same sentence) are meaningful.
    reason : str
        Why they cannot be compared ('' when they can).
    id_a, id_b : str
    n_subjects : int
    accuracy_a, accuracy_b : float
        Each evaluation's (pooled) accuracy.
    b : int
        Subjects A classified correctly and B did not.
    c : int
        Subjects A classified wrongly and B correctly.
    p_value : float
        Exact two-sided McNemar p-value.
    sentence : str
        The result in plain words.
    intervals_a, intervals_b : EvaluationIntervals or None
    majority_vote : bool
        True when the predictions compared are majority votes over repeats.
    description_a, description_b : str
        The evaluations' descriptions (:attr:`EvaluationPredictions.description`).
    """

    comparable: bool
    reason: str
    id_a: str
    id_b: str
    sentence: str
    n_subjects: int = 0
    accuracy_a: float = math.nan
    accuracy_b: float = math.nan
    b: int = 0
    c: int = 0
    p_value: float = math.nan
    intervals_a: EvaluationIntervals | None = None
    intervals_b: EvaluationIntervals | None = None
    majority_vote: bool = False
    description_a: str = ""
    description_b: str = ""


def mcnemar_exact(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value from the discordant counts (1.0 when b + c = 0)."""
    b, c = int(b), int(c)
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0; got b={b}, c={c}.")
    if b + c == 0:
        return 1.0
    return float(stats.binomtest(b, b + c, 0.5).pvalue)


def _refusal(a: EvaluationPredictions, b: EvaluationPredictions, names) -> str:
    name_a, name_b = names
    if a.task != b.task:
        return (f"{name_a} is an evaluation of task '{a.task}' and {name_b} of task "
                f"'{b.task}', so they do not share their subjects; compare two evaluations "
                "of the same task.")
    only_a = sorted(set(a.subjects) - set(b.subjects))
    only_b = sorted(set(b.subjects) - set(a.subjects))
    if only_a or only_b:
        first = (only_a or only_b)[0]
        return (f"{name_a} and {name_b} were evaluated on different subjects ({len(only_a)} "
                f"only in {name_a}, {len(only_b)} only in {name_b}, such as {first}), so their "
                "predictions cannot be paired subject by subject.")
    labels_b = dict(zip(b.subjects, b.true_labels))
    for subject, label in zip(a.subjects, a.true_labels):
        if labels_b[subject] != label:
            return (f"Subject {subject} has the true label '{label}' in {name_a} and "
                    f"'{labels_b[subject]}' in {name_b}, so the two evaluations do not "
                    "answer the same question.")
    if a.folds_id is None or b.folds_id is None or a.folds_id != b.folds_id:
        return (f"{name_a} and {name_b} were cross-validated on different folds (folds_id "
                f"{a.folds_id or 'unknown'} vs {b.folds_id or 'unknown'}), so their "
                "predictions are not paired.")
    return ""


def _sentence(n: int, b: int, c: int, p: float, names, alpha: float, repeats: int) -> str:
    name_a, name_b = names
    vote = (f" (each subject's majority vote over the {repeats} repeats)" if repeats > 1
            else "")
    if b + c == 0:
        return (f"{name_a} and {name_b} are right and wrong on exactly the same {n} "
                f"subjects{vote}, so they cannot be told apart on these subjects (p = 1).")
    counts = (f"Of {n} subjects, {b} were classified correctly by {name_a} only and {c} by "
              f"{name_b} only{vote}; the exact McNemar test gives p = {format_p(p)}")
    if p < alpha:
        better, worse = (name_a, name_b) if b > c else (name_b, name_a)
        return (f"{counts}, so {better} classifies these subjects better than {worse} "
                f"({DEPENDENCE_CAVEAT}).")
    return f"{counts}, so the two are not distinguishable on these subjects."


def paired_comparison(a: EvaluationPredictions, b: EvaluationPredictions, *,
                      names: tuple[str, str] = ("A", "B"), alpha: float = 0.05,
                      confidence: float = 0.95) -> PairedComparison:
    """Exact McNemar test of evaluation ``a`` against evaluation ``b``.

    Parameters
    ----------
    a, b : EvaluationPredictions
    names : (str, str)
        How the sentence calls them.
    alpha : float
        Level below which the sentence calls one better.
    confidence : float
        Of the intervals returned with the comparison.

    Returns
    -------
    PairedComparison
        ``comparable=False`` with a one-sentence reason when the two differ in task,
        subjects, true labels or folds.
    """
    reason = _refusal(a, b, names)
    if reason:
        return PairedComparison(False, reason, a.evaluation_id, b.evaluation_id, reason,
                                description_a=a.description, description_b=b.description)
    predicted_b = dict(zip(b.subjects, b.predicted_labels))
    right_a = [p == t for p, t in zip(a.predicted_labels, a.true_labels)]
    right_b = [predicted_b[s] == t for s, t in zip(a.subjects, a.true_labels)]
    n_b = sum(x and not y for x, y in zip(right_a, right_b))
    n_c = sum(y and not x for x, y in zip(right_a, right_b))
    p = mcnemar_exact(n_b, n_c)
    repeats = max(a.n_repeats, b.n_repeats)
    intervals_a, intervals_b = a.intervals(confidence), b.intervals(confidence)
    return PairedComparison(
        comparable=True, reason="", id_a=a.evaluation_id, id_b=b.evaluation_id,
        sentence=_sentence(len(a.subjects), n_b, n_c, p, names, alpha, repeats),
        n_subjects=len(a.subjects), accuracy_a=intervals_a.accuracy.estimate,
        accuracy_b=intervals_b.accuracy.estimate, b=n_b, c=n_c, p_value=p,
        intervals_a=intervals_a, intervals_b=intervals_b, majority_vote=repeats > 1,
        description_a=a.description, description_b=b.description,
    )
