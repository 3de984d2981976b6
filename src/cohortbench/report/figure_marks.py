"""The marks every figure shares: 95 % intervals, zero stubs, flagged cells, log run times.

One place for how an accuracy is drawn (a bar or a point with its 95 % interval, a
visible stub where the accuracy is 0), how a numerically unreliable evaluation is set
apart (hollow), how run times go on a log axis (points, limits at round decades) and how
axis limits are padded so that no marker is cut in half; also the colours and axis labels
the figures share. :mod:`cohortbench.report.figures` and
:mod:`cohortbench.report.strip_figures` compose these; a helper returns what the figure's
``data`` must carry for tests (which bars got a zero stub, the log-axis limits).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

__all__ = [
    "ACCURACY_LABEL",
    "CI_COLUMNS",
    "HIGHLIGHT",
    "HIGHLIGHT_MARKER_POINTS",
    "INTERVAL_LABEL",
    "MARKER_POINTS",
    "MUTED",
    "PALETTE",
    "RUNTIME_LABEL",
    "UNRELIABLE_LABEL",
    "ZERO_TOLERANCE",
    "Z_LABEL",
    "accuracy_bars",
    "decade_limits",
    "flagged_bars",
    "integer_ticks",
    "interval_bars",
    "interval_handle",
    "log_axis",
    "padded_limits",
    "runtime_points",
    "stage_rows",
    "text_label",
    "unreliable_handle",
    "unreliable_mask",
    "with_marks",
]

#: The evaluations frame's 95 % interval of the accuracy (store/intervals.py).
CI_COLUMNS = ("accuracy_ci_low", "accuracy_ci_high")
#: Legend text of an evaluation whose RFE ranking fits failed their optimality conditions.
UNRELIABLE_LABEL = "RFE on raw values: elimination set by rounding"
INTERVAL_LABEL = "95 % interval"
#: Accuracies below this print as 0.00 and would draw no visible bar: they get a stub.
ZERO_TOLERANCE = 0.005
#: Strip and null markers, diameter in points (matplotlib's ``s`` is its square); at the
#: report's 110 dpi 6 pt is 9 px, above the 5 px a reader needs to see a dot.
MARKER_POINTS = 6.0
HIGHLIGHT_MARKER_POINTS = 7.5
#: Colours: highlighted (top) configurations, the rest, and one per task or strategy.
HIGHLIGHT = "#d62728"
MUTED = "#8c8c8c"
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f", "#d62728"]
#: Axis labels shared by the figures (steps and options come from design.vocabulary).
ACCURACY_LABEL = "Accuracy (95 % interval)"
Z_LABEL = "Z-score vs shuffled labels"
RUNTIME_LABEL = "Run time (s, log scale)"
_ERRORBAR = {"fmt": "none", "ecolor": "black", "elinewidth": 1.0, "capsize": 2.5, "zorder": 3}


def _is_false(value) -> bool:
    # CSV round trips give "False"/"True" strings, the store a nullable boolean; NA
    # means no RFE ranking fit was checked, which is not a flag.
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return False
    if isinstance(value, str):
        return value.strip().lower() in ("false", "0", "no")
    return not bool(value)


def unreliable_mask(frame: pd.DataFrame) -> np.ndarray:
    """True where ``numerically_reliable`` is False (all False when the column is absent)."""
    if "numerically_reliable" not in frame:
        return np.zeros(len(frame), dtype=bool)
    return np.array([_is_false(v) for v in frame["numerically_reliable"]], dtype=bool)


def with_marks(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with float interval columns (NaN when absent: an old store) and ``unreliable``."""
    out = frame.copy()
    for column in CI_COLUMNS:
        out[column] = (pd.to_numeric(frame[column], errors="coerce").astype(float)
                       if column in frame else np.nan)
    out["unreliable"] = unreliable_mask(frame)
    return out


def interval_bars(ax, x, y, low, high, **style):
    """Vertical 95 % interval bars where all three numbers are finite; the drawn mask."""
    x, y, low, high = (np.asarray(v, dtype=float) for v in (x, y, low, high))
    drawn = np.isfinite(x) & np.isfinite(y) & np.isfinite(low) & np.isfinite(high)
    if drawn.any():
        # errorbar wants distances; clip so a rounding-level inversion never goes negative.
        below = np.clip(y[drawn] - low[drawn], 0, None)
        above = np.clip(high[drawn] - y[drawn], 0, None)
        ax.errorbar(x[drawn], y[drawn], yerr=[below, above], **{**_ERRORBAR, **style})
    return drawn


def flagged_bars(ax, positions, heights, unreliable, *, color, width) -> None:
    """Bars filled with ``color``, hatched and hollow where ``unreliable``."""
    positions, heights = np.asarray(positions, float), np.asarray(heights, float)
    unreliable = np.asarray(unreliable, dtype=bool)
    present = np.isfinite(heights)
    solid, hollow = present & ~unreliable, present & unreliable
    ax.bar(positions[solid], heights[solid], width=width, color=color)
    ax.bar(positions[hollow], heights[hollow], width=width, facecolor="white",
           edgecolor=color, hatch="///", linewidth=1.2)


