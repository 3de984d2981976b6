"""The results store's schema, its versions and the migrations between them.

Stores outlive versions: every change to the tables bumps :data:`SCHEMA_VERSION`
and adds one migration to :data:`MIGRATIONS`. A newer cohortbench

- **reads** an older store for ``report``/``export``/``status`` without writing
  to it: a column that did not exist yet reads as empty (:func:`select_list`),
  a table that did not exist yet as empty;
- **migrates** it in place before ``run`` writes to it (:func:`migrate`), one
  version at a time, in one transaction;
- **refuses** a store written by a newer cohortbench, in one sentence.

History:

1. evaluations, predictions, nulls, failures, decisions, run_info.
2. ``evaluations.content_key`` (the evaluation's content without its stage,
   so that a renamed or removed stage's results are found again),
   ``evaluations.cohortbench_version`` (which version computed it), the 95 %
   intervals of accuracy and balanced accuracy (``*_ci_low``/``*_ci_high``) and
   ``numerically_reliable``/``unreliable_fraction`` (RFE ranking fits whose
   optimality conditions fail on the float64 problem); the ``plan``
   table (the evaluations of the study as it now stands, stage by stage); the
   ``records`` table (extra per-fold records of an evaluation, by name).
"""

from __future__ import annotations

import sqlite3

__all__ = ["SCHEMA_VERSION", "EVALUATION_SCHEMA", "EVALUATION_COLUMNS", "INT_COLUMNS",
           "FLOAT_COLUMNS", "CREATE_SQL",
           "MIGRATIONS", "migrate", "select_list", "table_columns"]

SCHEMA_VERSION = 2

#: Column name -> SQL type of ``evaluations``, in table order (the order of frames).
EVALUATION_SCHEMA = {
    "evaluation_key": "TEXT PRIMARY KEY", "position": "INTEGER NOT NULL", "stage": "TEXT",
    "stage_index": "INTEGER", "task": "TEXT", "classifier": "TEXT", "row_scaling": "TEXT",
    "imputation": "TEXT", "column_scaling": "TEXT", "feature_selection": "TEXT",
    "n_features": "INTEGER", "n_features_used": "INTEGER", "dim_reduction": "TEXT",
    "search": "TEXT", "modalities": "TEXT", "parcellation": "TEXT", "n_subjects": "INTEGER",
    "accuracy": "REAL", "balanced_accuracy": "REAL", "f1_macro": "REAL",
    "n_permutations": "INTEGER", "null_mean": "REAL", "null_std": "REAL", "z_score": "REAL",
    "p_value": "REAL", "seconds": "REAL", "config_id": "TEXT", "view_fingerprint": "TEXT",
    "folds_id": "TEXT", "engine": "TEXT", "classes_json": "TEXT", "confusion_json": "TEXT",
    "chosen_params_json": "TEXT", "warnings_json": "TEXT", "extra_json": "TEXT",
    "created_at": "TEXT",
    # version 2
    "content_key": "TEXT", "cohortbench_version": "TEXT",
    "accuracy_ci_low": "REAL", "accuracy_ci_high": "REAL",
    "balanced_accuracy_ci_low": "REAL", "balanced_accuracy_ci_high": "REAL",
    "numerically_reliable": "INTEGER", "unreliable_fraction": "REAL",
}
EVALUATION_COLUMNS = tuple(EVALUATION_SCHEMA)
#: Columns read back as integers (nullable) and as floats (NaN for NULL).
INT_COLUMNS = frozenset({"position", "stage_index", "n_features", "n_features_used",
                         "n_subjects", "n_permutations", "permutation"})
FLOAT_COLUMNS = frozenset({"accuracy", "balanced_accuracy", "f1_macro", "null_mean",
                           "null_std", "z_score", "p_value", "seconds", "accuracy_ci_low",
                           "accuracy_ci_high", "balanced_accuracy_ci_low",
                           "balanced_accuracy_ci_high", "unreliable_fraction"})

