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

import json
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from ..errors import RunError
from .records import EvaluationResult
from .schema import (CREATE_SQL, EVALUATION_COLUMNS, SCHEMA_VERSION, migrate, select_list,
                     table_columns)

__all__ = ["ResultsStore", "STORE_NAME", "SCHEMA_VERSION", "EVALUATION_COLUMNS",
           "META_FIELDS"]

STORE_NAME = "results.sqlite"

_INT_COLUMNS = frozenset({"position", "stage_index", "n_features", "n_features_used",
                          "n_subjects", "n_permutations", "permutation"})
_FLOAT_COLUMNS = frozenset({"accuracy", "balanced_accuracy", "f1_macro", "null_mean",
                            "null_std", "z_score", "p_value", "seconds"})
# The fields write_result() takes from ``meta``; any other key goes to extra_json.
META_FIELDS = frozenset({"position", "stage", "stage_index", "task", "classifier",
                         "row_scaling", "imputation", "column_scaling", "feature_selection",
                         "n_features", "dim_reduction", "search", "modalities", "parcellation",
                         "n_subjects", "n_permutations", "content_key", "cohortbench_version"})
_TUPLE_TAG = "__tuple__"
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


def _plain(value):
    """Turn numpy scalars into Python ones (sqlite3 and json cannot bind them)."""
    return value.item() if isinstance(value, np.generic) else value


def _tagged(obj):
    """A JSON-ready copy of ``obj`` in which tuples survive the round trip."""
    obj = _plain(obj)
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


def _dumps(obj, *, keep_tuples: bool = False) -> str:
    return json.dumps(_tagged(obj) if keep_tuples else obj, separators=(",", ":"),
                      default=lambda o: _tagged(o))


def _loads(text: str | None, default=None):
    if text is None:
        return default

    def hook(d):
        return tuple(d[_TUPLE_TAG]) if len(d) == 1 and _TUPLE_TAG in d else d

    return json.loads(text, object_hook=hook)


def _opt(value, kind):
    value = _plain(value)
    return None if value is None else kind(value)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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