def accuracy_bars(ax, positions, heights, low, high, unreliable, *, color, width) -> np.ndarray:
    """Bars of accuracy with 95 % intervals, hollow when unreliable, a stub where zero.

    Returns
    -------
    numpy.ndarray of bool
        Which bars got a zero stub (a thick line at 0 across the bar and the value
        written above it), so a zero accuracy never reads as a missing bar.
    """
    positions, heights, low, high = (np.asarray(v, dtype=float)
                                     for v in (positions, heights, low, high))
    present = np.isfinite(heights)
    flagged_bars(ax, positions, heights, unreliable, color=color, width=width)
    interval_bars(ax, positions, heights, low, high)
    zero = present & (heights < ZERO_TOLERANCE)
    for position, height, top in zip(positions[zero], heights[zero], high[zero]):
        ax.hlines(0.0, position - width / 2, position + width / 2, color=color, linewidth=3.5,
                  zorder=4, clip_on=False)
        above = top if np.isfinite(top) else 0.0
        ax.text(position, above + 0.02, f"{height:.2f}", ha="center", va="bottom",
                fontsize=7, color="black", zorder=5)
    return zero


def decade_limits(values) -> tuple[float, float]:
    """Log-axis limits at round decades around the positive values (with some headroom).

    A value within 20 % of a decade moves the limit one decade further out, so no point
    sits on the frame; one decade at least is shown, so close run times look close.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return 0.1, 10.0
    low = 10.0 ** math.floor(math.log10(values.min() / 1.2))
    high = 10.0 ** math.ceil(math.log10(values.max() * 1.2))
    return low, max(high, low * 10.0)


def runtime_points(ax, positions, seconds, unreliable, *, color) -> None:
    """Run times as points on a log axis (no bar: a cut baseline exaggerates ratios).

    Hollow where ``unreliable``; times that are not positive cannot go on a log axis and
    are left out.
    """
    positions, seconds = np.asarray(positions, float), np.asarray(seconds, float)
    unreliable = np.asarray(unreliable, dtype=bool)
    shown = np.isfinite(seconds) & (seconds > 0)
    for mask, face in ((shown & ~unreliable, color), (shown & unreliable, "none")):
        ax.scatter(positions[mask], seconds[mask], s=MARKER_POINTS**2, facecolors=face,
                   edgecolors=color, linewidths=1.2, zorder=3)


def log_axis(ax, values) -> tuple[float, float]:
    """Log y axis with plain labels (0.1, 0.2, 0.5, 1 …) and decade limits; the limits."""
    ax.set_yscale("log")
    limits = decade_limits(values)
    ax.set_ylim(*limits)
    ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    return limits


def padded_limits(values, *, fraction: float = 0.08, minimum: float = 0.02
                  ) -> tuple[float, float]:
    """Limits around the finite values with room for a marker on either side."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    pad = max((high - low) * fraction, minimum, abs(high) * 0.02)
    return low - pad, high + pad


def integer_ticks(ax, top: float) -> None:
    """Whole-number ticks on a count axis from 0 to just above ``top`` (with room for labels)."""
    ax.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_ylim(0, max(float(top), 1.0) * 1.2 + 0.2)


def unreliable_handle(kind: str = "bar"):
    """Legend handle for :data:`UNRELIABLE_LABEL`: a hatched hollow bar or a hollow dot."""
    if kind == "bar":
        return Patch(facecolor="white", edgecolor="0.35", hatch="///", label=UNRELIABLE_LABEL)
    return Line2D([], [], marker="o", linestyle="none", markerfacecolor="none",
                  markeredgecolor="0.35", markersize=MARKER_POINTS, label=UNRELIABLE_LABEL)


def text_label(value) -> str:
    """User text for matplotlib: ``$`` would otherwise start mathtext."""
    return str(value).replace("$", r"\$")


def stage_rows(evaluations: pd.DataFrame, stage: str, **equal) -> pd.DataFrame:
    """The stage's rows (with ``equal`` column values) passed through :func:`with_marks`.

    Raises ValueError when none is left (the report turns it into a note).
    """
    mask = evaluations["stage"] == stage
    for column, value in equal.items():
        mask &= evaluations[column] == value
    frame = evaluations[mask]
    if frame.empty:
        wanted = ", ".join(f"{k} {v!r}" for k, v in equal.items())
        raise ValueError(f"No evaluation of stage {stage!r}{' with ' + wanted if wanted else ''}.")
    return with_marks(frame)


def interval_handle():
    """Legend handle of the 95 % interval bars."""
    return Line2D([], [], color="black", marker="_", markersize=6, linewidth=1.0,
                  label=INTERVAL_LABEL)
