"""The report's first section: the answer, per task, in plain words with its uncertainty.

Per task: the best configuration across the stages that compare configurations, its
accuracy and balanced accuracy with 95 % intervals, its permutation p, the family-wise
p of having picked it among every configuration evaluated on the same subjects and
shuffles, and the verdict of :func:`cohortbench.analyse.verdicts.verdict`. Then what
the per-step tests, the data comparisons and the paired (McNemar) comparisons say.
Every sentence is generated from the numbers.
"""

from __future__ import annotations

import pandas as pd

from cohortbench.analyse.familywise import describe_configuration, familywise_per_task
from cohortbench.analyse.narrative import data_sentences, step_sentences
from cohortbench.analyse.paired import EvaluationPredictions, paired_comparison
from cohortbench.analyse.scope import comparable
from cohortbench.analyse.step_tests import step_tests
from cohortbench.analyse.verdicts import (
    MIN_PERMUTATIONS,
    explain_below_chance,
    format_p,
    p_floor,
    verdict,
)
from cohortbench.design.vocabulary import KEY_FIELDS

__all__ = ["build_summary", "UNRELIABLE_TEXT"]

#: What a flagged cell means, in one sentence.
UNRELIABLE_TEXT = ("RFE on raw values: the ranking SVR's answer is set by float32 rounding in "
                   "libsvm, not by the data, so the features it eliminates are not meaningful")


def _interval(row, prefix: str) -> str:
    low, high = row.get(f"{prefix}_ci_low"), row.get(f"{prefix}_ci_high")
    if low is None or pd.isna(low):
        return f"{row[prefix]:.3f}"
    return f"{row[prefix]:.3f} [{low:.3f}, {high:.3f}]"


def _matching(evaluations: pd.DataFrame, row, **changes) -> pd.DataFrame:
    """Evaluations identical to ``row`` in task, classifier and pipeline, but for ``changes``."""
    mask = (evaluations["task"] == row["task"]) & (evaluations["classifier"] == row["classifier"])
    for field in [f for f in KEY_FIELDS if f in evaluations]:
        wanted = changes.get(field, row.get(field))
        column = evaluations[field].astype(str)
        mask &= column == str(wanted)
    return evaluations[mask & (evaluations["evaluation_id"] != row["evaluation_id"])]


def _compare(evaluations, predictions, a_row, b_row, names) -> str:
    a = EvaluationPredictions.from_frames(evaluations, predictions, a_row["evaluation_id"])
    b = EvaluationPredictions.from_frames(evaluations, predictions, b_row["evaluation_id"])
    return paired_comparison(a, b, names=names).sentence


def _comparisons(evaluations: pd.DataFrame, predictions: pd.DataFrame, best) -> list[str]:
    """Paired comparisons the summary reports for the best configuration of a task."""
    out = []
    if predictions is None or predictions.empty:
        return out
    stages = list(dict.fromkeys(evaluations["stage"]))
    first = evaluations[(evaluations["stage"] == stages[0]) & (evaluations["task"] == best["task"])
                        & (evaluations["classifier"] == best["classifier"])]
    start = first[(first["modalities"] == best["modalities"])
                  & (first["parcellation"] == best["parcellation"])]
    if len(start) == 1 and start.iloc[0]["evaluation_id"] != best["evaluation_id"]:
        start_row = start.iloc[0]
        if describe_configuration(start_row) != describe_configuration(best):
            sentence = _compare(evaluations, predictions, best, start_row,
                                ("the best configuration", f"the study's starting pipeline "
                                 f"(stage {stages[0]})"))
            out.append(f"Task {best['task']}: {sentence} This comparison is optimistic: the "
                       "best was chosen on the same subjects.")
    if best.get("search", "none") not in ("none", None):
        untuned = _matching(evaluations, best, search="none")
        if len(untuned):
            sentence = _compare(evaluations, predictions, best, untuned.iloc[0],
                                (f"tuned ({best['search']} search)", "the same pipeline untuned"))
            out.append(f"Task {best['task']}: {sentence}")
    return out


def _data_comparisons(evaluations: pd.DataFrame, predictions: pd.DataFrame) -> list[str]:
    """All modalities against each subset, per task and parcellation (stages that vary them)."""
    out = []
    if predictions is None or predictions.empty:
        return out
    for stage, frame in evaluations.groupby("stage", sort=False):
        if frame["modalities"].nunique() < 2:
            continue
        for (task, parcellation, classifier), rows in frame.groupby(
                ["task", "parcellation", "classifier"], sort=False):
            sizes = rows["modalities"].str.count(r"\+")
            full = rows.loc[sizes.idxmax()]
            for _, other in rows.iterrows():
                if other["modalities"] == full["modalities"] or not set(
                        other["modalities"].split("+")) < set(full["modalities"].split("+")):
                    continue
                sentence = _compare(evaluations, predictions, full, other,
                                    (f"{full['modalities']}", f"{other['modalities']}"))
                out.append(f"Task {task}, parcellation {parcellation} ({classifier}, stage "
                           f"{stage}): {sentence}")
    return out


