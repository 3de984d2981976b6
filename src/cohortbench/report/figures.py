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
from matplotlib import ticker
from matplotlib.figure import Figure

from cohortbench.design.vocabulary import FIELD_LABELS, OPTION_ORDER

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
STEP_TITLES = FIELD_LABELS  # one vocabulary for tables, figures and exports
HIGHLIGHT = "#d62728"
MUTED = "#8c8c8c"
BAND = "#2ca02c"
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f", "#d62728"]
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
    return frame


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


def _log_axis(ax) -> None:
    """Log scale with plain tick labels (0.5, 1, 2, 5, 10 …) a reader can take in at once."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def _grouped_bars(ax, data, x_key, hue_key, value, x_values, hue_values, log=False):
    width = 0.8 / max(len(hue_values), 1)
    for h, hue in enumerate(hue_values):
        part = data[data[hue_key] == hue].set_index(x_key)[value]
        heights = [part.get(x, np.nan) for x in x_values]
        positions = np.arange(len(x_values)) - 0.4 + width * (h + 0.5)
        ax.bar(positions, heights, width=width, label=_label(hue),
               color=PALETTE[h % len(PALETTE)])
    ax.set_xticks(np.arange(len(x_values)), [_label(x) for x in x_values], rotation=30,
                  ha="right")
    if log:
        _log_axis(ax)
    ax.grid(axis="y", alpha=0.3)


def classifier_screen(evaluations: pd.DataFrame, stage: str, threshold: float = 0.6):
    """Accuracy, Z-score and runtime per classifier and task (the study's Figure 1).

    Returns
    -------
    fig, data
        ``data``: classifier, task, accuracy, z_score, seconds, above_threshold and
        ``highlight`` (the classifier reaches ``threshold`` on every task). With several
        evaluations per classifier and task, the most accurate one is shown.
    """
    frame = _stage_rows(evaluations, stage)
    data = _best_per(frame, ["classifier", "task"])[
        ["classifier", "task", "accuracy", "z_score", "seconds"]].copy()
    data["above_threshold"] = data["accuracy"] >= threshold
    passes = data.groupby("classifier", sort=False)["above_threshold"].transform("all")
    data["highlight"] = passes.astype(bool)
    classifiers = list(dict.fromkeys(data["classifier"]))
    tasks = list(dict.fromkeys(data["task"]))
    fig = Figure(figsize=(max(8.0, 0.75 * len(classifiers) + 3), 10), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    panels = [("accuracy", "Accuracy", False), ("z_score", "Z-score vs shuffled labels", False),
              ("seconds", "Run time (s, log scale)", True)]
    for ax, (value, ylabel, log) in zip(axes, panels):
        _grouped_bars(ax, data, "classifier", "task", value, classifiers, tasks, log=log)
        ax.set_ylabel(ylabel)
    axes[0].axhline(threshold, color=HIGHLIGHT, linestyle="--", linewidth=1.5,
                    label=f"threshold {threshold:.2f}")
    axes[0].set_ylim(0, 1)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), title="task")
    shortlisted = set(data.loc[data["highlight"], "classifier"])
    for tick, name in zip(axes[2].get_xticklabels(), classifiers):
        if name in shortlisted:
            tick.set_fontweight("bold")
    fig.suptitle(f"Stage {_label(stage)}: classifiers (bold = at or above the threshold on "
                 "every task)")
    return fig, data


def _strip_data(frame: pd.DataFrame) -> pd.DataFrame:
    highlight = top_fraction(frame)
    rng = np.random.default_rng(0)  # jitter only; fixed so figures are reproducible
    rows = []
    for step in STRIP_STEPS:
        if step == "n_features":
            selected = frame["feature_selection"] != "none"
            values = frame.loc[selected, "n_features"]
            if values.nunique() < 2:
                continue
            options = [str(int(v)) for v in sorted(values.unique())]
            labels = pd.Series([str(int(v)) if s else None for v, s in
                                zip(frame["n_features"], selected)], index=frame.index)
        else:
            present = list(dict.fromkeys(frame[step].astype(str)))
            if len(present) < 2:
                continue
            order = OPTION_ORDER.get(step, ())
            options = sorted(present, key=lambda o: (order.index(o) if o in order else
                                                     len(order), o))
            labels = frame[step].astype(str)
        for position, (index, row) in enumerate(frame.iterrows()):
            option = labels.loc[index]
            if pd.isna(option):
                continue
            rows.append({
                "evaluation_id": row["evaluation_id"], "classifier": row["classifier"],
                "task": row["task"], "step": step, "option": option,
                "x": options.index(option) + rng.uniform(-0.18, 0.18),
                "accuracy": float(row["accuracy"]), "z_score": float(row["z_score"]),
                "highlight": bool(highlight[position]),
            })
    data = pd.DataFrame(rows, columns=["evaluation_id", "classifier", "task", "step",
                                       "option", "x", "accuracy", "z_score", "highlight"])
    if data.empty:
        raise ValueError("No pipeline step varies among these evaluations, so there is "
                         "nothing to compare in a strip plot.")
    return data


def _strip_figure(data: pd.DataFrame, title: str):
    steps = list(dict.fromkeys(data["step"]))
    fig = Figure(figsize=(10, 2.5 * len(steps) + 0.8), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(steps), 2, squeeze=False))
    for r, step in enumerate(steps):
        part = data[data["step"] == step]
        options = list(dict.fromkeys(part.sort_values("x")["option"]))
        for c, (value, ylabel) in enumerate([("accuracy", "Accuracy"), ("z_score", "Z-score")]):
            ax = axes[r, c]
            for flag, color, size, z in ((False, MUTED, 10, 1), (True, HIGHLIGHT, 16, 2)):
                points = part[part["highlight"] == flag]
                ax.scatter(points["x"], points[value], s=size, color=color, alpha=0.75,
                           linewidths=0, zorder=z)
            means = part.groupby("option")[value].mean()
            for i, option in enumerate(options):
                ax.hlines(means[option], i - 0.3, i + 0.3, color="black", linewidth=1.6,
                          zorder=3)
            ax.set_xticks(range(len(options)), [_label(o) for o in options])
            ax.set_xlim(-0.6, len(options) - 0.4)
            ax.set_ylabel(ylabel)
            ax.set_title(STEP_TITLES.get(step, step), fontsize=10)
            ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title + "\nred = top 10 % of configurations by accuracy; black line = mean",
                 fontsize=11)
    return fig


def step_strips(evaluations: pd.DataFrame, stage: str, classifier: str, task: str):
    """Accuracy and Z per option of each varied step for one classifier and task.

    The study's Figures 2 and 3. Returns ``(fig, data)``; ``data`` has one row per
    configuration and step panel (evaluation_id, classifier, task, step, option, x,
    accuracy, z_score, highlight); ``highlight`` marks the top 10 % of the configurations
    by accuracy (:func:`top_fraction`), the same configurations in every panel.
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
            ax.bar(range(len(options)), [counts.get(o, 0) for o in options], width=0.7,
                   label={"top": "top performers", "strict": "strict tier"}[tier], **style)
        ax.set_xticks(range(len(options)), [_label(o) for o in options], rotation=30,
                      ha="right")
        ax.set_title(STEP_TITLES.get(step, step), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("configurations")
    axes[-1].legend(loc="upper right", fontsize=8)
    return fig, data


def search_strategies(evaluations: pd.DataFrame, stage: str):
    """Accuracy, Z and time per classifier and task, one bar per search strategy (Figure 6).

    Returns ``(fig, data)``; ``data``: task, classifier, search, accuracy, z_score, seconds
    (the most accurate evaluation when several share those three keys).
    """
    frame = _stage_rows(evaluations, stage)
    data = _best_per(frame, ["task", "classifier", "search"])[
        ["task", "classifier", "search", "accuracy", "z_score", "seconds"]]
    tasks = list(dict.fromkeys(data["task"]))
    classifiers = list(dict.fromkeys(data["classifier"]))
    searches = list(dict.fromkeys(data["search"]))
    fig = Figure(figsize=(max(8.0, 4.2 * len(tasks)), 9), layout="constrained")
    axes = fig.subplots(3, len(tasks), squeeze=False, sharex=True, sharey="row")
    panels = [("accuracy", "Accuracy", False), ("z_score", "Z-score", False),
              ("seconds", "Run time (s, log scale)", True)]
    for c, task in enumerate(tasks):
        part = data[data["task"] == task]
        for r, (value, ylabel, log) in enumerate(panels):
            ax = axes[r, c]
            _grouped_bars(ax, part, "classifier", "search", value, classifiers, searches,
                          log=log)
            if c == 0:
                ax.set_ylabel(ylabel)
        axes[0, c].set_title(f"task {_label(task)}")
        axes[0, c].set_ylim(0, 1)
    axes[0, -1].legend(title="search", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig, data


def _view_labels(frame: pd.DataFrame) -> list[str]:
    parts = [frame["modalities"].astype(str), frame["parcellation"].astype(str)]
    for column in ("classifier", "search"):
        if frame[column].nunique() > 1:
            parts.append(frame[column].astype(str))
    return ["\n".join(values) for values in zip(*parts)]


def null_comparison(evaluations: pd.DataFrame, nulls: pd.DataFrame, stage: str):
    """Real accuracy against the permutation null per view and task (Figure 7).

    Returns ``(fig, data)``; ``data`` has one row per evaluation: evaluation_id, task,
    modalities, parcellation, view, accuracy, n_null, null_mean, null_q05, null_q95 and
    ``highlight`` (accuracy above the null's 95th percentile). The figure draws every null
    accuracy as a black point, the 5–95 % band in green and the real accuracy in red.
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
            "view": row["view"], "accuracy": float(row["accuracy"]), "n_null": values.size,
            "null_mean": float(values.mean()) if values.size else np.nan,
            "null_q05": float(q05), "null_q95": float(q95),
            "highlight": bool(values.size and row["accuracy"] > q95),
        })
    data = pd.DataFrame(rows)
    tasks = list(dict.fromkeys(data["task"]))
    n_views = max(data.groupby("task")["view"].nunique())
    # One row per task keeps the labels legible however many views there are.
    fig = Figure(figsize=(max(7.0, 1.1 * n_views + 2.5), 3.4 * len(tasks) + 0.4),
                 layout="constrained")
    axes = fig.subplots(len(tasks), 1, squeeze=False)[:, 0]
    rng = np.random.default_rng(0)  # jitter only
    for ax, task in zip(axes, tasks):
        part = data[data["task"] == task].reset_index(drop=True)
        for i, row in part.iterrows():
            values = by_id.get(row["evaluation_id"], np.array([]))
            if values.size:
                ax.fill_between([i - 0.3, i + 0.3], row["null_q05"], row["null_q95"],
                                color=BAND, alpha=0.3, linewidth=0,
                                label="null 5–95 %" if i == 0 else None)
                ax.scatter(i + rng.uniform(-0.2, 0.2, values.size), values, s=8,
                           color="black", alpha=0.6, linewidths=0,
                           label="shuffled-label accuracy" if i == 0 else None)
            ax.scatter([i], [row["accuracy"]], s=90, marker="D", color=HIGHLIGHT, zorder=3,
                       label="real accuracy" if i == 0 else None)
        ax.set_xticks(range(len(part)), [_label(v) for v in part["view"]], fontsize=8)
        ax.set_xlim(-0.6, len(part) - 0.4)
        ax.set_ylim(0, 1.02)
        ax.set_title(f"task {_label(task)}")
        ax.grid(axis="y", alpha=0.3)
        ax.set_ylabel("Accuracy")
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
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
