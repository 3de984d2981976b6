"""The ``learn`` stage kind's planner and checks (design/learn_stage.py), without running."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

import cohortbench as cb
from cohortbench.design.learn_stage import LearnOptions
from cohortbench.design.plans import StageContext
from cohortbench.design.stage_kinds import stage_kind
from cohortbench.design.subsamples import class_allocation, parse_subset_key, size_ladder

from ..conftest import write_tiny_study

LEARN = """\
  - name: learn
    kind: learn
    classifiers: [MLR_L2, KNN]
    pipeline: {row_scaling: standard, column_scaling: standard}
    modalities: [[qT1, DTI], [qT1]]
    tasks: [2-class, 3-class]
    options: {repeats: 3, permutations: 5}
"""


def learn_study(tmp_path, stage: str = LEARN, missing: str | None = None):
    """The tiny cohort (16 subjects: 6 HC, 5 slow, 5 fast) with one learn stage."""
    path = write_tiny_study(tmp_path / "cohort", permutations=4)
    text = path.read_text()
    text = text[: text.index("stages:")] + "stages:\n" + stage
    if missing:
        text = text.replace("  parcellations:", f"  missing: {missing}\n  parcellations:")
    path.write_text(text)
    return path


def plan_of(study, index: int = 0):
    return stage_kind(study.spec.stages[index]).plan(StageContext(study, index, {}, {}))


def test_every_curve_is_measured_on_the_same_stratified_subsamples(tmp_path):
    study = cb.load_study(learn_study(tmp_path))
    plan = plan_of(study)
    assert plan.kind == "learn" and plan.cross_stage is False
    positions = [e.position for e in plan.evaluations]
    assert positions == sorted(set(positions))
    assert {e.permutations for e in plan.evaluations} == {5}
    payload = next(d for d in plan.decisions if d.kind == "learning_curve").payload
    for task_name, task in study.tasks.items():
        mine = [e for e in plan.evaluations if e.task == task_name]
        # one set of subsets per (classifier, modality set): four curves, the same subsets
        per_curve = {}
        for e in mine:
            per_curve.setdefault((e.config.classifier, e.modalities), {})[e.subset.key] = \
                e.subset.subjects
        assert len(per_curve) == 4
        first, *others = per_curve.values()
        assert all(other == first for other in others)
        labels = dict(zip(task.subjects, task.labels))
        classes = sorted(task.classes)
        counts = [task.labels.count(c) for c in classes]
        sizes = size_ladder(counts, "loo")
        assert payload["sizes"][task_name] == list(sizes)
        assert payload["n_train"][task_name] == [s - 1.0 for s in sizes]  # leave-one-out
        keys = [parse_subset_key(k) for k in first]
        assert sorted({s for s, _ in keys}) == list(sizes)
        for key, subjects in first.items():
            size, repeat = parse_subset_key(key)
            assert len(set(subjects)) == size
            held = Counter(labels[s] for s in subjects)
            assert [held[c] for c in classes] == class_allocation(counts, size).tolist()
        # every size but the whole cohort has 3 independent subsamples (near the whole
        # cohort two may coincide by chance); the whole cohort, once
        whole = len(task.subjects)
        assert [r for s, r in keys if s == whole] == [0]
        assert set(first[f"size={whole}/repeat=0"]) == set(task.subjects)
        for size in sizes[:-1]:
            drawn = [first[f"size={size}/repeat={r}"] for r in range(3)]
            assert len(set(drawn)) >= 2
    text = next(d for d in plan.decisions if d.kind == "learning_curve").text
    assert "task 2-class at 7, 8, 10, 11, 12, 13, 15, 16 subjects" in text
    assert "3 subsamples per size" in text and "5 label shuffles" in text


def test_the_pool_is_the_subjects_every_view_of_the_stage_keeps(tmp_path):
    path = learn_study(tmp_path, LEARN.replace("[[qT1, DTI], [qT1]]", "[[qT1, Na], [qT1]]")
                       .replace("[2-class, 3-class]", "[2-class]"), missing="drop-subjects")
    table = path.parent / "maps" / "TSC.tsv"
    tsc = pd.read_csv(table, sep="\t", index_col=0)
    gone = tsc.index[0]
    tsc.iloc[0, 2] = np.nan  # only the Na view drops this subject
    tsc.to_csv(table, sep="\t")
    study = cb.load_study(path)
    plan = plan_of(study)
    qt1_only = [e for e in plan.evaluations if e.modalities == ("qT1",)]
    assert all(gone not in e.subset.subjects for e in plan.evaluations)
    assert max(len(e.subset.subjects) for e in qt1_only) == 15  # 16 less the dropped one
    payload = next(d for d in plan.decisions if d.kind == "learning_curve").payload
    assert payload["pool"] == {"2-class": 15} and payload["sizes"]["2-class"][-1] == 15


def test_a_subsets_shuffles_keep_its_class_counts_and_are_shared_across_views(tmp_path):
    from cohortbench.execute.permutations import label_vectors
    from cohortbench.execute.problem import make_problem

    study = cb.load_study(learn_study(tmp_path))
    plan = plan_of(study)
    chosen = [e for e in plan.evaluations if e.task == "3-class" and e.subset.key.endswith(
        "repeat=1") and e.config.classifier == "KNN"]
    a, b = chosen[0], next(e for e in chosen if e.subset == chosen[0].subset and e is not chosen[0])
    assert a.modalities != b.modalities
    cv = study.cv
    vectors = []
    for e in (a, b):
        view = study.cohort.view(list(e.modalities), e.parcellation)
        problem, _ = make_problem(view, study.tasks[e.task], e.subset)
        assert problem.subjects == tuple(s for s in study.tasks[e.task].subjects
                                         if s in set(e.subset.subjects))
        vectors.append(label_vectors(problem, cv))
    assert len(vectors[0]) == 1 + cv.permutations
    for x, y in zip(*vectors):
        np.testing.assert_array_equal(x, y)  # the same shuffles for both modality sets
        assert np.bincount(x).tolist() == np.bincount(vectors[0][0]).tolist()
    assert any(not np.array_equal(v, vectors[0][0]) for v in vectors[0][1:])


@pytest.mark.parametrize(("options", "message"), [
    ("{sizes: [4, 16]}", r"stages\[0\]\.options\.sizes: Task '(2|3)-class': a stratified "
                         r"subsample of 4 subjects holds only \d of class '\w+', but every "
                         r"outer training fold must keep 2 of each class: use sizes of at "
                         r"least \d+"),
    ("{sizes: [20]}", r"stages\[0\]\.options\.sizes: .*size 20 is outside 2..16"),
    ("{sizes: [1.5]}", r"stages\[0\]\.options\.sizes\[0\].*fraction of the cohort must be in "
                       r"\(0, 1\]"),
    ("{sizes: [1]}", r"stages\[0\]\.options\.sizes\[0\].*at least 2 subjects"),
    ("{repeats: 0}", r"stages\[0\]\.options\.repeats"),
    ("{repeat: 3}", r"stages\[0\]\.options.*repeat.*did you mean 'repeats'"),
])
def test_bad_options_are_one_sentence_naming_the_key(tmp_path, options, message):
    path = learn_study(tmp_path, LEARN.replace("{repeats: 3, permutations: 5}", options))
    with pytest.raises(cb.StudyError, match=message):
        cb.load_study(path)


def test_a_size_too_small_for_the_inner_cv_names_the_class(tmp_path):
    stage = LEARN.replace("{repeats: 3, permutations: 5}", "{sizes: [10, 16]}") \
                 .replace("    options:", "    search: [grid]\n    options:")
    with pytest.raises(cb.StudyError, match=r"3 inner folds of 'stratified-kfold:3' need 3 "
                                            r"of each class"):
        cb.load_study(learn_study(tmp_path, stage))


def test_a_grid_or_a_shortlist_is_refused(tmp_path):
    grid = LEARN.replace("    pipeline: {row_scaling: standard, column_scaling: standard}\n",
                         "    grid: {row_scaling: [none, standard]}\n")
    with pytest.raises(cb.StudyError, match=r"stages\[0\]\.grid: a learn stage measures one "
                                            "pipeline"):
        cb.load_study(learn_study(tmp_path / "a", grid))
    shortlist = LEARN + "    shortlist: {keep: [KNN]}\n"
    with pytest.raises(cb.StudyError, match=r"stages\[0\]\.shortlist: a learn stage"):
        cb.load_study(learn_study(tmp_path / "b", shortlist))


def test_fractions_and_counts_resolve_against_the_task(tmp_path):
    stage = LEARN.replace("{repeats: 3, permutations: 5}", "{sizes: [0.5, 1.0, 12], repeats: 2}")
    study = cb.load_study(learn_study(tmp_path, stage.replace("[2-class, 3-class]", "[2-class]")))
    payload = next(d for d in plan_of(study).decisions if d.kind == "learning_curve").payload
    assert payload["sizes"] == {"2-class": [8, 12, 16]}
    assert payload["permutations"] == 4  # the study's
    assert payload["repeats"] == 2 and payload["project_to"] is None


def test_the_options_model_has_the_documented_defaults():
    options = LearnOptions.model_validate({})
    assert (options.sizes, options.repeats, options.permutations, options.project_to) == \
        (None, 20, None, None)
