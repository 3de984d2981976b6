"""Strip plots of accuracy and Z-score per option of each pipeline step (Figures 2-4).

Each dot is one configuration, placed at its option with a seeded jitter; the top 10 % by
accuracy are red, every accuracy carries a light 95 % interval bar and numerically
unreliable configurations are hollow. Returns ``(fig, data)`` like every figure.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from cohortbench.design.vocabulary import FIELD_LABELS, OPTION_ORDER
from cohortbench.report.figure_marks import (
    ACCURACY_LABEL,
    CI_COLUMNS,
    HIGHLIGHT,
    HIGHLIGHT_MARKER_POINTS,
    INTERVAL_LABEL,
    MARKER_POINTS,
    MUTED,
    interval_bars,
    padded_limits,
    stage_rows,
    text_label,
    unreliable_handle,
)

__all__ = ["JITTER", "STRIP_STEPS", "step_strips", "step_strips_pooled", "top_fraction"]

#: The panels of a strip figure, top to bottom (a step is drawn only when it varies).
STRIP_STEPS = ("row_scaling", "column_scaling", "feature_selection", "n_features",
               "dim_reduction")
#: Half-width of the horizontal jitter of strip points, in units of one option.
JITTER = 0.18


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
            ax.set_xticks(range(len(options)), [text_label(o) for o in options])
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
    frame = stage_rows(evaluations, stage, classifier=classifier, task=task)
    data = _strip_data(frame)
    title = f"{text_label(classifier)}, task {text_label(task)} (stage {text_label(stage)})"
    return _strip_figure(data, title), data


def step_strips_pooled(evaluations: pd.DataFrame, stage: str, task: str):
    """The same strips pooled over every classifier of the stage for one task (Figure 4).

    The top 10 % is taken over the pooled configurations.
    """
    frame = stage_rows(evaluations, stage, task=task)
    data = _strip_data(frame)
    title = f"All classifiers, task {text_label(task)} (stage {text_label(stage)})"
    return _strip_figure(data, title), data
