"""The report's section for a ``learn`` stage: learning curves, projections, sentences.

Per task one figure (:func:`learning_curve_figure`) with one curve per modality set (or
classifier, or pipeline, whatever varies in the stage), the sentences of
:mod:`cohortbench.analyse.learning_curve_text` and a table of the projections. The numbers
are those of ``projection.csv`` (:func:`cohortbench.analyse.learn_tables.curve_projections`,
seeded the same way).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from cohortbench.analyse.familywise import describe_configuration
from cohortbench.analyse.learn_tables import (
    CURVE_KEYS,
    LEARN_KIND,
    LEVEL,
    curve_projections,
    learn_plan,
    learning_curve_table,
)
from cohortbench.analyse.learning_curve_text import (
    describe_current_size,
    describe_learning_curve,
)
from cohortbench.report.figure_marks import (
    MARKER_POINTS,
    MUTED,
    PALETTE,
    interval_bars,
    text_label,
)

__all__ = ["learning_curve_figure", "learn_blocks", "curve_labels", "x_axis_label"]

_CONFIG_KEYS = ("row_scaling", "imputation", "column_scaling", "feature_selection", "n_features",
                "dim_reduction", "search")


def _x_axis_how(outer: str) -> str:
    return ("subjects - 1, with leave-one-out" if outer == "loo"
            else f"the mean training set of {outer}")


def x_axis_label(outer: str) -> str:
    """The figure's x-axis: the training-set size, and how it follows from the subjects."""
    return f"Training-set size ({_x_axis_how(outer)})"


def curve_labels(keys: list[dict]) -> list[str]:
    """A short name per curve: its modalities, plus whatever else varies between curves."""
    def varies(name):
        return len({str(k[name]) for k in keys}) > 1

    labels = []
    for key in keys:
        parts = [str(key["modalities"])]
        if varies("parcellation"):
            parts.append(str(key["parcellation"]))
        if varies("classifier"):
            parts.append(str(key["classifier"]))
        fields = [name for name in _CONFIG_KEYS if varies(name)]
        if fields:
            parts.append(describe_configuration(pd.Series(key), fields))
        labels.append(", ".join(parts))
    return labels


def _null_band(curve: pd.DataFrame, nulls: pd.DataFrame) -> pd.DataFrame:
    """Per size: the mean and middle 90 % of every shuffled-label accuracy of the task."""
    size_of = dict(zip(curve["evaluation_id"], curve["n_subjects"]))
    train_of = dict(zip(curve["n_subjects"], curve["n_train"]))
    wanted = nulls[nulls["evaluation_id"].isin(size_of)]
    rows = []
    for size, group in wanted.groupby(wanted["evaluation_id"].map(size_of), sort=True):
        values = group["accuracy"].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        if values.size:
            rows.append({"n_subjects": int(size), "n_train": float(train_of[size]),
                         "null_mean": float(values.mean()),
                         "null_low": float(np.quantile(values, 0.05)),
                         "null_high": float(np.quantile(values, 0.95))})
    return pd.DataFrame(rows, columns=["n_subjects", "n_train", "null_mean", "null_low",
                                       "null_high"])


