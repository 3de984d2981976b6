"""The unit of work sent to a backend: several configurations on one problem.

Grouping configurations that share a (view, task) lets the fast engine compute
shared transforms once; the reference engine simply loops. A failing
configuration becomes a failure record; it never stops the unit.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

from ..design.configs import CVScheme, PipelineConfig
from ..store.records import EvaluationResult
from .problem import Problem

__all__ = ["run_unit", "UnitOutcome", "ENGINES"]

ENGINES = ("reference", "fast")


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
    if engine == "fast":
        try:
            from .fast import evaluate_fast_each, evaluate_fast_part

            outcomes = (evaluate_fast_each(problem, configs, cv, records)
                        if label_vectors is None
                        else evaluate_fast_part(problem, configs, cv, label_vectors, records))
        except Exception as exc:  # noqa: BLE001 - whole-unit trouble: every configuration by reference
            outcomes = [None] * len(configs)
            notes = [f"the fast engine failed on {_describe(problem)} ({len(configs)} "
                     f"configuration(s): {type(exc).__name__}: {exc}); the reference engine "
                     "evaluated them"] * len(configs)
    elif label_vectors is not None:
        raise ValueError("Only the fast engine evaluates ranges of label vectors.")
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
            final.append(UnitOutcome(result=_reference(problem, config, cv, records[index]),
                                     note=note))
        except Exception as exc:  # noqa: BLE001 - recorded, the study goes on
            final.append(_failure(exc, None))  # a real failure: no fallback to speak of
    return final
