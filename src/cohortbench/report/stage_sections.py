"""The report's sections per stage, each built by what the stage's kind shows.

A stage of kind ``standard`` is shown by what varies in it (:func:`infer_stage_kind`:
a classifier screen, a pipeline refinement, a search comparison, a data enrichment);
``learn`` and ``importance`` stages by their own sections. A stage whose kind is kept
out of cross-stage analyses gets no best-of-N table.
"""

from __future__ import annotations

import pandas as pd

from cohortbench.analyse import (
    FAMILYWISE_EXPLANATION,
    familywise_best,
    step_table_for_display,
    step_tests,
    top_performers,
)
from cohortbench.analyse.familywise import describe_configuration
from cohortbench.analyse.narrative import data_sentences, decision_sentence
from cohortbench.design.vocabulary import KEY_FIELDS, STEPS
from cohortbench.report import figures as F
from cohortbench.report.blocks import (
    INTERVAL_NOTE,
    P_NOTE,
    TOP_ROWS,
    reliability_marks,
    table_block,
    text_block,
    unique_slug,
    with_interval,
)
from cohortbench.report.importance_section import importance_blocks
from cohortbench.report.learn_section import learn_blocks

__all__ = ["STAGE_KINDS", "infer_stage_kind", "stage_sections"]

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
        texts = dict(zip(rows.index, with_interval(rows)))
        table[f"{task} accuracy [95 % interval]"] = [texts.get(c, "–") for c in table["Classifier"]]
        table[f"{task} Z"] = wide[("z_score", task)].to_numpy()
        kinds.update({f"{task} Z": "z"})
    passes = data.groupby("classifier", sort=False)["highlight"].first()
    table["Passes on every task"] = passes.loc[table["Classifier"]].to_numpy()
    blocks.append(table_block(table, kinds, title="Accuracy and Z-score per classifier and task",
                         caption=INTERVAL_NOTE))
    return blocks


def _top_performer_tasks(frame, context) -> list:
    wanted = (context.get("settings") or {}).get("top_performer_tasks")
    tasks = list(dict.fromkeys(frame["task"]))
    return ([t for t in wanted if t in tasks] or tasks) if wanted else tasks


def _varying_fields(frame) -> list:
    return [f for f in KEY_FIELDS if f in frame and frame[f].astype(str).nunique() > 1]


def _refine_blocks(frame, stage, slug, figures, context) -> list:
    blocks = [text_block(_STEP_TESTS_NOTE)]
    try:
        tests = step_tests(frame)
    except ValueError as error:
        blocks.append(text_block(f"Per-step tests not available: {error}"))
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
                blocks.append(table_block(
                    step_table_for_display(part), title=f"Per-step tests: {classifier}, "
                    f"task {task}", id=unique_slug(f"steps-{slug}-{classifier}-{task}", figures.taken),
                    caption="Option against none, paired; see 'How the per-step tests work' "
                            "above."))
    blocks += _top_blocks(frame, stage, slug, figures, context, fields)
    tasks = list(dict.fromkeys(frame["task"]))
    best = (frame.assign(_task=frame["task"].map(tasks.index))
            .sort_values(["_task", "accuracy"], ascending=[True, False], kind="stable")
            .groupby("task", sort=False).head(TOP_ROWS))
    shown = pd.DataFrame({"Task": best["task"], "Classifier": best["classifier"],
                          "Configuration": [describe_configuration(r, fields)
                                            for _, r in best.iterrows()],
                          "Accuracy [95 % interval]": with_interval(best),
                          "Z": best["z_score"], "p": best["p_value"],
                          "Numerically reliable": reliability_marks(best)})
    if not any(shown["Numerically reliable"]):
        shown = shown.drop(columns=["Numerically reliable"])
    blocks.append(table_block(shown, {"Z": "z", "p": "p"},
                         title=f"The {TOP_ROWS} most accurate configurations per task",
                         caption="All configurations are in evaluations.csv "
                                 f"(cohortbench export). {INTERVAL_NOTE}"))
    return blocks