def learning_curve_figure(curve: pd.DataFrame, projections, nulls: pd.DataFrame, *,
                          task: str, outer: str = "loo"):
    """The learning curves of one task, with their fits, projections and the null band.

    Parameters
    ----------
    curve : DataFrame
        :func:`~cohortbench.analyse.learn_tables.learning_curve_table` rows of the task
        (``with_ids=True``).
    projections : list of (keys, LearningCurveProjection)
        The task's curves, in the order drawn.
    nulls : DataFrame
        ``nulls.csv`` (``evaluation_id, permutation, accuracy``).
    task : str
    outer : str
        The outer CV (says how the x-axis follows from the number of subjects).

    Returns
    -------
    fig, data
        ``data`` has one row per drawn mark: ``mark`` (``repeat``: one subsample,
        ``mean``: a size's mean with its interval, ``fit``: the fitted curve with its
        projection band, ``null``: the shuffled-label band of a size), ``curve`` (label,
        empty for ``null``), ``n_subjects``, ``n_train`` (the x-axis), ``value``, ``low``,
        ``high``.
    """
    if not projections:
        raise ValueError(f"no learning curve of task {task!r}")
    labels = curve_labels([key for key, _ in projections])
    rows = []
    fig = Figure(figsize=(8.6, 4.4), layout="constrained")
    ax = fig.subplots()
    band = _null_band(curve, nulls)
    if not band.empty:
        ax.fill_between(band["n_train"], band["null_low"], band["null_high"], color=MUTED,
                        alpha=0.25, linewidth=0, zorder=0)
        ax.plot(band["n_train"], band["null_mean"], color=MUTED, linewidth=1.2, zorder=1)
        rows += [{"mark": "null", "curve": "", "n_subjects": r.n_subjects, "n_train": r.n_train,
                  "value": r.null_mean, "low": r.null_low, "high": r.null_high}
                 for r in band.itertuples(index=False)]
    handles = []
    # curves side by side at each size (a fraction of the smallest step), so that none
    # hides another; ``data`` keeps the true training sizes
    steps = np.diff(np.unique(curve["n_train"].to_numpy(dtype=float)))
    width = 0.25 * (steps.min() if steps.size else 1.0)
    for i, ((key, result), label) in enumerate(zip(projections, labels)):
        color = PALETTE[i % len(PALETTE)]
        dodge = width * (i - (len(projections) - 1) / 2) / max(len(projections) - 1, 1)
        mine = curve
        for name in CURVE_KEYS:
            value = key[name]
            mine = mine[mine[name].isna()] if (not isinstance(value, str) and pd.isna(value)) \
                else mine[mine[name] == value]
        ax.scatter(mine["n_train"] + dodge, mine["accuracy"], s=(MARKER_POINTS * 0.6) ** 2,
                   color=color, alpha=0.35, linewidths=0, zorder=2)
        rows += [{"mark": "repeat", "curve": label, "n_subjects": int(r.n_subjects),
                  "n_train": float(r.n_train), "value": float(r.accuracy), "low": np.nan,
                  "high": np.nan} for r in mine.itertuples(index=False)]
        points = result.points
        interval_bars(ax, points["n_train"] + dodge, points["mean_accuracy"], points["low"],
                      points["high"], ecolor=color, zorder=4)
        ax.plot(points["n_train"] + dodge, points["mean_accuracy"], marker="o", linestyle="none",
                color=color, markersize=MARKER_POINTS, zorder=5)
        rows += [{"mark": "mean", "curve": label, "n_subjects": int(r.n_subjects),
                  "n_train": float(r.n_train), "value": float(r.mean_accuracy),
                  "low": float(r.low), "high": float(r.high)}
                 for r in points.itertuples(index=False)]
        if result.projected:
            fit = result.band
            ax.plot(fit["n_train"], fit["fit"], linestyle="--", color=color, linewidth=1.4,
                    zorder=3)
            ax.fill_between(fit["n_train"], fit["low"], fit["high"], color=color, alpha=0.12,
                            linewidth=0, zorder=1)
            rows += [{"mark": "fit", "curve": label, "n_subjects": int(r.n_subjects),
                      "n_train": float(r.n_train), "value": float(r.fit), "low": float(r.low),
                      "high": float(r.high)} for r in fit.itertuples(index=False)]
        handles.append(Line2D([], [], marker="o", color=color, linestyle="--" if
                              result.projected else "none", label=text_label(label)))
    handles += [
        Line2D([], [], marker="o", linestyle="none", color=MUTED, alpha=0.5,
               markersize=MARKER_POINTS * 0.6, label="one subsample (in its curve's colour)"),
        Line2D([], [], color="black", marker="_", linewidth=1.0,
               label=f"mean per size, {100 * LEVEL:g} % interval"),
        Patch(facecolor="0.5", alpha=0.15, label=f"fitted curve (dashed), {100 * LEVEL:g} % band"),
    ]
    if not band.empty:
        handles.append(Patch(facecolor=MUTED, alpha=0.35,
                             label="chance: shuffled labels (mean, middle 90 %)"))
    ax.set_xlabel(x_axis_label(outer))
    ax.set_ylabel("Accuracy")
    ax.set_ylim(-0.04, 1.04)
    ax.grid(alpha=0.3)
    ax.set_title(f"Learning curves, task {text_label(task)}")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    data = pd.DataFrame(rows, columns=["mark", "curve", "n_subjects", "n_train", "value", "low",
                                       "high"])
    return fig, data


