"""Stable integers from text, so that seeds derived from names are the same in every process.

Every random choice of a run derives from the study seed and a name (a task, a subset's
key, a purpose such as ``"outer-cv"``); Python's ``hash()`` of a string is salted per
process, so names enter seeds through :func:`stable_int` instead.
"""

from __future__ import annotations

import hashlib

__all__ = ["stable_int"]


def stable_int(text: str) -> int:
    """A 64-bit integer hash of ``text`` that is the same in every process.

    (Python's ``hash()`` of a string is salted per process.)
    """
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
