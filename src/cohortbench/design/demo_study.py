"""The study ``cohortbench demo`` runs: the published study, reduced to fit a laptop.

Every reduction is listed in words; the demo prints them and the report shows
them, so nobody mistakes the demo for the full protocol.

- The default demo keeps what makes its numbers honest: **19 label shuffles**, the
  fewest with which a permutation p-value can reach 0.05. It saves time on the grid
  instead (fewer classifiers and pipeline options), to run in about ten minutes on
  two cores.
- ``--quick`` is a first look in about a minute, with 3 shuffles: its numbers are
  illustrative and it says so (nothing can be called above chance with 3 shuffles).
- The ``learn`` stage (learning curves) keeps one task and the grey-matter ROIs, with
  fewer subsamples per size: two modality sets (with and without the Na maps) in the
  default demo, one set and four sizes with ``--quick``.

Both keep the published stage structure, shortlist included: the screen's shortlist
names its classifiers (``shortlist: {keep: [...]}``), as the published study itself
did when it swapped a classifier by hand, instead of a 0.6 accuracy threshold that
no classifier reaches on every task of this synthetic cohort (the slow-vs-fast task
is hard with 16 patients).
"""

from __future__ import annotations

import copy

__all__ = ["reduce_study"]

_FULL = {
    "permutations": 19,
    "screen_classifiers": None,  # all 12
    "shortlist": ["MLR_L2", "SVM_LIN"],
    "refine_grid": {
        "row_scaling": ["none", "standard", "minmax"],
        "column_scaling": ["standard"],
        "feature_selection": ["none", "kbest"],
        "n_features": [10, 50],
        "dim_reduction": ["none", "pca"],
    },
    "tune_classifiers": ["SVM_LIN"],
    "tune_tasks": ["3-class"],
    "tune_search": None,
    "enrich_tasks": None,
    "enrich_search": ["none"],
    "learn": {"tasks": ["2-class"], "modalities": [["qT1", "DTI", "Na"], ["qT1", "DTI"]],
              "parcellations": ["GM"], "options": {"repeats": 4}},
}

_QUICK = {
    "permutations": 3,
    "screen_classifiers": ["MLR_L2", "SVM_LIN", "SVM_RBF", "KNN"],
    "shortlist": ["MLR_L2"],
    "refine_grid": {
        "row_scaling": ["none", "standard"],
        "column_scaling": ["standard"],
        "feature_selection": ["none", "kbest"],
        "n_features": [50],
        "dim_reduction": ["none"],
    },
    "tune_classifiers": ["SVM_LIN"],
    "tune_tasks": ["SvF"],
    "tune_search": ["grid", "random"],
    "enrich_tasks": ["3-class"],
    "enrich_search": ["none"],
    "learn": {"tasks": ["2-class"], "modalities": [["qT1", "DTI", "Na"]],
              "parcellations": ["GM"], "options": {"sizes": [0.4, 0.6, 0.8, 1.0], "repeats": 2}},
}

_PUBLISHED_GRID = {
    "row_scaling": ["none", "standard", "minmax"],
    "column_scaling": ["none", "standard", "minmax"],
    "feature_selection": ["none", "kbest", "rfe"],
    "n_features": [10, 25, 50, 100, 150],
    "dim_reduction": ["none", "pca", "lda"],
}


def _stage(doc: dict, name: str) -> dict | None:
    return next((s for s in doc.get("stages", []) if s.get("name") == name), None)


def _grid_size(grid: dict) -> int:
    selections = sum(1 if s == "none" else len(grid["n_features"]) for s in grid["feature_selection"])
    return (len(grid["row_scaling"]) * len(grid["column_scaling"]) * selections
            * len(grid["dim_reduction"]))


def reduce_study(doc: dict, *, quick: bool = False) -> tuple[dict, list[str]]:
    """Return a reduced copy of the published study and the list of reductions made.

    Parameters
    ----------
    doc : dict
        The study file as a mapping (the one ``cohortbench init`` writes).
    quick : bool
        The first-look version (about a minute on 2 cores; illustrative numbers).
    """
    plan = _QUICK if quick else _FULL
    doc = copy.deepcopy(doc)
    notes = []
    doc["name"] = f"{doc.get('name', 'study')}-demo{'-quick' if quick else ''}"
    published_permutations = doc.get("permutations", 50)
    if published_permutations != plan["permutations"]:
        text = (f"{plan['permutations']} label shuffles per evaluation instead of "
                f"{published_permutations}")
        if plan["permutations"] < 19:
            text += (" (a first look: with so few shuffles no p-value can reach 0.05, so these "
                     "numbers are illustrative and nothing is called above chance)")
        else:
            text += " (the fewest with which a p-value can reach 0.05)"
        notes.append(text)
        doc["permutations"] = plan["permutations"]
    screen = _stage(doc, "screen")
    if screen is not None:
        if plan.get("screen_classifiers"):
            screen["classifiers"] = plan["screen_classifiers"]
            notes.append(f"screen: {len(plan['screen_classifiers'])} classifiers instead of all 12")
        screen["shortlist"] = {"keep": plan["shortlist"]}
        notes.append(f"screen: the shortlist is {', '.join(plan['shortlist'])} by name instead "
                     "of every classifier reaching 0.6 on every task (none does on this cohort's "
                     "slow-vs-fast task)")
    refine = _stage(doc, "refine")
    if refine is not None:
        refine["grid"] = plan["refine_grid"]
        g = plan["refine_grid"]
        missing = [f"{step} {'/'.join(str(o) for o in options if o not in g[step])}"
                   for step, options in _PUBLISHED_GRID.items()
                   if any(o not in g[step] for o in options)]
        notes.append(f"refine: {_grid_size(g)} pipeline configurations instead of 297 (left out: "
                     f"{'; '.join(missing)})")
    tune = _stage(doc, "tune")
    if tune is not None:
        tune["classifiers"] = plan["tune_classifiers"]
        tune["tasks"] = plan["tune_tasks"]
        if plan.get("tune_search"):
            tune["search"] = plan["tune_search"]
        notes.append(f"tune: {', '.join(plan['tune_classifiers'])} on {', '.join(plan['tune_tasks'])} only"
                     + (f", search {'/'.join(plan['tune_search'])}" if plan.get("tune_search") else ""))
    enrich = _stage(doc, "enrich")
    if enrich is not None:
        if plan.get("enrich_tasks"):
            enrich["tasks"] = plan["enrich_tasks"]
            notes.append(f"enrich: task {', '.join(plan['enrich_tasks'])} only")
        if plan.get("enrich_search"):
            enrich["search"] = plan["enrich_search"]
            notes.append("enrich: MLR_L2 with default hyperparameters instead of grid search")
    learn = _stage(doc, "learn")
    if learn is not None:
        notes.append(_reduce_learn(learn, plan["learn"]))
    return doc, notes


def _reduce_learn(stage: dict, reduced: dict) -> str:
    """Reduce the learn stage in place; the reduction in words."""
    published = dict(stage.get("options") or {})
    stage.update({k: v for k, v in reduced.items() if k != "options"})
    stage["options"] = {**published, **reduced["options"]}
    sets = " and ".join("+".join(m) for m in reduced["modalities"])
    sizes = reduced["options"].get("sizes")
    return (f"learn: task {', '.join(reduced['tasks'])} only, modalities {sets}, the GM "
            f"parcellation, {reduced['options']['repeats']} subsamples per size instead of "
            f"{published.get('repeats', 20)}"
            + (f", {len(sizes)} sizes ({', '.join(map(str, sizes))} of the cohort)"
               if sizes else ""))
