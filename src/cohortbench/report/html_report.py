"""The self-contained HTML report of a run (SPEC section 9).

:func:`build_report` fills plain dicts (sections, figures, tables) and renders them with
one Jinja2 template whose autoescaping is on, so every user-provided string (study, subject,
class, ROI names) reaches the page as text. Figures are embedded as PNG ``data:`` URIs
(inert, no request) and also written to ``RUN_DIR/figures`` as PNG and SVG; the page loads
nothing from anywhere, and its Content-Security-Policy forbids it to.
"""

from __future__ import annotations

import base64
import datetime as _dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from cohortbench.analyse import (
    FAMILYWISE_EXPLANATION,
    familywise_best,
    step_table_for_display,
    step_tests,
    top_performers,
)
from cohortbench.analyse.familywise import describe_configuration
from cohortbench.analyse.narrative import data_sentences, decision_sentence, engine_sentences
from cohortbench.analyse.verdicts import MIN_PERMUTATIONS, format_p, p_floor
from cohortbench.report.context import ReportContext
from cohortbench.report.learn_section import learn_blocks
from cohortbench.report.sites_section import sites_section
from cohortbench.report.importance_section import importance_blocks
from cohortbench.report.summary import build_summary
from cohortbench.design.vocabulary import KEY_FIELDS, STEPS
from cohortbench.report import figures as F

__all__ = ["build_report", "infer_stage_kind", "STAGE_KINDS"]

#: Stage kinds and what the report says a stage of that kind does.
STAGE_KINDS = {
    "screen": "Several classifiers are run with one fixed pipeline to shortlist the promising ones.",
    "refine": "Many pipeline configurations (scaling, feature selection, dimensionality "
              "reduction) are compared for each classifier.",
    "tune": "Hyperparameter search strategies are compared with the pipeline held fixed.",
    "enrich": "The input data are varied (combinations of imaging modalities and brain "
              "parcellations) with the classifier and pipeline held fixed.",
    "other": "The evaluations of this stage.",
}
_TEMPLATES = Path(__file__).parent / "templates"
_TOP_ROWS = 10
# Free-text columns that may wrap; every other cell stays on one line.
_WRAP_COLUMNS = {"Configuration", "Best configuration", "Reason", "Details", "Value", "Class",
                 "True class", "Decision", "Subject", "Analysis (modalities/parcellation)"}
_STEP_TESTS_NOTE = (
    "How the per-step tests work: each option of a step is compared with leaving that step "
    "out, pairing configurations that are otherwise identical (n pairs); the median difference "
    "is in accuracy percentage points (option minus none, pairs with no difference included); "
    "p is the two-sided Wilcoxon signed-rank test (pairs with no difference set aside), with "
    "Holm and Benjamini–Hochberg corrections for the number of rows in the table; * p < .05, "
    "** p < .01, *** p < .001; 'undefined' means every pair had the same accuracy, so there "
    "is nothing to test. With n pairs that differ, no p can be below 2 / 2^n: the last "
    "column says so for rows that can never reach 0.05, whatever the data. A step that "
    "changes nothing here may still matter on other data; the table shows what this "
    "cohort supports."
)


_INTERVAL_NOTE = ("Intervals are 95 % intervals over the evaluated subjects; they treat "
                  "subjects as independent, which cross-validated predictions are not, so they "
                  "are a lower bound on the uncertainty (docs/interpreting.md).")
_P_NOTE = ("p is (1 + the number of shuffled-label runs that did at least as well) / (1 + the "
           "number of runs), so with P runs it is never below 1/(P + 1).")


def infer_stage_kind(frame: pd.DataFrame) -> str:
    """``refine`` | ``tune`` | ``enrich`` | ``screen`` | ``other`` from what varies in a stage."""
    pipeline = [*STEPS, "n_features"] + (["imputation"] if "imputation" in frame else [])
    if len(frame[pipeline].astype(str).drop_duplicates()) > 1:
        return "refine"
    if frame["search"].nunique(dropna=False) > 1:
        return "tune"
    if len(frame[["modalities", "parcellation"]].astype(str).drop_duplicates()) > 1:
        return "enrich"
    if frame["classifier"].nunique() > 1:
        return "screen"
    return "other"


def _slug(text: str, taken: set) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "x"
    slug, i = base, 2
    while slug in taken:
        slug, i = f"{base}-{i}", i + 1
    taken.add(slug)
    return slug


