"""The run directory: one study per directory, its resolved study file, ``--replace``.

A run directory records its study's fingerprint (:mod:`cohortbench.design.fingerprint`);
:func:`check_same_study` refuses a different study before anything is written, or
moves the old results aside with ``--replace``. :func:`write_resolved_study` writes
``RUN_DIR/study.yaml``: the study as run, with the decisions taken between stages.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import yaml

from ..design.fingerprint import fingerprint_differences, legacy_fingerprint
from ..design.loaded_study import LoadedStudy
from ..errors import RunError
from ..store.results_store import STORE_NAME, ResultsStore

__all__ = ["package_version", "check_same_study", "write_resolved_study"]


def package_version() -> str:
    """The installed cohortbench version (read here so that nothing imports the package root)."""
    import importlib.metadata as md

    try:
        return md.version("cohortbench")
    except md.PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "unknown"


def write_resolved_study(study: LoadedStudy, run_dir: Path, decisions: list[dict],
                         fingerprint: dict) -> None:
    """Write ``RUN_DIR/study.yaml``: the study as run, version, data fingerprints, decisions."""
    doc = study.spec.to_yaml_dict()
    doc["resolved"] = {
        "cohortbench_version": package_version(),
        "study_file": str(study.path.resolve()),
        "data_fingerprints": {role: f["digest"] for role, f in fingerprint["files"].items()},
        "label_cuts": {k: float(v) for k, v in study.label_cuts.items()},
        "decisions": decisions,
    }
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    fd, tmp = tempfile.mkstemp(dir=run_dir, prefix=".study.", suffix=".yaml")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the user's umask decides
    os.replace(tmp, run_dir / "study.yaml")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: What --replace moves aside (everything a run writes in its directory).
_RUN_FILES = (STORE_NAME, f"{STORE_NAME}-wal", f"{STORE_NAME}-shm", "study.yaml",
              "report.html", "figures", "export")


def check_same_study(run_dir: Path, fingerprint: dict, replace: bool) -> list[str]:
    """Refuse a run directory holding another study's results (or move them aside).

    Called under the run lock, before anything is written. Returns notes to show.
    """
    if not (run_dir / STORE_NAME).exists():
        return []
    with ResultsStore.open(run_dir, create=False) as store:  # reads, never writes
        old = store.get_info("study_fingerprint")
        n_done = store.count()
        old_version = store.get_info("cohortbench_version")
    if replace:
        return [_move_aside(run_dir)]
    if old is None and n_done:
        study_yaml = run_dir / "study.yaml"
        doc = yaml.safe_load(study_yaml.read_text(encoding="utf-8")) if study_yaml.exists() else None
        old = legacy_fingerprint(doc) if isinstance(doc, dict) else None
        if old is None:
            raise RunError(f"{run_dir} holds results of a study it did not record (written by "
                           "an earlier cohortbench without its study.yaml); run with a new --out, "
                           "or add --replace to move the old results aside and start afresh.")
    changes = fingerprint_differences(old or {}, fingerprint)
    if changes:
        shown = "; ".join(changes[:4]) + (f"; and {len(changes) - 4} more" if len(changes) > 4 else "")
        raise RunError(f"{run_dir} holds the results of a different study ({shown}); run with a "
                       "new --out, or add --replace to move the old results aside (into "
                       f"{run_dir / 'replaced'}) and start afresh.")
    version = package_version()
    if old_version and old_version != version:
        return [f"warning: {run_dir} was started with cohortbench {old_version} and this is "
                f"{version}; each evaluation records the version that computed it "
                "(cohortbench_version in evaluations.csv)"]
    return []


def _move_aside(run_dir: Path) -> str:
    """Move a run's files into ``RUN_DIR/replaced/<time>/`` (never deletes them)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = run_dir / "replaced" / stamp
    suffix = 1
    while target.exists():
        target, suffix = run_dir / "replaced" / f"{stamp}-{suffix}", suffix + 1
    target.mkdir(parents=True)
    for name in _RUN_FILES:
        if (run_dir / name).exists():
            shutil.move(str(run_dir / name), str(target / name))
    return f"note: moved the previous results of {run_dir} to {target} (--replace)"
