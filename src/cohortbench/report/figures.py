"""The study's figures, each returned with the data it plots.

Every function returns ``(fig, data)``: a :class:`matplotlib.figure.Figure` built without
pyplot (so no global figure registry, no display, nothing to close) and the DataFrame
actually drawn, so tests check numbers rather than pixels. Where points are highlighted the
data has a boolean ``highlight`` column. :func:`save_figure` writes PNG and SVG files.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from cohortbench.design.vocabulary import FIELD_LABELS, OPTION_ORDER
from cohortbench.report.figure_marks import (
    CI_COLUMNS,
    HIGHLIGHT_MARKER_POINTS,
    INTERVAL_LABEL,
    MARKER_POINTS,
    UNRELIABLE_LABEL,
    accuracy_bars,
    flagged_bars,
    integer_ticks,
    interval_bars,
    log_axis,
    padded_limits,
    runtime_points,
    unreliable_handle,
    with_marks,
)

__all__ = [
    "classifier_screen",
    "step_strips",
    "step_strips_pooled",
    "top_performer_options",
    "search_strategies",
    "null_comparison",
    "save_figure",
    "top_fraction",
    "STRIP_STEPS",
]

#: The panels of a strip figure, top to bottom (a step is drawn only when it varies).
STRIP_STEPS = ("row_scaling", "column_scaling", "feature_selection", "n_features",
               "dim_reduction")
HIGHLIGHT = "#d62728"
MUTED = "#8c8c8c"
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f", "#d62728"]
ACCURACY_LABEL = "Accuracy (95 % interval)"
Z_LABEL = "Z-score vs shuffled labels"
RUNTIME_LABEL = "Run time (s, log scale)"
#: Where the null cloud and the real accuracy sit around a view's tick (null comparison).
NULL_OFFSET, REAL_OFFSET = -0.12, 0.2
#: Half-width of the horizontal jitter of strip points, in units of one option.
JITTER = 0.18
_DPI = 110


def _label(value) -> str:
    """User text for matplotlib: ``$`` would otherwise start mathtext."""
    return str(value).replace("$", r"\$")


def _stage_rows(evaluations: pd.DataFrame, stage: str, **equal) -> pd.DataFrame:
    mask = evaluations["stage"] == stage
    for column, value in equal.items():
        mask &= evaluations[column] == value
    frame = evaluations[mask]
    if frame.empty:
        wanted = ", ".join(f"{k} {v!r}" for k, v in equal.items())
        raise ValueError(f"No evaluation of stage {stage!r}{' with ' + wanted if wanted else ''}.")
    return with_marks(frame)


def _best_per(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per key combination: the most accurate (first in order on ties)."""
    ordered = frame.assign(_order=np.arange(len(frame)))
    ordered = ordered.sort_values(["accuracy", "_order"], ascending=[False, True], kind="stable")
    best = ordered.drop_duplicates(keys).sort_values("_order", kind="stable")
    return best.drop(columns="_order").reset_index(drop=True)


def top_fraction(frame: pd.DataFrame, fraction: float = 0.10) -> np.ndarray:
    """Boolean mask of the top ``ceil(fraction × n)`` rows by accuracy.

    Ties are broken by the higher Z-score, then by row order, so exactly that many rows
    are marked.
    """
    n_top = math.ceil(fraction * len(frame) - 1e-9)
    accuracy = frame["accuracy"].to_numpy(dtype=float)
    z = pd.to_numeric(frame["z_score"], errors="coerce").to_numpy(dtype=float)
    z = np.where(np.isfinite(z), z, -np.inf)
    order = np.lexsort((np.arange(len(frame)), -z, -accuracy))
    mask = np.zeros(len(frame), dtype=bool)
    mask[order[:n_top]] = True
    return mask


def _interval_handle():
    return Line2D([], [], color="black", marker="_", markersize=6, linewidth=1.0,
                  label=INTERVAL_LABEL)


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
    time_ax.set_xticks(np.arange(len(x_values)), [_label(x) for x in x_values], rotation=30,
                       ha="right")
    return zero


def _hue_legend(ax, data, hue_values, title, *extra):
    handles = [Patch(color=PALETTE[h % len(PALETTE)], label=_label(hue))
               for h, hue in enumerate(hue_values)]
    handles += [_interval_handle(), *extra]
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
    frame = _stage_rows(evaluations, stage)
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
    fig.suptitle(f"Stage {_label(stage)}: classifiers (bold = at or above the threshold on "
                 "every task)")
    return fig, data


