"""The building blocks of the report's page: tables, text, figures and cell formats.

Every section of the report (:mod:`.stage_sections`, :mod:`.learn_section`,
:mod:`.importance_section`, :mod:`.sites_section`) hands the template the plain dicts
made here; :class:`FigureStore` saves each figure once, as PNG and SVG, and embeds it.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pandas as pd

from cohortbench.report import figures as F

__all__ = ["TOP_ROWS", "WRAP_COLUMNS", "INTERVAL_NOTE", "P_NOTE", "unique_slug", "format_cell",
           "with_interval", "reliability_marks", "plain_value", "table_block", "text_block",
           "FigureStore"]

TOP_ROWS = 10
# Free-text columns that may wrap; every other cell stays on one line.
WRAP_COLUMNS = {"Configuration", "Best configuration", "Reason", "Details", "Value", "Class",
                 "True class", "Decision", "Subject", "Analysis (modalities/parcellation)", "Note"}

INTERVAL_NOTE = ("Intervals are 95 % intervals over the evaluated subjects; they treat "
                  "subjects as independent, which cross-validated predictions are not, so they "
                  "are a lower bound on the uncertainty (docs/interpreting.md).")
P_NOTE = ("p is (1 + the number of shuffled-label runs that did at least as well) / (1 + the "
           "number of runs), so with P runs it is never below 1/(P + 1).")


def unique_slug(text: str, taken: set) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "x"
    slug, i = base, 2
    while slug in taken:
        slug, i = f"{base}-{i}", i + 1
    taken.add(slug)
    return slug


def format_cell(value, kind: str = "") -> str:
    if isinstance(value, (dict, list, tuple)):
        return plain_value(value)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if kind == "p":
        return f"{value:.3f}" if value >= 0.001 else f"{value:.1e}"
    formats = {"acc": "{:.3f}", "z": "{:.2f}", "s": "{:.2f}"}
    if kind in formats:
        return formats[kind].format(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def with_interval(frame: pd.DataFrame, prefix: str = "accuracy") -> list[str]:
    """``0.733 [0.556, 0.858]``: an accuracy with its 95 % interval (the value alone when
    the frame has no interval, as an older store's does not)."""
    low, high = f"{prefix}_ci_low", f"{prefix}_ci_high"
    out = []
    for _, row in frame.iterrows():
        value = row[prefix]
        if pd.isna(value):
            out.append("–")
        elif low in frame and pd.notna(row.get(low)):
            out.append(f"{value:.3f} [{row[low]:.3f}, {row[high]:.3f}]")
        else:
            out.append(f"{value:.3f}")
    return out


def reliability_marks(frame: pd.DataFrame) -> list[str]:
    if "numerically_reliable" not in frame:
        return [""] * len(frame)
    return ["no: RFE on raw values" if not pd.isna(value) and not bool(value) else ""
            for value in frame["numerically_reliable"].tolist()]


def plain_value(value) -> str:
    """Nested settings or payloads as one readable line."""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {plain_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(plain_value(v) for v in value)
    return str(value)


def table_block(frame: pd.DataFrame, kinds: dict | None = None, **extra) -> dict:
    kinds = kinds or {}
    rows = [[format_cell(v, kinds.get(c, "")) for c, v in zip(frame.columns, values)]
            for values in frame.itertuples(index=False)]
    wrap = [str(c) in WRAP_COLUMNS for c in frame.columns]
    return {"type": "table", "columns": [str(c) for c in frame.columns], "rows": rows,
            "wrap": wrap, "title": "", "caption": "", "id": "", **extra}


class FigureStore:
    """Saves each figure once and hands the template an embeddable record."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.taken: set = set()

    def add(self, make, name: str, title: str, caption: str, collapsed: bool = False) -> dict:
        """Draw ``make()`` and save it; a figure that cannot be drawn becomes a note."""
        try:
            fig, _ = make()
        except ValueError as error:
            return text_block(f"{title}: no figure ({error})")
        slug = unique_slug(name, self.taken)
        paths = F.save_figure(fig, self.directory, slug)
        encoded = base64.b64encode(paths["png"].read_bytes()).decode("ascii")
        return {"type": "figure", "id": f"figure-{slug}", "title": title, "caption": caption,
                "src": f"data:image/png;base64,{encoded}", "svg": f"figures/{paths['svg'].name}",
                "collapsed": collapsed}


def text_block(text: str) -> dict:
    return {"type": "text", "text": text}
