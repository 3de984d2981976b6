"""The self-contained HTML report of a run (SPEC section 9).

:func:`build_report` fills plain dicts (sections, figures, tables: :mod:`.blocks`; the
stages' sections: :mod:`.stage_sections`) and renders them with
one Jinja2 template whose autoescaping is on, so every user-provided string (study, subject,
class, ROI names) reaches the page as text. Figures are embedded as PNG ``data:`` URIs
(inert, no request) and also written to ``RUN_DIR/figures`` as PNG and SVG; the page loads
nothing from anywhere, and its Content-Security-Policy forbids it to.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from cohortbench.analyse.narrative import decision_sentence, engine_sentences
from cohortbench.analyse.verdicts import MIN_PERMUTATIONS, format_p, p_floor
from cohortbench.report.blocks import FigureStore, plain_value, table_block
from cohortbench.report.context import ReportContext
from cohortbench.report.sites_section import sites_section
from cohortbench.report.stage_sections import (
    STAGE_KINDS,
    infer_stage_kind,
    stage_sections,
)
from cohortbench.report.summary import build_summary

__all__ = ["build_report", "infer_stage_kind", "STAGE_KINDS"]

_TEMPLATES = Path(__file__).parent / "templates"


def _dropped_rows(dropped) -> list[tuple[str, str, str]]:
    """(analysis, subject, reason) rows from ``{view: {subject: reason}}``.

    Older runs stored one flat ``{subject: reason}``; it reads as one analysis ``–``.
    """
    rows = []
    for key, value in (dropped or {}).items():
        if isinstance(value, dict):
            rows += [(str(key), str(s), str(r)) for s, r in value.items()]
        else:
            rows.append(("–", str(key), str(value)))
    return rows


def _cohort(summary: dict) -> dict:
    tasks = [(task, cls, count) for task, classes in (summary.get("tasks") or {}).items()
             for cls, count in classes.items()]
    maps = summary.get("maps") or []
    return {
        "n_subjects": summary.get("n_subjects", "–"),
        "tasks": table_block(pd.DataFrame(tasks, columns=["Task", "Class", "Subjects"])),
        "maps": table_block(pd.DataFrame(
            [(m.get("name"), m.get("n_rois"), m.get("n_missing", 0),
              ", ".join(m.get("subjects_missing_whole_map") or []) or "none")
             for m in maps],
            columns=["Map", "Regions (ROIs)", "Missing values", "Subjects missing the whole map"])),
        "parcellations": table_block(pd.DataFrame(list((summary.get("parcellations") or {}).items()),
                                             columns=["Parcellation", "Regions (ROIs)"])),
        "dropped": table_block(pd.DataFrame(_dropped_rows(summary.get("dropped")),
                                       columns=["Analysis (modalities/parcellation)", "Subject",
                                                "Reason"])),
        "label_cuts": table_block(pd.DataFrame(list((summary.get("label_cuts") or {}).items()),
                                          columns=["Label", "Cut value"])),
        "decisions": [str(d) for d in summary.get("decisions") or []],
    }


def _sites(info, evaluations, predictions) -> dict:
    """The covariates-and-sites block (:mod:`.sites_section`) with its tables laid out."""
    block = sites_section(info, evaluations, predictions)
    if not block:
        return {}
    return {**block, "tables": [table_block(frame, title=title) for title, frame in block["tables"]],
            "effects": table_block(block["effects"], {"Accuracy with": "acc",
                                                 "Accuracy without": "acc", "McNemar p": "p"})}


def build_report(run_dir, *, evaluations: pd.DataFrame, predictions: pd.DataFrame,
                 nulls: pd.DataFrame, context: ReportContext | dict,
                 stage_kinds: dict | None = None) -> Path:
    """Write ``RUN_DIR/report.html`` and ``RUN_DIR/figures/*.png|svg``.

    Parameters
    ----------
    run_dir : path-like
        The run directory (created if needed).
    evaluations, predictions, nulls : pandas.DataFrame
        The ``evaluations.csv``, ``predictions.csv`` and ``nulls.csv`` tables (SPEC section 8).
    context : dict
        Every key is optional (a missing one shows as empty); every string is escaped.

        - ``study_name`` (str), ``date`` (str; default: now)
        - ``settings`` (dict, shown as a table; nested values on one line). Also read:
          ``shortlist_min_accuracy`` (screen threshold line when no decision gives one),
          ``top_performer_tasks`` (list) and ``top_performers``
          (``{min_accuracy, min_z, strict_accuracy}``).
        - ``cohort_summary``: ``n_subjects``, ``tasks`` ({task: {class: count}}), ``maps``
          ([{name, n_rois, n_missing}]), ``parcellations`` ({name: n_rois}), ``dropped``
          ({subject: reason}), ``label_cuts`` ({label: value}).
        - ``decisions``: [{stage, kind, payload}]; a payload's ``min_accuracy`` or
          ``threshold`` of a screen stage sets its threshold line.
        - ``warnings`` ([str]), ``versions`` ({package: version}), ``reductions`` ([str],
          what a reduced demo left out; shown as a notice at the top).
    stage_kinds : dict, optional
        Stage name -> ``{"kind", "cross_stage", "about"}`` as the run recorded them
        (``run_info["stage_kinds"]``), or a kind name (``screen`` | ``refine`` |
        ``tune`` | ``enrich``) overriding :func:`infer_stage_kind`. A stage of kind
        ``standard`` is shown by what varies in it; a stage whose kind is kept out
        of cross-stage analyses gets no best-of-N table.

    Returns
    -------
    pathlib.Path
        The report file.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    context = ReportContext.from_mapping(context)
    stage_kinds = stage_kinds or context.stage_kinds or None
    summary = build_summary(evaluations, nulls, predictions, stage_kinds=stage_kinds)
    shown = evaluations
    permutations = int(evaluations["n_permutations"].fillna(0).max()) if len(evaluations) else 0
    if permutations < MIN_PERMUTATIONS and "z_score" in evaluations:
        # a Z-score from a handful of shuffles reads as evidence it is not
        shown = evaluations.assign(z_score=float("nan"))
    figures = FigureStore(run_dir / "figures")
    sections = stage_sections(shown, nulls, predictions, context, stage_kinds, figures)
    settings = context.get("settings") or {}
    environment = Environment(loader=FileSystemLoader(str(_TEMPLATES)), autoescape=True,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    html = environment.get_template("report.html").render(
        study_name=str(context.get("study_name") or "cohortbench study"),
        date=str(context.get("date") or _dt.datetime.now().strftime("%Y-%m-%d %H:%M")),
        n_evaluations=len(evaluations),
        reductions=[str(r) for r in context.get("reductions") or []],
        cohort=_cohort(context.get("cohort_summary") or {}),
        sites=_sites(context.get("sites"), evaluations, predictions),
        settings=table_block(pd.DataFrame([(k, plain_value(v)) for k, v in settings.items()],
                                     columns=["Setting", "Value"])),
        sections=sections,
        summary=summary,
        z_hidden=permutations < MIN_PERMUTATIONS,
        permutations=permutations,
        p_floor=format_p(p_floor(permutations)) if permutations else "–",
        decisions=table_block(pd.DataFrame([(d.get("stage", ""), decision_sentence(d))
                                       for d in context.get("decisions") or []],
                                      columns=["Stage", "Decision"])),
        warnings=[str(w) for w in context.get("warnings") or []] + engine_sentences(evaluations),
        versions=table_block(pd.DataFrame(list((context.get("versions") or {}).items()),
                                     columns=["Package", "Version"])),
    )
    path = run_dir / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
