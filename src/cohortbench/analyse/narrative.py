"""The report's sentences, generated from the numbers (and tested on constructed numbers).

- :func:`step_sentences`: what the per-step table says about each step, honestly: an
  option is said to change accuracy only when it survives the Holm correction of its
  table; otherwise the strongest raw difference is given with that caveat.
- :func:`data_sentences`: what varying the modalities and parcellations showed.
- :func:`decision_sentence`: a stage's decision (shortlist, best pipeline) in words.
"""

from __future__ import annotations

import math

import pandas as pd

from cohortbench.analyse.verdicts import format_p, p_floor
from cohortbench.design.vocabulary import FIELD_LABELS, option_text

__all__ = ["step_sentences", "data_sentences", "decision_sentence", "engine_sentences"]


def _points(value: float) -> str:
    return f"{value:+.1f} points"


def _option(row) -> str:
    n_features = row.get("n_features")
    return f"{option_text(row['step'], row['option'], n_features)} ({FIELD_LABELS[row['step']].lower()})"


def step_sentences(table: pd.DataFrame, *, alpha: float = 0.05) -> list[str]:
    """One or more sentences per (stage, task) of a per-step table (``step_tests`` columns)."""
    sentences = []
    if table.empty:
        return sentences
    for (stage, task), rows in table.groupby(["stage", "task"], sort=False):
        rows = rows.reset_index(drop=True)
        where = f"Task {task} (stage {stage})"
        defined = rows[rows["p_value"].notna()]
        if defined.empty:
            sentences.append(f"{where}: every paired configuration had the same accuracy, so "
                             "the pipeline steps could not be compared.")
            continue
        survivors = defined[defined["p_holm"] <= alpha]
        if survivors.empty:
            strongest = defined.loc[defined["p_value"].idxmin()]
            sentences.append(
                f"{where}: no pipeline step changed accuracy beyond chance once the "
                f"{len(defined)} comparisons of its table were corrected (Holm); the "
                f"strongest raw difference was {_option(strongest)} with "
                f"{strongest['classifier']}: a median of {_points(strongest['median_difference'])} "
                f"over {int(strongest['n_pairs'])} pairs (p = {format_p(strongest['p_value'])}, "
                f"Holm p = {format_p(strongest['p_holm'])}).")
            continue
        for _, row in survivors.sort_values("p_holm", kind="stable").iterrows():
            direction = "raised" if row["median_difference"] > 0 else (
                "lowered" if row["median_difference"] < 0 else "changed")
            sentences.append(
                f"{where}: {_option(row)} {direction} {row['classifier']}'s accuracy by a "
                f"median of {_points(row['median_difference'])} over {int(row['n_pairs'])} pairs "
                f"against leaving the step out (p = {format_p(row['p_value'])}, Holm p = "
                f"{format_p(row['p_holm'])}).")
    return sentences


def data_sentences(evaluations: pd.DataFrame, *, alpha: float = 0.05) -> list[str]:
    """Per task, what varying the modalities and parcellations showed.

    ``evaluations`` holds one stage's evaluations (``evaluations.csv`` columns, with the
    interval columns); only p-values decide what is called above chance.
    """
    sentences = []
    for task, rows in evaluations.groupby("task", sort=False):
        rows = rows.reset_index(drop=True)
        permutations = int(rows["n_permutations"].max()) if rows["n_permutations"].notna().any() else 0
        best = rows.loc[rows["accuracy"].idxmax()]
        name = f"{best['modalities']} with parcellation {best['parcellation']}"
        interval = ""
        if "accuracy_ci_low" in rows and pd.notna(best.get("accuracy_ci_low")):
            interval = f" [{best['accuracy_ci_low']:.2f}, {best['accuracy_ci_high']:.2f}]"
        sentence = (f"Task {task}: of {len(rows)} combinations of modalities and parcellations, "
                    f"{name} reached the highest accuracy, {best['accuracy']:.2f}{interval}")
        if permutations < 19:
            floor = "no shuffles were run" if permutations == 0 else (
                f"with {permutations} shuffles the smallest possible p is "
                f"{format_p(p_floor(permutations))}")
            sentences.append(f"{sentence}; whether any is above chance cannot be told "
                             f"({floor}).")
            continue
        above = rows[rows["p_value"] <= alpha + 1e-12]
        if above.empty:
            sentences.append(f"{sentence} (p = {format_p(best['p_value'])}); none is above "
                             f"chance on its own (every p > {alpha:g}).")
        else:
            sentences.append(
                f"{sentence} (p = {format_p(best['p_value'])}); {len(above)} of {len(rows)} are "
                f"above chance on their own (p ≤ {alpha:g}), before accounting for the choice "
                "among them.")
    return sentences


