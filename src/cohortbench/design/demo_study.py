"""The study ``cohortbench demo`` runs: the published study, reduced to fit a laptop.

Every reduction is listed in words; the demo prints them and the report shows
them, so nobody mistakes the demo for the full protocol. ``--quick`` is a much
smaller version for a first look.
"""

from __future__ import annotations

import copy

__all__ = ["reduce_study"]

_FULL = {
    "permutations": 5,
    "refine_classifiers": ["MLR_L2", "SVM_LIN"],
    "refine_grid": {
        "row_scaling": ["none", "standard", "minmax"],
        "column_scaling": ["standard"],
        "feature_selection": ["none", "kbest"],
        "n_features": [10, 50, 150],
        "dim_reduction": ["none", "pca", "lda"],
    },
    "tune_classifiers": ["SVM_LIN"],
    "tune_tasks": ["3-class"],
    "enrich_tasks": None,
    "enrich_search": ["none"],
}

_QUICK = {
    "permutations": 3,
    "screen_classifiers": ["MLR_L2", "SVM_LIN", "SVM_RBF", "KNN"],
    "refine_classifiers": ["MLR_L2"],
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


def reduce_study(doc: dict, *, quick: bool = False) -> tuple[dict, list[str]]:
    """Return a reduced copy of the published study and the list of reductions made.

    Parameters
    ----------
    doc : dict
        The study file as a mapping (the one ``cohortbench init`` writes).
    quick : bool
        The first-look version (about a minute on 2 cores).
    """
    plan = _QUICK if quick else _FULL
    doc = copy.deepcopy(doc)
    notes = []
    doc["name"] = f"{doc.get('name', 'study')}-demo{'-quick' if quick else ''}"
    if doc.get("permutations", 50) != plan["permutations"]:
        notes.append(f"{plan['permutations']} label shuffles per evaluation instead of {doc.get('permutations', 50)}")
        doc["permutations"] = plan["permutations"]
    screen = _stage(doc, "screen")
    if screen is not None and plan.get("screen_classifiers"):
        screen["classifiers"] = plan["screen_classifiers"]
        notes.append(f"screen: {len(plan['screen_classifiers'])} classifiers instead of all 12")
    refine = _stage(doc, "refine")
    if refine is not None:
        refine["classifiers"] = plan["refine_classifiers"]
        refine["grid"] = plan["refine_grid"]
        g = plan["refine_grid"]
        n_sel = len([s for s in g["feature_selection"] if s == "none"]) + \
            len([s for s in g["feature_selection"] if s != "none"]) * len(g["n_features"])
        n = len(g["row_scaling"]) * len(g["column_scaling"]) * n_sel * len(g["dim_reduction"])
        missing = [f"{step} {'/'.join(str(o) for o in options if o not in g[step])}"
                   for step, options in _PUBLISHED_GRID.items()
                   if any(o not in g[step] for o in options)]
        notes.append(f"refine: {', '.join(plan['refine_classifiers'])} instead of the shortlist, "
                     f"{n} pipeline configurations instead of 297 (left out: {'; '.join(missing)})")
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
    return doc, notes
