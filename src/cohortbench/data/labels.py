"""Derived labels and classification tasks (SPEC section 2).

Expressions are parsed with :mod:`ast` and evaluated by walking a whitelist of node
types (numbers, column names, ``+ - * /``, unary ``-``/``+``, parentheses); nothing a
user writes is ever handed to ``eval``. Column names that are not Python identifiers are
written in backquotes: ```ALSFRS-R` / 48``.
"""

from __future__ import annotations

import ast
import difflib
import math
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from cohortbench.data.views import Task
from cohortbench.errors import StudyError

__all__ = ["evaluate_expression", "expression_columns", "columns_used", "derive_labels",
           "build_tasks", "condition_mask"]

_ALLOWED = ("numbers, column names, + - * /, unary minus and parentheses "
            "(backquote column names that are not plain words, e.g. `ALSFRS-R`)")
_OPERATORS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide}
# Each entry reads as the subject of "... not allowed" (hence the verb).
_FORBIDDEN = {
    ast.Call: "function calls are", ast.Attribute: "attribute access (a.b) is",
    ast.Subscript: "indexing (a[0]) is", ast.Compare: "comparisons are", ast.Lambda: "lambda is",
    ast.BoolOp: "and/or are", ast.IfExp: "if/else is", ast.Pow: "'**' (power) is",
    ast.FloorDiv: "'//' is", ast.Mod: "'%' is", ast.Not: "'not' is", ast.Invert: "'~' is",
}
_PLACEHOLDER = "_cb_column_{}_"


def _unknown_column(name: str, columns, where: str, extra: str = "") -> StudyError:
    known = [str(c) for c in columns]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return StudyError(f"{where}: unknown column '{name}'{hint}; the clinical columns and labels "
                      f"are {', '.join(known)}{extra}.")


def evaluate_expression(text: str, table: pd.DataFrame, *, where: str | None = None) -> pd.Series:
    """Evaluate safe arithmetic over the columns of ``table``.

    Parameters
    ----------
    text : str
        E.g. ``"(48 - alsfrs_r) / disease_months"``.
    table : DataFrame
        Its columns are the names the expression may use.
    where : str, optional
        Where the expression is written (e.g. ``labels.slope``), to start messages with.

    Returns
    -------
    Series of float64
        Indexed like ``table``; missing (NaN) where an operand is missing or a division
        by zero gives an infinite value.

    Raises
    ------
    StudyError
        The text is not valid, uses something outside the whitelist, names an unknown or
        non-numeric column.
    """
    where = f"{where + ': ' if where else ''}expression '{text}'"
    if not isinstance(text, str) or not text.strip():
        raise StudyError(f"{where}: give a non-empty arithmetic expression using {_ALLOWED}.")
    if text.count("`") % 2:
        raise StudyError(f"{where}: a backquote is not closed; write `column name` in a pair.")
    quoted: dict[str, str] = {}

    def _substitute(match: re.Match) -> str:
        key = _PLACEHOLDER.format(len(quoted))
        quoted[key] = match.group(1)
        return f" {key} "

    source = re.sub(r"`([^`]*)`", _substitute, text)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError) as exc:
        reason = getattr(exc, "msg", None) or type(exc).__name__
        raise StudyError(f"{where} is not valid arithmetic ({reason}); use {_ALLOWED}.") from None
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        value = _walk(tree.body, table, quoted, where)
    result = pd.Series(np.broadcast_to(np.asarray(value, dtype=np.float64), (len(table),)).copy(),
                       index=table.index, dtype="float64")
    return result.where(np.isfinite(result))