def decision_sentence(decision: dict) -> str:
    """A stored decision (``{stage, kind, payload}``) as one sentence with its reason."""
    stage, kind, payload = decision.get("stage"), decision.get("kind"), decision.get("payload") or {}
    if kind == "shortlist":
        kept = payload.get("classifiers") or []
        rule = payload.get("rule") or (
            f"best accuracy at least {payload['min_accuracy']} on every task"
            if "min_accuracy" in payload else "the classifiers listed in shortlist.keep")
        reasons = payload.get("reasons") or {}
        dropped = [name for name, why in reasons.items() if str(why).startswith("dropped")]
        text = (f"After stage {stage}, {', '.join(kept) if kept else 'no classifier'} "
                f"{'were' if len(kept) != 1 else 'was'} shortlisted ({rule})")
        if dropped:
            text += (f"; {', '.join(dropped)} did not reach it" if "min_accuracy" in payload
                     else f"; {', '.join(dropped)} {'were' if len(dropped) > 1 else 'was'} not listed")
        return text + "."
    if kind == "pipeline":
        steps = payload.get("pipeline") or {}
        why = payload.get("why") or {}
        shown = []
        for step in ("row_scaling", "harmonize", "confounds", "column_scaling",
                     "feature_selection", "dim_reduction"):
            value = steps.get(step)
            if value in (None, "none"):
                continue
            shown.append(f"{FIELD_LABELS[step].lower()} {option_text(step, value, steps.get('n_features'))}")
        score = next((v for k, v in why.items() if k.startswith("mean_") and k != "mean_z"), None)
        metric = next((k[5:] for k in why if k.startswith("mean_") and k != "mean_z"), "accuracy")
        text = (f"Stage {stage} used the best pipeline of stage {payload.get('from_stage')}: "
                f"{', '.join(shown) if shown else 'every step left out'}")
        if score is not None and not (isinstance(score, float) and math.isnan(score)):
            text += (f", the highest mean {metric.replace('_', ' ')} ({score:.3f}) over its "
                     f"classifiers and tasks among {why.get('n_pipelines_compared', '?')} "
                     "pipelines (chosen on these subjects, so optimistic)")
        return text + "."
    if isinstance(payload.get("text"), str) and payload["text"]:
        return payload["text"]  # a decision that words itself (e.g. a learn stage's plan)
    return f"Stage {stage}: {kind} decision {payload}."


#: ``engine`` values that need no word: the engine the run asked for, on its own paths.
_PLAIN_ENGINES = {"fast", "fast-fallback", "reference"}


def engine_sentences(evaluations: pd.DataFrame) -> list[str]:
    """What the engines decided on their own: hand-overs and fast paths switched off.

    One sentence per distinct ``engine`` value other than plain ``fast``,
    ``fast-fallback`` or ``reference`` (docs/engines.md): the fast engine handed
    the evaluation to the reference engine (``reference (side steps)``, ...), or a
    fast sub-path was switched off where it ran (``fast; <path> off: <reason>``).
    The results are the same either way; the sentence says what ran.
    """
    if "engine" not in evaluations or evaluations.empty:
        return []
    sentences = []
    for value, count in evaluations["engine"].dropna().astype(str).value_counts(sort=False).items():
        if value in _PLAIN_ENGINES:
            continue
        if value.startswith("reference ("):
            why = value[len("reference ("):].rstrip(")")
            sentences.append(f"{count} evaluation(s) were handed by the fast engine to the "
                             f"reference engine ({why}: the fast engine has no path for it); "
                             "the results are those of the reference engine.")
        else:
            _, _, switched = value.partition("; ")
            sentences.append(f"{count} evaluation(s) ran with a fast sub-path switched off "
                             f"({switched}); the plain estimator did that part: same results, "
                             "slower.")
    return sentences

