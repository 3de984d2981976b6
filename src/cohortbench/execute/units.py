"""The unit of work sent to a backend: several configurations on one problem.

Grouping configurations that share a (view, task) lets the fast engine compute
shared transforms once; the reference engine simply loops. A failing
configuration becomes a failure record; it never stops the unit.

The fast engine has no path yet for the steps that use per-subject side data
(confounds, harmonize) nor for site-aware folds (``cv.outer: leave-site-out``, and
the inner folds of a search, stratified by class within sites, whenever the study
names a batch column). :func:`reference_reason` says when a configuration needs
them; :func:`run_unit` then hands it to the reference engine, with a note said once
per run, and its result's ``engine`` reads :data:`SIDE_STEPS_ENGINE` or
:data:`SITE_FOLDS_ENGINE`. Label shuffles within sites need nothing of the kind:
both engines get them from :func:`~.permutations.label_vectors`.
"""

from __future__ import annotations

import dataclasses
import traceback
from dataclasses import dataclass
from typing import Any

from ..design.configs import CVScheme, PipelineConfig
from ..store.records import EvaluationResult
from .problem import Problem
from .splits import LEAVE_SITE_OUT

__all__ = ["run_unit", "UnitOutcome", "ENGINES", "reference_reason", "handed_over_engine",
           "SIDE_STEPS_ENGINE", "SITE_FOLDS_ENGINE"]

ENGINES = ("reference", "fast")
#: ``engine`` of a result the fast engine handed over for its confounds/harmonize steps.
SIDE_STEPS_ENGINE = "reference (side steps)"
#: ``engine`` of a result the fast engine handed over for its site-aware folds.
SITE_FOLDS_ENGINE = "reference (site folds)"
_HANDED_OVER = {
    "side steps": (SIDE_STEPS_ENGINE,
                   "the fast engine has no path for confound removal or harmonization yet: "
                   "configurations using them were evaluated by the reference engine "
                   f"(engine '{SIDE_STEPS_ENGINE}')"),
    "site folds": (SITE_FOLDS_ENGINE,
                   "the fast engine does not split by site yet: configurations evaluated with "
                   "leave-site-out folds, or searching with inner folds stratified within "
                   "sites, were evaluated by the reference engine "
                   f"(engine '{SITE_FOLDS_ENGINE}')"),
}


def handed_over_engine(reason: str) -> str:
    """The ``engine`` a result handed over for ``reason`` (:func:`reference_reason`) records."""
    return _HANDED_OVER[reason][0]


def reference_reason(problem: Problem, config: PipelineConfig, cv: CVScheme) -> str | None:
    """Why the fast engine must hand ``config`` to the reference engine (None: it need not).

    ``"side steps"`` for a configuration with confounds or harmonize; ``"site
    folds"`` for a problem with sites under ``leave-site-out`` or with a search.
    """
    if config.uses_side_data:
        return "side steps"
    if getattr(problem, "shuffle_groups", None) is not None and (
            cv.outer == LEAVE_SITE_OUT or config.search != "none"):
        return "site folds"
    return None


@dataclass(frozen=True)
class UnitOutcome:
    """What a unit gives back for one configuration.

    Exactly one of ``result`` (a whole evaluation), ``part`` (a range of label
    vectors, joined by the runner) and ``error`` is set. ``note`` says, in one
    line, why the fast engine handed the configuration to the reference engine.
    """

    result: EvaluationResult | None = None
    part: Any = None
    error: str | None = None
    traceback: str | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _reference(problem, config, cv, records=()):
    from .reference_engine import evaluate_reference

    return evaluate_reference(problem, config, cv, records)


def _failure(exc: BaseException, note: str | None) -> UnitOutcome:
    return UnitOutcome(error=f"{type(exc).__name__}: {exc}",
                       traceback="".join(traceback.format_exception(exc)), note=note)


def _describe(problem: Problem) -> str:
    return f"task '{problem.task}' on view {problem.view_fingerprint[:8]}"