def expression_columns(text: str) -> list[str]:
    """The column names an expression refers to (empty when it does not parse)."""
    if not isinstance(text, str):
        return []
    quoted: dict[str, str] = {}

    def _substitute(match: re.Match) -> str:
        key = _PLACEHOLDER.format(len(quoted))
        quoted[key] = match.group(1)
        return f" {key} "

    try:
        tree = ast.parse(re.sub(r"`([^`]*)`", _substitute, text).strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return []
    names = [quoted.get(n.id, n.id) for n in ast.walk(tree) if isinstance(n, ast.Name)]
    return list(dict.fromkeys(names))


def columns_used(labels: Mapping[str, Mapping], tasks: Mapping[str, Mapping]) -> dict[str, str]:
    """Clinical columns that define a label or a task -> where the study uses them.

    Parameters
    ----------
    labels, tasks : mapping
        The study's ``labels`` and ``tasks`` sections as plain mappings.

    Returns
    -------
    dict
        Column -> e.g. ``"label 'slope'"`` or ``"task '2-class'"`` (the first use).
    """
    used: dict[str, str] = {}
    for name, spec in (labels or {}).items():
        where = f"label '{name}'"
        for column in expression_columns(spec.get("expression")):
            used.setdefault(column, where)
        if spec.get("from") is not None:
            used.setdefault(str(spec["from"]), where)
        for column in (spec.get("among") or {}):
            used.setdefault(str(column), where)
    for name, spec in (tasks or {}).items():
        where = f"task '{name}'"
        for part in ("classes", "train_only"):
            for conditions in (spec.get(part) or {}).values():
                for column in conditions or {}:
                    used.setdefault(str(column), where)
    return used


def _walk(node: ast.AST, table: pd.DataFrame, quoted: dict[str, str], where: str):
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise StudyError(f"{where}: the constant {node.value!r} is not allowed; "
                             f"use {_ALLOWED}.")
        return np.float64(node.value)
    if isinstance(node, ast.Name):
        name = quoted.get(node.id, node.id)
        if name not in table.columns:
            odd = any(not str(c).isidentifier() for c in table.columns)
            raise _unknown_column(name, table.columns, where, "; write names that are not plain "
                                  "words in backquotes, e.g. `ALSFRS-R`" if odd else "")
        column = pd.to_numeric(table[name], errors="coerce")
        if (table[name].notna() & column.isna()).any():
            raise StudyError(f"{where}: column '{name}' is not numeric (e.g. "
                             f"'{table[name].dropna().iloc[0]}'); arithmetic needs numbers.")
        return column.to_numpy(dtype=np.float64)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left = _walk(node.left, table, quoted, where)
        right = _walk(node.right, table, quoted, where)
        return _OPERATORS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _walk(node.operand, table, quoted, where)
        return -operand if isinstance(node.op, ast.USub) else +operand
    kind = type(node.op) if isinstance(node, (ast.BinOp, ast.UnaryOp)) else type(node)
    what = _FORBIDDEN.get(kind, f"'{kind.__name__}' is")
    raise StudyError(f"{where}: {what} not allowed; only {_ALLOWED}.")


def _normalise(value) -> str | None:
    """Comparable text of a cell or a condition value: numbers as 1, 1.5; None if missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, bool):
        return str(value)
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return str(int(number)) if number.is_integer() else repr(number)


def condition_mask(table: pd.DataFrame, conditions: Mapping, where: str) -> pd.Series:
    """Subjects for which every ``column: value`` (a list: any of the values) holds."""
    if not isinstance(conditions, Mapping) or not conditions:
        raise StudyError(f"{where}: give conditions as a mapping column: value "
                         "(e.g. {group: ALS}); a list value means any of.")
    mask = pd.Series(True, index=table.index)
    for column, wanted in conditions.items():
        if column not in table.columns:
            raise _unknown_column(str(column), table.columns, where)
        values = wanted if isinstance(wanted, (list, tuple, set)) else [wanted]
        accepted = {_normalise(v) for v in values} - {None}
        cells = table[column].map(_normalise)
        mask &= cells.isin(accepted)
    return mask


def derive_labels(clinical: pd.DataFrame, labels: Mapping[str, Mapping]) -> pd.DataFrame:
    """Add derived label columns to a copy of the clinical table, in the order given.

    Parameters
    ----------
    clinical : DataFrame
        Clinical table (index = subject).
    labels : mapping
        Label name -> spec. ``{expression: "..."}`` gives a numeric column;
        ``{from: <column or label>, split: "median" | <number>, classes: [low, high],
        among: {column: value or [values]}}`` (``expression`` may stand in for ``from``)
        gives a two-class column: values <= the cut -> ``low``, above -> ``high``; the
        median is over the ``among`` subjects with a value; subjects outside ``among`` or
        without a value get no label.

    Returns
    -------
    DataFrame
        The copy, with each split's cut in ``attrs["label_cuts"][name]``.
    """
    table = clinical.copy()
    cuts = dict(table.attrs.get("label_cuts", {}))
    for name, spec in (labels or {}).items():
        where = f"labels.{name}"
        if not isinstance(spec, Mapping):
            raise StudyError(f"{where}: give a mapping with `expression` or "
                             "`from`/`split`/`classes`.")
        unknown = set(spec) - {"expression", "from", "split", "classes", "among"}
        if unknown:
            raise StudyError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                             "use expression, from, split, classes, among.")
        if name in table.columns:
            raise StudyError(f"{where}: '{name}' is already a clinical column or label; "
                             "give the derived label another name.")
        if ("expression" in spec) == ("from" in spec):
            raise StudyError(f"{where}: give exactly one of `expression` and `from`.")
        if "expression" in spec:
            values = evaluate_expression(spec["expression"], table, where=where)
        else:
            source = str(spec["from"])
            if source not in table.columns:
                raise _unknown_column(source, table.columns, f"{where}.from")
            values = pd.to_numeric(table[source], errors="coerce")
            if (table[source].notna() & values.isna()).any():
                raise StudyError(f"{where}.from: column '{source}' is not numeric, so it "
                                 "cannot be split; use a task condition on it instead.")
        if "split" not in spec:
            if "classes" in spec or "among" in spec:
                raise StudyError(f"{where}: `classes`/`among` need `split` (median or a number).")
            table[name] = values.astype("float64")
            continue
        table[name], cuts[name] = _split(values, spec, table, where)
    table.attrs["label_cuts"] = cuts
    return table


def _split(values: pd.Series, spec: Mapping, table: pd.DataFrame, where: str):
    classes = spec.get("classes")
    if (not isinstance(classes, (list, tuple)) or len(classes) != 2
            or len({str(c) for c in classes}) != 2):
        raise StudyError(f"{where}.classes: give two different class names, e.g. [slow, fast].")
    among = (condition_mask(table, spec["among"], f"{where}.among") if "among" in spec
             else pd.Series(True, index=table.index))
    eligible = among & values.notna()
    split = spec["split"]
    if split == "median":
        if not eligible.any():
            raise StudyError(f"{where}: no subject has a value to take the median of; "
                             "check `among` and the source column.")
        cut = float(values[eligible].median())
    elif isinstance(split, (int, float)) and not isinstance(split, bool) and math.isfinite(split):
        cut = float(split)
    else:
        raise StudyError(f"{where}.split: '{split}' is neither `median` nor a number.")
    low, high = (str(c) for c in classes)
    out = pd.Series(np.nan, index=table.index, dtype=object)
    out[eligible & (values <= cut)] = low
    out[eligible & (values > cut)] = high
    return out, cut


def build_tasks(table: pd.DataFrame, tasks: Mapping[str, Mapping]) -> dict[str, Task]:
    """Resolve each task's classes (and hybrid ``train_only`` subjects) on the table.

    Parameters
    ----------
    table : DataFrame
        Clinical table with derived labels (index = subject, in cohort order).
    tasks : mapping
        Task name -> ``{classes: {class: conditions}, train_only: {class: conditions}}``;
        conditions are ``{column: value or [values]}``, all of which must hold.

    Returns
    -------
    dict of str -> Task
        Subjects in the table's order.

    Raises
    ------
    StudyError
        Unknown column; fewer than two classes; a class matching no subject; a subject
        in two classes; ``train_only`` naming an unknown class or overlapping the task.
    """
    out = {}
    for name, spec in (tasks or {}).items():
        where = f"tasks.{name}"
        if not isinstance(spec, Mapping) or not isinstance(spec.get("classes"), Mapping):
            raise StudyError(f"{where}: give `classes:` as class name -> conditions.")
        unknown = set(spec) - {"classes", "train_only"}
        if unknown:
            raise StudyError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                             "a task has `classes` and optionally `train_only`.")
        classes = {str(k): v for k, v in spec["classes"].items()}
        if len(classes) < 2:
            raise StudyError(f"Task '{name}' has {len(classes)} class(es); a task needs at "
                             "least two.")
        labels = _assign(table, classes, name, "class", {})
        for cls in classes:
            if cls not in labels.values():
                raise StudyError(
                    f"Task '{name}', class '{cls}' matches no subject; check its conditions "
                    f"{dict(classes[cls])} against the clinical values"
                    f"{_seen(table, classes[cls])}{_yaml_boolean_hint(classes[cls])}.")
        train = {str(k): v for k, v in (spec.get("train_only") or {}).items()}
        for cls in train:
            if cls not in classes:
                raise StudyError(f"{where}.train_only: '{cls}' is not a class of task '{name}' "
                                 f"(its classes are {', '.join(classes)}).")
        extra = _assign(table, train, name, "train_only class", labels)
        test = [s for s in table.index if s in labels]
        hybrid = [s for s in table.index if s in extra]
        out[name] = Task(
            name=str(name), classes=tuple(classes),
            subjects=tuple(map(str, test)), labels=tuple(labels[s] for s in test),
            train_only_subjects=tuple(map(str, hybrid)),
            train_only_labels=tuple(extra[s] for s in hybrid),
        )
    return out


def _assign(table, classes: dict, task: str, kind: str, taken: dict) -> dict:
    """Class of each subject (None when in no class); refuse a subject in two classes.

    Returns subject -> class for the subjects in a class. ``taken`` maps subjects to the
    class they already have in the task (when resolving ``train_only``).
    """
    labels: dict = {}
    for cls, conditions in classes.items():
        mask = condition_mask(table, conditions, f"tasks.{task}.{kind} '{cls}'")
        for subject in table.index[mask]:
            if subject in labels:
                previous = f"{kind} '{labels[subject]}'"
            elif subject in taken:
                previous = f"class '{taken[subject]}'"
            else:
                labels[subject] = cls
                continue
            raise StudyError(
                f"Task '{task}': subject '{subject}' matches both {previous} and {kind} "
                f"'{cls}'; make the conditions exclusive.")
    return labels


def _yaml_boolean_hint(conditions) -> str:
    """YAML reads an unquoted yes/no/on/off as true/false, which no text cell equals."""
    if not isinstance(conditions, Mapping):
        return ""
    values = [v for value in conditions.values()
              for v in (value if isinstance(value, (list, tuple)) else [value])]
    if any(isinstance(v, bool) for v in values):
        return ("; YAML reads an unquoted yes, no, on, off, true or false as true/false: put "
                "the value in quotes (e.g. 'yes') to match the text in the table")
    return ""


def _seen(table: pd.DataFrame, conditions) -> str:
    if not isinstance(conditions, Mapping):
        return ""
    parts = []
    for column in conditions:
        if column in table.columns:
            values = sorted({v for v in table[column].map(_normalise) if v is not None})
            shown = ", ".join(values[:8]) + (", ..." if len(values) > 8 else "")
            parts.append(f"'{column}' holds {shown}" if values else f"'{column}' is empty")
    return f" ({'; '.join(parts)})" if parts else ""
