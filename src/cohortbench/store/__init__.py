"""The results store (SQLite, one file per run directory) and its CSV export."""

from .export import export_csvs, export_frames
from .records import EvaluationResult
from .results_store import SCHEMA_VERSION, STORE_NAME, ResultsStore
from .run_lock import LOCK_NAME, RunLock

__all__ = [
    "EvaluationResult",
    "ResultsStore",
    "RunLock",
    "export_csvs",
    "export_frames",
    "STORE_NAME",
    "LOCK_NAME",
    "SCHEMA_VERSION",
]
