"""A new stage kind through the documented extension points only (docs/architecture.md).

The toy kind is a miniature learning curve: for each task it evaluates two seeded
subsets of the task's subjects, each with shuffles of its own, keeps one extra
per-fold record (the number of training rows) from either engine, and keeps its
evaluations out of analyses across stages (a later ``pipeline: best`` must come
from the screen, not from it). It runs end to end through ``run``, ``export`` and
``report``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cohortbench as cb
from cohortbench.design.configs import PipelineConfig
from cohortbench.design.plans import PlannedEvaluation, StagePlan, Subset
from cohortbench.design.stage_kinds import StageKind, register_stage_kind, unregister_stage_kind
from cohortbench.design.study_model import StudyModel
from cohortbench.execute.fold_records import register_record, unregister_record
from cohortbench.store import ResultsStore

from .conftest import write_tiny_study

SIZE = 8


class ToyOptions(StudyModel):
    size: int = SIZE
    subsets: int = 2


def train_rows(fold) -> int:
    """The toy record: how many rows trained in this fold (top level: picklable)."""
    return int(len(fold.train))


def plan_toy(context) -> StagePlan:
    study, stage = context.study, context.stage
    options = ToyOptions.model_validate(stage.options or {})
    steps = stage.pipeline.steps()
    planned = []
    for task_name in stage.tasks or list(study.tasks):
        task = study.tasks[task_name]
        labels = np.array(task.labels)
        for i in range(options.subsets):
            rng = np.random.default_rng([study.spec.seed, i, len(task_name)])
            # class-stratified: half of the subset from each of the first two classes
            chosen = []
            for cls in task.classes[:2]:
                members = np.flatnonzero(labels == cls)
                chosen += list(rng.choice(members, size=options.size // 2, replace=False))
            subjects = tuple(task.subjects[j] for j in sorted(chosen))
            for classifier in stage.classifiers:
                planned.append(PlannedEvaluation(
                    stage=stage.name, stage_index=context.index,
                    position=context.index * 10_000_000 + len(planned), task=task_name,
                    modalities=study.default_modalities(), parcellation="all",
                    config=PipelineConfig(classifier, **{k: v for k, v in steps.items()}),
                    subset=Subset(subjects, key=f"toy/{i}"), records=("train_rows",)))
    return StagePlan(stage=stage.name, kind="toy-curve", evaluations=tuple(planned),
                     cross_stage=False)


@pytest.fixture
def toy_kind():
    register_stage_kind(StageKind(name="toy-curve", plan=plan_toy, cross_stage=False,
                                  options=ToyOptions, about="A toy learning curve."))
    register_record("train_rows", train_rows)
    yield
    unregister_stage_kind("toy-curve")
    unregister_record("train_rows")


STAGES = """\
  - name: screen
    classifiers: [KNN, SVM_LIN]
    pipeline: {row_scaling: standard, column_scaling: standard}
  - name: toy
    kind: toy-curve
    options: {size: 8}
    classifiers: [KNN]
    pipeline: {row_scaling: none, column_scaling: minmax}
    tasks: [2-class]
  - name: tune
    classifiers: [KNN]
    pipeline: best
    search: [grid]
    tasks: [2-class]
"""


def toy_study(tmp_path):
    return write_tiny_study(tmp_path / "cohort", permutations=3, stages=STAGES)


def run_and_read(study, run_dir, engine, jobs):
    outcome = cb.run(study, run_dir, jobs=jobs, engine=engine)
    assert outcome.failed == 0 and outcome.report_error is None, outcome
    frames = cb.results(run_dir)
    evaluations = frames["evaluations"]
    toy = evaluations[evaluations["stage"] == "toy"]
    with ResultsStore.open(run_dir, create=False) as store:
        records = {key: store.records(key) for key in toy["evaluation_id"]}
        decision = store.get_decision("tune", "pipeline")
    return outcome, frames, toy, records, decision


@pytest.mark.parametrize("engine, jobs", [("reference", 1), ("fast", 2)])
def test_a_toy_stage_kind_runs_end_to_end(tmp_path, toy_kind, engine, jobs):
    study = toy_study(tmp_path)
    run_dir = tmp_path / engine
    outcome, frames, toy, records, decision = run_and_read(study, run_dir, engine, jobs)
    # two subsets of 8 subjects, with their own keys
    assert len(toy) == 2 and toy["n_subjects"].tolist() == [SIZE, SIZE]
    assert toy["evaluation_id"].nunique() == 2
    if engine == "fast":
        assert set(toy["engine"]) == {"fast"}  # the fast engine kept the record itself
    # their own shuffles: the null accuracies differ between the subsets
    nulls = frames["nulls"]
    per_subset = [nulls.loc[nulls["evaluation_id"] == key, "accuracy"].tolist()
                  for key in toy["evaluation_id"]]
    assert len(per_subset[0]) == 3 and per_subset[0] != per_subset[1]
    predictions = frames["predictions"]
    subjects = [set(predictions.loc[predictions["evaluation_id"] == key, "subject"])
                for key in toy["evaluation_id"]]
    assert all(len(s) == SIZE for s in subjects) and subjects[0] != subjects[1]
    # the extra per-fold record: LOO over 8 subjects trains on 7 rows, in every fold
    # of the real labels and of each of the 3 shuffles
    for key in toy["evaluation_id"]:
        assert records[key] == {"train_rows": [[SIZE - 1] * SIZE] * 4}
    # kept out of analyses across stages: tune's best pipeline comes from the screen
    assert decision["from_stage"] == "screen"
    assert decision["pipeline"]["column_scaling"] == "standard"
    # export and report work, and the report does not rank the toy stage
    paths = cb.export(run_dir, tmp_path / f"csv-{engine}")
    exported = pd.read_csv(paths["evaluations"])
    assert (exported["stage"] == "toy").sum() == 2
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    toy_section = html.split('id="stage-toy"')[1].split("</section>")[0]
    assert "A toy learning curve." in toy_section
    assert "better than chance?" not in toy_section  # no best-of-N across its evaluations


def test_both_engines_give_the_same_toy_records(tmp_path, toy_kind):
    study = toy_study(tmp_path)
    fast = run_and_read(study, tmp_path / "f", "fast", 1)
    reference = run_and_read(study, tmp_path / "r", "reference", 1)
    assert fast[3] == reference[3] and fast[3]
    columns = ["evaluation_id", "accuracy", "null_mean", "p_value"]
    pd.testing.assert_frame_equal(fast[2][columns].reset_index(drop=True),
                                  reference[2][columns].reset_index(drop=True))


def test_an_unknown_kind_or_bad_options_are_one_sentence(tmp_path, toy_kind):
    study = toy_study(tmp_path)
    text = study.read_text()
    study.write_text(text.replace("kind: toy-curve", "kind: toy-curv"))
    with pytest.raises(cb.StudyError, match=r"stages\[1\].kind.*unknown kind 'toy-curv'.*"
                                            r"did you mean 'toy-curve'"):
        cb.load_study(study)
    study.write_text(text.replace("options: {size: 8}", "options: {sise: 8}"))
    with pytest.raises(cb.StudyError, match=r"stages\[1\].options.*sise"):
        cb.load_study(study)