def run_unit(problem: Problem, configs: list[PipelineConfig], cv: CVScheme,
             engine: str = "fast", label_vectors: tuple[int, int] | None = None,
             classifiers: dict | None = None, records: list | None = None,
             record_functions: dict | None = None) -> list[UnitOutcome]:
    """Evaluate ``configs`` on ``problem``; one :class:`UnitOutcome` per configuration.

    With ``label_vectors=(start, stop)`` (fast engine only) the unit evaluates those
    label vectors of every configuration: a successful outcome then holds a
    ``part``, which the runner joins with the other parts
    (:func:`~cohortbench.execute.fast.merge_parts`). A configuration that fails on
    the fast path is evaluated in full by the reference engine, whichever part met
    the failure, so its outcome is a whole result or failure, with a ``note`` saying
    why.

    ``classifiers`` holds the user-registered classifiers the configurations use
    (:func:`~cohortbench.design.classifiers.user_classifiers`) and
    ``record_functions`` the per-fold records they ask for: a worker process
    registers them before evaluating. ``records`` gives, per configuration, the
    names of the records to keep.
    """
    if classifiers:
        from ..design.classifiers import ensure_registered

        ensure_registered(classifiers)
    if record_functions:
        from .fold_records import ensure_records

        ensure_records(record_functions)
    configs = list(configs)
    records = list(records) if records is not None else [()] * len(configs)
    outcomes: list = [None] * len(configs)
    notes: list = [None] * len(configs)
    reasons = [reference_reason(problem, c, cv) if engine == "fast" else None for c in configs]
    fast = [i for i, reason in enumerate(reasons) if reason is None]
    if engine == "fast" and fast:
        try:
            from .fast import evaluate_fast_each, evaluate_fast_part

            chosen, wanted = [configs[i] for i in fast], [records[i] for i in fast]
            got = (evaluate_fast_each(problem, chosen, cv, wanted) if label_vectors is None
                   else evaluate_fast_part(problem, chosen, cv, label_vectors, wanted))
            for i, outcome in zip(fast, got):
                outcomes[i] = outcome
        except Exception as exc:  # noqa: BLE001 - whole-unit trouble: every configuration by reference
            outcomes = [None] * len(configs)
            note = (f"the fast engine failed on {_describe(problem)} ({len(fast)} "
                    f"configuration(s): {type(exc).__name__}: {exc}); the reference engine "
                    "evaluated them")
            for i in fast:
                notes[i] = note
    elif engine != "fast" and label_vectors is not None:
        raise ValueError("Only the fast engine evaluates ranges of label vectors.")
    for i, reason in enumerate(reasons):
        if reason is not None:
            notes[i] = _HANDED_OVER[reason][1]
    final = []
    for index, (config, outcome) in enumerate(zip(configs, outcomes)):
        if outcome is not None and not isinstance(outcome, Exception):
            final.append(UnitOutcome(result=outcome) if label_vectors is None
                         else UnitOutcome(part=outcome))
            continue
        note = notes[index]
        if isinstance(outcome, Exception) and engine == "fast":
            note = (f"the fast engine failed on {config.classifier} ({_describe(problem)}: "
                    f"{type(outcome).__name__}: {outcome}); the reference engine evaluated it")
        # Not evaluated, or failed in the fast engine: the reference engine records
        # the failure exactly as it would alone (or succeeds where the fast path could not).
        try:
            wanted = records[index]
            result = (_reference(problem, config, cv, wanted) if wanted
                      else _reference(problem, config, cv))
            if reasons[index] is not None:  # the record says who computed it, and why
                result = dataclasses.replace(result, engine=handed_over_engine(reasons[index]))
            final.append(UnitOutcome(result=result, note=note))
        except Exception as exc:  # noqa: BLE001 - recorded, the study goes on
            final.append(_failure(exc, None))  # a real failure: no fallback to speak of
    return final