def _strip_options(frame: pd.DataFrame, step: str):
    """The sorted options of one step and each row's option (None: not in this panel)."""
    if step == "n_features":
        selected = (frame["feature_selection"] != "none").to_numpy()
        values = frame.loc[selected, "n_features"]
        if values.nunique() < 2:
            return None, None
        options = [str(int(v)) for v in sorted(values.unique())]
        labels = [str(int(v)) if s else None for v, s in zip(frame["n_features"], selected)]
        return options, labels
    labels = frame[step].astype(str).tolist()
    present = list(dict.fromkeys(labels))
    if len(present) < 2:
        return None, None
    order = OPTION_ORDER.get(step, ())
    options = sorted(present, key=lambda o: (order.index(o) if o in order else len(order), o))
    return options, labels


def _strip_data(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    highlight = top_fraction(frame)
    # One jitter per configuration, the same in every panel, from a fixed seed: the figure
    # is reproducible and does not depend on which steps happen to vary.
    jitter = np.random.default_rng(seed).uniform(-JITTER, JITTER, len(frame))
    sizes = np.where(highlight, HIGHLIGHT_MARKER_POINTS, MARKER_POINTS)
    columns = ["evaluation_id", "classifier", "task", "step", "option", "x", "accuracy",
               *CI_COLUMNS, "z_score", "highlight", "unreliable", "marker_size"]
    parts = []
    for step in STRIP_STEPS:
        options, labels = _strip_options(frame, step)
        if options is None:
            continue
        keep = np.array([label is not None for label in labels])
        shown = [label for label in labels if label is not None]
        parts.append(pd.DataFrame({
            "evaluation_id": frame["evaluation_id"].to_numpy()[keep],
            "classifier": frame["classifier"].to_numpy()[keep],
            "task": frame["task"].to_numpy()[keep], "step": step, "option": shown,
            "x": np.array([options.index(o) for o in shown], dtype=float) + jitter[keep],
            "accuracy": frame["accuracy"].to_numpy(dtype=float)[keep],
            **{c: frame[c].to_numpy(dtype=float)[keep] for c in CI_COLUMNS},
            "z_score": pd.to_numeric(frame["z_score"], errors="coerce").to_numpy(float)[keep],
            "highlight": highlight[keep], "unreliable": frame["unreliable"].to_numpy()[keep],
            "marker_size": sizes[keep],
        }, columns=columns))
    if not parts:
        raise ValueError("No pipeline step varies among these evaluations, so there is "
                         "nothing to compare in a strip plot.")
    return pd.concat(parts, ignore_index=True)


def _strip_points(ax, part, value) -> None:
    for flag, color, z in ((False, MUTED, 2), (True, HIGHLIGHT, 3)):
        for unreliable in (False, True):
            points = part[(part["highlight"] == flag) & (part["unreliable"] == unreliable)]
            ax.scatter(points["x"], points[value], s=points["marker_size"] ** 2,
                       facecolors="none" if unreliable else color, edgecolors=color,
                       linewidths=1.2 if unreliable else 0, alpha=0.8, zorder=z)


def _strip_figure(data: pd.DataFrame, title: str):
    steps = list(dict.fromkeys(data["step"]))
    fig = Figure(figsize=(10, 2.5 * len(steps) + 1.2), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(steps), 2, squeeze=False))
    for r, step in enumerate(steps):
        part = data[data["step"] == step]
        options = list(dict.fromkeys(part.sort_values("x")["option"]))
        for c, (value, ylabel) in enumerate([("accuracy", ACCURACY_LABEL),
                                             ("z_score", "Z-score")]):
            ax = axes[r, c]
            limits = [part[value]]
            if value == "accuracy":
                # Light, behind the dots: with n ≈ 30 each interval spans ~±15 points,
                # and the overlap is the message.
                interval_bars(ax, part["x"], part[value], part[CI_COLUMNS[0]],
                              part[CI_COLUMNS[1]], ecolor=MUTED, alpha=0.35, capsize=0,
                              elinewidth=0.8, zorder=1)
                limits += [part[CI_COLUMNS[0]], part[CI_COLUMNS[1]]]
            _strip_points(ax, part, value)
            means = part.groupby("option")[value].mean()
            for i, option in enumerate(options):
                ax.hlines(means[option], i - 0.3, i + 0.3, color="black", linewidth=1.6,
                          zorder=4)
            ax.set_xticks(range(len(options)), [_label(o) for o in options])
            ax.set_xlim(-0.5, len(options) - 0.5)  # jitter ±0.18 leaves ≥ 0.3 for markers
            ax.set_ylim(*padded_limits(pd.concat(limits)))
            ax.set_ylabel(ylabel)
            ax.set_title(FIELD_LABELS.get(step, step), fontsize=10)
            ax.grid(axis="y", alpha=0.3)
    handles = [
        Line2D([], [], marker="o", linestyle="none", color=HIGHLIGHT,
               markersize=HIGHLIGHT_MARKER_POINTS, label="top 10 % by accuracy"),
        Line2D([], [], marker="o", linestyle="none", color=MUTED, markersize=MARKER_POINTS,
               label="other configurations"),
        Line2D([], [], color="black", linewidth=1.6, label="mean of the option"),
        Line2D([], [], color=MUTED, alpha=0.6, linewidth=0.8, label=INTERVAL_LABEL),
    ]
    if data["unreliable"].any():
        handles.append(unreliable_handle("point"))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 5),
               fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11)
    return fig


