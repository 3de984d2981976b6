"""The unit of work sent to a backend: several configurations on one problem.

Grouping configurations that share a (view, task) lets the fast engine compute
shared transforms once; the reference engine simply loops. A failing
configuration becomes a failure record; it never stops the unit.
"""

from __future__ import annotations

import traceback

from ..design.configs import CVScheme, PipelineConfig
from .problem import Problem

__all__ = ["run_unit", "ENGINES"]

ENGINES = ("reference", "fast")


def _reference(problem, config, cv):
    from .reference_engine import evaluate_reference

    return evaluate_reference(problem, config, cv)


def _failure(exc: BaseException) -> dict:
    return {
        "ok": False,
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": "".join(traceback.format_exception(exc)),
    }


def run_unit(problem: Problem, configs: list[PipelineConfig], cv: CVScheme,
             engine: str = "reference", label_vectors: tuple[int, int] | None = None,
             classifiers: dict | None = None) -> list[dict]:
    """Evaluate ``configs`` on ``problem``; one outcome dict per configuration.

    Each outcome is ``{"ok": True, "result": EvaluationResult}`` or
    ``{"ok": False, "error": str, "traceback": str}``.

    With ``label_vectors=(start, stop)`` (fast engine only) the unit evaluates those
    label vectors of every configuration: a successful outcome is then
    ``{"ok": True, "part": PartialEvaluation}``, which the runner joins with the
    other parts (:func:`~cohortbench.execute.fast.merge_parts`). A configuration
    that fails on the fast path is evaluated in full by the reference engine,
    whichever part met the failure, so its outcome is a whole result or failure.

    ``classifiers`` holds the user-registered classifiers the configurations use
    (:func:`~cohortbench.design.classifiers.user_classifiers`): a worker process
    registers them before evaluating.
    """
    if classifiers:
        from ..design.classifiers import ensure_registered

        ensure_registered(classifiers)
    configs = list(configs)
    outcomes: list = [None] * len(configs)
    if engine == "fast":
        try:
            from .fast import evaluate_fast_each, evaluate_fast_part

            outcomes = (evaluate_fast_each(problem, configs, cv) if label_vectors is None
                        else evaluate_fast_part(problem, configs, cv, label_vectors))
        except Exception:  # noqa: BLE001 - whole-unit trouble: every configuration by reference
            outcomes = [None] * len(configs)
    elif label_vectors is not None:
        raise ValueError("Only the fast engine evaluates ranges of label vectors.")
    final = []
    for config, outcome in zip(configs, outcomes):
        if outcome is not None and not isinstance(outcome, Exception):
            final.append({"ok": True, ("result" if label_vectors is None else "part"): outcome})
            continue
        # Not evaluated, or failed in the fast engine: the reference engine records
        # the failure exactly as it would alone (or succeeds where the fast path could not).
        try:
            final.append({"ok": True, "result": _reference(problem, config, cv)})
        except Exception as exc:  # noqa: BLE001 - recorded, the study goes on
            final.append(_failure(exc))
    return final
