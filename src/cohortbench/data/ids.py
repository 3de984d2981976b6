"""Matching subject IDs across tables, and saying why they do not match.

IDs match exactly by default. Real tables often disagree in form: ``001`` vs
``1``, ``12.0`` (a spreadsheet's float) vs ``12``, ``SUB-01`` vs ``sub-01``,
``sub-001`` vs ``001`` (a FreeSurfer subject folder vs a clinical sheet).
Matching such IDs is the study's explicit choice (``data.id_match``), never
automatic; when no ID (or only some) match exactly, :func:`mismatch_hint` says
which of these forms would have matched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cohortbench.errors import DataError

__all__ = ["ID_MATCHES", "id_key", "keyed_ids", "mismatch_hint"]

#: ``data.id_match`` values.
ID_MATCHES = ("exact", "digits", "case-insensitive")

# An optional non-digit prefix, leading zeros, the number, an optional float tail.
_DIGITS = re.compile(r"^\D*?0*(\d+)(?:\.0+)?$")


def id_key(subject: str, how: str) -> str:
    """The form of ``subject`` that is compared under ``data.id_match: how``.

    ``digits``: the number in an ID made of an optional prefix and digits
    (``sub-001``, ``001``, ``1`` and ``1.0`` all give ``1``); other IDs as they are.
    ``case-insensitive``: the case-folded ID.
    """
    subject = str(subject).strip()
    if how == "digits":
        match = _DIGITS.match(subject)
        return match.group(1) if match else subject
    if how == "case-insensitive":
        return subject.casefold()
    return subject


def keyed_ids(ids: Sequence[str], how: str, *, file) -> dict[str, str]:
    """``{key: ID}`` for the IDs of one table; refuse two IDs with the same key."""
    out: dict[str, str] = {}
    for subject in ids:
        key = id_key(subject, how)
        if key in out:
            raise DataError(f"{file}: subject IDs '{out[key]}' and '{subject}' are the same "
                            f"under `data.id_match: {how}`; use `id_match: exact` or make the "
                            "IDs distinct.")
        out[key] = subject
    return out


def mismatch_hint(ids: Sequence[str], reference: Sequence[str]) -> str:
    """Why ``ids`` do not match ``reference`` (the clinical table's), when recognisable.

    Returns a clause starting with ``"; "`` naming the difference and the
    ``id_match`` option that would match them, or ``""``.
    """
    ids = [str(s).strip() for s in ids]
    wanted = {str(s).strip() for s in reference}
    unmatched = [s for s in ids if s not in wanted]
    if not unmatched:
        return ""
    example = unmatched[0]
    for how, what in (("case-insensitive", "letter case"),
                      ("digits", "leading zeros, a '.0' ending or a prefix such as 'sub-'")):
        keys = {id_key(s, how): s for s in wanted}
        hits = [s for s in unmatched if id_key(s, how) in keys]
        if len(hits) >= max(1, len(unmatched) // 2):
            other = keys[id_key(hits[0], how)]
            return (f"; the IDs differ only in {what} (e.g. '{hits[0]}' vs '{other}'): set "
                    f"`data.id_match: {how}` to match them, or fix the IDs")
    return f"; e.g. '{example}' has no match"
