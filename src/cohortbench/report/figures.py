"""The study's figures, each returned with the data it plots.

Every function returns ``(fig, data)``: a :class:`matplotlib.figure.Figure` built without
pyplot (so no global figure registry, no display, nothing to close) and the DataFrame
actually drawn, so tests check numbers rather than pixels. Where points are highlighted the
data has a boolean ``highlight`` column. :func:`save_figure` writes PNG and SVG files.

Every accuracy is drawn with its 95 % interval (the evaluations frame's
``accuracy_ci_low``/``accuracy_ci_high``; none when an old store lacks them), an accuracy
of 0 with a visible stub, a numerically unreliable evaluation (``numerically_reliable``
False) hollow or hatched; run times go on a log axis as points; steps and options are
named by :mod:`cohortbench.design.vocabulary`. The shared marks live in
:mod:`cohortbench.report.figure_marks`, the strip plots in
:mod:`cohortbench.report.strip_figures` (re-exported here).
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from cohortbench.design.vocabulary import FIELD_LABELS
from cohortbench.report.figure_marks import (
    ACCURACY_LABEL,
    CI_COLUMNS,
    HIGHLIGHT,
    MARKER_POINTS,
    MUTED,
    PALETTE,
    RUNTIME_LABEL,
    UNRELIABLE_LABEL,
    Z_LABEL,
    accuracy_bars,
    flagged_bars,
    integer_ticks,
    interval_bars,
    interval_handle,
    log_axis,
    runtime_points,
    stage_rows,
    text_label,
    unreliable_handle,
)
from cohortbench.report.strip_figures import (
    STRIP_STEPS,
    step_strips,
    step_strips_pooled,
    top_fraction,
)

__all__ = [
    "STRIP_STEPS",
    "classifier_screen",
    "null_comparison",
    "save_figure",
    "search_strategies",
    "step_strips",
    "step_strips_pooled",
    "top_fraction",
    "top_performer_options",
]

#: Where the null cloud and the real accuracy sit around a view's tick (null comparison).
NULL_OFFSET, REAL_OFFSET = -0.12, 0.2
_DPI = 110


def _best_per(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per key combination: the most accurate (first in order on ties)."""
    ordered = frame.assign(_order=np.arange(len(frame)))
    ordered = ordered.sort_values(["accuracy", "_order"], ascending=[False, True], kind="stable")
    best = ordered.drop_duplicates(keys).sort_values("_order", kind="stable")
    return best.drop(columns="_order").reset_index(drop=True)


def _grouped_panels(axes, data, x_key, hue_key, x_values, hue_values) -> np.ndarray:
    """Accuracy bars, Z bars and run-time points, one colour per hue; the zero-stub mask."""
    accuracy_ax, z_ax, time_ax = axes
    width = 0.8 / max(len(hue_values), 1)
    where = {x: i for i, x in enumerate(x_values)}
    zero = np.zeros(len(data), dtype=bool)
    for h, hue in enumerate(hue_values):
        rows = np.flatnonzero((data[hue_key] == hue).to_numpy())
        part = data.iloc[rows]
        positions = part[x_key].map(where).to_numpy(dtype=float) - 0.4 + width * (h + 0.5)
        color = PALETTE[h % len(PALETTE)]
        zero[rows] = accuracy_bars(accuracy_ax, positions, part["accuracy"],
                                   part[CI_COLUMNS[0]], part[CI_COLUMNS[1]],
                                   part["unreliable"], color=color, width=width)
        flagged_bars(z_ax, positions, pd.to_numeric(part["z_score"], errors="coerce"),
                     part["unreliable"], color=color, width=width)
        runtime_points(time_ax, positions, part["seconds"], part["unreliable"], color=color)
    accuracy_ax.set_ylim(-0.03, 1.03)  # room for a zero stub and an interval reaching 1
    z_ax.axhline(0.0, color="black", linewidth=0.8)
    log_axis(time_ax, data["seconds"])
    for ax in axes:
        ax.grid(axis="y", alpha=0.3)
        ax.set_xlim(-0.6, len(x_values) - 0.4)
    time_ax.set_xticks(np.arange(len(x_values)), [text_label(x) for x in x_values], rotation=30,
                       ha="right")
    time_ax.set_xlabel(FIELD_LABELS[x_key])
    return zero


