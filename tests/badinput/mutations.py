"""Building the bad-input corpus: a valid base study and the mutations that break it.

:func:`write_base` writes the tiny synthetic cohort (16 subjects: 6 controls, 5 slow,
5 fast; 12 ROIs of which 6 form the ``GM`` parcellation) and :data:`BASE_STUDY`. Each
helper returns a ``mutate(root)`` callable that changes one thing in a copy of it: a
line of the study file, a key of the study, a cell or a whole table, a file format.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import yaml

BASE_STUDY = """\
name: bad-input-base
seed: 1
data:
  maps: {qT1: maps/qT1.tsv, FA: maps/FA.tsv}
  participants: participants.tsv
  modalities: {qT1: [qT1], DTI: [FA]}
  parcellations: {GM: rois_gm.txt}
labels:
  slope: {expression: "(48 - alsfrs_r) / disease_months"}
  progression: {from: slope, split: median, classes: [slow, fast], among: {group: ALS}}
tasks:
  2-class:
    classes: {HC: {group: HC}, ALS: {group: ALS}}
  3-class:
    classes: {HC: {group: HC}, slow: {progression: slow}, fast: {progression: fast}}
cv: {outer: "stratified-kfold:3", inner: "stratified-kfold:3"}
permutations: 0
stages:
  - name: screen
    classifiers: [KNN]
    pipeline: {row_scaling: standard, column_scaling: standard}
"""
STUDY_FILE = "study.yaml"
#: The sizes of the tiny cohort every case starts from.
COHORT_SIZES = dict(n_controls=6, n_slow=5, n_fast=5, n_rois=12, n_gm=6)


def write_base(directory: Path) -> Path:
    """The tiny synthetic cohort and :data:`BASE_STUDY` in ``directory``; the study path."""
    from cohortbench.data.synthetic import write_synthetic_cohort

    directory.mkdir(parents=True, exist_ok=True)
    write_synthetic_cohort(directory, seed=1, **COHORT_SIZES)
    path = directory / STUDY_FILE
    path.write_text(BASE_STUDY, encoding="utf-8")
    return path


def copy_base(template: Path, directory: Path) -> Path:
    """A fresh copy of a directory written by :func:`write_base`; the study path."""
    shutil.copytree(template, directory)
    return directory / STUDY_FILE


# --------------------------------------------------------------------------- mutation helpers
def edit_text(relative: str, old: str, new: str, count: int = 1) -> Callable[[Path], None]:
    """Replace ``old`` (which must be there) by ``new`` in one file of the case."""
    def mutate(root: Path) -> None:
        path = root / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} is not in {relative}"
        path.write_text(text.replace(old, new, count), encoding="utf-8")
    return mutate


def edit_study(change: Callable[[dict], None]) -> Callable[[Path], None]:
    """Change the study as a mapping (parsed, changed, written back as YAML)."""
    def mutate(root: Path) -> None:
        path = root / STUDY_FILE
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(doc)
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return mutate


def edit_table(relative: str, change: Callable[[pd.DataFrame], pd.DataFrame | None]
               ) -> Callable[[Path], None]:
    """Change a TSV table as text cells and write it back as TSV."""
    def mutate(root: Path) -> None:
        path = root / relative
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        changed = change(frame)
        frame = frame if changed is None else changed
        frame.to_csv(path, sep="\t", index=False)
    return mutate


def write_file(relative: str, content: str | bytes) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return mutate


def chain(*mutations: Callable[[Path], None]) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        for m in mutations:
            m(root)
    return mutate


def set_cell(relative: str, row: int, column: str, value: str) -> Callable[[Path], None]:
    """Set one cell (``row`` is 0-based over data rows)."""
    def change(frame):
        frame.loc[row, column] = value
    return edit_table(relative, change)


def set_stage(doc: dict, **keys) -> None:
    """Update the first (only) stage of the study mapping."""
    doc["stages"][0].update(keys)


def set_key(path: str, value) -> Callable[[dict], None]:
    """Set a dotted key path of the study mapping (``cv.outer``)."""
    def change(doc: dict) -> None:
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node[key]
        node[last] = value
    return change


def regroup_all_but_one_control(root: Path) -> None:
    # Every control but the first becomes "OTHER": class HC of both tasks keeps one subject.
    def change(frame):
        controls = frame.index[frame["group"] == "HC"]
        frame.loc[controls[1:], "group"] = "OTHER"
    edit_table("participants.tsv", change)(root)


def tsv_to_csv(relative: str, *, sep: str, bom: bool = False,
               newline: str = "\n") -> Callable[[Path], None]:
    """Rewrite ``relative`` (a TSV) as a ``.csv`` with ``sep``; point the study at it."""
    def mutate(root: Path) -> None:
        source = root / relative
        frame = pd.read_csv(source, sep="\t", dtype=str, keep_default_na=False)
        target = source.with_suffix(".csv")
        text = frame.to_csv(sep=sep, index=False, lineterminator=newline)
        data = text.encode("utf-8")
        target.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
        source.unlink()
        edit_text(STUDY_FILE, relative, str(Path(relative).with_suffix(".csv")))(root)
    return mutate


def crlf(relative: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        path = root / relative
        path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    return mutate


def to_excel(relative: str, sheets: dict[str, str | None]) -> Callable[[Path], None]:
    """Rewrite a TSV as an .xlsx whose sheets are ``name -> 'data' | None (a notes sheet)``."""
    def mutate(root: Path) -> None:
        source = root / relative
        frame = pd.read_csv(source, sep="\t", dtype=str, keep_default_na=False)
        target = source.with_suffix(".xlsx")
        with pd.ExcelWriter(target, engine="openpyxl") as writer:
            for name, kind in sheets.items():
                if kind == "data":
                    numeric = frame.copy()
                    for column in numeric.columns[1:]:
                        numeric[column] = pd.to_numeric(numeric[column])
                    numeric.to_excel(writer, sheet_name=name, index=False)
                else:
                    pd.DataFrame({"note": ["exported by the scanner console"]}).to_excel(
                        writer, sheet_name=name, index=False)
        source.unlink()
        edit_text(STUDY_FILE, relative, str(Path(relative).with_suffix(".xlsx")))(root)
    return mutate


def to_wide(blocks: dict[str, str] | None = None, sep: str = ",") -> Callable[[Path], None]:
    """Replace the per-map layout by one wide table: ids, clinical columns, qT1_*, FA_*."""
    def mutate(root: Path) -> None:
        def read(relative):
            return pd.read_csv(root / relative, sep="\t", dtype=str, keep_default_na=False)

        wide = read("participants.tsv")
        for name in ("qT1", "FA"):
            table = read(f"maps/{name}.tsv").set_index("participant_id").add_prefix(f"{name}_")
            wide = wide.join(table, on="participant_id")
        wide.to_csv(root / "cohort.csv", sep=sep, index=False)

        def change(doc: dict) -> None:
            data = doc["data"]
            del data["maps"], data["participants"]
            data["table"] = "cohort.csv"
            data["blocks"] = blocks or {"qT1": "qT1_*", "FA": "FA_*"}
        edit_study(change)(root)
    return mutate
