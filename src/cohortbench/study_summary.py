"""What ``validate`` says about a study, in lines (:func:`summary_lines`).

:func:`cohortbench.validate` returns a summary dict (cohort, tasks, views, sites,
warnings, the time estimate); the command line prints it with :func:`summary_lines`.
"""

from __future__ import annotations

__all__ = ["sites_summary", "site_lines", "summary_lines"]


def sites_summary(recorded: dict) -> dict:
    """Covariates, batch and per task the site x class table with its test and warnings."""
    if not recorded:
        return {}
    from .analyse.sites import balance_from_counts

    tasks = {}
    for task, counts in (recorded.get("tasks") or {}).items():
        balance = balance_from_counts(counts)
        tasks[task] = {**counts, "test": balance.test, "p_value": balance.p_value,
                       "warnings": [f"task '{task}': {w}" for w in balance.warnings]}
    return {"covariates": list(recorded.get("covariates") or []),
            "batch": recorded.get("batch"), "tasks": tasks}


def site_lines(sites: dict) -> list[str]:
    lines = [f"covariates: {', '.join(sites['covariates']) or 'none'}"
             + (f"; sites from column '{sites['batch']}' (label shuffles stay within sites)"
                if sites.get("batch") else "")]
    for task, t in sites.get("tasks", {}).items():
        p = "" if t["p_value"] is None else f", {t['test']}: p = {t['p_value']:.3g}"
        lines.append(f"task {task} by site ({', '.join(t['classes'])}){p}:")
        lines += [f"  {site}: {', '.join(str(n) for n in row)}"
                  for site, row in zip(t["sites"], t["counts"])]
    return lines


def summary_lines(summary: dict) -> list[str]:
    """Human-readable lines of a :func:`validate` summary."""
    c = summary["cohort"]
    lines = [f"study '{summary['study']}': {c['n_subjects']} subjects"]
    lines.append("maps (ROIs, missing values):")
    for m in c["maps"]:
        extra = ""
        if m.get("subjects_missing_whole_map"):
            extra = f"; missing the whole map: {', '.join(m['subjects_missing_whole_map'])}"
        lines.append(f"  {m['name']}: {m['n_rois']} ROIs, {m['n_missing']} missing{extra}")
    for name, p in (c.get("parcellations") or {}).items():
        per_map = ", ".join(f"{m} {n}" for m, n in p.get("per_map", {}).items())
        lines.append(f"parcellation {name}: {p['n_rois']} ROIs ({per_map})")
    for name, t in summary["tasks"].items():
        counts = ", ".join(f"{k} {v}" for k, v in t["classes"].items())
        extra = f"; train-only: {', '.join(f'{k} {v}' for k, v in t['train_only'].items())}" if t["train_only"] else ""
        lines.append(f"task {name}: {counts}{extra}")
    for label, cut in summary["label_cuts"].items():
        lines.append(f"label {label}: cut at {cut:.4g}")
    if summary.get("sites"):
        lines += site_lines(summary["sites"])
    for view, dropped in summary["dropped"].items():
        for subject, why in dropped.items():
            lines.append(f"dropped from {view}: {subject} ({why})")
    for decision in summary.get("decisions", []):
        lines.append(f"note: {decision}")
    for w in summary["warnings"]:
        lines.append(f"warning: {w}")
    if summary.get("estimate") is not None:
        lines += summary["estimate"].lines()
    return lines
