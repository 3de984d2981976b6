"""Top-performing configurations and how often each option appears among them.

The study's Figure 5: a configuration (a classifier with one pipeline, within one stage)
is a *top performer* when, on every chosen task, its accuracy is at least ``min_accuracy``
and its Z-score at least ``min_z`` (study: 3-class and SvF, 0.60 and 2.0). The *strict*
tier also needs accuracy ≥ ``strict_accuracy`` (0.70) on every chosen task.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cohortbench.design.vocabulary import (KEY_FIELDS, OPTION_ORDER, PIPELINE_FIELDS,
                                           SIDE_STEPS, pipeline_key)

__all__ = ["top_performers", "FREQUENCY_STEPS", "TIERS"]

#: Steps whose options are counted among top performers (n_features: "none" without selector).
FREQUENCY_STEPS = ("row_scaling", "column_scaling", "feature_selection", "n_features",
                   "dim_reduction")
#: Tier names: ``top`` (min thresholds) and ``strict`` (also ≥ strict_accuracy).
TIERS = ("top", "strict")


def _option_text(step: str, value) -> str:
    if step == "n_features":
        return "none" if value is None or pd.isna(value) else str(int(value))
    return str(value)


def _option_rank(step: str, option: str):
    if step == "n_features":
        return (0, -1) if option == "none" else (1, int(option))
    order = OPTION_ORDER.get(step, ())
    return (order.index(option) if option in order else len(order), option)


def top_performers(
    evaluations: pd.DataFrame,
    *,
    tasks,
    min_accuracy: float = 0.6,
    min_z: float | None = 2.0,
    strict_accuracy: float = 0.7,
    stage: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Configurations that pass the accuracy and Z thresholds on every chosen task.

    Parameters
    ----------
    evaluations : pandas.DataFrame
        The ``evaluations.csv`` columns (SPEC section 8).
    tasks : sequence of str
        A configuration must pass on every one of these tasks (and have been run on all).
    min_accuracy, min_z : float
        The thresholds of the top tier (``min_z=None`` ignores the Z-score; a missing
        Z-score never passes a numeric threshold).
    strict_accuracy : float
        The strict tier additionally needs this accuracy on every task.
    stage : str, optional
        Only this stage; by default every stage (a configuration never spans stages).

    Returns
    -------
    top : pandas.DataFrame
        One row per top performer: stage, classifier, the pipeline fields,
        ``accuracy_<task>`` and ``z_<task>`` per task, the worst accuracy ``min_accuracy``
        over the tasks, and the boolean ``strict``; best first.
    option_frequencies : pandas.DataFrame
        Columns tier, step, option, classifier, count, fraction: for each tier, how many
        of its configurations use the option (per classifier), and that count divided by
        the number of configurations in the tier (all classifiers together). Every option
        seen among the eligible configurations is listed, with count 0 when absent.

    Raises
    ------
    ValueError
        When ``tasks`` is empty, or a task has no evaluation (in ``stage``).
    """
    tasks = list(tasks)
    if not tasks:
        raise ValueError("top_performers needs at least one task.")
    frame = evaluations if stage is None else evaluations[evaluations["stage"] == stage]
    for task in tasks:
        if not (frame["task"] == task).any():
            where = "" if stage is None else f" of stage {stage}"
            raise ValueError(f"No evaluation{where} is for task {task!r}; choose among "
                             f"{', '.join(map(str, frame['task'].unique()))}.")
    frame = frame[frame["task"].isin(tasks)]
    # the side steps are columns only where a study uses them (then they tell pipelines apart)
    fields = list(PIPELINE_FIELDS) + [s for s in SIDE_STEPS if s in frame.columns]
    configurations: dict[tuple, dict] = {}
    for _, row in frame.iterrows():
        key = (row["stage"], row["classifier"], pipeline_key(row))
        entry = configurations.setdefault(key, {"results": {}})
        entry["results"][row["task"]] = (float(row["accuracy"]), float(row["z_score"])
                                         if not pd.isna(row["z_score"]) else np.nan)
    records = []
    for (stage_name, classifier, pipeline), entry in configurations.items():
        results = entry["results"]
        if any(task not in results for task in tasks):
            continue
        record = {"stage": stage_name, "classifier": classifier,
                  **{f: v for f, v in zip(KEY_FIELDS, pipeline) if f in fields}}
        passes, strict = True, True
        for task in tasks:
            accuracy, z = results[task]
            record[f"accuracy_{task}"] = accuracy
            record[f"z_{task}"] = z
            z_ok = min_z is None or (np.isfinite(z) and z >= min_z)
            passes &= accuracy >= min_accuracy and z_ok
            strict &= accuracy >= strict_accuracy
        record["min_accuracy"] = min(results[t][0] for t in tasks)
        record["top"] = passes
        record["strict"] = passes and strict
        records.append(record)
    eligible = pd.DataFrame(records)
    if not eligible.empty:
        eligible["n_features"] = eligible["n_features"].astype("Int64")
    top_columns = ["stage", "classifier", *fields,
                   *[f"{p}_{t}" for t in tasks for p in ("accuracy", "z")],
                   "min_accuracy", "strict"]
    if eligible.empty:
        top = pd.DataFrame(columns=top_columns)
    else:
        top = (eligible[eligible["top"]]
               .sort_values("min_accuracy", ascending=False, kind="stable")
               .loc[:, top_columns].reset_index(drop=True))
    return top, _option_frequencies(eligible, top)


def _option_frequencies(eligible: pd.DataFrame, top: pd.DataFrame) -> pd.DataFrame:
    columns = ["tier", "step", "option", "classifier", "count", "fraction"]
    if eligible.empty:
        return pd.DataFrame(columns=columns)
    classifiers = list(dict.fromkeys(eligible["classifier"]))
    rows = []
    for tier in TIERS:
        members = top if tier == "top" else top[top["strict"].astype(bool)]
        total = len(members)
        for step in FREQUENCY_STEPS:
            options = sorted({_option_text(step, v) for v in eligible[step]},
                             key=lambda o: _option_rank(step, o))
            used = [_option_text(step, v) for v in members[step]] if total else []
            for option in options:
                for classifier in classifiers:
                    count = sum(1 for o, c in zip(used, members["classifier"])
                                if o == option and c == classifier) if total else 0
                    rows.append({"tier": tier, "step": step, "option": option,
                                 "classifier": classifier, "count": count,
                                 "fraction": count / total if total else 0.0})
    return pd.DataFrame(rows, columns=columns)