def _top_blocks(frame, stage, slug, figures, context, fields) -> list:
    rules = dict(min_accuracy=0.6, min_z=2.0, strict_accuracy=0.7)
    rules.update((context.get("settings") or {}).get("top_performers") or {})
    tasks = _top_performer_tasks(frame, context)
    top, frequencies = top_performers(frame, tasks=tasks, stage=stage, **rules)
    rule = (f"accuracy at least {rules['min_accuracy']:.0%} and Z-score at least "
            f"{rules['min_z']} on every one of the tasks {', '.join(tasks)}")
    if top.empty:
        return [text_block(f"Top performers: no configuration reached {rule}.")]
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
    blocks.append(table_block(shown.head(30), kinds, title="Top-performing configurations",
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
                          "Accuracy [95 % interval]": with_interval(frame),
                          "Z": frame["z_score"], "p": frame["p_value"],
                          "Seconds": frame["seconds"]})
    blocks.append(table_block(shown, {"Z": "z", "p": "p", "Seconds": "s"},
                         title="Accuracy, Z-score and time per search strategy",
                         caption=INTERVAL_NOTE))
    return blocks


def _enrich_blocks(frame, stage, slug, figures, context, nulls) -> list:
    made = F.null_comparison(frame, nulls, stage)
    blocks = [figures.add(lambda: made, f"{slug}-null", "Data combinations against chance",
                          "For each combination of imaging modalities and parcellation, the "
                          "black dots are the accuracies reached with shuffled labels (chance) "
                          "and the red diamond is the real accuracy with its 95 % interval. "
                          "Whether a combination is above chance is read from its p-value in "
                          "the table below, not from the picture.")]
    blocks += [text_block(sentence) for sentence in data_sentences(frame)]
    shown = pd.DataFrame({"Task": frame["task"], "Modalities": frame["modalities"],
                          "Parcellation": frame["parcellation"],
                          "Accuracy [95 % interval]": with_interval(frame),
                          "Null mean": frame["null_mean"], "p": frame["p_value"]})
    blocks.append(table_block(shown, {"Null mean": "acc", "p": "p"},
                         title="Accuracy against the permutation null",
                         caption=f"{P_NOTE} {INTERVAL_NOTE}"))
    return blocks


def _other_blocks(frame, stage, slug, figures, context) -> list:
    shown = pd.DataFrame({"Task": frame["task"], "Classifier": frame["classifier"],
                          "Configuration": [describe_configuration(r) for _, r in frame.iterrows()],
                          "Subjects": frame["n_subjects"],
                          "Accuracy [95 % interval]": with_interval(frame),
                          "p": frame["p_value"]}).head(50)
    return [table_block(shown, {"p": "p"}, title="Evaluations (first 50)", caption=INTERVAL_NOTE)]


def _familywise_blocks(frame, nulls, predictions, slug) -> list:
    try:
        best = familywise_best(frame, nulls)
    except ValueError as error:
        return [text_block(f"Family-wise p-value not available: {error}")]
    shown = pd.DataFrame({
        "Task": best["task"], "N configs": best["n_configurations"],
        "P shuffles": best["n_permutations"], "Best configuration":
            best["classifier"] + ": " + best["configuration"],
        "Accuracy": best["accuracy"], "Z": best["z_score"], "p alone": best["p_value"],
        "Family-wise p": best["familywise_p"]})
    blocks = [table_block(shown, {"Accuracy": "acc", "Z": "z", "p alone": "p",
                             "Family-wise p": "p"},
                     title="Is the best configuration better than chance?",
                     caption=f"{FAMILYWISE_EXPLANATION} {P_NOTE}", id=f"familywise-{slug}")]
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
        blocks.append(table_block(
            shown, title=f"Predictions of the best configuration, task {row['task']}",
            caption="Rows are the true classes, columns the predicted ones; misclassified "
                    f"subjects: {', '.join(map(str, wrong)) or 'none'}."))
    return blocks


def stage_sections(evaluations, nulls, predictions, context, stage_kinds, figures) -> list:
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
        slug = unique_slug(f"stage-{stage}", taken)
        builder = {"screen": _screen_blocks, "refine": _refine_blocks, "tune": _tune_blocks,
                   "enrich": lambda *a: _enrich_blocks(*a, nulls),
                   "learn": lambda *a: learn_blocks(*a, nulls, text=text_block, table=table_block),
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
