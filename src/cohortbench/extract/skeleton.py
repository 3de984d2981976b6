"""The ``study.yaml`` skeleton written next to the extracted tables.

It points at the tables, so that ``cohortbench validate`` can read them at once,
and holds one placeholder task: built from a group-like column of the
participants table when there is one (then the skeleton validates as written),
otherwise naming exactly what to fill in. Every value that comes from the user's
data is written through the YAML emitter, never pasted as text.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass

import pandas as pd
import yaml

__all__ = ["PlaceholderTask", "placeholder_task", "study_skeleton", "GROUP_COLUMN"]

#: The column the placeholder task uses when the participants table has no group-like one.
GROUP_COLUMN = "group"
_GROUP_NAMES = ("group", "diagnosis", "dx", "diag", "condition", "cohort", "class", "status",
                "disease", "patient")
_MAX_CLASSES = 5


@dataclass(frozen=True)
class PlaceholderTask:
    """The skeleton's task: its name, classes (class -> conditions) and what to edit."""

    name: str
    classes: dict
    comment: str
    ready: bool


def _flow(value) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=math.inf,
                          sort_keys=False)
    return text.removesuffix("\n...\n").strip()


def _candidates(table: pd.DataFrame, id_column: str) -> list[tuple[str, list[str]]]:
    out = []
    for column in table.columns:
        if column == id_column:
            continue
        cells = table[column].dropna().astype(str).str.strip()
        counts = cells.value_counts(sort=False)
        if 2 <= len(counts) <= _MAX_CLASSES and (counts >= 2).all():
            out.append((str(column), [str(v) for v in counts.index]))
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def placeholder_task(participants: pd.DataFrame | None, id_column: str,
                     where: str) -> PlaceholderTask:
    """A task from the participants table's most group-like column, or one to fill in.

    A column qualifies with 2 to 5 values, each held by at least 2 subjects; one
    named like a group (group, diagnosis, dx, ...) is preferred, then any text
    column. Numeric columns qualify only under a group-like name (e.g. Dx 0/1).
    ``where`` names the participants table in the instruction to fill it in.
    """
    found = _candidates(participants, id_column) if participants is not None else []
    named = [c for c in found if c[0].strip().lower() in _GROUP_NAMES]
    text = [c for c in found if not any(_is_number(v) for v in c[1])]
    chosen = (named or text or [None])[0]
    if chosen is None:
        return PlaceholderTask(
            name="diagnosis",
            classes={"control": {GROUP_COLUMN: "control"}, "patient": {GROUP_COLUMN: "patient"}},
            comment=(f"EDIT: fill in the '{GROUP_COLUMN}' column of {where} (a class such as "
                     "control or patient for each subject), then name the same classes "
                     "below; validate fails until then"),
            ready=False)
    column, values = chosen
    numeric = all(_is_number(v) for v in values)
    classes = {(f"{column}_{v}" if numeric else v): {column: v} for v in values}
    return PlaceholderTask(
        name=column,
        classes=classes,
        comment=(f"PLACEHOLDER built from participants column '{column}' "
                 f"({', '.join(values)}): check it, or define your own classes"),
        ready=True)


def study_skeleton(*, name: str, source: str, maps: dict[str, str], participants: str,
                   id_column: str, task: PlaceholderTask, n_missing: int,
                   empty_rois: list[str]) -> str:
    """The text of the ``study.yaml`` skeleton.

    Parameters
    ----------
    maps : dict
        Map name -> table path relative to the skeleton.
    participants : str
        The clinical table, relative to the skeleton (or absolute).
    n_missing : int
        Missing values in the tables (subjects without a map count once per map);
        when some, the skeleton drops incomplete subjects rather than stop.
    empty_rois : list of str
        ROIs without any value in some map; the skeleton excludes them.
    """
    lines = [
        f"# Study skeleton written by `cohortbench extract` from {source}.",
        "# It points at the tables extracted here: maps/<map>.tsv (one per map), the",
        "# participants table, and qc.tsv (voxel counts and status of every value).",
        "# EDIT before a real run:",
        "#   - tasks: see the comment there;",
        "#   - stages and permutations: this is one screen of every classifier; run",
        "#     `cohortbench init DIR` for the published study's four stages, every key explained.",
        "# Then: cohortbench validate study.yaml, and cohortbench run study.yaml",
        f"name: {_flow(name)}",
        "seed: 0",
        "",
        "data:",
        "  maps:",
        *[f"    {_flow(m)}: {_flow(path)}" for m, path in maps.items()],
        f"  participants: {_flow(participants)}",
        f"  id_column: {_flow(id_column)}",
    ]
    if empty_rois:
        lines += ["  # these ROIs have no value in at least one map (see qc.tsv); excluded from all maps",
                  f"  exclude: {_flow(list(empty_rois))}"]
    if n_missing:
        lines += [f"  # {n_missing} value(s) are missing (see qc.tsv): drop-subjects leaves incomplete",
                  "  # subjects out of each analysis; or impute-mean / impute-median / error",
                  "  missing: drop-subjects"]
    else:
        lines += ["  missing: error                        # error | drop-subjects | impute-mean | impute-median"]
    lines += [
        "",
        "tasks:",
        *[f"  # {line}" for line in textwrap.wrap(task.comment, 90)],
        f"  {_flow(task.name)}:",
        f"    classes: {_flow(task.classes)}",
        "",
        'cv: {outer: loo, inner: "stratified-kfold:5"}',
        "permutations: 50                        # shuffled-label repeats per evaluation (0 = none)",
        "metric: accuracy",
        "",
        "stages:",
        "  - name: screen                        # every classifier with default settings",
        "    classifiers: all",
        "    pipeline: {row_scaling: standard, column_scaling: standard}",
        "",
    ]
    return "\n".join(lines)
