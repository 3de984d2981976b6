"""What the report shows besides the result tables: a typed context, checked at the boundary.

:class:`ReportContext` is what :func:`~cohortbench.report.html_report.build_report` takes;
:func:`load_context` fills it from a run directory (its store's run info and resolved
``study.yaml``). A mapping is accepted too (:meth:`ReportContext.from_mapping`), and a key
the report does not know is refused rather than silently ignored.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata as md
import platform
from dataclasses import dataclass, field
from pathlib import Path

import yaml

__all__ = ["ReportContext", "load_context", "software_versions"]


@dataclass(frozen=True)
class ReportContext:
    """Everything the report shows that is not in the result tables.

    Attributes
    ----------
    study_name, date : str
    settings : dict
        Shown as a table (nested values on one line). Also read:
        ``shortlist_min_accuracy``, ``top_performer_tasks`` (list; default every task)
        and ``top_performers`` (``{min_accuracy, min_z, strict_accuracy}``).
    cohort_summary : dict
        ``n_subjects``, ``tasks`` ({task: {class: count}}), ``maps`` ([{name, n_rois,
        n_missing, subjects_missing_whole_map}]), ``parcellations`` ({name: text}),
        ``dropped`` ({analysis: {subject: reason}}), ``label_cuts``, ``decisions``
        (what was decided while reading the data).
    decisions : tuple of dict
        ``{stage, kind, payload}`` of the choices made between stages.
    warnings, reductions : tuple of str
    versions : dict
        Package -> version.
    stage_kinds : dict
        Stage -> ``{kind, cross_stage, about}`` as the run recorded them.
    sites : dict
        Covariates, batch column and per-task site x class counts
        (``run_info["sites"]``); empty for a study without them.
    records : dict
        Evaluation id -> ``{record name: stored value}``: the extra records of the
        evaluations of stages whose kind is not ``standard`` (e.g. the activation
        patterns of an ``importance`` stage).
    """

    study_name: str = "cohortbench study"
    date: str = ""
    settings: dict = field(default_factory=dict)
    cohort_summary: dict = field(default_factory=dict)
    decisions: tuple = ()
    warnings: tuple = ()
    versions: dict = field(default_factory=dict)
    reductions: tuple = ()
    stage_kinds: dict = field(default_factory=dict)
    sites: dict = field(default_factory=dict)
    records: dict = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, mapping) -> "ReportContext":
        """A context from a plain mapping (missing keys take their defaults)."""
        if isinstance(mapping, cls):
            return mapping
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise TypeError(f"The report context has no field(s) {', '.join(unknown)}; "
                            f"it takes {', '.join(sorted(known))}.")
        values = dict(mapping)
        for name in ("decisions", "warnings", "reductions"):
            if name in values:
                values[name] = tuple(values[name] or ())
        for name in ("settings", "cohort_summary", "versions", "stage_kinds", "sites", "records"):
            if name in values:
                values[name] = dict(values[name] or {})
        values["study_name"] = str(values.get("study_name") or cls.study_name)
        return cls(**values)

    def get(self, name, default=None):
        """Mapping-style access, for the report's section builders."""
        value = getattr(self, name, default)
        return default if value is None else value


def software_versions(version: str) -> dict[str, str]:
    """The versions of cohortbench, Python and the main libraries, for the report."""
    names = ["numpy", "scipy", "pandas", "scikit-learn", "optuna", "lightgbm", "xgboost", "dask",
             "matplotlib", "nilearn", "nibabel"]
    versions = {"cohortbench": version, "python": platform.python_version()}
    for name in names:
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return versions


def load_context(run_dir: Path, store, *, version: str) -> ReportContext:
    """The context of a run directory, from its store and its resolved ``study.yaml``."""
    keys = ("study_name", "cohort_summary", "label_cuts", "task_counts", "warnings",
            "reductions", "engine", "dropped", "stages", "stage_kinds", "sites")
    info = {k: store.get_info(k) for k in keys}
    stages = info.get("stages")
    # decisions of stages the study no longer has stay stored, unreported
    decisions = [d for d in store.decisions() if not stages or d["stage"] in stages]
    settings = {}
    study_yaml = Path(run_dir) / "study.yaml"
    if study_yaml.exists():
        doc = yaml.safe_load(study_yaml.read_text(encoding="utf-8")) or {}
        settings = {k: doc.get(k) for k in ("seed", "cv", "permutations", "metric")}
        settings["missing"] = (doc.get("data") or {}).get("missing")
        settings["engine"] = info.get("engine")
        top = ((doc.get("analysis") or {}).get("top_performers")) or {}
        if top.get("tasks"):
            settings["top_performer_tasks"] = top["tasks"]
        settings["top_performers"] = {k: top[k] for k in ("min_accuracy", "min_z",
                                                           "strict_accuracy") if k in top}
        for stage in doc.get("stages") or []:
            rule = stage.get("shortlist") or {}
            if rule.get("min_accuracy") is not None:
                settings["shortlist_min_accuracy"] = rule["min_accuracy"]
                break
    summary = dict(info.get("cohort_summary") or {})
    summary["tasks"] = info.get("task_counts") or {}
    summary["parcellations"] = {
        name: f"{p['n_rois']} ({', '.join(f'{m} {n}' for m, n in p.get('per_map', {}).items())})"
        if isinstance(p, dict) else p
        for name, p in (summary.get("parcellations") or {}).items()
    }
    summary["label_cuts"] = info.get("label_cuts") or {}
    summary["dropped"] = info.get("dropped") or summary.get("dropped") or {}
    return ReportContext(
        records=_kind_records(store, info.get("stage_kinds") or {}),
        study_name=info.get("study_name") or Path(run_dir).name,
        settings=settings, cohort_summary=summary, decisions=tuple(decisions),
        warnings=tuple(info.get("warnings") or ()), versions=software_versions(version),
        reductions=tuple(info.get("reductions") or ()),
        stage_kinds=dict(info.get("stage_kinds") or {}),
        sites=dict(info.get("sites") or {}))


def _kind_records(store, stage_kinds: dict) -> dict:
    """Evaluation id -> stored records, for the stages whose kind is not ``standard``."""
    stages = [stage for stage, kind in stage_kinds.items()
              if isinstance(kind, dict) and kind.get("kind", "standard") != "standard"]
    if not stages:
        return {}
    frame = store.evaluations_frame()
    keys = frame.loc[frame["stage"].isin(stages), "evaluation_key"]
    return {key: found for key in keys if (found := store.records(key))}
