"""Run an extraction: check, compute what is not stored yet (per subject), write the tables.

Each (subject, map) result is stored under a key made of the settings that change
voxel statistics and the content digests of the map and label files (plus whether
the labels are resampled). A re-run recomputes exactly the pairs whose key
changed; a killed run loses at most the subjects in flight. The tables are built
from the store in subject order, so they are the same bytes for any ``--jobs``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import RunError
from ..execute.backends import make_backend
from ..execute.progress import Progress
from .images import labels_on_grid, load_labels, load_map, read_grid
from .plan import Plan, make_plan
from .qc import build_tables
from .regions import RegionStats, region_stats
from .spec import ExtractionSpec, content_key, load_extraction_file
from .store import STORE_NAME, ExtractStore, read_caches
from .writer import write_outputs

__all__ = ["ExtractOutcome", "SubjectJob", "run_subject_job", "extract_tables"]

#: Part of every result key: bump when the arithmetic of a region's value changes.
_ALGORITHM = 1


@dataclass(frozen=True)
class ExtractOutcome:
    """What an extraction wrote.

    Attributes
    ----------
    out : Path
    tables : dict of str -> Path
        Map name -> its table.
    participants, qc, study : Path
        The participants table the skeleton uses (given or written), the QC table,
        the ``study.yaml`` skeleton.
    warnings : tuple of str
    computed, reused : int
        (subject, map) pairs computed in this run / taken from the store.
    recomputed_subjects : tuple of str
        Subjects with at least one pair computed in this run.
    """

    out: Path
    tables: dict
    participants: Path
    qc: Path
    study: Path
    warnings: tuple[str, ...]
    computed: int
    reused: int
    recomputed_subjects: tuple[str, ...]


@dataclass(frozen=True)
class SubjectJob:
    """One subject's pending maps: (map name, map file, resample labels?)."""

    subject: str
    labels: Path
    maps: tuple[tuple[str, Path, bool], ...]
    statistic: str
    valid_voxels: str


def run_subject_job(job: SubjectJob) -> dict[str, RegionStats]:
    """Region statistics of each pending map of one subject (runs in a worker)."""
    native = None
    moved: dict = {}
    out = {}
    for name, path, resample in job.maps:
        values = load_map(path)
        if resample:
            grid = read_grid(path, f"map '{name}'")
            if grid not in moved:
                moved[grid] = labels_on_grid(job.labels, grid)
            labels = moved[grid]
        else:
            if native is None:
                native = load_labels(job.labels)
            labels = native
        out[name] = region_stats(values, labels, statistic=job.statistic,
                                 valid_voxels=job.valid_voxels)
    return out


def _result_key(plan: Plan, subject: str, map_name: str, map_path: Path, labels: Path) -> str:
    return content_key({
        "algorithm": _ALGORITHM,
        "settings": plan.spec.compute_settings(),
        "map": plan.digests[str(map_path)],
        "labels": plan.digests[str(labels)],
        "resampled": (subject, map_name) in plan.resampled,
    })


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise RunError(f"--out {out} is a file; give a folder for the extracted tables.")
    if out.is_dir() and any(out.iterdir()) and not (out / STORE_NAME).exists():
        raise RunError(f"--out {out} is not empty and holds no earlier extraction ({STORE_NAME}); "
                       "give a new or empty folder.")


def extract_tables(spec: ExtractionSpec | str | Path, out: str | Path, *, jobs: int | None = None,
                   progress: Progress | None = None) -> ExtractOutcome:
    """Extract the region tables of an extraction file into ``out`` (or resume).

    Parameters
    ----------
    spec : ExtractionSpec or path
        The extraction file (or its validated form).
    out : path
        Created if absent; a non-empty folder must hold an earlier extraction.
    jobs : int, optional
        Worker processes (default: all cores; 1 runs in this process).
    progress : Progress, optional

    Raises
    ------
    StudyError, DataError, RunError
        Before anything is written.
    """
    if not isinstance(spec, ExtractionSpec):
        spec = load_extraction_file(spec)
    progress = progress or Progress()
    if jobs is not None and jobs < 1:
        raise RunError(f"--jobs must be a number of worker processes, 1 or more (got {jobs}); leave it out to use every core.")
    out = Path(out).expanduser().absolute()
    _check_out(out)
    cache = read_caches(out)
    plan = make_plan(spec, cache)
    out.mkdir(parents=True, exist_ok=True)
    with ExtractStore.open(out) as store:
        store.save_cache(cache)
        keys, jobs_todo, reused = {}, [], 0
        for files in plan.subjects:
            pending = []
            for name, path in files.maps:
                if path is None or files.labels is None:
                    continue
                key = keys[(files.subject, name)] = _result_key(plan, files.subject, name, path,
                                                                files.labels)
                if store.result(files.subject, name, key) is None:
                    pending.append((name, path, (files.subject, name) in plan.resampled))
                else:
                    reused += 1
            if pending:
                jobs_todo.append(SubjectJob(files.subject, files.labels, tuple(pending),
                                            spec.statistic, spec.valid_voxels))
        n_with_maps = sum(1 for f in plan.subjects if any((f.subject, m) in keys for m, _ in f.maps))
        progress.start_stage("extract", n_with_maps, n_with_maps - len(jobs_todo))
        computed = 0
        # no more worker processes than subjects to compute (starting one costs seconds)
        workers = min(jobs or os.cpu_count() or 1, max(1, len(jobs_todo)))
        with make_backend(jobs=workers) as backend, np.errstate(all="ignore"):
            for i, results in backend.run(run_subject_job, [(job,) for job in jobs_todo]):
                job = jobs_todo[i]
                store.write_subject(job.subject, {m: (keys[(job.subject, m)], stats)
                                                  for m, stats in results.items()})
                computed += len(results)
                progress.advance()
        stats = {pair: store.result(*pair, key) for pair, key in keys.items()}
        tables, qc, warnings = build_tables(plan, stats)
        paths = write_outputs(out, plan, tables, qc, store, warnings)
    return ExtractOutcome(
        out=out, tables={m: paths[m] for m in tables}, participants=paths["participants"],
        qc=paths["qc"], study=paths["study"], warnings=tuple(warnings), computed=computed,
        reused=reused, recomputed_subjects=tuple(job.subject for job in jobs_todo))
