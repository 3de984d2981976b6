"""The extraction's own store: ``OUT/extract.sqlite``.

It keeps, per subject and map, the region statistics with the key of the inputs
they were computed from, so that a re-run recomputes only what changed and a
killed run resumes (each subject's results are one transaction). It also caches
file digests by (path, size, mtime) and the labels each label image holds, so
that an unchanged cohort is not read twice.

Before the inputs are checked nothing may be written, so the caches are first read
through :func:`read_caches` (read-only, and only when the store exists) and the
store is opened for writing by :meth:`ExtractStore.open` afterwards.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RunError
from .images import file_digest
from .regions import RegionStats

__all__ = ["STORE_NAME", "FileCache", "read_caches", "ExtractStore"]

STORE_NAME = "extract.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS digests (path TEXT PRIMARY KEY, size INTEGER NOT NULL,
                                    mtime_ns INTEGER NOT NULL, digest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS label_sets (digest TEXT PRIMARY KEY, labels TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (subject TEXT NOT NULL, map TEXT NOT NULL, key TEXT NOT NULL,
                                    stats TEXT NOT NULL, PRIMARY KEY (subject, map));
"""


def _damaged(path: Path, exc: Exception) -> RunError:
    return RunError(f"{path} cannot be used ({exc}); it only holds cached results: delete it and "
                    "run the extraction again.")


@dataclass
class FileCache:
    """Digests and label sets known from earlier runs, plus those found in this one."""

    digests: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    label_sets: dict[str, tuple[int, ...]] = field(default_factory=dict)
    new_digests: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    new_label_sets: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def digest(self, path: Path) -> str:
        """The content digest of ``path``, hashed again only when its size or mtime changed."""
        stat = os.stat(path)
        key = str(path)
        known = self.digests.get(key)
        if known is not None and known[:2] == (stat.st_size, stat.st_mtime_ns):
            return known[2]
        entry = (stat.st_size, stat.st_mtime_ns, file_digest(path))
        self.digests[key] = self.new_digests[key] = entry
        return entry[2]

    def labels_of(self, digest: str):
        return self.label_sets.get(digest)

    def remember_labels(self, digest: str, labels) -> None:
        self.label_sets[digest] = self.new_label_sets[digest] = tuple(sorted(labels))


def read_caches(out: Path) -> FileCache:
    """The caches of an existing store, read without writing anything."""
    path = Path(out) / STORE_NAME
    cache = FileCache()
    if not path.exists():
        return cache
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            for p, size, mtime, digest in con.execute("SELECT path, size, mtime_ns, digest FROM digests"):
                cache.digests[p] = (size, mtime, digest)
            for digest, labels in con.execute("SELECT digest, labels FROM label_sets"):
                cache.label_sets[digest] = tuple(json.loads(labels))
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise _damaged(path, exc) from None
    return cache


class ExtractStore:
    """Read and write ``OUT/extract.sqlite`` (only the main process writes)."""

    def __init__(self, con: sqlite3.Connection, path: Path):
        self._con = con
        self.path = path

    @classmethod
    def open(cls, out: Path) -> ExtractStore:
        path = Path(out) / STORE_NAME
        try:
            con = sqlite3.connect(str(path))
            con.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise _damaged(path, exc) from None
        return cls(con, path)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> ExtractStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def save_cache(self, cache: FileCache) -> None:
        """Write the digests and label sets found in this run."""
        with self._con:
            self._con.executemany(
                "INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?)",
                [(p, *entry) for p, entry in cache.new_digests.items()])
            self._con.executemany(
                "INSERT OR REPLACE INTO label_sets VALUES (?, ?)",
                [(d, json.dumps(list(labels))) for d, labels in cache.new_label_sets.items()])
        cache.new_digests.clear()
        cache.new_label_sets.clear()

    def keys(self) -> dict[tuple[str, str], str]:
        """(subject, map) -> key of the stored result."""
        return {(s, m): k for s, m, k in self._con.execute("SELECT subject, map, key FROM results")}

    def write_subject(self, subject: str, results: dict[str, tuple[str, RegionStats]]) -> None:
        """Store one subject's results (map -> (key, stats)) in one transaction."""
        with self._con:
            self._con.executemany(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?)",
                [(subject, m, key, json.dumps(stats.to_json())) for m, (key, stats) in results.items()])

    def result(self, subject: str, map_name: str, key: str) -> RegionStats | None:
        """The stored stats of (subject, map) when they were computed from ``key``."""
        row = self._con.execute("SELECT key, stats FROM results WHERE subject = ? AND map = ?",
                                (subject, map_name)).fetchone()
        if row is None or row[0] != key:
            return None
        return RegionStats.from_json(json.loads(row[1]))

    def get_meta(self, key: str, default=None):
        row = self._con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_meta(self, key: str, value) -> None:
        with self._con:
            self._con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))
