"""Writing the extraction's outputs, each file atomically.

``OUT/maps/<map>.tsv`` (the ID column + one column per ROI, ``n/a`` for missing,
floats written so they read back exactly), ``OUT/participants.tsv`` when the
extraction file gave no participants table, ``OUT/qc.tsv`` and ``OUT/study.yaml``.
A file the user edited after an earlier extraction (the skeleton, the written
participants table) is kept, never overwritten: the store remembers the digest of
what it wrote.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pandas as pd

from ..data.tables import read_table
from ..errors import DataError
from .plan import Plan
from .skeleton import GROUP_COLUMN, placeholder_task, study_skeleton
from .store import ExtractStore

__all__ = ["write_outputs", "atomic_write", "MAPS_FOLDER", "QC_NAME", "STUDY_NAME",
           "PARTICIPANTS_NAME"]

MAPS_FOLDER = "maps"
QC_NAME = "qc.tsv"
STUDY_NAME = "study.yaml"
PARTICIPANTS_NAME = "participants.tsv"


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _tsv(frame: pd.DataFrame, index: bool) -> str:
    # pandas writes float64 with repr, which reads back to the same float.
    return frame.to_csv(sep="\t", index=index, na_rep="n/a", lineterminator="\n")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write_unless_edited(path: Path, text: str, store: ExtractStore) -> bool:
    """Write a file the user may edit, unless it changed since we last wrote it.

    Returns False when the file was edited (and so kept as it is).
    """
    written = store.get_meta(f"written:{path.name}")
    if path.exists():
        current = _digest(path.read_text(encoding="utf-8", errors="replace"))
        if current == _digest(text):
            return True
        if current != written:
            return False
    atomic_write(path, text)
    store.set_meta(f"written:{path.name}", _digest(text))
    return True


def _relative(path: Path, start: Path) -> str:
    try:
        return os.path.relpath(path, start)
    except ValueError:  # another drive (Windows)
        return str(path)


def _read_back(path: Path, plan: Plan, notes: list[str]) -> pd.DataFrame | None:
    """The participants table this extraction wrote, as the user may have filled it in."""
    try:
        table = read_table(path)
    except DataError as exc:
        notes.append(f"{exc} (the study skeleton's task stays a placeholder)")
        return None
    if plan.id_column in table.columns:
        lacking = sorted({s.subject for s in plan.subjects} - set(table[plan.id_column]))
        if lacking:
            notes.append(f"{path} lacks {len(lacking)} subject(s) extracted now: "
                         f"{', '.join(lacking[:8])}{', ...' if len(lacking) > 8 else ''}; add "
                         "their rows")
    return table


def write_outputs(out: Path, plan: Plan, tables: dict[str, pd.DataFrame], qc: pd.DataFrame,
                  store: ExtractStore, notes: list[str]) -> dict[str, Path]:
    """Write every output; returns name -> path (maps by name, plus participants/qc/study).

    ``notes`` receives what the user should know: a kept, edited skeleton, a skeleton
    whose task must be filled in, subjects lacking from an edited participants table.
    """
    out = Path(out)
    paths: dict[str, Path] = {}
    for name, table in tables.items():
        path = out / MAPS_FOLDER / f"{name}.tsv"
        atomic_write(path, _tsv(table, index=True))
        paths[name] = path
    earlier = store.get_meta("maps", [])
    for name in earlier:
        stale = out / MAPS_FOLDER / f"{name}.tsv"
        if name not in tables and stale.exists():
            stale.unlink()  # a map no longer in the extraction file: its table would mislead
    store.set_meta("maps", list(tables))

    participants_table = plan.participants
    if plan.spec.participants is not None:
        participants = plan.spec.participants
        where = str(participants)
    else:
        where = f"{out / PARTICIPANTS_NAME} (written by extract)"
        participants = out / PARTICIPANTS_NAME
        written = pd.DataFrame({plan.id_column: [s.subject for s in plan.subjects],
                                GROUP_COLUMN: pd.NA})
        # a participants table the user filled in is theirs (that is what the skeleton asks)
        _write_unless_edited(participants, _tsv(written, index=False), store)
        participants_table = _read_back(participants, plan, notes)
    paths["participants"] = participants

    qc_path = out / QC_NAME
    atomic_write(qc_path, _tsv(qc, index=False))
    paths["qc"] = qc_path

    task = placeholder_task(participants_table, plan.id_column, where)
    n_missing = sum(int(t.isna().to_numpy().sum()) for t in tables.values())
    n_missing += sum(len(plan.subjects) - len(t) for t in tables.values())
    empty = [c for t in tables.values() for c in t.columns[t.isna().all(axis=0).to_numpy()]]
    text = study_skeleton(
        name=plan.spec.name, source=str(plan.spec.source),
        maps={name: f"{MAPS_FOLDER}/{name}.tsv" for name in tables},
        participants=_relative(participants, out), id_column=plan.id_column,
        task=task, n_missing=n_missing,
        empty_rois=list(dict.fromkeys(empty)))
    study = out / STUDY_NAME
    if not _write_unless_edited(study, text, store):
        notes.append(f"{study} was edited since the last extraction and is kept as it is; "
                     "delete it to get a fresh skeleton")
    elif not task.ready:
        notes.append(f"the study skeleton needs classes: {task.comment.removeprefix('EDIT: ')}")
    paths["study"] = study
    return paths
