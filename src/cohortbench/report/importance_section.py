"""The report's section for a stage of kind ``importance`` (issue 20).

Per task, for the best configuration the stage examined:

- **maps and modalities** (part A): a bar chart of the accuracy without each map
  or modality and with it alone, with 95 % intervals, against the full view's
  accuracy; a sentence saying which removal costs most and whether McNemar can tell
  it apart on these subjects; the table behind the chart;
- **regions** (part B): a sentence saying how many features survive family-wise
  correction (often none at n = 30, said plainly), a table of the top regions
  (ROI, map, mean activation, its range over folds, p, family-wise p, selection
  frequency), the maps' mean |activation|, the selection stability, and a heatmap of
  the mean activation, maps by ROIs in the parcellation's order.

Figures return ``(figure, data)`` like every figure of the report
(:mod:`cohortbench.report.figures`); the data is what is drawn.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from cohortbench.analyse.importance import IMPORTANCE_EXPLANATION
from cohortbench.analyse.importance_results import (
    collect_importance,
    contribution_sentence,
    record_summary,
    stability_text,
)
from cohortbench.report.figure_marks import (
    ACCURACY_LABEL,
    PALETTE,
    accuracy_bars,
    interval_handle,
    text_label,
)

__all__ = ["importance_blocks", "contribution_figure", "activation_heatmap", "top_regions",
           "TOP_REGIONS"]

#: Rows of the top-regions table and regions marked in the heatmap.
TOP_REGIONS = 15
_KIND_COLOURS = {"leave-out": PALETTE[0], "only": PALETTE[1]}
_KIND_LABELS = {"leave-out": "without it", "only": "it alone"}
_WIDTH = 0.38


def contribution_figure(contributions: pd.DataFrame, task: str):
    """Accuracy without each map or modality, and with it alone, against the full view.

    Returns
    -------
    fig, data
        One row per bar: name, level, kind, position, accuracy, ci_low, ci_high,
        change, mcnemar_p, full_accuracy, zero_stub.
    """
    part = contributions[contributions["task"] == task]
    if part.empty:
        raise ValueError(f"no map or modality view of task {task!r} has finished")
    names = list(dict.fromkeys(zip(part["level"], part["map_or_modality"])))
    rows = []
    for _, row in part.iterrows():
        index = names.index((row["level"], row["map_or_modality"]))
        offset = -_WIDTH / 2 if row["kind"] == "leave-out" else _WIDTH / 2
        rows.append({"name": row["map_or_modality"], "level": row["level"],
                     "kind": row["kind"], "position": index + offset,
                     "accuracy": row["accuracy"], "ci_low": row["ci_low"],
                     "ci_high": row["ci_high"], "change": row["change"],
                     "mcnemar_p": row["mcnemar_p"], "full_accuracy": row["full_accuracy"]})
    data = pd.DataFrame(rows)
    fig = Figure(figsize=(max(6.5, 0.75 * len(names) + 2.5), 3.8), layout="constrained")
    ax = fig.subplots()
    full = float(data["full_accuracy"].iloc[0])
    stubs = np.zeros(len(data), dtype=bool)
    for kind, colour in _KIND_COLOURS.items():
        mask = (data["kind"] == kind).to_numpy()
        if mask.any():
            stubs[mask] = accuracy_bars(
                ax, data.loc[mask, "position"], data.loc[mask, "accuracy"],
                data.loc[mask, "ci_low"], data.loc[mask, "ci_high"],
                np.zeros(int(mask.sum()), dtype=bool), color=colour, width=_WIDTH)
    data["zero_stub"] = stubs
    if math.isfinite(full):
        ax.axhline(full, color="black", linestyle="--", linewidth=1.2, zorder=2)
    ticks = [f"{name}\n({'modality' if level == 'modality' else 'map'})"
             for level, name in names]
    ax.set_xticks(range(len(names)), [text_label(t) for t in ticks], fontsize=8)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel(ACCURACY_LABEL)
    ax.set_title(f"task {text_label(task)}")
    ax.grid(axis="y", alpha=0.3)
    handles = [Patch(color=colour, label=_KIND_LABELS[kind])
               for kind, colour in _KIND_COLOURS.items()]
    handles += [Line2D([], [], color="black", linestyle="--", label="all of them (full view)"),
                interval_handle()]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return fig, data


def activation_heatmap(table: pd.DataFrame, *, top: int = TOP_REGIONS):
    """Mean activation of every (map, ROI), one panel per decision function.

    Maps are rows (in the view's order), ROIs columns in the order of the
    parcellation (the map tables' order, restricted to it); a dot marks the ``top``
    features by |mean activation| over every panel. The colour scale is symmetric
    around 0 (red: higher in the subjects the function pushes toward its first
    class).

    Returns
    -------
    fig, data
        One row per (function, map, ROI): function, map, roi, map_index, roi_index,
        mean_activation, top.
    """
    shown = table.dropna(subset=["mean_activation"])
    if shown.empty:
        raise ValueError("the evaluation has no activation pattern")
    functions = list(dict.fromkeys(shown["function"]))
    maps = list(dict.fromkeys(shown["map"]))
    rois = list(dict.fromkeys(shown["roi"]))
    strength = shown["mean_activation"].abs()
    marked = set(strength.sort_values(ascending=False, kind="stable").index[:top])
    data = pd.DataFrame({
        "function": shown["function"], "map": shown["map"], "roi": shown["roi"],
        "map_index": shown["map"].map({m: i for i, m in enumerate(maps)}),
        "roi_index": shown["roi"].map({r: i for i, r in enumerate(rois)}),
        "mean_activation": shown["mean_activation"],
        "top": [i in marked for i in shown.index]}).reset_index(drop=True)
    limit = max(float(strength.max()), 0.05)
    # Room for the rotated ROI names under the last panel (about 0.055 in a character).
    labels = 0.055 * max(len(str(r)) for r in rois) + 0.6
    panel = max(0.24 * len(maps), 0.9) + 0.35
    fig = Figure(figsize=(min(16.0, max(7.0, 0.035 * len(rois) + 3.0)),
                          panel * len(functions) + labels), layout="constrained")
    axes = fig.subplots(len(functions), 1, squeeze=False, sharex=True)[:, 0]
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)
    image = None
    for ax, function in zip(axes, functions):
        part = data[data["function"] == function]
        grid = np.full((len(maps), len(rois)), np.nan)
        grid[part["map_index"], part["roi_index"]] = part["mean_activation"]
        image = ax.imshow(grid, aspect="auto", cmap="RdBu_r", norm=norm,
                          interpolation="nearest")
        hits = part[part["top"]]
        ax.scatter(hits["roi_index"], hits["map_index"], s=14, facecolors="none",
                   edgecolors="black", linewidths=0.9)
        ax.set_yticks(range(len(maps)), [text_label(m) for m in maps], fontsize=8)
        ax.set_title(text_label(function) if function else "", fontsize=9)
    step = max(1, math.ceil(len(rois) / 40))
    ticks = list(range(0, len(rois), step))
    axes[-1].set_xticks(ticks, [text_label(rois[i]) for i in ticks], rotation=90, fontsize=6)
    axes[-1].set_xlabel(f"Regions, in the parcellation's order (every {step}. labelled)"
                        if step > 1 else "Regions, in the parcellation's order")
    fig.colorbar(image, ax=list(axes), label="Mean activation", shrink=0.9)
    return fig, data


def top_regions(table: pd.DataFrame, n: int = TOP_REGIONS) -> pd.DataFrame:
    """The ``n`` features with the largest |mean activation| (family-wise p is monotone in it)."""
    ranked = table.assign(_strength=table["mean_activation"].abs())
    ranked = ranked.sort_values(["_strength", "p_familywise"], ascending=[False, True],
                                kind="stable")
    return ranked.drop(columns="_strength").head(n)


def _region_table(table: pd.DataFrame, html) -> dict:
    shown = top_regions(table)
    frame = pd.DataFrame({"ROI": shown["roi"], "Map": shown["map"]})
    if shown["function"].nunique() > 1:
        frame["Decision function"] = shown["function"]
    frame["Mean activation"] = [f"{v:+.3f}" for v in shown["mean_activation"]]
    frame["Range over folds"] = [f"[{a:+.2f}, {b:+.2f}]" for a, b in
                                 zip(shown["fold_low"], shown["fold_high"])]
    frame["p"] = shown["p_value"].to_numpy()
    frame["Family-wise p"] = shown["p_familywise"].to_numpy()
    if shown["selection_frequency"].notna().any():
        frame["Selected in (fraction of folds)"] = shown["selection_frequency"].to_numpy()
    return html["table"](frame, {"p": "p", "Family-wise p": "p"},
                         title=f"The {len(frame)} regions with the largest activation",
                         caption=(f"{IMPORTANCE_EXPLANATION} The range over folds is the "
                                  "central 95 % of the per-fold values: how much the folds' "
                                  "models differ, not a confidence interval. Every feature "
                                  "is in importance.csv (cohortbench export)."))


def _map_table(by_map: pd.DataFrame, html) -> dict:
    frame = pd.DataFrame({"Map": by_map["map"], "Features": by_map["n_features"],
                          "Mean |activation|": by_map["mean_abs_activation"],
                          "p": by_map["p_value"], "Family-wise p": by_map["p_familywise"]})
    return html["table"](frame, {"p": "p", "Family-wise p": "p"},
                         title="Maps: mean |activation| of their regions",
                         caption="The family-wise p compares each map with the largest map "
                                 "statistic of every shuffled-label run.")


def _contribution_table(part: pd.DataFrame, html) -> dict:
    frame = pd.DataFrame({
        "Map or modality": part["map_or_modality"] + " (" + part["level"] + ")",
        "Evaluated": part["kind"].map({"leave-out": "without it", "only": "alone"}),
        "Accuracy [95 % interval]": [f"{a:.3f} [{lo:.3f}, {hi:.3f}]" if pd.notna(lo)
                                     else f"{a:.3f}" for a, lo, hi in
                                     zip(part["accuracy"], part["ci_low"], part["ci_high"])],
        "Change (points)": [f"{100 * c:+.1f}" for c in part["change"]],
        "McNemar p": part["mcnemar_p"].to_numpy(), "Permutation p": part["p_value"].to_numpy()})
    return html["table"](frame, {"McNemar p": "p", "Permutation p": "p"},
                         title="Accuracy without each map or modality, and with it alone",
                         caption="Change: accuracy of the view minus that of the full view, in "
                                 "percentage points. McNemar compares the two on the same "
                                 "subjects (approximate: cross-validated predictions are not "
                                 "independent).")


def _html_helpers() -> dict:
    """The report's own table and text blocks (:mod:`.blocks`)."""
    from cohortbench.report.blocks import table_block, text_block

    return {"table": table_block, "text": text_block}


def importance_blocks(frame, stage, slug, figures, context, *, evaluations, predictions) -> list:
    """The blocks of an ``importance`` stage's section (see the module docstring)."""
    html = _html_helpers()
    results = collect_importance(evaluations, predictions, context.get("decisions") or (),
                                 context.get("records") or {})
    targets = [t for t in results.targets if t.stage == stage]
    if not targets:
        return [html["text"]("No importance result to show: the stage's plan or its records "
                             "are not in this run (rebuild the report from the run directory).")]
    blocks = []
    formed = results.formed_modalities
    if formed:
        blocks.append(html["text"](
            "For the views that leave one map out of a modality, each of these maps was "
            f"made a modality of its own: {', '.join(f'{n} ({m[0]})' if n != m[0] else n for n, m in formed.items())}."))
    contributions = results.contributions
    for target in targets:
        task = target.task
        blocks.append(html["text"](
            f"Task {task}: the best configuration is {target.configuration} on "
            f"{'+'.join(target.modalities)}/{target.parcellation} (stage "
            f"{target.source_stage})."))
        part = contributions[(contributions["task"] == task)
                             & (contributions["stage"] == stage)]
        if target.views:
            missing = len({(v["kind"], v["name"], v["level"]) for v in target.views}) - len(part)
            if not part.empty:
                blocks.append(figures.add(
                    lambda: contribution_figure(part, task), f"{slug}-maps-{task}",
                    f"Maps and modalities, task {task}",
                    "Each pair of bars is one map or modality: blue, the accuracy without it; "
                    "orange, the accuracy with it alone (95 % intervals); the dashed line is "
                    "the accuracy with all of them."))
                blocks.append(html["text"](contribution_sentence(part, task)))
                blocks.append(_contribution_table(part, html))
            if missing > 0:
                blocks.append(html["text"](f"{missing} view(s) of task {task} have no result "
                                           "(failed or not run yet; see cohortbench status)."))
        key = target.regions_evaluation
        if key is None:
            if target.regions_outer is not None:
                blocks.append(html["text"](f"Task {task}: the evaluation with activation "
                                           "patterns has no result (failed or not run yet)."))
            continue
        record, table = results.records[key], results.tables[key]
        summary = record_summary(record)
        if record.kind != "linear":
            blocks.append(html["text"](
                f"Task {task}: {summary}: a pattern is a property of a linear model, so only "
                "the selection frequencies (if any) are shown."))
        else:
            blocks.append(html["text"](f"Task {task} ({summary}, outer CV "
                                       f"{target.regions_outer}): "
                                       f"{results.survival[key]['sentence']}"))
            blocks.append(_region_table(table, html))
            if results.by_map.get(key) is not None:
                blocks.append(_map_table(results.by_map[key], html))
            blocks.append(figures.add(
                lambda: activation_heatmap(table), f"{slug}-regions-{task}",
                f"Activation of every region and map, task {task}",
                "Each cell is one region (columns, in the parcellation's order) of one map "
                "(rows): the mean over outer folds of the correlation between the feature and "
                "the model's decision values; red is higher, blue lower, in the subjects the "
                f"model pushes toward the first class named; circles mark the {TOP_REGIONS} "
                "largest.", collapsed=True))
        text = stability_text(results.stability.get(key))
        if text:
            blocks.append(html["text"](text + (
                "" if target.regions_outer and target.regions_outer != "loo" else
                " Leave-one-out training sets share all but one subject, so this stability "
                "is close to 1 whatever the selector does; use options.resampling.")))
    return blocks