class ResultsStore:
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

    # -------------------------------------------------------------- evaluations
    def has(self, key: str) -> bool:
        """Whether the evaluation ``key`` has a stored result."""
        return bool(self._query("SELECT 1 FROM evaluations WHERE evaluation_key = ?", (key,)))

    def done_keys(self) -> set[str]:
        """Keys of every stored evaluation."""
        return {r[0] for r in self._query("SELECT evaluation_key FROM evaluations")}

    def count(self) -> int:
        """Number of stored evaluations."""
        return self._query("SELECT COUNT(*) FROM evaluations")[0][0]

    def write_result(self, key: str, meta: dict, result: EvaluationResult) -> bool:
        """Store one finished evaluation in one transaction.

        Parameters
        ----------
        key : str
            The evaluation key (content id); writing a stored key is a no-op.
        meta : dict
            The caller's fields: ``position`` (int, required: the deterministic
            order), ``stage``, ``stage_index``, ``task``, ``classifier``,
            ``row_scaling``, ``imputation``, ``column_scaling``,
            ``feature_selection``, ``n_features``, ``dim_reduction``, ``search``,
            ``modalities`` (``"qT1+DTI"`` or a list of names), ``parcellation``,
            ``n_subjects`` (default: number of predictions), ``n_permutations``
            (default: number of nulls). Other keys are kept as JSON in ``extra_json``.
        result : EvaluationResult

        Returns
        -------
        bool
            True when written, False when the key was already stored.
        """
        row = self._evaluation_row(key, meta, result)
        predictions = [(key, i, s, t, p) for i, (s, t, p) in enumerate(
            zip(result.subjects, result.true_labels, result.predicted_labels, strict=True))]
        nulls = [(key, i, float(a)) for i, a in enumerate(result.null_accuracies)]
        with self._transaction() as conn:
            cursor = conn.execute(
                f"INSERT OR IGNORE INTO evaluations ({', '.join(row)}) "
                f"VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
            if cursor.rowcount == 0:
                return False
            conn.executemany("INSERT INTO predictions (evaluation_key, position, subject, "
                             "true_label, predicted_label) VALUES (?, ?, ?, ?, ?)", predictions)
            conn.executemany("INSERT INTO nulls (evaluation_key, permutation, accuracy) "
                             "VALUES (?, ?, ?)", nulls)
            conn.execute("DELETE FROM failures WHERE evaluation_key = ?", (key,))
        return True

    @staticmethod
    def _evaluation_row(key: str, meta: dict, result: EvaluationResult) -> dict:
        meta = {k: _plain(v) for k, v in meta.items()}
        if not isinstance(meta.get("position"), int) or isinstance(meta["position"], bool):
            raise ValueError(f"meta['position'] must be an int for {key}; got "
                             f"{meta.get('position')!r}.")
        if meta.get("task", result.task) != result.task:
            raise ValueError(f"meta['task']={meta['task']!r} differs from the result's task "
                             f"{result.task!r} for {key}.")
        row = {"evaluation_key": key, "task": result.task}
        for name in sorted(META_FIELDS - {"task"}):
            row[name] = _opt(meta.get(name), int) if name in _INT_COLUMNS else meta.get(name)
        if isinstance(row["modalities"], (list, tuple)):
            row["modalities"] = "+".join(row["modalities"])
        row["n_subjects"] = _opt(meta.get("n_subjects", len(result.subjects)), int)
        row["n_permutations"] = _opt(meta.get("n_permutations", len(result.null_accuracies)), int)
        for name in ("accuracy", "balanced_accuracy", "f1_macro", "seconds"):
            row[name] = float(_plain(getattr(result, name)))
        for name in ("null_mean", "null_std", "z_score", "p_value"):
            row[name] = _opt(getattr(result, name), float)
        extra = {k: v for k, v in meta.items() if k not in META_FIELDS}
        row.update(
            n_features_used=_opt(result.n_features_used, int),
            config_id=result.config_id,
            view_fingerprint=result.view_fingerprint,
            folds_id=result.folds_id,
            engine=result.engine,
            classes_json=_dumps(list(result.classes)),
            confusion_json=_dumps([[int(_plain(c)) for c in r] for r in result.confusion]),
            chosen_params_json=_dumps(list(result.chosen_params), keep_tuples=True),
            warnings_json=_dumps(list(result.warnings)),
            extra_json=_dumps(extra, keep_tuples=True) if extra else None,
            created_at=_now(),
        )
        return row

    def evaluation_value(self, key: str, column: str):
        """One stored column of evaluation ``key`` (None when absent, or a column an
        older store lacks)."""
        if column not in self._evaluation_columns:
            return None
        rows = self._query(f"SELECT {column} FROM evaluations WHERE evaluation_key = ?", (key,))
        return rows[0][0] if rows else None

    def get_result(self, key: str) -> EvaluationResult:
        """Rebuild the stored record of ``key`` (KeyError when absent).

        SQLite has no NaN: a NaN statistic comes back as NaN where the record
        requires a float, and as NaN for the permutation statistics when nulls
        were stored (``None`` only means "no permutation test").
        """
        with self._using() as conn:
            conn.row_factory = sqlite3.Row
            try:
                row = conn.execute("SELECT * FROM evaluations WHERE evaluation_key = ?",
                                   (key,)).fetchone()
            finally:
                conn.row_factory = None
            preds = conn.execute("SELECT subject, true_label, predicted_label FROM predictions "
                                 "WHERE evaluation_key = ? ORDER BY position", (key,)).fetchall()
            nulls = conn.execute("SELECT accuracy FROM nulls WHERE evaluation_key = ? "
                                 "ORDER BY permutation", (key,)).fetchall()
        if row is None:
            raise KeyError(key)
        null_accuracies = tuple(float("nan") if a is None else a for (a,) in nulls)

        def stat(name):
            value = row[name]
            return float("nan") if value is None and null_accuracies else value

        def required(name):
            return float("nan") if row[name] is None else row[name]

        return EvaluationResult(
            task=row["task"],
            classes=tuple(_loads(row["classes_json"], [])),
            config_id=row["config_id"],
            view_fingerprint=row["view_fingerprint"],
            folds_id=row["folds_id"],
            accuracy=required("accuracy"),
            balanced_accuracy=required("balanced_accuracy"),
            f1_macro=required("f1_macro"),
            confusion=tuple(tuple(r) for r in _loads(row["confusion_json"], [])),
            subjects=tuple(p[0] for p in preds),
            true_labels=tuple(p[1] for p in preds),
            predicted_labels=tuple(p[2] for p in preds),
            null_accuracies=null_accuracies,
            null_mean=stat("null_mean"),
            null_std=stat("null_std"),
            z_score=stat("z_score"),
            p_value=stat("p_value"),
            chosen_params=tuple(_loads(row["chosen_params_json"], [])),
            seconds=required("seconds"),
            n_features_used=row["n_features_used"],
            engine=row["engine"],
            warnings=tuple(_loads(row["warnings_json"], [])),
        )

    # ------------------------------------------------------------------- frames
    def _frame(self, sql: str, params=()) -> pd.DataFrame:
        with self._using() as conn:
            cursor = conn.execute(sql, params)
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        data = {}
        for j, name in enumerate(columns):
            values = [row[j] for row in rows]
            if name in _INT_COLUMNS:
                data[name] = pd.array(values, dtype="Int64")
            elif name in _FLOAT_COLUMNS:
                data[name] = np.array([np.nan if v is None else v for v in values], dtype=float)
            else:
                data[name] = pd.Series(values, dtype=object)
        return pd.DataFrame(data, columns=columns)

    def _current(self, alias: str) -> str:
        """A WHERE clause keeping the evaluations of the study as it now stands.

        Once a run has recorded its plan (``plan_recorded``), evaluations outside
        it (a stage removed or edited since) stay in the file but out of frames;
        a store from before plans existed shows everything, as it always did.
        """
        if not self._has_plan or not self.get_info("plan_recorded", False):
            return ""
        return f"WHERE {alias}.evaluation_key IN (SELECT evaluation_key FROM plan) "

    def evaluations_frame(self, *, current: bool = True) -> pd.DataFrame:
        """Evaluation rows, ordered by ``(position, evaluation_key)``.

        ``current`` (default): only those of the current plan (see :meth:`record_plan`);
        otherwise every stored row. Columns an older store lacks are empty.
        """
        columns = select_list(EVALUATION_COLUMNS, self._evaluation_columns)
        scope = self._current("e") if current else ""
        return self._frame(f"SELECT {columns} FROM evaluations e {scope}"
                           "ORDER BY position, evaluation_key")

    def predictions_frame(self, *, current: bool = True) -> pd.DataFrame:
        """Predictions, in evaluation order then prediction position."""
        scope = self._current("e") if current else ""
        return self._frame(
            "SELECT p.evaluation_key, p.position, p.subject, p.true_label, p.predicted_label "
            f"FROM predictions p JOIN evaluations e USING (evaluation_key) {scope}"
            "ORDER BY e.position, p.evaluation_key, p.position")

    def nulls_frame(self, *, current: bool = True) -> pd.DataFrame:
        """Null accuracies, in evaluation order then permutation."""
        scope = self._current("e") if current else ""
        return self._frame(
            "SELECT n.evaluation_key, n.permutation, n.accuracy "
            f"FROM nulls n JOIN evaluations e USING (evaluation_key) {scope}"
            "ORDER BY e.position, n.evaluation_key, n.permutation")

    # --------------------------------------------------------------------- plan
    def record_plan(self, stages) -> None:
        """Start recording the plan of the study as it now stands (stage names in order).

        Forgets the previous plan: what is shown from now on is what the current
        study plans, stage by stage (:meth:`plan_stage`). Stored results are kept.
        """
        with self._transaction() as conn:
            conn.execute("DELETE FROM plan")
            for key, value in (("plan_recorded", True), ("stages", list(stages))):
                conn.execute("INSERT INTO run_info (key, value_json) VALUES (?, ?) ON CONFLICT "
                             "(key) DO UPDATE SET value_json = excluded.value_json",
                             (key, _dumps(value)))
        self._has_plan = True

    def plan_stage(self, stage: str, entries) -> None:
        """Record the evaluations ``stage`` plans: ``(evaluation_key, position)`` pairs."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM plan WHERE stage = ?", (stage,))
            conn.executemany("INSERT OR REPLACE INTO plan (evaluation_key, stage, position) "
                             "VALUES (?, ?, ?)", [(k, stage, int(p)) for k, p in entries])

    def planned_counts(self) -> dict[str, int] | None:
        """Stage -> number of evaluations planned, or None before any plan was recorded."""
        if not self._has_plan or not self.get_info("plan_recorded", False):
            return None
        rows = self._query("SELECT stage, COUNT(*) FROM plan GROUP BY stage")
        return {stage: n for stage, n in rows}

    def unplanned_count(self) -> int:
        """Stored evaluations outside the current plan (0 before any plan was recorded)."""
        if not self._has_plan or not self.get_info("plan_recorded", False):
            return 0
        return self._query("SELECT COUNT(*) FROM evaluations WHERE evaluation_key NOT IN "
                           "(SELECT evaluation_key FROM plan)")[0][0]

    def find_content(self, content_key: str) -> str | None:
        """The key of a stored evaluation with this content (any stage), if any."""
        if "content_key" not in self._evaluation_columns:
            return None
        rows = self._query("SELECT evaluation_key FROM evaluations WHERE content_key = ? "
                           "ORDER BY position, evaluation_key LIMIT 1", (content_key,))
        return rows[0][0] if rows else None

    # ----------------------------------------------------------------- failures
    def write_failure(self, key: str, meta: dict, error: str, traceback: str) -> None:
        """Record that evaluation ``key`` failed (replaces an earlier failure).

        Ignored when ``key`` already has a stored result: success wins.
        """
        meta = {k: _plain(v) for k, v in meta.items()}
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM evaluations WHERE evaluation_key = ?",
                            (key,)).fetchone():
                return
            conn.execute(
                "INSERT OR REPLACE INTO failures (evaluation_key, position, stage, task, "
                "classifier, meta_json, error, traceback, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, _opt(meta.get("position"), int), meta.get("stage"), meta.get("task"),
                 meta.get("classifier"), _dumps(meta, keep_tuples=True), str(error),
                 str(traceback), _now()))

    def failures(self, *, current: bool = True) -> pd.DataFrame:
        """Failed evaluations (key, position, stage, task, classifier, error, …).

        ``current``: only those of the current plan (see :meth:`evaluations_frame`).
        """
        scope = self._current("f") if current else ""
        return self._frame("SELECT evaluation_key, position, stage, task, classifier, error, "
                           f"traceback, meta_json, created_at FROM failures f {scope}"
                           "ORDER BY position, evaluation_key")

    def clear_failures(self, keys: Iterable[str] | None = None) -> int:
        """Forget the failures of ``keys`` (all when None); return how many."""
        with self._transaction() as conn:
            if keys is None:
                return conn.execute("DELETE FROM failures").rowcount
            return sum(conn.execute("DELETE FROM failures WHERE evaluation_key = ?",
                                    (k,)).rowcount for k in keys)

    # ------------------------------------------------------- decisions and info
    def set_decision(self, stage: str, kind: str, payload: dict) -> None:
        """Record a choice made after ``stage`` (e.g. ``shortlist``, ``best``)."""
        with self._transaction() as conn:
            conn.execute("INSERT INTO decisions (stage, kind, payload_json) VALUES (?, ?, ?) "
                         "ON CONFLICT (stage, kind) DO UPDATE SET payload_json = "
                         "excluded.payload_json", (stage, kind, _dumps(payload)))

    def get_decision(self, stage: str, kind: str, default=None):
        """The payload recorded for ``(stage, kind)``, or ``default``."""
        rows = self._query("SELECT payload_json FROM decisions WHERE stage = ? AND kind = ?",
                           (stage, kind))
        return _loads(rows[0][0]) if rows else default

    def decisions(self) -> list[dict]:
        """Every decision as ``{'stage', 'kind', 'payload'}``, in the order first made."""
        rows = self._query("SELECT stage, kind, payload_json FROM decisions ORDER BY rowid")
        return [{"stage": s, "kind": k, "payload": _loads(p)} for s, k, p in rows]

    def set_info(self, key: str, value) -> None:
        """Store a JSON-serialisable value under ``key`` (replacing it)."""
        with self._transaction() as conn:
            conn.execute("INSERT INTO run_info (key, value_json) VALUES (?, ?) ON CONFLICT (key) "
                         "DO UPDATE SET value_json = excluded.value_json", (key, _dumps(value)))

    def get_info(self, key: str, default=None):
        """The value stored under ``key``, or ``default``."""
        rows = self._query("SELECT value_json FROM run_info WHERE key = ?", (key,))
        return _loads(rows[0][0]) if rows else default

    def info(self) -> dict:
        """Every stored info value, by key."""
        return {k: _loads(v) for k, v in self._query(
            "SELECT key, value_json FROM run_info ORDER BY rowid")}