def _interval(value, low, high, digits: int = 2, scale: float = 1.0) -> str:
    if value is None or pd.isna(value):
        return "–"
    return (f"{scale * value:.{digits}f} [{scale * low:.{digits}f}, "
            f"{scale * high:.{digits}f}]")


def _projection_rows(projections, labels) -> pd.DataFrame:
    rows = []
    for (key, result), label in zip(projections, labels):
        if not result.projected:  # one row saying why, not one per target
            rows.append({"Curve": label, "Subjects": ", ".join(
                str(n) for n in result.projection["n_subjects"]), "Projected accuracy": "–",
                "Gain per 10 subjects (points)": "–", "Note": result.note})
            continue
        for r in result.projection.itertuples(index=False):
            rows.append({
                "Curve": label, "Subjects": int(r.n_subjects),
                "Projected accuracy": _interval(r.predicted_accuracy, r.low, r.high),
                "Gain per 10 subjects (points)": _interval(r.gain_per_10, r.gain_low,
                                                           r.gain_high, 0, 100),
                "Note": r.note})
    return pd.DataFrame(rows)


def learn_blocks(frame, stage, slug, figures, context, nulls, *, text, table) -> list:
    """The blocks of a learn stage's section (``text`` and ``table`` make report blocks)."""
    kinds = {stage: {"kind": LEARN_KIND}}
    decisions = list(context.get("decisions") or [])
    curve = learning_curve_table(frame, kinds, decisions, with_ids=True)
    if curve.empty:
        return [text("No learning-curve evaluation of this stage has finished yet.")]
    plan = learn_plan(decisions, stage)
    outer = plan.get("outer", "loo")
    projections = curve_projections(curve, decisions)
    level = f"{100 * LEVEL:g} %"
    blocks = [text(
        "Would more subjects help? The pipeline was evaluated on class-stratified subsamples "
        "of the cohort, and an inverse power law fitted through the mean accuracy at each "
        "size projects the accuracy at larger sizes. Intervals combine the spread over "
        "subsamples with the noise of this cohort's own subjects; they are conditional on "
        "this cohort (new subjects from another site or stage of disease may differ) and on "
        "the curve being a power law (docs/learning_curves.md).")]
    if plan.get("pipeline_from"):
        blocks.append(text(
            f"The pipeline is the best of stage '{plan['pipeline_from']}', chosen on these same "
            "subjects: the level of every curve is optimistic."))
    for task in dict.fromkeys(curve["task"]):
        mine = [(k, r) for k, r in projections if k["task"] == task]
        labels = curve_labels([k for k, _ in mine])
        rows = curve[curve["task"] == task]
        blocks.append(figures.add(
            lambda: learning_curve_figure(rows, mine, nulls, task=task, outer=outer),
            f"{slug}-curve-{task}", f"Learning curves, task {task}",
            "Small dots: the accuracy of each subsample (cross-validated within it); large "
            f"dots: the mean at each size with its {level} interval; dashed: the fitted "
            f"inverse power law, with its {level} band where it projects; grey: the accuracies "
            "reached with shuffled labels at each size (chance), their mean as a line. The "
            f"x-axis is the training-set size ({_x_axis_how(outer)}), one colour per "
            "curve."))
        for (key, result), label in zip(mine, labels):
            blocks.append(text(f"Task {task}, {label}: {describe_learning_curve(result)}"))
        if len(mine) > 1:
            # "at today's N subjects, A gives ...; B gives ..." (the size said once)
            said = [describe_current_size(r, label) for (_, r), label in zip(mine, labels)]
            today = "; ".join([said[0]] + [s.split(", ", 1)[1] for s in said[1:]])
            blocks.append(text(f"Task {task}: {today} ({level} intervals, conditional on "
                               "this cohort)."))
        blocks.append(table(_projection_rows(mine, labels),
                            title=f"Projections, task {task}",
                            caption=f"{level} intervals, conditional on this cohort; the gain "
                                    "is from today's size to 10 more subjects, in accuracy "
                                    "percentage points."))
    return blocks
