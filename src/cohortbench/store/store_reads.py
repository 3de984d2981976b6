"""Reading the results store: records, frames, failures, decisions, run info and the plan.

Readers never write: a store written by an earlier version is read as it is, a column
it lacks reading as empty (:func:`~cohortbench.store.schema.select_list`).
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd

from ..design.side_options import SIDE_STEPS
from .encoding import loads
from .intervals import intervals_from_confusion
from .records import EvaluationResult
from .schema import EVALUATION_COLUMNS, FLOAT_COLUMNS, INT_COLUMNS, select_list

__all__ = ["StoreReads"]



_INTERVAL_COLUMNS = ("accuracy_ci_low", "accuracy_ci_high", "balanced_accuracy_ci_low",
                     "balanced_accuracy_ci_high")


def _with_intervals(frame: pd.DataFrame) -> pd.DataFrame:
    """Fill the interval columns an older store lacks, from each row's confusion matrix."""
    missing = frame["accuracy_ci_low"].isna() & frame["confusion_json"].notna()
    for index in frame.index[missing]:
        row = frame.loc[index]
        try:
            found = intervals_from_confusion(loads(row["confusion_json"]), int(row["n_subjects"]))
        except (ValueError, TypeError):
            continue  # a record without a usable confusion matrix keeps empty intervals
        values = (found.accuracy.low, found.accuracy.high, found.balanced_accuracy.low,
                  found.balanced_accuracy.high)
        for column, value in zip(_INTERVAL_COLUMNS, values):
            frame.at[index, column] = value
    return frame


def _with_side_steps(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns ``harmonize``/``confounds`` when some evaluation used them (issue 21).

    They are stored with the extra fields (``extra_json``), where only the
    evaluations using them have them: a store without any gets no column (its frames,
    and so its exports, are as before); otherwise a row without one reads ``none``.
    """
    if "extra_json" not in frame or not len(frame):
        return frame
    extras = [loads(text, {}) if isinstance(text, str) else {} for text in frame["extra_json"]]
    for step in SIDE_STEPS:
        if any(step in extra for extra in extras):
            frame[step] = pd.Series([extra.get(step, "none") for extra in extras],
                                    index=frame.index, dtype=object)
    return frame


class StoreReads:
    """The reading half of :class:`~cohortbench.store.results_store.ResultsStore`."""

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

    def records(self, key: str) -> dict:
        """The extra per-fold records of evaluation ``key`` (``{}`` when none)."""
        if not self._has_records:
            return {}
        return {name: loads(payload) for name, payload in self._query(
            "SELECT name, payload_json FROM records WHERE evaluation_key = ? ORDER BY name",
            (key,))}

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
            records = (conn.execute("SELECT name, payload_json FROM records WHERE "
                                    "evaluation_key = ? ORDER BY name", (key,)).fetchall()
                       if self._has_records else [])
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
            classes=tuple(loads(row["classes_json"], [])),
            config_id=row["config_id"],
            view_fingerprint=row["view_fingerprint"],
            folds_id=row["folds_id"],
            accuracy=required("accuracy"),
            balanced_accuracy=required("balanced_accuracy"),
            f1_macro=required("f1_macro"),
            confusion=tuple(tuple(r) for r in loads(row["confusion_json"], [])),
            subjects=tuple(p[0] for p in preds),
            true_labels=tuple(p[1] for p in preds),
            predicted_labels=tuple(p[2] for p in preds),
            null_accuracies=null_accuracies,
            null_mean=stat("null_mean"),
            null_std=stat("null_std"),
            z_score=stat("z_score"),
            p_value=stat("p_value"),
            chosen_params=tuple(loads(row["chosen_params_json"], [])),
            seconds=required("seconds"),
            n_features_used=row["n_features_used"],
            engine=row["engine"],
            warnings=tuple(loads(row["warnings_json"], [])),
            records={name: loads(payload) for name, payload in records},
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
            if name in INT_COLUMNS:
                data[name] = pd.array(values, dtype="Int64")
            elif name in FLOAT_COLUMNS:
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
        frame = self._frame(f"SELECT {columns} FROM evaluations e {scope}"
                            "ORDER BY position, evaluation_key")
        frame["numerically_reliable"] = pd.array(
            [None if pd.isna(v) else bool(v) for v in frame["numerically_reliable"]],
            dtype="boolean")
        return _with_side_steps(_with_intervals(frame))

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
    def failures(self, *, current: bool = True) -> pd.DataFrame:
        """Failed evaluations (key, position, stage, task, classifier, error, …).

        ``current``: only those of the current plan (see :meth:`evaluations_frame`).
        """
        scope = self._current("f") if current else ""
        return self._frame("SELECT evaluation_key, position, stage, task, classifier, error, "
                           f"traceback, meta_json, created_at FROM failures f {scope}"
                           "ORDER BY position, evaluation_key")

    # ------------------------------------------------------- decisions and info
    def get_decision(self, stage: str, kind: str, default=None):
        """The payload recorded for ``(stage, kind)``, or ``default``."""
        rows = self._query("SELECT payload_json FROM decisions WHERE stage = ? AND kind = ?",
                           (stage, kind))
        return loads(rows[0][0]) if rows else default

    def decisions(self) -> list[dict]:
        """Every decision as ``{'stage', 'kind', 'payload'}``, in the order first made."""
        rows = self._query("SELECT stage, kind, payload_json FROM decisions ORDER BY rowid")
        return [{"stage": s, "kind": k, "payload": loads(p)} for s, k, p in rows]

    def get_info(self, key: str, default=None):
        """The value stored under ``key``, or ``default``."""
        rows = self._query("SELECT value_json FROM run_info WHERE key = ?", (key,))
        return loads(rows[0][0]) if rows else default

    def info(self) -> dict:
        """Every stored info value, by key."""
        return {k: loads(v) for k, v in self._query(
            "SELECT key, value_json FROM run_info ORDER BY rowid")}