def step_strips(evaluations: pd.DataFrame, stage: str, classifier: str, task: str):
    """Accuracy and Z per option of each varied step for one classifier and task.

    The study's Figures 2 and 3. Returns ``(fig, data)``; ``data`` has one row per
    configuration and step panel (evaluation_id, classifier, task, step, option, x,
    accuracy, accuracy_ci_low, accuracy_ci_high, z_score, highlight, unreliable,
    marker_size); ``highlight`` marks the top 10 % of the configurations by accuracy
    (:func:`top_fraction`), the same configurations in every panel. ``x`` is the option's
    position plus a seeded jitter (the same for a configuration in every panel);
    ``marker_size`` is the marker's diameter in points; accuracies carry light 95 %
    interval bars; unreliable configurations are hollow.
    """
    frame = _stage_rows(evaluations, stage, classifier=classifier, task=task)
    data = _strip_data(frame)
    title = f"{_label(classifier)}, task {_label(task)} (stage {_label(stage)})"
    return _strip_figure(data, title), data


def step_strips_pooled(evaluations: pd.DataFrame, stage: str, task: str):
    """The same strips pooled over every classifier of the stage for one task (Figure 4).

    The top 10 % is taken over the pooled configurations.
    """
    frame = _stage_rows(evaluations, stage, task=task)
    data = _strip_data(frame)
    title = f"All classifiers, task {_label(task)} (stage {_label(stage)})"
    return _strip_figure(data, title), data


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
        for tier, style in (("top", dict(color="#6baed6")),
                            ("strict", dict(color="#08519c", hatch="//", edgecolor="white"))):
            counts = part[part["tier"] == tier].set_index("option")["count"]
            heights = [counts.get(o, 0) for o in options]
            ax.bar(range(len(options)), heights, width=0.7,
                   label={"top": "top performers", "strict": "strict tier"}[tier], **style)
            if tier == "top":
                for i, height in enumerate(heights):
                    ax.text(i, height, f"{int(height)}", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(options)), [_label(o) for o in options], rotation=30,
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
    frame = _stage_rows(evaluations, stage)
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
        axes[0, c].set_title(f"task {_label(task)}")
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
    frame = _stage_rows(evaluations, stage).reset_index(drop=True)
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
        ax.set_xticks(range(len(part)), [_label(v) for v in part["view"]], fontsize=8)
        ax.set_xlim(-0.6, len(part) - 0.4)
        ax.set_ylim(-0.04, 1.04)  # an accuracy of 0 or 1 is drawn whole
        ax.set_title(f"task {_label(task)}")
        ax.grid(axis="y", alpha=0.3)
        ax.set_ylabel("Accuracy")
    handles = [
        Line2D([], [], marker="o", linestyle="none", color=MUTED, alpha=0.6,
               markersize=MARKER_POINTS * 0.85, label="accuracy with shuffled labels"),
        Line2D([], [], marker="D", color=HIGHLIGHT, markeredgecolor=HIGHLIGHT, linewidth=0,
               label="real accuracy"),
        _interval_handle(),
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
