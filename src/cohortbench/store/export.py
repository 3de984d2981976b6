"""The CSV contract of SPEC section 8: ``evaluations.csv``, ``predictions.csv``, ``nulls.csv``.

Exports are byte-for-byte deterministic for the same store content: rows follow
the store order (the caller's ``position``), floats are written at full
``repr`` precision, integers as integers (an absent ``n_features`` is an empty
cell), ``\\n`` line endings, UTF-8 without a byte-order mark.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from ..design.side_options import SIDE_STEPS
from ..errors import RunError
from .encoding import loads
from .results_store import ResultsStore

__all__ = [
    "EVALUATION_COLUMNS",
    "EVALUATION_EXTRA_COLUMNS",
    "EVALUATION_SIDE_COLUMNS",
    "PREDICTION_COLUMNS",
    "NULL_COLUMNS",
    "EXPORT_FILES",
    "export_frames",
    "export_csvs",
]

#: The contract columns of evaluations.csv, in order (SPEC section 8).
EVALUATION_COLUMNS = (
    "evaluation_id", "stage", "task", "classifier", "row_scaling", "column_scaling",
    "feature_selection", "n_features", "dim_reduction", "search", "modalities",
    "parcellation", "n_subjects", "accuracy", "balanced_accuracy", "f1_macro",
    "n_permutations", "null_mean", "null_std", "z_score", "p_value", "seconds",
    "accuracy_ci_low", "accuracy_ci_high", "numerically_reliable",
)
#: Written last, and only when some evaluation used them (issue 21): ``harmonize`` and
#: ``confounds`` (``none`` for the evaluations of such a study that did not).
EVALUATION_SIDE_COLUMNS = SIDE_STEPS
#: Columns written after the contract ones: provenance a user may want to filter on.
EVALUATION_EXTRA_COLUMNS = (
    "imputation", "n_features_used", "config_id", "view_fingerprint", "folds_id", "engine",
    "cohortbench_version", "balanced_accuracy_ci_low", "balanced_accuracy_ci_high",
    "unreliable_fraction", "subset",
)
PREDICTION_COLUMNS = ("evaluation_id", "subject", "true_label", "predicted_label")
NULL_COLUMNS = ("evaluation_id", "permutation", "accuracy")
#: Table name -> file name.
EXPORT_FILES = {
    "evaluations": "evaluations.csv",
    "predictions": "predictions.csv",
    "nulls": "nulls.csv",
}


def export_frames(store: ResultsStore) -> dict[str, pd.DataFrame]:
    """The exported tables as DataFrames, exactly as the CSV files hold them.

    Parameters
    ----------
    store : ResultsStore

    Returns
    -------
    dict
        ``{"evaluations", "predictions", "nulls"}`` -> DataFrame, in store order,
        with the columns of :data:`EVALUATION_COLUMNS` (+ extras, + the side
        steps when used),
        :data:`PREDICTION_COLUMNS` and :data:`NULL_COLUMNS`. Integer columns use
        the nullable ``Int64`` dtype.
    """
    rename = {"evaluation_key": "evaluation_id"}
    evaluations = store.evaluations_frame().rename(columns=rename)
    # the subset an evaluation ran on (a learn stage's ``size=S/repeat=R``; empty otherwise)
    evaluations["subset"] = [(loads(extra, {}) or {}).get("subset") if isinstance(extra, str)
                             else None for extra in evaluations["extra_json"]]
    predictions = store.predictions_frame().rename(columns=rename)
    nulls = store.nulls_frame().rename(columns=rename)
    side = [c for c in EVALUATION_SIDE_COLUMNS if c in evaluations.columns]
    return {
        "evaluations": evaluations[list(EVALUATION_COLUMNS + EVALUATION_EXTRA_COLUMNS) + side]
        .reset_index(drop=True),
        "predictions": predictions[list(PREDICTION_COLUMNS)].reset_index(drop=True),
        "nulls": nulls[list(NULL_COLUMNS)].reset_index(drop=True),
    }


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    # float_format=None writes each float at repr precision (round-trips exactly).
    text = frame.to_csv(index=False, lineterminator="\n", float_format=None, na_rep="")
    return text.encode("utf-8")


def export_csvs(store: ResultsStore, out_dir: Path,
                extra: dict[str, tuple[str, pd.DataFrame]] | None = None) -> dict[str, Path]:
    """Write ``evaluations.csv``, ``predictions.csv``, ``nulls.csv`` (and ``extra``) into ``out_dir``.

    All files or none: every table is computed and written to a temporary file
    first; only then are they renamed into place, so a failure leaves the
    directory as it was (and a reader never sees half a file).

    Parameters
    ----------
    store : ResultsStore
    out_dir : Path
        Created if missing.
    extra : dict, optional
        More tables computed from the store by a higher layer (e.g. the per-step
        tests): name -> (file name, frame).

    Returns
    -------
    dict
        Table name -> path written.

    Raises
    ------
    RunError
        ``out_dir`` cannot be created or written.
    """
    out_dir = Path(out_dir)
    frames = export_frames(store)
    tables = {name: (file_name, frames[name]) for name, file_name in EXPORT_FILES.items()}
    tables.update(extra or {})
    payloads = {name: _csv_bytes(frame) for name, (_, frame) in tables.items()}
    temporary: dict[str, str] = {}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, data in payloads.items():
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{tables[name][0]}.", suffix=".tmp")
            temporary[name] = tmp
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the user's umask decides
        written = {}
        for name, tmp in temporary.items():
            path = out_dir / tables[name][0]
            os.replace(tmp, path)
            written[name] = path
    except OSError as exc:
        raise RunError(f"Cannot write the CSV files to {out_dir} ({exc.strerror or exc}); "
                       "fix its permissions, free some space, or choose another --out.") from exc
    finally:
        for tmp in temporary.values():
            if os.path.exists(tmp):
                os.unlink(tmp)
    return written


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