def _cell(value, kind: str = "") -> str:
    if isinstance(value, (dict, list, tuple)):
        return _plain(value)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if kind == "p":
        return f"{value:.3f}" if value >= 0.001 else f"{value:.1e}"
    formats = {"acc": "{:.3f}", "z": "{:.2f}", "s": "{:.2f}"}
    if kind in formats:
        return formats[kind].format(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _with_interval(frame: pd.DataFrame, prefix: str = "accuracy") -> list[str]:
    """``0.733 [0.556, 0.858]``: an accuracy with its 95 % interval (the value alone when
    the frame has no interval, as an older store's does not)."""
    low, high = f"{prefix}_ci_low", f"{prefix}_ci_high"
    out = []
    for _, row in frame.iterrows():
        value = row[prefix]
        if pd.isna(value):
            out.append("–")
        elif low in frame and pd.notna(row.get(low)):
            out.append(f"{value:.3f} [{row[low]:.3f}, {row[high]:.3f}]")
        else:
            out.append(f"{value:.3f}")
    return out


def _reliability(frame: pd.DataFrame) -> list[str]:
    if "numerically_reliable" not in frame:
        return [""] * len(frame)
    return ["no: RFE on raw values" if not pd.isna(value) and not bool(value) else ""
            for value in frame["numerically_reliable"].tolist()]


def _plain(value) -> str:
    """Nested settings or payloads as one readable line."""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def _table(frame: pd.DataFrame, kinds: dict | None = None, **extra) -> dict:
    kinds = kinds or {}
    rows = [[_cell(v, kinds.get(c, "")) for c, v in zip(frame.columns, values)]
            for values in frame.itertuples(index=False)]
    wrap = [str(c) in _WRAP_COLUMNS for c in frame.columns]
    return {"type": "table", "columns": [str(c) for c in frame.columns], "rows": rows,
            "wrap": wrap, "title": "", "caption": "", "id": "", **extra}


class _Figures:
    """Saves each figure once and hands the template an embeddable record."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.taken: set = set()

    def add(self, make, name: str, title: str, caption: str, collapsed: bool = False) -> dict:
        """Draw ``make()`` and save it; a figure that cannot be drawn becomes a note."""
        try:
            fig, _ = make()
        except ValueError as error:
            return _text(f"{title}: no figure ({error})")
        slug = _slug(name, self.taken)
        paths = F.save_figure(fig, self.directory, slug)
        encoded = base64.b64encode(paths["png"].read_bytes()).decode("ascii")
        return {"type": "figure", "id": f"figure-{slug}", "title": title, "caption": caption,
                "src": f"data:image/png;base64,{encoded}", "svg": f"figures/{paths['svg'].name}",
                "collapsed": collapsed}


def _text(text: str) -> dict:
    return {"type": "text", "text": text}


def _threshold(stage: str, context: dict) -> float:
    for decision in context.get("decisions") or []:
        payload = decision.get("payload") or {}
        if decision.get("stage") == stage and isinstance(payload, dict):
            for key in ("min_accuracy", "threshold"):
                if isinstance(payload.get(key), (int, float)):
                    return float(payload[key])
    return float((context.get("settings") or {}).get("shortlist_min_accuracy", 0.6))


def _screen_blocks(frame, stage, slug, figures, context) -> list:
    threshold = _threshold(stage, context)
    made = F.classifier_screen(frame, stage, threshold)
    blocks = [figures.add(lambda: made, f"{slug}-classifiers", "Classifier screen",
                          "Each bar is one classifier on one task: accuracy on top, the Z-score "
                          "against shuffled labels in the middle (higher means further above "
                          "chance) and run time on a log scale at the bottom; the red dashed "
                          f"line marks the {threshold:.0%} accuracy threshold and classifiers in "
                          "bold reach it on every task.")]
    data = made[1]
    # dropna=False: with no permutation test every Z is NaN and must stay a (blank) column
    wide = data.pivot_table(index="classifier", columns="task", values=["accuracy", "z_score"],
                            dropna=False,
                            sort=False)
    table = pd.DataFrame({"Classifier": wide.index})
    kinds = {}
    for task in dict.fromkeys(data["task"]):
        rows = frame[frame["task"] == task].drop_duplicates("classifier").set_index("classifier")
        texts = dict(zip(rows.index, _with_interval(rows)))
        table[f"{task} accuracy [95 % interval]"] = [texts.get(c, "–") for c in table["Classifier"]]
        table[f"{task} Z"] = wide[("z_score", task)].to_numpy()
        kinds.update({f"{task} Z": "z"})
    passes = data.groupby("classifier", sort=False)["highlight"].first()
    table["Passes on every task"] = passes.loc[table["Classifier"]].to_numpy()
    blocks.append(_table(table, kinds, title="Accuracy and Z-score per classifier and task",
                         caption=_INTERVAL_NOTE))
    return blocks


def _top_performer_tasks(frame, context) -> list:
    wanted = (context.get("settings") or {}).get("top_performer_tasks")
    tasks = list(dict.fromkeys(frame["task"]))
    return ([t for t in wanted if t in tasks] or tasks) if wanted else tasks


def _varying_fields(frame) -> list:
    return [f for f in KEY_FIELDS if f in frame and frame[f].astype(str).nunique() > 1]


def _refine_blocks(frame, stage, slug, figures, context) -> list:
    blocks = [_text(_STEP_TESTS_NOTE)]
    try:
        tests = step_tests(frame)
    except ValueError as error:
        blocks.append(_text(f"Per-step tests not available: {error}"))
        tests = step_tests(frame.iloc[:0])
    fields = _varying_fields(frame)
    classifiers = list(dict.fromkeys(frame["classifier"]))
    for task in dict.fromkeys(frame["task"]):
        if len(classifiers) > 1:
            blocks.append(figures.add(
                lambda: F.step_strips_pooled(frame, stage, task), f"{slug}-pooled-{task}",
                f"All classifiers, task {task}",
                "Each dot is one configuration of any classifier: left its accuracy, right its "
                "Z-score, grouped by the option used at each pipeline step; red dots are the "
                "top 10 % by accuracy and the black line is the mean of each group."))
        for i, classifier in enumerate(classifiers):
            blocks.append(figures.add(
                lambda: F.step_strips(frame, stage, classifier, task),
                f"{slug}-{classifier}-{task}",
                f"{classifier}, task {task}",
                f"Each dot is one pipeline configuration of {classifier}: left its accuracy, "
                "right its Z-score, grouped by the option used at each step; red dots are "
                "the top 10 % by accuracy.", collapsed=i > 0))
            part = tests[(tests["task"] == task) & (tests["classifier"] == classifier)]
            if not part.empty:
                blocks.append(_table(
                    step_table_for_display(part), title=f"Per-step tests: {classifier}, "
                    f"task {task}", id=_slug(f"steps-{slug}-{classifier}-{task}", figures.taken),
                    caption="Option against none, paired; see 'How the per-step tests work' "
                            "above."))
    blocks += _top_blocks(frame, stage, slug, figures, context, fields)
    tasks = list(dict.fromkeys(frame["task"]))
    best = (frame.assign(_task=frame["task"].map(tasks.index))
            .sort_values(["_task", "accuracy"], ascending=[True, False], kind="stable")
            .groupby("task", sort=False).head(_TOP_ROWS))
    shown = pd.DataFrame({"Task": best["task"], "Classifier": best["classifier"],
                          "Configuration": [describe_configuration(r, fields)
                                            for _, r in best.iterrows()],
                          "Accuracy [95 % interval]": _with_interval(best),
                          "Z": best["z_score"], "p": best["p_value"],
                          "Numerically reliable": _reliability(best)})
    if not any(shown["Numerically reliable"]):
        shown = shown.drop(columns=["Numerically reliable"])
    blocks.append(_table(shown, {"Z": "z", "p": "p"},
                         title=f"The {_TOP_ROWS} most accurate configurations per task",
                         caption="All configurations are in evaluations.csv "
                                 f"(cohortbench export). {_INTERVAL_NOTE}"))
    return blocks


def _top_blocks(frame, stage, slug, figures, context, fields) -> list:
    rules = dict(min_accuracy=0.6, min_z=2.0, strict_accuracy=0.7)
    rules.update((context.get("settings") or {}).get("top_performers") or {})
    tasks = _top_performer_tasks(frame, context)
    top, frequencies = top_performers(frame, tasks=tasks, stage=stage, **rules)
    rule = (f"accuracy at least {rules['min_accuracy']:.0%} and Z-score at least "
            f"{rules['min_z']} on every one of the tasks {', '.join(tasks)}")
    if top.empty:
        return [_text(f"Top performers: no configuration reached {rule}.")]
    blocks = [figures.add(
        lambda: F.top_performer_options(frequencies), f"{slug}-top-performers",
        "Top performers",
        f"Of the configurations with {rule} ({len(top)} in all, {int(top['strict'].sum())} "
        f"also at least {rules['strict_accuracy']:.0%} accurate), how many use each option of "
        "each step; the hatched part is the stricter tier.")]
    shown = pd.DataFrame({"Classifier": top["classifier"],
                          "Configuration": [describe_configuration(r, fields)
                                            for _, r in top.iterrows()]})
    kinds = {}
    for task in tasks:
        shown[f"{task} accuracy"] = top[f"accuracy_{task}"].to_numpy()
        shown[f"{task} Z"] = top[f"z_{task}"].to_numpy()
        kinds.update({f"{task} accuracy": "acc", f"{task} Z": "z"})
    shown["Strict tier"] = top["strict"].to_numpy()
    blocks.append(_table(shown.head(30), kinds, title="Top-performing configurations",
                         caption="At most 30 rows, best worst-task accuracy first."))
    return blocks


def _tune_blocks(frame, stage, slug, figures, context) -> list:
    made = F.search_strategies(frame, stage)
    blocks = [figures.add(lambda: made, f"{slug}-search", "Search strategies",
                          "For each classifier and task, one bar per hyperparameter search "
                          "strategy (same budget for all): accuracy on top, Z-score in the "
                          "middle, run time on a log scale at the bottom.")]
    shown = pd.DataFrame({"Task": frame["task"], "Classifier": frame["classifier"],
                          "Search": frame["search"],
                          "Accuracy [95 % interval]": _with_interval(frame),
                          "Z": frame["z_score"], "p": frame["p_value"],
                          "Seconds": frame["seconds"]})
    blocks.append(_table(shown, {"Z": "z", "p": "p", "Seconds": "s"},
                         title="Accuracy, Z-score and time per search strategy",
                         caption=_INTERVAL_NOTE))
    return blocks


def _enrich_blocks(frame, stage, slug, figures, context, nulls) -> list:
    made = F.null_comparison(frame, nulls, stage)
    blocks = [figures.add(lambda: made, f"{slug}-null", "Data combinations against chance",
                          "For each combination of imaging modalities and parcellation, the "
                          "black dots are the accuracies reached with shuffled labels (chance) "
                          "and the red diamond is the real accuracy with its 95 % interval. "
                          "Whether a combination is above chance is read from its p-value in "
                          "the table below, not from the picture.")]
    blocks += [_text(sentence) for sentence in data_sentences(frame)]
    shown = pd.DataFrame({"Task": frame["task"], "Modalities": frame["modalities"],
                          "Parcellation": frame["parcellation"],
                          "Accuracy [95 % interval]": _with_interval(frame),
                          "Null mean": frame["null_mean"], "p": frame["p_value"]})
    blocks.append(_table(shown, {"Null mean": "acc", "p": "p"},
                         title="Accuracy against the permutation null",
                         caption=f"{_P_NOTE} {_INTERVAL_NOTE}"))
    return blocks


def _other_blocks(frame, stage, slug, figures, context) -> list:
    shown = pd.DataFrame({"Task": frame["task"], "Classifier": frame["classifier"],
                          "Configuration": [describe_configuration(r) for _, r in frame.iterrows()],
                          "Subjects": frame["n_subjects"],
                          "Accuracy [95 % interval]": _with_interval(frame),
                          "p": frame["p_value"]}).head(50)
    return [_table(shown, {"p": "p"}, title="Evaluations (first 50)", caption=_INTERVAL_NOTE)]


def _familywise_blocks(frame, nulls, predictions, slug) -> list:
    try:
        best = familywise_best(frame, nulls)
    except ValueError as error:
        return [_text(f"Family-wise p-value not available: {error}")]
    shown = pd.DataFrame({
        "Task": best["task"], "N configs": best["n_configurations"],
        "P shuffles": best["n_permutations"], "Best configuration":
            best["classifier"] + ": " + best["configuration"],
        "Accuracy": best["accuracy"], "Z": best["z_score"], "p alone": best["p_value"],
        "Family-wise p": best["familywise_p"]})
    blocks = [_table(shown, {"Accuracy": "acc", "Z": "z", "p alone": "p",
                             "Family-wise p": "p"},
                     title="Is the best configuration better than chance?",
                     caption=f"{FAMILYWISE_EXPLANATION} {_P_NOTE}", id=f"familywise-{slug}")]
    if predictions is None or "evaluation_id" not in predictions:
        return blocks
    for _, row in best.iterrows():
        subset = predictions[predictions["evaluation_id"] == row["evaluation_id"]]
        if subset.empty:
            continue
        matrix = pd.crosstab(subset["true_label"], subset["predicted_label"])
        labels = list(dict.fromkeys([*subset["true_label"], *subset["predicted_label"]]))
        matrix = matrix.reindex(index=labels, columns=labels, fill_value=0)
        shown = matrix.reset_index().rename(columns={"true_label": "True class"})
        wrong = subset.loc[subset["true_label"] != subset["predicted_label"], "subject"]
        blocks.append(_table(
            shown, title=f"Predictions of the best configuration, task {row['task']}",
            caption="Rows are the true classes, columns the predicted ones; misclassified "
                    f"subjects: {', '.join(map(str, wrong)) or 'none'}."))
    return blocks


def _stage_sections(evaluations, nulls, predictions, context, stage_kinds, figures) -> list:
    taken = {"cohort", "settings", "decisions", "warnings", "versions"}
    sections = []
    for stage in dict.fromkeys(evaluations["stage"]):
        frame = evaluations[evaluations["stage"] == stage]
        registered = (stage_kinds or {}).get(stage) or {}
        if isinstance(registered, str):  # a kind name given directly
            registered = {"kind": registered}
        own_kind = registered.get("kind", "standard")
        kind = own_kind if own_kind in STAGE_KINDS else (
            infer_stage_kind(frame) if own_kind == "standard" else own_kind)
        cross_stage = registered.get("cross_stage", True)
        slug = _slug(f"stage-{stage}", taken)
        builder = {"screen": _screen_blocks, "refine": _refine_blocks, "tune": _tune_blocks,
                   "enrich": lambda *a: _enrich_blocks(*a, nulls),
                   "learn": lambda *a: learn_blocks(*a, nulls, text=_text, table=_table),
                   "importance": lambda *a: importance_blocks(
                       *a, evaluations=evaluations, predictions=predictions),
                   }.get(kind, _other_blocks)
        blocks = builder(frame, stage, slug, figures, context)
        if cross_stage:  # a kind kept out of comparisons is not ranked either
            blocks += _familywise_blocks(frame, nulls, predictions, slug)
        # a decision shows under the stage whose results made it (the best pipeline
        # of refine, used by tune, shows under refine)
        decisions = [d for d in context.get("decisions") or []
                     if (d.get("payload") or {}).get("from_stage", d.get("stage")) == stage]
        about = STAGE_KINDS.get(kind) or registered.get("about") or STAGE_KINDS["other"]
        sections.append({"id": slug, "name": stage, "kind": kind,
                         "about": about,
                         "n_evaluations": len(frame), "blocks": blocks,
                         "decisions": [decision_sentence(d) for d in decisions]})
    return sections


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
        "tasks": _table(pd.DataFrame(tasks, columns=["Task", "Class", "Subjects"])),
        "maps": _table(pd.DataFrame(
            [(m.get("name"), m.get("n_rois"), m.get("n_missing", 0),
              ", ".join(m.get("subjects_missing_whole_map") or []) or "none")
             for m in maps],
            columns=["Map", "Regions (ROIs)", "Missing values", "Subjects missing the whole map"])),
        "parcellations": _table(pd.DataFrame(list((summary.get("parcellations") or {}).items()),
                                             columns=["Parcellation", "Regions (ROIs)"])),
        "dropped": _table(pd.DataFrame(_dropped_rows(summary.get("dropped")),
                                       columns=["Analysis (modalities/parcellation)", "Subject",
                                                "Reason"])),
        "label_cuts": _table(pd.DataFrame(list((summary.get("label_cuts") or {}).items()),
                                          columns=["Label", "Cut value"])),
        "decisions": [str(d) for d in summary.get("decisions") or []],
    }


def _sites(info, evaluations, predictions) -> dict:
    """The covariates-and-sites block (:mod:`.sites_section`) with its tables laid out."""
    block = sites_section(info, evaluations, predictions)
    if not block:
        return {}
    return {**block, "tables": [_table(frame, title=title) for title, frame in block["tables"]],
            "effects": _table(block["effects"], {"Accuracy with": "acc",
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
    figures = _Figures(run_dir / "figures")
    sections = _stage_sections(shown, nulls, predictions, context, stage_kinds, figures)
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
        settings=_table(pd.DataFrame([(k, _plain(v)) for k, v in settings.items()],
                                     columns=["Setting", "Value"])),
        sections=sections,
        summary=summary,
        z_hidden=permutations < MIN_PERMUTATIONS,
        permutations=permutations,
        p_floor=format_p(p_floor(permutations)) if permutations else "–",
        decisions=_table(pd.DataFrame([(d.get("stage", ""), decision_sentence(d))
                                       for d in context.get("decisions") or []],
                                      columns=["Stage", "Decision"])),
        warnings=[str(w) for w in context.get("warnings") or []] + engine_sentences(evaluations),
        versions=_table(pd.DataFrame(list((context.get("versions") or {}).items()),
                                     columns=["Package", "Version"])),
    )
    path = run_dir / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
