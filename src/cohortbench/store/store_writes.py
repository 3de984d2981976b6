"""Writing to the results store: evaluations, failures, decisions, run info and the plan."""

from __future__ import annotations

from typing import Iterable

from .encoding import dumps, now, optional, plain
from .intervals import intervals_from_confusion
from .records import EvaluationResult
from .schema import INT_COLUMNS

__all__ = ["StoreWrites", "META_FIELDS"]

# The fields write_result() takes from ``meta``; any other key goes to extra_json.
META_FIELDS = frozenset({"position", "stage", "stage_index", "task", "classifier",
                         "row_scaling", "imputation", "column_scaling", "feature_selection",
                         "n_features", "dim_reduction", "search", "modalities", "parcellation",
                         "n_subjects", "n_permutations", "content_key", "cohortbench_version"})


class StoreWrites:
    """The writing half of :class:`~cohortbench.store.results_store.ResultsStore`.

    Every write is one transaction (``self._transaction``, from the store).
    """

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
            conn.executemany("INSERT INTO records (evaluation_key, name, payload_json) "
                             "VALUES (?, ?, ?)",
                             [(key, name, dumps(value)) for name, value in result.records.items()])
            conn.execute("DELETE FROM failures WHERE evaluation_key = ?", (key,))
        return True

    @staticmethod
    def _evaluation_row(key: str, meta: dict, result: EvaluationResult) -> dict:
        meta = {k: plain(v) for k, v in meta.items()}
        if not isinstance(meta.get("position"), int) or isinstance(meta["position"], bool):
            raise ValueError(f"meta['position'] must be an int for {key}; got "
                             f"{meta.get('position')!r}.")
        if meta.get("task", result.task) != result.task:
            raise ValueError(f"meta['task']={meta['task']!r} differs from the result's task "
                             f"{result.task!r} for {key}.")
        row = {"evaluation_key": key, "task": result.task}
        for name in sorted(META_FIELDS - {"task"}):
            row[name] = optional(meta.get(name), int) if name in INT_COLUMNS else meta.get(name)
        if isinstance(row["modalities"], (list, tuple)):
            row["modalities"] = "+".join(row["modalities"])
        row["n_subjects"] = optional(meta.get("n_subjects", len(result.subjects)), int)
        row["n_permutations"] = optional(meta.get("n_permutations", len(result.null_accuracies)), int)
        for name in ("accuracy", "balanced_accuracy", "f1_macro", "seconds"):
            row[name] = float(plain(getattr(result, name)))
        for name in ("null_mean", "null_std", "z_score", "p_value"):
            row[name] = optional(getattr(result, name), float)
        extra = {k: v for k, v in meta.items() if k not in META_FIELDS}
        intervals = intervals_from_confusion(result.confusion, len(result.subjects))
        reliable = result.numerically_reliable
        row.update(
            accuracy_ci_low=intervals.accuracy.low, accuracy_ci_high=intervals.accuracy.high,
            balanced_accuracy_ci_low=intervals.balanced_accuracy.low,
            balanced_accuracy_ci_high=intervals.balanced_accuracy.high,
            numerically_reliable=None if reliable is None else int(bool(reliable)),
            unreliable_fraction=optional(result.unreliable_fraction, float),
            n_features_used=optional(result.n_features_used, int),
            config_id=result.config_id,
            view_fingerprint=result.view_fingerprint,
            folds_id=result.folds_id,
            engine=result.engine,
            classes_json=dumps(list(result.classes)),
            confusion_json=dumps([[int(plain(c)) for c in r] for r in result.confusion]),
            chosen_params_json=dumps(list(result.chosen_params), keep_tuples=True),
            warnings_json=dumps(list(result.warnings)),
            extra_json=dumps(extra, keep_tuples=True) if extra else None,
            created_at=now(),
        )
        return row

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
                             (key, dumps(value)))
        self._has_plan = True

    def plan_stage(self, stage: str, entries) -> None:
        """Record the evaluations ``stage`` plans: ``(evaluation_key, position)`` pairs."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM plan WHERE stage = ?", (stage,))
            conn.executemany("INSERT OR REPLACE INTO plan (evaluation_key, stage, position) "
                             "VALUES (?, ?, ?)", [(k, stage, int(p)) for k, p in entries])

    def write_failure(self, key: str, meta: dict, error: str, traceback: str) -> None:
        """Record that evaluation ``key`` failed (replaces an earlier failure).

        Ignored when ``key`` already has a stored result: success wins.
        """
        meta = {k: plain(v) for k, v in meta.items()}
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM evaluations WHERE evaluation_key = ?",
                            (key,)).fetchone():
                return
            conn.execute(
                "INSERT OR REPLACE INTO failures (evaluation_key, position, stage, task, "
                "classifier, meta_json, error, traceback, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, optional(meta.get("position"), int), meta.get("stage"), meta.get("task"),
                 meta.get("classifier"), dumps(meta, keep_tuples=True), str(error),
                 str(traceback), now()))

    def clear_failures(self, keys: Iterable[str] | None = None) -> int:
        """Forget the failures of ``keys`` (all when None); return how many."""
        with self._transaction() as conn:
            if keys is None:
                return conn.execute("DELETE FROM failures").rowcount
            return sum(conn.execute("DELETE FROM failures WHERE evaluation_key = ?",
                                    (k,)).rowcount for k in keys)

    def set_decision(self, stage: str, kind: str, payload: dict) -> None:
        """Record a choice made after ``stage`` (e.g. ``shortlist``, ``best``)."""
        with self._transaction() as conn:
            conn.execute("INSERT INTO decisions (stage, kind, payload_json) VALUES (?, ?, ?) "
                         "ON CONFLICT (stage, kind) DO UPDATE SET payload_json = "
                         "excluded.payload_json", (stage, kind, dumps(payload)))

    def set_info(self, key: str, value) -> None:
        """Store a JSON-serialisable value under ``key`` (replacing it)."""
        with self._transaction() as conn:
            conn.execute("INSERT INTO run_info (key, value_json) VALUES (?, ?) ON CONFLICT (key) "
                         "DO UPDATE SET value_json = excluded.value_json", (key, dumps(value)))