#: The statements creating a store of the current version.
CREATE_SQL = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS evaluations ("
    + ", ".join(f"{name} {kind}" for name, kind in EVALUATION_SCHEMA.items()) + ")",
    "CREATE INDEX IF NOT EXISTS evaluations_by_position "
    "ON evaluations (position, evaluation_key)",
    "CREATE INDEX IF NOT EXISTS evaluations_by_content ON evaluations (content_key)",
    "CREATE TABLE IF NOT EXISTS predictions (evaluation_key TEXT NOT NULL, "
    "position INTEGER NOT NULL, subject TEXT NOT NULL, true_label TEXT, "
    "predicted_label TEXT, PRIMARY KEY (evaluation_key, position))",
    "CREATE TABLE IF NOT EXISTS nulls (evaluation_key TEXT NOT NULL, "
    "permutation INTEGER NOT NULL, accuracy REAL, PRIMARY KEY (evaluation_key, permutation))",
    "CREATE TABLE IF NOT EXISTS failures (evaluation_key TEXT PRIMARY KEY, position INTEGER, "
    "stage TEXT, task TEXT, classifier TEXT, meta_json TEXT, error TEXT, traceback TEXT, "
    "created_at TEXT)",
    "CREATE TABLE IF NOT EXISTS decisions (stage TEXT NOT NULL, kind TEXT NOT NULL, "
    "payload_json TEXT, PRIMARY KEY (stage, kind))",
    "CREATE TABLE IF NOT EXISTS run_info (key TEXT PRIMARY KEY, value_json TEXT)",
    "CREATE TABLE IF NOT EXISTS plan (evaluation_key TEXT PRIMARY KEY, stage TEXT NOT NULL, "
    "position INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS records (evaluation_key TEXT NOT NULL, name TEXT NOT NULL, "
    "payload_json TEXT, PRIMARY KEY (evaluation_key, name))",
)

#: version v -> the statements taking a store from v to v + 1.
MIGRATIONS = {
    1: (
        "ALTER TABLE evaluations ADD COLUMN content_key TEXT",
        "ALTER TABLE evaluations ADD COLUMN cohortbench_version TEXT",
        "ALTER TABLE evaluations ADD COLUMN accuracy_ci_low REAL",
        "ALTER TABLE evaluations ADD COLUMN accuracy_ci_high REAL",
        "ALTER TABLE evaluations ADD COLUMN balanced_accuracy_ci_low REAL",
        "ALTER TABLE evaluations ADD COLUMN balanced_accuracy_ci_high REAL",
        "ALTER TABLE evaluations ADD COLUMN numerically_reliable INTEGER",
        "ALTER TABLE evaluations ADD COLUMN unreliable_fraction REAL",
        "CREATE INDEX IF NOT EXISTS evaluations_by_content ON evaluations (content_key)",
        "CREATE TABLE IF NOT EXISTS plan (evaluation_key TEXT PRIMARY KEY, "
        "stage TEXT NOT NULL, position INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS records (evaluation_key TEXT NOT NULL, name TEXT NOT NULL, "
        "payload_json TEXT, PRIMARY KEY (evaluation_key, name))",
    ),
}


def migrate(conn: sqlite3.Connection, version: int) -> int:
    """Bring a store from ``version`` to :data:`SCHEMA_VERSION` in one transaction.

    Returns the version reached. The caller holds the run lock, so nobody else
    writes meanwhile; a failure rolls every step back.
    """
    if version >= SCHEMA_VERSION:
        return version
    conn.execute("BEGIN IMMEDIATE")
    try:
        for step in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[step]:
                conn.execute(statement)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                     (str(SCHEMA_VERSION),))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION


def table_columns(conn: sqlite3.Connection, table: str) -> tuple[str, ...]:
    """The columns ``table`` has in this store (empty when it has no such table)."""
    return tuple(row[1] for row in conn.execute(f"PRAGMA table_info({table})").fetchall())


def select_list(wanted, present) -> str:
    """A SELECT list of ``wanted`` columns; those an older store lacks read as NULL."""
    present = set(present)
    return ", ".join(name if name in present else f"NULL AS {name}" for name in wanted)
