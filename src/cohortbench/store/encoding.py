"""How values travel into and out of SQLite: numpy scalars, tuples, JSON."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np

__all__ = ["plain", "dumps", "loads", "optional", "now"]

_TUPLE_TAG = "__tuple__"


def plain(value):
    """Turn numpy scalars into Python ones (sqlite3 and json cannot bind them)."""
    return value.item() if isinstance(value, np.generic) else value


def _tagged(obj):
    """A JSON-ready copy of ``obj`` in which tuples survive the round trip."""
    obj = plain(obj)
    if isinstance(obj, tuple):
        return {_TUPLE_TAG: [_tagged(x) for x in obj]}
    if isinstance(obj, np.ndarray):
        return [_tagged(x) for x in obj.tolist()]
    if isinstance(obj, list):
        return [_tagged(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): _tagged(v) for k, v in obj.items()}
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    # An exotic hyperparameter value (an estimator, a callable): keep its text
    # rather than losing the finished evaluation; never pickle.
    return repr(obj)


def dumps(obj, *, keep_tuples: bool = False) -> str:
    return json.dumps(_tagged(obj) if keep_tuples else obj, separators=(",", ":"),
                      default=lambda o: _tagged(o))


def loads(text: str | None, default=None):
    if text is None:
        return default

    def hook(d):
        return tuple(d[_TUPLE_TAG]) if len(d) == 1 and _TUPLE_TAG in d else d

    return json.loads(text, object_hook=hook)


def optional(value, kind):
    value = plain(value)
    return None if value is None else kind(value)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


