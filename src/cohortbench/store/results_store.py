"""The results store: one SQLite file per run directory (SPEC sections 8 and 11).

Every finished evaluation is written in one transaction (its row, every
prediction and every null accuracy together), so a run killed at any moment
leaves only complete evaluations behind and a resumed run skips them by key.

Durability: the file is in WAL mode with ``synchronous=FULL``. With WAL,
``NORMAL`` already survives a crash of the process, but may lose the last
commits on a power cut; ``FULL`` makes each commit durable at the price of one
fsync per evaluation, negligible next to the seconds an evaluation takes.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

from ..errors import RunError
from .schema import CREATE_SQL, EVALUATION_COLUMNS, SCHEMA_VERSION, migrate, table_columns
from .store_reads import StoreReads
from .store_writes import META_FIELDS, StoreWrites

__all__ = ["ResultsStore", "STORE_NAME", "SCHEMA_VERSION", "EVALUATION_COLUMNS",
           "META_FIELDS"]

STORE_NAME = "results.sqlite"
_DAMAGE_WORDS = ("not a database", "malformed", "corrupt")
_DIRECTORY_WORDS = ("disk i/o", "disk is full", "readonly", "read-only", "unable to open",
                    "permission", "no space")


def _as_run_error(exc: sqlite3.Error, path: Path) -> RunError | None:
    """The RunError a user can act on for ``exc``, or None for a programming error."""
    if isinstance(exc, (sqlite3.IntegrityError, sqlite3.ProgrammingError,
                        sqlite3.InterfaceError)):
        return None
    text = str(exc)
    low = text.lower()
    if any(word in low for word in _DAMAGE_WORDS) or type(exc) is sqlite3.DatabaseError:
        return RunError(f"The results store {path} is damaged ({text}); move it aside (e.g. "
                        f"rename it to {path.name}.damaged) and run again to recompute, as "
                        "cohortbench never overwrites or deletes it.")
    if any(word in low for word in _DIRECTORY_WORDS):
        return RunError(f"Cannot write the results store in {path.parent} ({text}): the "
                        "directory is not writable or the disk is full; fix the permissions, "
                        "free some space, or choose another --out.")
    if "locked" in low or "busy" in low:
        return RunError(f"The results store {path} stayed locked by another process ({text}); "
                        "make sure no other cohortbench command is writing to it.")
    return None


@contextmanager
def _translated(path: Path):
    """Re-raise sqlite errors a user can fix (damage, permissions, disk) as RunError."""
    try:
        yield
    except sqlite3.Error as exc:
        err = _as_run_error(exc, path)
        if err is None:
            raise
        raise err from exc


class ResultsStore(StoreWrites, StoreReads):
    """Evaluation results of one run, in ``RUN_DIR/results.sqlite``.

    Open it with :meth:`open`; use it as a context manager or call :meth:`close`.
    Evaluations are keyed by the caller's evaluation key (a content id) and
    ordered by the caller's ``position``; every frame and export follows
    ``(position, evaluation_key)``, whatever order results arrived in. Methods
    may be called from several threads of the process that owns the store.
    """

    def __init__(self, path: Path, connection: sqlite3.Connection, version: int = SCHEMA_VERSION):
        self.path = Path(path)
        self._conn = connection
        self._lock = threading.RLock()
        #: The schema version of the file (older than SCHEMA_VERSION only when read-only).
        self.version = version
        self._evaluation_columns = table_columns(connection, "evaluations")
        self._has_plan = bool(table_columns(connection, "plan"))
        self._has_records = bool(table_columns(connection, "records"))

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, run_dir: Path, *, create: bool = True) -> "ResultsStore":
        """Open (or create) the store of ``run_dir``.

        Parameters
        ----------
        run_dir : Path
            The run directory; created when ``create`` is true.
        create : bool
            When false, a missing store is an error (for ``status``/``export``).

        Raises
        ------
        RunError
            The file is damaged, from a newer cohortbench, not a results store,
            missing (``create=False``), or the directory is not writable/full.
        """
        run_dir = Path(run_dir)
        path = run_dir / STORE_NAME
        exists = path.exists()
        if not exists and not create:
            raise RunError(f"{run_dir} holds no results store ({STORE_NAME}); run the "
                           "study with this --out first, or point to another run directory.")
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            has_content = exists and path.stat().st_size > 0
        except OSError as exc:
            raise RunError(f"Cannot use the run directory {run_dir} ({exc.strerror or exc}); "
                           "fix its permissions or choose another --out.") from exc
        with _translated(path):
            conn = sqlite3.connect(path, timeout=30.0, isolation_level=None,
                                   check_same_thread=False)
        try:
            with _translated(path):
                if has_content:
                    cls._check_integrity(conn, path)
                version = cls._prepare(conn, path, create)
        except BaseException:
            conn.close()
            raise
        return cls(path, conn, version)

    @staticmethod
    def _check_integrity(conn: sqlite3.Connection, path: Path) -> None:
        # Read-only check before anything (even the journal mode) writes to it.
        rows = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
        if rows != ["ok"]:
            raise sqlite3.DatabaseError("database disk image is malformed: "
                                        + "; ".join(rows[:3]))

    @staticmethod
    def _prepare(conn: sqlite3.Connection, path: Path, create: bool) -> int:
        """Create, check and (when writing) migrate the schema; return its version."""
        tables = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
        if "meta" not in tables:
            if tables:
                raise RunError(f"{path} is an SQLite file but not a cohortbench results store; "
                               "move it aside or choose another --out.")
            if not create:
                raise RunError(f"{path} holds no results yet; run the study with this --out "
                               "first.")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        if "meta" not in tables:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in CREATE_SQL:
                    conn.execute(statement)
                conn.execute("INSERT OR IGNORE INTO meta (key, value) "
                             "VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        try:
            version = int(row[0])
        except (TypeError, ValueError):
            raise sqlite3.DatabaseError("database disk image is malformed: no schema version")
        if version > SCHEMA_VERSION:
            raise RunError(f"The results store {path} was written by a newer cohortbench "
                           f"(store schema version {version}; this version reads up to "
                           f"{SCHEMA_VERSION}); upgrade cohortbench to open it.")
        if create and version < SCHEMA_VERSION:
            # Only a writer migrates (under the run lock); readers read older stores as
            # they are, so that report/export/status never change a store.
            version = migrate(conn, version)
        return version

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> "ResultsStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _using(self):
        with self._lock, _translated(self.path):
            if self._conn is None:
                raise RuntimeError(f"The results store {self.path} is closed.")
            yield self._conn

    @contextmanager
    def _transaction(self):
        with self._using() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                # A failed COMMIT (disk full) may leave the transaction open.
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass  # the original error says more
                raise

    def _query(self, sql: str, params=()) -> list[tuple]:
        with self._using() as conn:
            return conn.execute(sql, params).fetchall()