def _hue_legend(ax, data, hue_values, title, *extra):
    handles = [Patch(color=PALETTE[h % len(PALETTE)], label=text_label(hue))
               for h, hue in enumerate(hue_values)]
    handles += [interval_handle(), *extra]
    if data["unreliable"].any():
        handles.append(unreliable_handle("bar"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), title=title,
              fontsize=8)


def classifier_screen(evaluations: pd.DataFrame, stage: str, threshold: float = 0.6):
    """Accuracy, Z-score and runtime per classifier and task (the study's Figure 1).

    Accuracy bars carry their 95 % interval (``accuracy_ci_low``/``accuracy_ci_high`` of
    the evaluations frame; no bars when it lacks them), an accuracy of 0 gets a visible
    stub, run times are points on a log axis whose limits are round decades.

    Returns
    -------
    fig, data
        ``data``: classifier, task, accuracy, accuracy_ci_low, accuracy_ci_high, z_score,
        seconds, above_threshold, ``highlight`` (the classifier reaches ``threshold`` on
        every task), ``unreliable`` (``numerically_reliable`` is False: drawn hatched and
        hollow) and ``zero_stub``. With several evaluations per classifier and task, the
        most accurate one is shown.
    """
    frame = stage_rows(evaluations, stage)
    data = _best_per(frame, ["classifier", "task"])[
        ["classifier", "task", "accuracy", *CI_COLUMNS, "z_score", "seconds",
         "unreliable"]].copy()
    data["above_threshold"] = data["accuracy"] >= threshold
    passes = data.groupby("classifier", sort=False)["above_threshold"].transform("all")
    data["highlight"] = passes.astype(bool)
    classifiers = list(dict.fromkeys(data["classifier"]))
    tasks = list(dict.fromkeys(data["task"]))
    fig = Figure(figsize=(max(8.0, 0.75 * len(classifiers) + 3), 10), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    data["zero_stub"] = _grouped_panels(axes, data, "classifier", "task", classifiers, tasks)
    for ax, ylabel in zip(axes, (ACCURACY_LABEL, Z_LABEL, RUNTIME_LABEL)):
        ax.set_ylabel(ylabel)
    axes[0].axhline(threshold, color=HIGHLIGHT, linestyle="--", linewidth=1.5)
    threshold_handle = Line2D([], [], color=HIGHLIGHT, linestyle="--", linewidth=1.5,
                              label=f"threshold {threshold:.2f}")
    _hue_legend(axes[0], data, tasks, "Task", threshold_handle)
    shortlisted = set(data.loc[data["highlight"], "classifier"])
    for tick, name in zip(axes[2].get_xticklabels(), classifiers):
        if name in shortlisted:
            tick.set_fontweight("bold")
    fig.suptitle(f"Stage {text_label(stage)}: classifiers (bold = at or above the threshold on "
                 "every task)")
    return fig, data


def top_performer_options(option_frequencies: pd.DataFrame):
    """How often each option appears among the top performers (the study's Figure 5).

    Returns ``(fig, data)``; ``data`` has step, option, tier, count (summed over
    classifiers) and ``highlight`` (True for the strict, ≥ 0.70 tier, drawn hatched).
    The count axis has whole-number ticks only, and every top-tier count is written above
    its bar (so a 0 reads as a count, not as a missing bar).
    """
    data = (option_frequencies.groupby(["step", "option", "tier"], sort=False)["count"]
            .sum().reset_index())
    data["highlight"] = data["tier"] == "strict"
    steps = list(dict.fromkeys(data["step"]))
    if not steps:
        raise ValueError("option_frequencies is empty: there is nothing to draw.")
    fig = Figure(figsize=(max(8.0, 2.8 * len(steps)), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(steps), sharey=True, squeeze=False)[0])
    for ax, step in zip(axes, steps):
        part = data[data["step"] == step]
        options = list(dict.fromkeys(part["option"]))
        for tier, style in (("top", {"color": "#6baed6"}),
                            ("strict", {"color": "#08519c", "hatch": "//", "edgecolor": "white"})):
            counts = part[part["tier"] == tier].set_index("option")["count"]
            heights = [counts.get(o, 0) for o in options]
            ax.bar(range(len(options)), heights, width=0.7,
                   label={"top": "top performers", "strict": "strict tier"}[tier], **style)
            if tier == "top":
                for i, height in enumerate(heights):
                    ax.text(i, height, f"{int(height)}", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(options)), [text_label(o) for o in options], rotation=30,
                      ha="right")
        ax.set_title(FIELD_LABELS.get(step, step), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    integer_ticks(axes[0], data["count"].max())
    axes[0].set_ylabel("configurations")
    axes[-1].legend(loc="upper right", fontsize=8)
    return fig, data


def search_strategies(evaluations: pd.DataFrame, stage: str):
    """Accuracy, Z and time per classifier and task, one bar per search strategy (Figure 6).

    Returns ``(fig, data)``; ``data``: task, classifier, search, accuracy, z_score,
    seconds, accuracy_ci_low, accuracy_ci_high, unreliable, zero_stub (the most accurate
    evaluation when several share those three keys). Marks as in
    :func:`classifier_screen`.
    """
    frame = stage_rows(evaluations, stage)
    data = _best_per(frame, ["task", "classifier", "search"])[
        ["task", "classifier", "search", "accuracy", "z_score", "seconds", *CI_COLUMNS,
         "unreliable"]].copy()
    tasks = list(dict.fromkeys(data["task"]))
    classifiers = list(dict.fromkeys(data["classifier"]))
    searches = list(dict.fromkeys(data["search"]))
    fig = Figure(figsize=(max(8.0, 4.2 * len(tasks)), 9), layout="constrained")
    axes = fig.subplots(3, len(tasks), squeeze=False, sharex=True, sharey="row")
    zero = np.zeros(len(data), dtype=bool)
    for c, task in enumerate(tasks):
        rows = np.flatnonzero((data["task"] == task).to_numpy())
        zero[rows] = _grouped_panels(axes[:, c], data.iloc[rows], "classifier", "search",
                                     classifiers, searches)
        axes[0, c].set_title(f"task {text_label(task)}")
    # Shared rows: the log limits must cover every task's times, not the last one drawn.
    log_axis(axes[2, 0], data["seconds"])
    for r, ylabel in enumerate((ACCURACY_LABEL, "Z-score", RUNTIME_LABEL)):
        axes[r, 0].set_ylabel(ylabel)
    data["zero_stub"] = zero
    _hue_legend(axes[0, -1], data, searches, FIELD_LABELS["search"])
    return fig, data


def _view_labels(frame: pd.DataFrame) -> list[str]:
    parts = [frame["modalities"].astype(str), frame["parcellation"].astype(str)]
    for column in ("classifier", "search"):
        if frame[column].nunique() > 1:
            parts.append(frame[column].astype(str))
    return ["\n".join(values) for values in zip(*parts)]


def null_comparison(evaluations: pd.DataFrame, nulls: pd.DataFrame, stage: str):
    """Real accuracy, with its 95 % interval, beside the shuffled-label accuracies (Figure 7).

    The figure draws every shuffled-label (null) accuracy as a grey dot and the real
    accuracy as a red diamond with its 95 % interval; it marks nothing as "above" the
    null: with a handful of shuffles a band of them says little, so whether an accuracy
    is above chance is for the permutation p-value (``p_value``) to say, in the text.

    Returns
    -------
    fig, data
        One row per evaluation: evaluation_id, task, modalities, parcellation, view,
        accuracy, accuracy_ci_low, accuracy_ci_high, n_null, null_mean, null_q05,
        null_q95, p_value, unreliable (drawn hollow) and ``highlight`` — kept only for
        callers of earlier versions (the accuracy exceeds the null's 95th percentile); it
        is not drawn and is no test of anything: use ``p_value``.
    """
    frame = stage_rows(evaluations, stage).reset_index(drop=True)
    by_id = {key: group["accuracy"].to_numpy(dtype=float)
             for key, group in nulls.groupby("evaluation_id", sort=False)}
    frame = frame.assign(view=_view_labels(frame))
    rows = []
    for _, row in frame.iterrows():
        values = by_id.get(row["evaluation_id"], np.array([]))
        q05, q95 = (np.quantile(values, [0.05, 0.95]) if values.size else (np.nan, np.nan))
        rows.append({
            "evaluation_id": row["evaluation_id"], "task": row["task"],
            "modalities": row["modalities"], "parcellation": row["parcellation"],
            "view": row["view"], "accuracy": float(row["accuracy"]),
            "accuracy_ci_low": row["accuracy_ci_low"],
            "accuracy_ci_high": row["accuracy_ci_high"], "n_null": values.size,
            "null_mean": float(values.mean()) if values.size else np.nan,
            "null_q05": float(q05), "null_q95": float(q95),
            "p_value": pd.to_numeric(row.get("p_value"), errors="coerce"),
            "unreliable": bool(row["unreliable"]),
            "highlight": bool(values.size and row["accuracy"] > q95),
        })
    data = pd.DataFrame(rows)
    tasks = list(dict.fromkeys(data["task"]))
    n_views = max(data.groupby("task")["view"].nunique())
    # One row per task keeps the labels legible however many views there are.
    fig = Figure(figsize=(max(7.0, 1.1 * n_views + 2.5), 3.4 * len(tasks) + 0.4),
                 layout="constrained")
    axes = fig.subplots(len(tasks), 1, squeeze=False)[:, 0]
    rng = np.random.default_rng(0)  # jitter only; fixed so the figure is reproducible
    for ax, task in zip(axes, tasks):
        part = data[data["task"] == task].reset_index(drop=True)
        for i, row in part.iterrows():
            values = by_id.get(row["evaluation_id"], np.array([]))
            if values.size:
                ax.scatter(i + NULL_OFFSET + rng.uniform(-0.12, 0.12, values.size), values,
                           s=(MARKER_POINTS * 0.85) ** 2, color=MUTED, alpha=0.6,
                           linewidths=0, zorder=1)
        # The real accuracy beside its shuffled-label cloud, so neither hides the other.
        positions = np.arange(len(part), dtype=float) + REAL_OFFSET
        interval_bars(ax, positions, part["accuracy"], part["accuracy_ci_low"],
                      part["accuracy_ci_high"], capsize=4, elinewidth=1.2)
        for hollow in (False, True):
            mask = (part["unreliable"] == hollow).to_numpy()
            ax.scatter(positions[mask], part.loc[mask, "accuracy"], s=80, marker="D",
                       facecolors="white" if hollow else HIGHLIGHT, edgecolors=HIGHLIGHT,
                       linewidths=1.5, zorder=4)
        ax.set_xticks(range(len(part)), [text_label(v) for v in part["view"]], fontsize=8)
        ax.set_xlim(-0.6, len(part) - 0.4)
        ax.set_ylim(-0.04, 1.04)  # an accuracy of 0 or 1 is drawn whole
        ax.set_title(f"task {text_label(task)}")
        ax.grid(axis="y", alpha=0.3)
        ax.set_ylabel("Accuracy")
    axes[-1].set_xlabel(f"{FIELD_LABELS['modalities']} / {FIELD_LABELS['parcellation']}")
    handles = [
        Line2D([], [], marker="o", linestyle="none", color=MUTED, alpha=0.6,
               markersize=MARKER_POINTS * 0.85, label="accuracy with shuffled labels"),
        Line2D([], [], marker="D", color=HIGHLIGHT, markeredgecolor=HIGHLIGHT, linewidth=0,
               label="real accuracy"),
        interval_handle(),
    ]
    if data["unreliable"].any():
        handles.append(Line2D([], [], marker="D", linestyle="none", markerfacecolor="white",
                              markeredgecolor=HIGHLIGHT, label=UNRELIABLE_LABEL))
    axes[0].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return fig, data


def save_figure(fig: Figure, directory, name: str) -> dict:
    """Write ``fig`` as ``<directory>/<name>.png`` (110 dpi) and ``.svg``.

    The name is reduced to letters, digits, ``.``, ``_`` and ``-`` so user-provided
    task or classifier names cannot leave the directory. SVG text is drawn as paths and
    the SVG carries no date, so the files are reproducible.

    Returns
    -------
    dict
        ``{"png": Path, "svg": Path}``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-") or "figure"
    paths = {"png": directory / f"{safe}.png", "svg": directory / f"{safe}.svg"}
    with matplotlib.rc_context({"svg.hashsalt": "cohortbench", "svg.fonttype": "path"}):
        fig.savefig(paths["png"], dpi=_DPI, metadata={"Software": None})
        fig.savefig(paths["svg"], metadata={"Date": None})
    return paths
