"""The study fingerprint: everything that changes the result of an evaluation already defined.

A run directory holds one study (SPEC section 10). Its store records the
fingerprint of the study it was started with; ``run`` compares the current
study's fingerprint with it before computing anything, and refuses a
difference in one sentence naming what changed. What is in it:

- ``seed``, ``cv.outer``, ``cv.inner``, ``cv.reduce_inner_k``, ``permutations``;
- every resolved task (its subjects, their classes, ``train_only``);
- a digest of every file read (map tables, the clinical or wide table, ROI lists);
- the data options that change what is read (``exclude``, ``blocks``,
  ``id_column``, ``sheet``, ``missing``, ``modalities``, ``parcellations``, …),
  and the covariates and batch (site) column of the study;
- user-registered classifiers (name and parameters).

Stages are *not* in it: adding, removing or editing a stage resumes, reusing every
evaluation whose inputs are unchanged (evaluations are keyed by their content).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..data.views import Task
from .configs import content_id

__all__ = ["file_digest", "task_fingerprint", "study_fingerprint", "legacy_fingerprint",
           "fingerprint_differences"]

# Components whose value is a mapping compared entry by entry (name -> what an entry is).
_PER_ENTRY = {"tasks": "task", "files": "file", "classifiers": "classifier"}
# Components added after stores were first written -> their value before they existed,
# so that a store from then is compared with that value (not skipped).
_ADDED_LATER = {"data.covariates": [], "data.batch": None}


def file_digest(path: Path) -> str:
    """A short content hash of a file (the same as earlier versions recorded)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def task_fingerprint(task: Task) -> str:
    """A content id of a resolved task: its classes, subjects, labels and train-only rows."""
    return content_id({
        "name": task.name, "classes": task.classes, "subjects": task.subjects, "labels": task.labels,
        "train_only_subjects": task.train_only_subjects, "train_only_labels": task.train_only_labels,
    })


def _shown(path: Path, base: Path | None) -> str:
    try:
        return str(Path(path).relative_to(base)) if base else str(path)
    except ValueError:
        return str(path)


def study_fingerprint(study) -> dict:
    """The fingerprint of a loaded study, as a JSON-able dict of named components.

    Parameters
    ----------
    study : LoadedStudy

    Returns
    -------
    dict
        Scalars for the CV settings; ``tasks`` (name -> id), ``files`` (role ->
        ``{"path", "digest"}``), ``classifiers`` (user-registered name -> parameters)
        and ``data.*`` options.
    """
    from .classifiers import make_classifier, user_classifiers

    spec = study.spec
    base = spec.base_dir
    files = {role: {"path": _shown(path, base), "digest": file_digest(path)}
             for role, path in spec.data.files().items()}
    users = {}
    for name in user_classifiers(_classifier_names(spec)):
        try:
            params = make_classifier(name, spec.seed).get_params(deep=False)
        except Exception:  # noqa: BLE001 - an odd estimator: its name stands for it
            params = {}
        users[name] = content_id({k: repr(v) for k, v in sorted(params.items())})
    fingerprint = {
        "seed": spec.seed,
        "cv.outer": spec.cv.outer,
        "cv.inner": spec.cv.inner,
        "cv.reduce_inner_k": spec.cv.reduce_inner_k,
        "permutations": spec.permutations,
        "tasks": {name: task_fingerprint(task) for name, task in study.tasks.items()},
        "files": files,
        "classifiers": users,
    }
    fingerprint.update({f"data.{k}": v for k, v in spec.data.read_options().items()})
    return fingerprint


def _classifier_names(spec) -> list[str]:
    from .classifiers import classifier_names

    names = spec.classifier_names_used()
    if any(stage.classifiers == "all" for stage in spec.stages):
        names += list(classifier_names())
    return names


def legacy_fingerprint(doc: dict) -> dict:
    """What a store written before fingerprints existed can tell, from its ``study.yaml``.

    Only the components this gives are compared (:func:`fingerprint_differences`).
    """
    cv = doc.get("cv") or {}
    data = doc.get("data") or {}
    resolved = doc.get("resolved") or {}
    out = {"seed": doc.get("seed", 0), "permutations": doc.get("permutations", 50),
           "cv.outer": cv.get("outer", "loo"), "cv.inner": cv.get("inner", "stratified-kfold:5"),
           "cv.reduce_inner_k": cv.get("reduce_inner_k", False)}
    digests = resolved.get("data_fingerprints") or {}
    files = {}
    for name, digest in digests.items():
        role = name if name in ("participants", "table") else f"map {name}"
        files[role] = {"path": role, "digest": digest}
    out["files"] = files
    out["files_partial"] = True  # earlier versions did not hash the ROI lists
    for key in ("exclude", "blocks", "id_column", "sheet", "missing", "modalities"):
        default = [] if key == "exclude" else ("error" if key == "missing" else None)
        out[f"data.{key}"] = data.get(key, default)
    return out


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else str(value)


def fingerprint_differences(old: dict, new: dict) -> list[str]:
    """What changed from ``old`` to ``new``, as short phrases (empty: the same study).

    Only components present in both are compared, so that a store written by an
    earlier version (:func:`legacy_fingerprint`) is checked for what it recorded.
    """
    changes = []
    for key in new:
        if key not in old and key not in _ADDED_LATER:
            continue
        before, after = old.get(key, _ADDED_LATER.get(key)), new[key]
        if key == "files" and old.get("files_partial"):
            after = {role: v for role, v in (after or {}).items() if role in (before or {})}
        if key in _PER_ENTRY:
            changes += _entry_changes(_PER_ENTRY[key], before or {}, after or {})
        elif before != after:
            if isinstance(after, (list, dict)) or isinstance(before, (list, dict)):
                changes.append(f"{key} changed")
            else:
                changes.append(f"{key} {_text(before)} → {_text(after)}")
    return changes


def _entry_changes(what: str, before: dict, after: dict) -> list[str]:
    changes = []
    for name, value in after.items():
        shown = value.get("path", name) if isinstance(value, dict) else name
        label = f"{what} {shown}" + (f" ({name})" if what == "file" and shown != name else "")
        if what == "task":
            label = f"task '{name}' (its subjects or classes)"
        if name not in before:
            changes.append(f"{label} added")
        elif _digest(before[name]) != _digest(value):
            changes.append(f"{label} changed")
    changes += [f"{what} {name} removed" if what != "task" else f"task '{name}' removed"
                for name in before if name not in after]
    return changes


def _digest(value):
    return value.get("digest") if isinstance(value, dict) else value