def build_summary(evaluations: pd.DataFrame, nulls: pd.DataFrame, predictions: pd.DataFrame,
                  *, stage_kinds: dict | None = None, alpha: float = 0.05) -> dict:
    """Everything the summary section shows (plain data; the template renders it).

    Returns
    -------
    dict
        ``intro`` (str), ``shuffle_warning`` (str or None), ``tasks`` (one dict per
        task: ``task``, ``verdict_key``, ``verdict``, ``rows`` (label, value pairs),
        ``notes``), ``steps``, ``data`` and ``comparisons`` (lists of sentences).
    """
    frame = comparable(evaluations, stage_kinds)
    if frame.empty:
        return {"intro": "No evaluation compares configurations yet.", "shuffle_warning": None,
                "tasks": [], "steps": [], "data": [], "comparisons": []}
    permutations = int(frame["n_permutations"].fillna(0).max())
    intro = (f"{len(frame)} evaluations of {frame['task'].nunique()} task(s) in "
             f"{frame['stage'].nunique()} stage(s), each tested against {permutations} "
             f"shuffled-label runs (the smallest possible p-value is 1/{permutations + 1} = "
             f"{format_p(p_floor(permutations))})." if permutations else
             f"{len(frame)} evaluations of {frame['task'].nunique()} task(s), without a "
             "permutation test (permutations: 0).")
    warning = None
    if permutations < MIN_PERMUTATIONS:
        warning = (f"Only {permutations} shuffled-label runs per evaluation: no p-value can reach "
                   f"0.05 (that needs at least {MIN_PERMUTATIONS}), so nothing in this report "
                   "can be called above chance and Z-scores are not shown. Run the study with "
                   f"permutations: {MIN_PERMUTATIONS} or more for an answer.")
    tasks = []
    try:
        family = familywise_per_task(frame, nulls)
    except ValueError:
        family = None
    comparisons = []
    for task, rows in frame.groupby("task", sort=False):
        rows = rows.reset_index(drop=True)
        info = None if family is None else family[family["task"] == task].iloc[0]
        best_id = info["evaluation_id"] if info is not None else \
            rows.loc[rows["accuracy"].idxmax(), "evaluation_id"]
        best = rows[rows["evaluation_id"] == best_id].iloc[0]
        n_family = int(info["n_configurations"]) if info is not None else len(rows)
        fw = None if info is None else info["familywise_p"]
        judged = verdict(best["accuracy"], best.get("accuracy_ci_low"),
                         best.get("accuracy_ci_high"),
                         None if pd.isna(best["p_value"]) else float(best["p_value"]),
                         None if fw is None or pd.isna(fw) else float(fw),
                         permutations if pd.isna(best["n_permutations"]) else
                         int(best["n_permutations"]), n_family, alpha=alpha)
        table = [("Best configuration", f"{best['classifier']}: {describe_configuration(best)} "
                  f"(stage {best['stage']})"),
                 ("Accuracy [95 % interval]", _interval(best, "accuracy")),
                 ("Balanced accuracy [95 % interval]", _interval(best, "balanced_accuracy")),
                 ("Permutation p", "–" if pd.isna(best["p_value"]) else format_p(best["p_value"])),
                 (f"Family-wise p (best of {n_family})",
                  "–" if fw is None or pd.isna(fw) else format_p(fw))]
        notes = []
        if info is not None and info["n_in_task"] > n_family:
            notes.append(f"{info['n_in_task'] - n_family} configuration(s) of this task were "
                         "evaluated on other subjects or shuffles and are outside this family.")
        reliable = best.get("numerically_reliable")
        if reliable is not None and not pd.isna(reliable) and not bool(reliable):
            notes.append(f"This configuration is numerically unreliable: {UNRELIABLE_TEXT}.")
        if predictions is not None and not predictions.empty:
            own = predictions[predictions["evaluation_id"] == best_id]
            below = explain_below_chance(own["true_label"].tolist(), own["predicted_label"].tolist())
            if below:
                notes.append(below)
        tasks.append({"task": task, "verdict_key": judged.key, "verdict": judged.sentence,
                      "rows": table, "notes": notes})
        comparisons += _comparisons(frame, predictions, best)
    steps = []
    for stage, rows in frame.groupby("stage", sort=False):
        try:
            table = step_tests(rows)
        except ValueError:
            continue
        steps += step_sentences(table, alpha=alpha)
    data = []
    for stage, rows in frame.groupby("stage", sort=False):
        if rows[["modalities", "parcellation"]].drop_duplicates().shape[0] > 1:
            data += data_sentences(rows, alpha=alpha)
    comparisons += _data_comparisons(frame, predictions)
    return {"intro": intro, "shuffle_warning": warning, "tasks": tasks, "steps": steps,
            "data": data, "comparisons": comparisons}
