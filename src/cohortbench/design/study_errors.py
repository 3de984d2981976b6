"""How the study-file schema reports problems: one plain sentence per error.

Every model of the study file derives from
:class:`~cohortbench.design.study_model.StudyModel`, which refuses unknown keys
with a close-match suggestion (:func:`unknown_key_message`). Validators raise the error built by
:func:`study_error`, whose message is used as written. :func:`format_validation_error`
turns pydantic's :class:`~pydantic.ValidationError` into the single line a user
sees, ``<file>: <key path>: <what is wrong and how to fix it>``, rewording
pydantic's own reasons plainly.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

__all__ = [
    "study_error",
    "union_tag",
    "no_repeats",
    "key_path",
    "describe_value",
    "format_validation_error",
    "unknown_key_message",
]

_CUSTOM_TYPE = "study"
# Tags of discriminated unions appear in pydantic's error locations; they are
# marked with angle brackets so that they can be dropped from the key path.
_TAG_PATTERN = re.compile(r"^<[a-z][a-z -]*>$")


def union_tag(name: str) -> str:
    """The marked tag of one member of a discriminated union (left out of key paths)."""
    return f"<{name}>"


def study_error(message: str, *subpath: str | int) -> PydanticCustomError:
    """An error to raise from a validator; ``message`` is shown as written.

    Parameters
    ----------
    message : str
        What is wrong and how to fix it, without the key path.
    *subpath : str or int
        Keys (str) or list indices (int) below the location pydantic reports, so
        that a model-level check can point at the offending key.
    """
    # The message goes through the context, not the template, so that braces in
    # it (``{min_accuracy: 0.6}``) are not taken as placeholders.
    return PydanticCustomError(
        _CUSTOM_TYPE, "{message}", {"message": message, "subpath": tuple(subpath)}
    )


def no_repeats(values: list) -> list:
    """Refuse a list that names the same thing twice (an after-validator)."""
    seen = set()
    for index, value in enumerate(values):
        if value in seen:
            raise study_error(f"{value!r} is listed twice; list each once", index)
        seen.add(value)
    return values


def unknown_key_message(key: Any, allowed: list[str], hints: dict[str, str]) -> str:
    if isinstance(key, str) and key in hints:
        return f"unknown key; {hints[key]}"
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean '{close[0]}'?"
    return f"unknown key; the keys allowed here are {', '.join(allowed)}"


def key_path(loc: tuple) -> str:
    """``('stages', 1, 'grid', 'n_features')`` -> ``stages[1].grid.n_features``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif isinstance(part, str) and _TAG_PATTERN.match(part):
            continue
        else:
            text += f".{part}" if text else str(part)
    return text


def describe_value(value: Any) -> str:
    """A short, plain description of a YAML value for 'got ...' clauses."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"'{shown}'"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _literal_choices(expected: str) -> str:
    choices = re.findall(r"'([^']*)'", expected)
    return ", ".join(choices) if choices else expected


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _reason(error: dict) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = describe_value(error.get("input"))
    if kind == _CUSTOM_TYPE:
        return ctx["message"]
    simple = {
        "missing": "this key is required; add it",
        "extra_forbidden": "unknown key; remove it",
        "string_too_short": "must not be empty",
        "path_type": f"expected a file path, got {got}",
    }
    if kind in simple:
        return simple[kind]
    expected = {
        "list_type": "a list",
        "tuple_type": "a list",
        "dict_type": "a mapping (key: value pairs)",
        "model_type": "a mapping (key: value pairs)",
        "model_attributes_type": "a mapping (key: value pairs)",
        "string_type": "text",
        "int_type": "a whole number",
        "int_parsing": "a whole number",
        "int_from_float": "a whole number",
        "float_type": "a number",
        "float_parsing": "a number",
        "finite_number": "a finite number",
        "bool_type": "true or false",
        "bool_parsing": "true or false",
    }
    if kind in expected:
        return f"expected {expected[kind]}, got {got}"
    if kind == "literal_error":
        return f"must be one of {_literal_choices(str(ctx.get('expected', '')))}; got {got}"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("greater than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"must be {words} {ctx.get(key)}; got {got}"
    if kind == "too_short" and int(ctx.get("min_length", 1)) <= 1:
        return "must not be empty"
    if kind == "too_short":
        return (
            f"needs at least {_plural(int(ctx.get('min_length', 1)), 'entry')}, "
            f"got {ctx.get('actual_length', 0)}"
        ).replace("entrys", "entries")
    if kind == "too_long":
        return (
            f"allows at most {_plural(int(ctx.get('max_length', 0)), 'entry')}, "
            f"got {ctx.get('actual_length')}"
        ).replace("entrys", "entries")
    message = str(error.get("msg", "invalid value"))
    return message[:1].lower() + message[1:]


def format_validation_error(exc: ValidationError, source: str) -> str:
    """The first error of ``exc`` as one sentence naming ``source`` and the key path.

    Parameters
    ----------
    exc : pydantic.ValidationError
        Raised while validating a study mapping.
    source : str
        The study file as the user named it.

    Returns
    -------
    str
        ``"<source>: <key path>: <reason>"`` (the key path is left out for
        problems of the file as a whole).
    """
    errors = exc.errors(include_url=False)
    if not errors:
        return f"{source}: the study file is not valid"
    error = errors[0]
    loc = tuple(error.get("loc", ()))
    ctx = error.get("ctx") or {}
    loc += tuple(ctx.get("subpath", ()))
    if loc and loc[-1] == "[key]":
        # pydantic reports a bad mapping key as (..., key, '[key]').
        # Shown as a key even when YAML read it as a number (not as a list index).
        parent, key = key_path(loc[:-2]), str(loc[-2])
        path = f"{parent}.{key}" if parent else key
        if error["type"] == "string_type":
            reason = f'this name must be text; put it in quotes, e.g. "{key}"'
        else:
            reason = f"this name {_reason(error)}"
    else:
        path = key_path(loc)
        reason = _reason(error)
    return f"{source}: {path}: {reason}" if path else f"{source}: {reason}"
