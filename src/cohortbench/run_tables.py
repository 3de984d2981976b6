"""The tables analyses derive from a finished run, beside the stored ones (SPEC section 8).

``step_tests.csv`` always; ``map_contributions.csv`` and ``importance.csv`` when the run
has an ``importance`` stage; ``learning_curve.csv`` and ``projection.csv`` when it has a
``learn`` stage. :func:`cohortbench.results` returns them as DataFrames and
:func:`cohortbench.export` writes them, from this one place.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["analysis_tables"]


def analysis_tables(store, frames: dict[str, pd.DataFrame]) -> dict[str, tuple[str, pd.DataFrame]]:
    """``name -> (file name, table)`` of the derived tables of an open run's store.

    Parameters
    ----------
    store : ResultsStore
        The run's store, open.
    frames : dict of DataFrame
        Its stored tables (:func:`~cohortbench.store.export.export_frames`).
    """
    from .analyse.learn_tables import learn_tables
    from .analyse.scope import comparable
    from .analyse.step_tests import step_tests

    kinds = store.get_info("stage_kinds")
    evaluations = frames["evaluations"]
    tables = {"step_tests": ("step_tests.csv", step_tests(comparable(evaluations, kinds)))}
    tables.update(_importance_tables(store, frames))
    tables.update({name: (f"{name}.csv", frame) for name, frame
                   in learn_tables(evaluations, kinds, store.decisions()).items()})
    return tables


def _importance_tables(store, frames) -> dict:
    """``map_contributions.csv`` and ``importance.csv`` when the run has an importance stage."""
    from .analyse.importance_results import importance_from_store

    found = importance_from_store(store, frames)
    if not found:
        return {}
    return {"map_contributions": ("map_contributions.csv", found.contributions),
            "importance": ("importance.csv", found.export)}
