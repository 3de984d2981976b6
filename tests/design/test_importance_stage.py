"""The ``importance`` stage kind: its options, the modalities it forms, and its plan."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import cohortbench as cb
from cohortbench.analyse.familywise import familywise_per_task
from cohortbench.design.importance_stage import ImportanceOptions, plan_importance
from cohortbench.design.plans import StageContext
from cohortbench.design.stage_kinds import stage_kind

MAPS = ["qT1", "FA", "MD", "AD", "RD", "TSC", "T2s", "T2l", "fNa"]
IMPORTANCE = """\
  - name: importance
    kind: importance
    options: {options}
"""


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory):
    from cohortbench.data.synthetic import write_synthetic_cohort

    directory = tmp_path_factory.mktemp("importance-cohort")
    write_synthetic_cohort(directory, seed=1, n_controls=6, n_slow=5, n_fast=5, n_rois=6,
                           n_gm=3)
    return directory


def study_file(cohort_dir, tmp_path, options="{}", extra="", replace=()):
    text = (cohort_dir / "study.yaml").read_text()
    text = text[: text.index("analysis:")] + IMPORTANCE.format(options=options) + extra
    for old, new in replace:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "study.yaml"
    path.write_text(text.replace("maps/", f"{cohort_dir}/maps/").replace(
        "participants.tsv", f"{cohort_dir}/participants.tsv").replace(
        "rois_gm.txt", f"{cohort_dir}/rois_gm.txt"))
    return path


def test_the_kind_is_registered_with_its_options_and_kept_apart(cohort_dir, tmp_path):
    study = cb.load_study(study_file(cohort_dir, tmp_path))
    kind = stage_kind(study.spec.stages[-1])
    assert kind.name == "importance" and not kind.cross_stage
    assert kind.options is ImportanceOptions and kind.on_load is not None


def test_loading_forms_one_modality_per_map_outside_the_defaults(cohort_dir, tmp_path):
    study = cb.load_study(study_file(cohort_dir, tmp_path))
    assert study.default_modalities() == ("qT1", "DTI", "Na")
    # qT1 is already a modality of one map; the 8 others get one each, named after the map
    assert study.formed_modalities == tuple(m for m in MAPS if m != "qT1")
    for name in study.formed_modalities:
        assert study.cohort.modalities[name] == (name,)
    assert any("modality of its" in d and "FA" in d for d in study.cohort.decisions)
    # the views are buildable by those names
    view = study.cohort.view(["qT1", "MD", "TSC"], "all")
    assert [b.name for b in view.blocks] == ["qT1", "MD", "TSC"]


def test_no_modality_is_formed_without_map_views(cohort_dir, tmp_path):
    study = cb.load_study(study_file(cohort_dir, tmp_path, "{maps: false}"))
    assert study.formed_modalities == ()
    assert set(study.cohort.modalities) == {"qT1", "DTI", "Na"}


def test_a_formed_modality_never_takes_a_modality_name_of_other_maps(cohort_dir, tmp_path):
    path = study_file(cohort_dir, tmp_path, replace=[
        ("    DTI: [FA, MD, AD, RD]\n", "    FA: [FA, MD, AD, RD]\n"),
        ("[[qT1, DTI, Na], [qT1, DTI], [qT1, Na]]", "[[qT1, FA, Na]]")])
    study = cb.load_study(path)
    assert study.cohort.modalities["FA"] == ("FA", "MD", "AD", "RD")
    assert study.cohort.modalities["FA-map"] == ("FA",)
    assert "FA-map" in study.formed_modalities and "FA" in study.default_modalities()


@pytest.mark.parametrize("options, extra, message", [
    ("{resampling: kfold}", "", r"stages\[5\]\.options\.resampling.*must be loo"),
    ("{maps: false, regions: false}", "", r"stages\[5\]\.options.*nothing to evaluate"),
    ("{of: [later]}", "", r"stages\[5\]\.options\.of: 'later' is not a stage before"),
    ("{ofs: [refine]}", "", r"stages\[5\]\.options.*ofs"),
    ("{}", "    classifiers: [KNN]\n", r"stages\[5\]\.classifiers: a stage of kind importance"),
])
def test_bad_options_are_one_sentence_naming_the_key(cohort_dir, tmp_path, options, extra,
                                                     message):
    with pytest.raises(cb.StudyError, match=message):
        cb.load_study(study_file(cohort_dir, tmp_path, options, extra))


# --------------------------------------------------------------------------- the plan
def fake_results(rng, stage, tasks, modalities="qT1+DTI+Na"):
    rows = []
    for i, (task, classifier, k) in enumerate(itertools.product(
            tasks, ["MLR_L2", "SVM_LIN"], [None, 5])):
        rows.append({
            "evaluation_key": f"{stage}-{i}", "stage": stage, "task": task,
            "classifier": classifier, "row_scaling": "standard", "imputation": "none",
            "column_scaling": "standard", "feature_selection": "none" if k is None else "kbest",
            "n_features": pd.NA if k is None else k, "dim_reduction": "none", "search": "none",
            "modalities": modalities, "parcellation": "GM",
            "accuracy": float(rng.choice([0.5, 0.75, 0.8125])),
            "z_score": float(rng.normal())})
    frame = pd.DataFrame(rows)
    frame["n_features"] = frame["n_features"].astype("Int64")
    return frame


def context_for(study, results):
    index = len(study.spec.stages) - 1
    return StageContext(study, index, results)


def maps_of(study, modalities):
    return {m for name in modalities for m in study.cohort.modalities[name]}


def test_the_plan_examines_the_summarys_best_configuration_per_task(cohort_dir, tmp_path):
    study = cb.load_study(study_file(cohort_dir, tmp_path, "{of: [refine, tune]}"))
    rng = np.random.default_rng(0)
    results = {"refine": fake_results(rng, "refine", ["2-class", "3-class"]),
               "tune": fake_results(rng, "tune", ["2-class", "3-class"])}
    plan = plan_importance(context_for(study, results))
    assert plan.kind == "importance" and not plan.cross_stage
    payload = plan.decisions[0].payload
    # the summary's rule (familywise_per_task: highest accuracy, then Z, then order)
    both = pd.concat([results["refine"], results["tune"]], ignore_index=True)
    nulls = pd.DataFrame(columns=["evaluation_id", "permutation", "accuracy"])
    family = familywise_per_task(both.rename(columns={"evaluation_key": "evaluation_id"})
                                 .assign(n_permutations=0, p_value=np.nan), nulls)
    assert [t["source_evaluation"] for t in payload["targets"]] == list(family["evaluation_id"])
    for target in payload["targets"]:
        source = both[both["evaluation_key"] == target["source_evaluation"]].iloc[0]
        # by hand: nothing of the task beats it
        rivals = both[both["task"] == target["task"]]
        assert source["accuracy"] == rivals["accuracy"].max()
        mine = [p for p in plan.evaluations if p.task == target["task"]]
        assert {p.config.classifier for p in mine} == {source["classifier"]}
        assert {p.config.n_features for p in mine} == {None if pd.isna(source["n_features"])
                                                       else int(source["n_features"])}
        assert {p.parcellation for p in mine} == {"GM"}
    assert all(p.position // 10_000_000 == len(study.spec.stages) - 1 for p in plan.evaluations)
    assert len({p.position for p in plan.evaluations}) == len(plan.evaluations)


def test_the_views_leave_each_map_and_modality_out_and_keep_each_alone(cohort_dir, tmp_path):
    study = cb.load_study(study_file(
        cohort_dir, tmp_path, '{of: [refine], resampling: "repeated-stratified-kfold:3:2"}'))
    results = {"refine": fake_results(np.random.default_rng(1), "refine", ["2-class"])}
    plan = plan_importance(context_for(study, results))
    target = plan.decisions[0].payload["targets"][0]
    views = target["views"]
    # 9 maps x 2, and the two modalities of several maps (DTI, Na) x 2
    assert len(views) == 22
    assert {(v["kind"], v["level"]) for v in views} == {
        ("leave-out", "map"), ("only", "map"), ("leave-out", "modality"), ("only", "modality")}
    everything = set(MAPS)
    for view in views:
        group = set(study.cohort.modalities[view["name"]]) if view["level"] == "modality" \
            else {view["name"]}
        expected = everything - group if view["kind"] == "leave-out" else group
        assert maps_of(study, view["modalities"]) == expected, view
    # a union of the study's modalities is named by them; otherwise maps are modalities
    named = {(v["kind"], v["name"]): v["modalities"] for v in views}
    assert named[("leave-out", "DTI")] == ["qT1", "Na"]
    assert named[("leave-out", "qT1")] == ["DTI", "Na"]
    assert named[("leave-out", "FA")] == ["qT1", "MD", "AD", "RD", "TSC", "T2s", "T2l", "fNa"]
    assert named[("only", "FA")] == ["FA"]
    # one evaluation per distinct view, + the configuration with its record, on its own CV
    part_a = [p for p in plan.evaluations if not p.records]
    part_b = [p for p in plan.evaluations if p.records]
    assert len(part_a) == len({tuple(v["modalities"]) for v in views}) == 22
    assert len(part_b) == 1 and part_b[0].records == ("importance",)
    assert part_b[0].outer == "repeated-stratified-kfold:3:2"
    assert part_b[0].modalities == ("qT1", "DTI", "Na")
    assert all(p.outer is None for p in part_a)
    assert target["regions"] == {"modalities": ["qT1", "DTI", "Na"],
                                 "outer": "repeated-stratified-kfold:3:2"}
    assert plan.decisions[0].payload["formed_modalities"]["FA"] == ["FA"]


def test_views_that_hold_the_same_maps_are_evaluated_once(cohort_dir, tmp_path):
    study = cb.load_study(study_file(cohort_dir, tmp_path, "{regions: false}"))
    # two single-map modalities: without qT1 = FA alone, without FA = qT1 alone
    results = {"refine": fake_results(np.random.default_rng(2), "refine", ["SvF"],
                                      modalities="qT1+FA")}
    plan = plan_importance(context_for(study, results))
    assert len(plan.decisions[0].payload["targets"][0]["views"]) == 4
    assert sorted(p.modalities for p in plan.evaluations) == [("FA",), ("qT1",)]


def test_naming_a_stage_kept_apart_or_without_results_is_refused(cohort_dir, tmp_path):
    study = cb.load_study(study_file(cohort_dir, tmp_path, "{of: [enrich]}"))
    with pytest.raises(cb.StudyError, match="options.of names 'enrich'"):
        plan_importance(context_for(study, {"refine": fake_results(
            np.random.default_rng(3), "refine", ["SvF"])}))
    study = cb.load_study(study_file(cohort_dir, tmp_path))
    with pytest.raises(cb.StudyError, match="needs an earlier stage"):
        plan_importance(context_for(study, {}))


def test_the_template_stage_loads_when_uncommented(cohort_dir, tmp_path):
    from cohortbench.data.synthetic import STUDY_TEMPLATE

    text = STUDY_TEMPLATE.substitute(seed=0)
    block = text[text.index("  # - name: importance"): text.index("\nanalysis:")]
    lines = [line[:2] + line[4:] for line in block.splitlines()]  # "  # x" -> "  x"
    stage = "\n".join(line for line in lines if not line.strip().startswith("#"))
    path = study_file(cohort_dir, tmp_path)
    content = path.read_text()
    content = content[: content.index("  - name: importance")] + stage + "\n"
    path.write_text(content)
    study = cb.load_study(path)
    options = ImportanceOptions.model_validate(study.spec.stages[-1].options)
    assert options.of == ["refine", "tune"] and options.resampling.startswith("repeated")
