"""Everything that can reject a study's input, done before a run directory is touched.

:func:`prepare` builds every (view, task) problem the study's stages need and checks
them: the missing-value policy, classes emptied by dropped subjects, whether the
outer and inner CV can run, ``n_features`` above a view's width; and, for a study
with covariates or a batch column, what :mod:`.site_checks` checks.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from ..design.loaded_study import LoadedStudy
from ..design.study_steps import side_settings
from ..errors import DataError
from .problem import Problem, make_problem
from .side_data import SideData, study_side_data
from .site_checks import check_side_problem, site_counts
from .splits import check_inner_cv, problem_outer_splits

__all__ = ["Prepared", "prepare", "prepare_problems", "view_dropped", "stage_views"]

# The fewest shuffles with which a permutation p-value, (1 + b) / (1 + P), can reach 0.05.
_ENOUGH_SHUFFLES = 19


@dataclass
class Prepared:
    """The views and problems a study needs, and what preparing them found.

    ``problems`` maps ``(modalities, parcellation, task)`` to the whole-task
    :class:`Problem`; ``views`` maps ``(modalities, parcellation)`` to its view,
    from which stages that evaluate subsets build their own problems (with ``side``,
    the study's covariates and batch column, None when it names neither).
    ``sites`` is what the run records about them (``run_info["sites"]``: the
    covariates, the batch column, per task the site x class counts), empty without.
    """

    problems: dict
    views: dict
    warnings: list = field(default_factory=list)
    side: SideData | None = None
    sites: dict = field(default_factory=dict)


def stage_views(study: LoadedStudy) -> list[tuple[tuple[str, ...], str]]:
    default = study.default_modalities()
    views = []
    for stage in study.spec.stages:
        mods = [tuple(m) for m in stage.modalities] if stage.modalities else [default]
        parcs = list(stage.parcellations) if stage.parcellations else ["all"]
        views += [(m, p) for m in mods for p in parcs]
    return list(OrderedDict.fromkeys(views))


def _n_features_asked(stage) -> list[int]:
    if stage.grid is not None:
        return list(stage.grid.n_features or [])
    if stage.pipeline not in (None, "best") and stage.pipeline.n_features:
        return [stage.pipeline.n_features]
    return []


def _cap_warnings(study: LoadedStudy, views: dict) -> list[str]:
    """Say where ``n_features`` exceeds a view's features (the engine caps k)."""
    default = study.default_modalities()
    warnings = []
    for stage in study.spec.stages:
        asked = _n_features_asked(stage)
        mods = [tuple(m) for m in stage.modalities] if stage.modalities else [default]
        parcs = list(stage.parcellations) if stage.parcellations else ["all"]
        for m in mods:
            for p in parcs:
                available = views[(m, p)].X.shape[1]
                too_big = sorted(k for k in asked if k > available)
                if too_big:
                    warnings.append(
                        f"stage '{stage.name}': n_features {', '.join(map(str, too_big))} is more than the "
                        f"{available} features of {'+'.join(m)}/{p}; those selections keep all {available} "
                        "(the cap is recorded as n_features_used)"
                    )
    return warnings


def _check_inner_cv(study: LoadedStudy, problem: Problem) -> None:
    cv = study.cv
    check_inner_cv(problem.y, problem.n_eval, cv.outer, cv.seed, cv.inner, problem.task,
                   problem.classes, cv.reduce_inner_k, problem.shuffle_groups)


def prepare(study: LoadedStudy) -> Prepared:
    """Build every (view, task) problem the study needs; raise on bad input.

    Everything that can reject the input happens here, before a run directory is
    touched: missing-value policy, empty classes after dropping subjects, and
    whether the inner CV can stratify.
    """
    warnings = []
    problems = {}
    searching = any(any(s != "none" for s in (st.search or ["none"])) for st in study.spec.stages)
    views = {}
    side = study_side_data(study)
    confound_sets, combat = side_settings(study.spec.stages)
    sites: dict = {}
    if side is not None:
        sites = {"covariates": list(side.covariates), "batch": side.batch, "tasks": {}}
    for mods, parc in stage_views(study):
        view = views[(mods, parc)] = study.cohort.view(list(mods), parc)
        for name, task in study.tasks.items():
            problem, left_out = make_problem(view, task, side=side)
            if left_out:
                warnings.append(
                    f"task '{name}' on {'+'.join(mods)}/{parc}: {len(left_out)} subject(s) left out "
                    f"({', '.join(sorted(left_out)[:5])}{'…' if len(left_out) > 5 else ''})"
                )
            counts = {c: int((problem.y[: problem.n_eval] == i).sum()) for i, c in enumerate(problem.classes)}
            small = [c for c, n in counts.items() if n < 2]
            if small:
                raise DataError(
                    f"task '{name}', class '{small[0]}' has {counts[small[0]]} subject(s) in view "
                    f"{'+'.join(mods)}/{parc}; each class needs at least 2 — check the class conditions "
                    "or the missing-value policy (data.missing)"
                )
            if searching:
                _check_inner_cv(study, problem)
            else:  # the outer CV alone must still be possible (e.g. K <= subjects)
                problem_outer_splits(problem, problem.y, study.cv)
            if side is not None:
                check_side_problem(problem, study.cv, side, confound_sets, combat, searching)
                if side.batch is not None:
                    sites["tasks"].setdefault(name, site_counts(problem))
            problems[(mods, parc, name)] = problem
    permutations = study.cv.permutations
    if 0 < permutations < _ENOUGH_SHUFFLES:  # 0 is the documented "no permutation test"
        floor = f"the smallest possible p-value is 1/{permutations + 1} = {1 / (permutations + 1):.3f}"
        warnings.append(
            f"permutations: {permutations} — with fewer than {_ENOUGH_SHUFFLES} shuffles no "
            f"p-value can reach 0.05 ({floor}), so nothing can be called above chance; use "
            f"permutations: {_ENOUGH_SHUFFLES} or more for an answer")
    return Prepared(problems, views, warnings + _cap_warnings(study, views), side, sites)


def prepare_problems(study: LoadedStudy) -> tuple[dict, list[str]]:
    """:func:`prepare`'s problems and warnings (for callers that need only those)."""
    prepared = prepare(study)
    return prepared.problems, prepared.warnings


def view_dropped(study: LoadedStudy) -> dict[str, dict[str, str]]:
    """View label (``qT1+DTI/GM``) -> subjects the missing-value policy leaves out, and why."""
    out = {}
    for mods, parc in stage_views(study):
        dropped = study.cohort.view(list(mods), parc).dropped
        if dropped:
            out[f"{'+'.join(mods)}/{parc}"] = dict(dropped)
    return out
