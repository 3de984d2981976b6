"""What a stage asks for, as plain data: planned evaluations, decisions, the stage's plan.

The planner of a stage kind (:mod:`~cohortbench.design.stage_kinds`) turns the study
and the finished results of earlier stages into a :class:`StagePlan`; the runner
executes it and writes the results, and the kind's ``conclude`` turns the stage's
own results into :class:`Decision` records for later stages. No stage logic lives
in the runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .configs import PipelineConfig
from .side_options import side_texts

__all__ = ["Subset", "PlannedEvaluation", "Decision", "StagePlan", "StageContext"]


@dataclass(frozen=True)
class Subset:
    """An evaluation on some of a task's subjects, with shuffles of its own.

    Attributes
    ----------
    subjects : tuple of str
        The task subjects kept (evaluated and shuffled among themselves); train-only
        subjects of the task are kept only if listed here too.
    key : str
        Names the subset (e.g. ``"size=12/repeat=3"``): it seeds the subset's label
        shuffles and enters the evaluation's content key, so that two subsets never
        share a result.
    """

    subjects: tuple[str, ...]
    key: str


@dataclass(frozen=True)
class PlannedEvaluation:
    """One evaluation a stage asks for, before it runs.

    ``subset`` restricts it to some subjects (None: the whole task); ``records``
    names extra per-fold records both engines compute and store with the result
    (:mod:`~cohortbench.execute.fold_records`); ``permutations`` overrides the
    study's number of label shuffles for this evaluation (None: the study's);
    ``outer`` overrides the study's outer CV scheme (``loo``,
    ``stratified-kfold:K`` or ``repeated-stratified-kfold:K:R``; None: the
    study's ``cv.outer``). Both enter the evaluation's content key through its CV,
    so an evaluation with its own shuffles or folds never shares a result with one
    without; the label shuffles themselves stay those of the task (same seed), so
    they are paired with every other evaluation of the task that has as many.
    """

    stage: str
    stage_index: int
    position: int
    task: str
    modalities: tuple[str, ...]
    parcellation: str
    config: PipelineConfig
    subset: Subset | None = None
    records: tuple[str, ...] = ()
    permutations: int | None = None
    outer: str | None = None

    @property
    def view_key(self) -> tuple:
        return (self.modalities, self.parcellation)

    def meta(self) -> dict:
        c = self.config
        return {
            "position": self.position,
            "stage": self.stage,
            "stage_index": self.stage_index,
            "task": self.task,
            "classifier": c.classifier,
            "row_scaling": c.row_scaling,
            "imputation": c.imputation,
            "column_scaling": c.column_scaling,
            "feature_selection": c.feature_selection,
            "n_features": c.n_features,
            "dim_reduction": c.dim_reduction,
            "search": c.search,
            "modalities": "+".join(self.modalities),
            "parcellation": self.parcellation,
            **({"subset": self.subset.key} if self.subset is not None else {}),
            # the side steps only where set: they are stored with the extra fields
            **side_texts(c),
            **({"outer": self.outer} if self.outer is not None else {}),
        }


@dataclass(frozen=True)
class Decision:
    """A choice a stage makes for later stages (a shortlist, the best pipeline).

    ``payload`` is what later stages and the store read (JSON-able); ``text`` says
    the choice and its reason in one sentence, for the CLI and the report.
    """

    stage: str
    kind: str
    payload: dict
    text: str = ""

    def as_record(self) -> dict:
        """The form stored and written into the resolved ``study.yaml``."""
        return {"stage": self.stage, "kind": self.kind, "payload": self.payload}


@dataclass(frozen=True)
class StagePlan:
    """Everything one stage will run, and the decisions taken to plan it.

    ``cross_stage`` False keeps the stage's evaluations out of analyses that compare
    stages or pick across them (best of N, top performers, per-step tests, a later
    stage's ``pipeline: best``).
    """

    stage: str
    kind: str
    evaluations: tuple[PlannedEvaluation, ...]
    decisions: tuple[Decision, ...] = ()
    cross_stage: bool = True


@dataclass(frozen=True)
class StageContext:
    """What a planner knows: the study, the stage, and what earlier stages decided.

    Attributes
    ----------
    study : LoadedStudy
    index : int
        The stage's position in ``study.spec.stages``.
    results : dict
        Stage name -> the finished evaluations (a DataFrame with the export columns)
        of each earlier stage whose evaluations are cross-stage.
    decisions : dict
        ``(stage, kind)`` -> :class:`Decision` taken so far.
    """

    study: Any
    index: int
    results: dict = field(default_factory=dict)
    decisions: dict = field(default_factory=dict)

    @property
    def stage(self):
        return self.study.spec.stages[self.index]

    def previous_results(self):
        """The results of the closest earlier cross-stage stage (None if none ran)."""
        names = [s.name for s in self.study.spec.stages[: self.index]]
        for name in reversed(names):
            if name in self.results:
                return name, self.results[name]
        return None, None
