"""The study-file schema and loader (SPEC section 10b)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import get_args

import pytest
import yaml

from cohortbench.design import configs
from cohortbench.design.study_file import (
    GridSpec,
    PipelineSpec,
    StudyFile,
    load_study_file,
    study_from_mapping,
)
from cohortbench.design.study_steps import (
    ColumnScaling,
    DimReduction,
    FeatureSelection,
    RowScaling,
)
from cohortbench.errors import StudyError

# SPEC section 10b, verbatim (comments included).
SPEC_EXAMPLE = """\
name: als-7t
seed: 0                                   # one seed; everything random derives from it
data:
  # either one table per map (rows = subjects; the id column + one column per ROI) ...
  maps:
    qT1: maps/qT1.tsv
    FA: maps/FA.tsv
  participants: participants.tsv          # clinical table; BIDS-style
  id_column: participant_id               # default: participant_id if present, else first column
  # ... or one wide table holding ids, clinical columns and features
  # table: cohort.xlsx
  # blocks: {qT1: "qT1_*", pQSM: "pQSM_*"}  # map name -> column-name glob
  exclude: [ICV, "*_total"]               # columns never used as features (names or globs)
  modalities:                             # default: each map is its own modality
    qT1: [qT1]
    DTI: [FA, MD, AD, RD]
  parcellations:                          # default: only `all` (every ROI); `all` always exists
    GM: rois_gm.txt                       # a file with one ROI name per line, or a YAML list
  missing: error                          # error | drop-subjects | impute-mean | impute-median
labels:                                   # derived labels (optional)
  slope: {expression: "(48 - alsfrs_r) / disease_months"}
  progression: {from: slope, split: median, classes: [slow, fast], among: {group: ALS}}
tasks:                                    # class name -> conditions (all must hold;
  2-class:                                #  a list value means any of)
    classes: {HC: {group: HC}, ALS: {group: ALS}}
  3-class:
    classes: {HC: {group: HC}, slow: {progression: slow}, fast: {progression: fast}}
  SvF:
    classes: {slow: {progression: slow}, fast: {progression: fast}}
    train_only: {slow: {group: HC}}       # optional hybrid training (section 2)
cv: {outer: loo, inner: "stratified-kfold:5"}
permutations: 50                          # 0 = no permutation test (null columns left empty)
metric: accuracy                          # the primary metric; others are always recorded
stages:
  - name: screen
    classifiers: all                      # all | shortlist | [names]
    pipeline: {row_scaling: standard, column_scaling: standard}
    shortlist: {min_accuracy: 0.6}        # on every task of the stage; or `keep: [names]`
  - name: refine
    classifiers: shortlist
    grid:                                 # cartesian product; n_features only with a selector
      row_scaling: [none, standard, minmax]
      column_scaling: [none, standard, minmax]
      feature_selection: [none, kbest, rfe]
      n_features: [10, 25, 50, 100, 150]
      dim_reduction: [none, pca, lda]
  - name: tune
    classifiers: shortlist
    pipeline: best                        # best of the previous stage, or explicit steps
    search: [grid, random, bayes]
  - name: enrich
    classifiers: [MLR_L2]
    pipeline: {row_scaling: standard, column_scaling: standard}
    search: [grid]
    modalities: [[qT1, DTI, Na], [qT1, DTI], [qT1, Na]]   # default: all maps
    parcellations: [GM, all]              # default: [all]
    tasks: [3-class, SvF, 2-class]        # default: every task
execution:                                # optional; used by `run --cluster slurm`
  slurm: {queue: normal, cores: 32, memory: 64GB, walltime: "04:00:00", jobs: 4}
"""

MINIMAL = {
    "name": "mini",
    "data": {"maps": {"qT1": "qT1.tsv"}, "participants": "participants.tsv"},
    "tasks": {"HCvALS": {"classes": {"HC": {"group": "HC"}, "ALS": {"group": "ALS"}}}},
    "stages": [{"name": "screen"}],
}


def write(tmp_path: Path, text: str, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def spec_mapping() -> dict:
    return yaml.safe_load(SPEC_EXAMPLE)


def error_of(mapping: dict, tmp_path: Path) -> str:
    """The message of loading ``mapping`` written as study.yaml (which must fail)."""
    path = write(tmp_path, yaml.safe_dump(mapping, sort_keys=False))
    with pytest.raises(StudyError) as info:
        load_study_file(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message[len(f"{path}: "):]


# --- the SPEC example --------------------------------------------------------------


def test_spec_example_loads_without_its_data_files(tmp_path):
    study = load_study_file(write(tmp_path, SPEC_EXAMPLE))
    assert study.name == "als-7t" and study.seed == 0
    assert list(study.tasks) == ["2-class", "3-class", "SvF"]
    assert [s.name for s in study.stages] == ["screen", "refine", "tune", "enrich"]
    assert study.labels["progression"].from_ == "slope"
    assert study.labels["progression"].split == "median"
    assert study.labels["progression"].among == {"group": "ALS"}
    assert study.tasks["SvF"].train_only == {"slow": {"group": "HC"}}
    assert study.stages[0].pipeline == PipelineSpec(row_scaling="standard", column_scaling="standard")
    assert study.stages[2].pipeline == "best"
    assert study.stages[2].search == ["grid", "random", "bayes"]
    assert study.stages[3].modalities == [["qT1", "DTI", "Na"], ["qT1", "DTI"], ["qT1", "Na"]]
    slurm = study.execution.slurm
    assert (slurm.queue, slurm.cores, slurm.memory, slurm.walltime, slurm.jobs) == (
        "normal", 32, "64GB", "04:00:00", 4)
    assert slurm.processes is None and slurm.job_extra_directives == []


def test_spec_example_paths_resolve_against_the_study_folder(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    path = write(folder, SPEC_EXAMPLE)
    monkeypatch.chdir(tmp_path)  # the current folder must not matter
    study = load_study_file(Path("project") / "study.yaml")
    assert study.base_dir == folder
    assert study.source_path == path
    assert study.data.maps == {"qT1": folder / "maps/qT1.tsv", "FA": folder / "maps/FA.tsv"}
    assert study.data.participants == folder / "participants.tsv"
    assert study.data.parcellations == {"GM": folder / "rois_gm.txt"}
    assert all(p.is_absolute() for p in study.data.maps.values())
    # The original text stays available, and is a copy.
    assert study.raw["data"]["maps"]["qT1"] == "maps/qT1.tsv"
    study.raw["data"]["maps"]["qT1"] = "changed"
    assert study.raw["data"]["maps"]["qT1"] == "maps/qT1.tsv"


def test_spec_grid_expands_to_297_distinct_pipelines(tmp_path):
    grid = load_study_file(write(tmp_path, SPEC_EXAMPLE)).stages[1].grid
    steps = grid.expand()
    assert len(steps) == 297 == grid.size()
    assert len({json.dumps(s, sort_keys=True) for s in steps}) == 297
    # (the side steps, confounds and harmonize, enter a step dict only when a grid sets them)
    assert all(set(s) == set(configs.PipelineConfig.__dataclass_fields__) - {
        "classifier", "imputation", "search", "confounds", "harmonize", "preserve",
        "unseen_site"} for s in steps)
    assert steps[0] == {"row_scaling": "none", "column_scaling": "none",
                        "feature_selection": "none", "n_features": None, "dim_reduction": "none"}
    assert steps[-1] == {"row_scaling": "minmax", "column_scaling": "minmax",
                         "feature_selection": "rfe", "n_features": 150, "dim_reduction": "lda"}
    assert steps == grid.expand()  # deterministic
    # n = 27 per selector-k option, 99 per scaler option (SPEC section 6).
    assert sum(s["feature_selection"] == "kbest" and s["n_features"] == 10 for s in steps) == 27
    assert sum(s["row_scaling"] == "standard" for s in steps) == 99
    assert all((s["n_features"] is None) == (s["feature_selection"] == "none") for s in steps)
    # Every step dict is a valid configuration for the engine.
    for s in steps:
        configs.PipelineConfig(classifier="KNN", **s)


def test_step_options_match_the_configuration_constants():
    assert get_args(RowScaling) == configs.ROW_SCALINGS
    assert get_args(ColumnScaling) == configs.COLUMN_SCALINGS
    assert get_args(FeatureSelection) == configs.FEATURE_SELECTIONS
    assert get_args(DimReduction) == configs.DIM_REDUCTIONS


# --- defaults ----------------------------------------------------------------------


def test_defaults_of_a_minimal_study(tmp_path):
    study = study_from_mapping(MINIMAL, base_dir=tmp_path)
    assert study.seed == 0 and study.permutations == 50 and study.metric == "accuracy"
    assert (study.cv.outer, study.cv.inner, study.cv.reduce_inner_k) == (
        "loo", "stratified-kfold:5", False)
    assert study.labels == {} and study.execution is None
    data = study.data
    assert data.missing == "error" and data.exclude == [] and data.parcellations == {}
    assert data.modalities is None and data.id_column is None and data.table is None
    stage = study.stages[0]
    assert stage.classifiers == "all" and stage.search == ["none"]
    assert stage.pipeline is None and stage.grid is None and stage.shortlist is None
    assert stage.steps() == [{"row_scaling": "none", "column_scaling": "none",
                              "feature_selection": "none", "n_features": None,
                              "dim_reduction": "none"}]
    top = study.analysis.top_performers
    assert (top.tasks, top.min_accuracy, top.min_z, top.strict_accuracy) == (None, 0.6, 2.0, 0.7)
    assert study.top_performer_tasks() == ["HCvALS"]
    assert study.cv_scheme() == configs.CVScheme(permutations=50, seed=0)


def test_slurm_and_grid_defaults():
    mapping = copy.deepcopy(MINIMAL)
    mapping["execution"] = {"slurm": {"queue": "short"}}
    mapping["stages"] = [{"name": "g", "grid": {"row_scaling": ["none", "standard"]}}]
    study = study_from_mapping(mapping)
    slurm = study.execution.slurm
    assert (slurm.cores, slurm.memory, slurm.walltime, slurm.jobs, slurm.processes) == (
        1, "4GB", "01:00:00", 1, None)
    grid = study.stages[0].grid
    assert grid.column_scaling == ["none"] and grid.n_features is None
    assert [s["row_scaling"] for s in grid.expand()] == ["none", "standard"]


def test_top_performer_tasks_default_to_3class_and_svf(tmp_path):
    study = load_study_file(write(tmp_path, SPEC_EXAMPLE))
    assert study.top_performer_tasks() == ["3-class", "SvF"]
    mapping = spec_mapping()
    mapping["analysis"] = {"top_performers": {"tasks": ["2-class"], "min_z": 1.5}}
    study = study_from_mapping(mapping)
    assert study.top_performer_tasks() == ["2-class"]
    assert study.analysis.top_performers.min_z == 1.5


def test_helpers_list_names_and_stage_links(tmp_path):
    mapping = spec_mapping()
    mapping["stages"][0]["shortlist"] = {"keep": ["SVM_LIN", "RF"]}
    study = study_from_mapping(mapping, base_dir=tmp_path)
    assert study.modality_names_used() == ["qT1", "DTI", "Na"]
    assert study.parcellation_names_used() == ["GM", "all"]
    assert study.classifier_names_used() == ["SVM_LIN", "RF", "MLR_L2"]
    assert study.data.map_names() == ["qT1", "FA"]
    assert [study.shortlist_source(i) for i in range(4)] == [None, 0, 0, 0]
    assert study.stage_tasks(3) == ["3-class", "SvF", "2-class"]
    assert study.stage_tasks(study.stages[0]) == ["2-class", "3-class", "SvF"]
    with pytest.raises(ValueError, match="best"):
        study.stages[2].steps()


# --- paths -------------------------------------------------------------------------


def test_relative_absolute_and_inline_paths(tmp_path):
    mapping = copy.deepcopy(MINIMAL)
    elsewhere = tmp_path / "shared" / "FA.tsv"
    mapping["data"]["maps"] = {"qT1": "../maps/qT1.tsv", "FA": str(elsewhere)}
    mapping["data"]["parcellations"] = {"GM": "rois/gm.txt", "motor": ["precentral", "paracentral"]}
    study = load_study_file(write(tmp_path / "studies", yaml.safe_dump(mapping)))
    assert study.data.maps["qT1"] == tmp_path / "maps" / "qT1.tsv"  # '..' normalised
    assert study.data.maps["FA"] == elsewhere
    assert study.data.parcellations["GM"] == tmp_path / "studies" / "rois" / "gm.txt"
    assert study.data.parcellations["motor"] == ["precentral", "paracentral"]


def test_wide_table_layout(tmp_path):
    mapping = copy.deepcopy(MINIMAL)
    mapping["data"] = {"table": "cohort.xlsx", "sheet": "subjects",
                       "blocks": {"qT1": "qT1_*", "pQSM": "pQSM_*"}, "missing": "impute-median"}
    study = load_study_file(write(tmp_path, yaml.safe_dump(mapping, sort_keys=False)))
    assert study.data.table == tmp_path / "cohort.xlsx"
    assert study.data.maps is None and study.data.participants is None
    assert study.data.map_names() == ["qT1", "pQSM"]
    assert study.data.missing == "impute-median"


def test_to_yaml_dict_round_trips_from_another_folder(tmp_path):
    study = load_study_file(write(tmp_path / "a", SPEC_EXAMPLE))
    resolved = study.to_yaml_dict()
    json.dumps(resolved)  # plain data only
    assert resolved["data"]["maps"]["qT1"] == str(tmp_path / "a" / "maps" / "qT1.tsv")
    assert resolved["labels"]["progression"]["from"] == "slope"
    assert resolved["cv"] == {"outer": "loo", "inner": "stratified-kfold:5", "reduce_inner_k": False}
    again = load_study_file(write(tmp_path / "run", yaml.safe_dump(resolved, sort_keys=False)))
    assert again.to_yaml_dict() == resolved
    assert again.data == study.data and again.stages == study.stages


# --- YAML-level errors -------------------------------------------------------------


def test_missing_file_directory_empty_and_non_mapping(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(StudyError, match=r"nope\.yaml: study file not found"):
        load_study_file(missing)
    with pytest.raises(StudyError, match="is a folder"):
        load_study_file(tmp_path)
    for text in ("", "# only a comment\n"):
        with pytest.raises(StudyError, match="study file is empty"):
            load_study_file(write(tmp_path, text))
    with pytest.raises(StudyError, match="top level must be a mapping.*got a list"):
        load_study_file(write(tmp_path, "- name: x\n"))
    with pytest.raises(StudyError, match="must be a mapping"):
        study_from_mapping(["x"])


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    text = "name: x\nseed: 0\ndata:\n  maps: {qT1: a.tsv\nstages: []\n"
    path = write(tmp_path, text)
    with pytest.raises(StudyError) as info:
        load_study_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line 5: ") and "not valid YAML" in message
    assert "\n" not in message
    path = write(tmp_path, "name: x\n  seed: 0: 1\n")
    with pytest.raises(StudyError, match=r"study\.yaml: line 2: the file is not valid YAML"):
        load_study_file(path)


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system", "!!python/object/apply:subprocess.call"])
def test_python_tags_are_refused_and_never_run(tmp_path, tag):
    marker = tmp_path / "hacked"
    argument = f'["touch {marker}"]' if "os.system" in tag else f'[["touch", "{marker}"]]'
    path = write(tmp_path, f"name: x\nseed: 0\nhook: {tag} {argument}\n")
    with pytest.raises(StudyError) as info:
        load_study_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line 3: ")
    assert "tags such as '" + tag + "' are not allowed" in message
    assert not marker.exists()


def test_python_name_tag_is_refused(tmp_path):
    path = write(tmp_path, "name: !!python/name:os.system ''\n")
    with pytest.raises(StudyError, match=r"line 1: YAML tags such as '!!python/name:os.system'"):
        load_study_file(path)


def test_duplicate_key_is_refused_with_both_lines(tmp_path):
    text = "name: x\nseed: 0\nname: y\n"
    with pytest.raises(StudyError, match=r"line 3: key 'name' is already given on line 1"):
        load_study_file(write(tmp_path, text))
    # The same key in different mappings, and YAML merge keys, are fine.
    ok = copy.deepcopy(MINIMAL)
    ok["labels"] = {"a": {"expression": "x"}, "b": {"expression": "y"}}
    assert load_study_file(write(tmp_path, yaml.safe_dump(ok))).labels["b"].expression == "y"


def test_yaml_anchors_and_merge_keys_still_work(tmp_path):
    text = SPEC_EXAMPLE.split("stages:\n")[0] + (
        "stages:\n"
        "  - &first {name: a, pipeline: {row_scaling: standard}, search: [grid]}\n"
        "  - <<: *first\n"
        "    name: b\n"
    )
    study = load_study_file(write(tmp_path, text))
    assert [s.name for s in study.stages] == ["a", "b"]
    assert study.stages[1].search == ["grid"]
    assert study.stages[1].pipeline.row_scaling == "standard"


# --- schema errors -----------------------------------------------------------------


def test_unknown_key_suggests_the_close_match(tmp_path):
    mapping = spec_mapping()
    mapping["stages"][0]["pipline"] = mapping["stages"][0].pop("pipeline")
    assert error_of(mapping, tmp_path) == "stages[0].pipline: unknown key; did you mean 'pipeline'?"
    mapping = spec_mapping()
    mapping["stage"] = mapping.pop("stages")
    assert error_of(mapping, tmp_path) == "stage: unknown key; did you mean 'stages'?"
    mapping = spec_mapping()
    mapping["labels"]["slope"] = {"expresion": "a / b"}
    assert error_of(mapping, tmp_path) == (
        "labels.slope.expresion: unknown key; did you mean 'expression'?")


def test_message_names_the_file_as_the_user_gave_it(tmp_path, monkeypatch):
    mapping = spec_mapping()
    mapping["stages"][0]["pipline"] = mapping["stages"][0].pop("pipeline")
    write(tmp_path, yaml.safe_dump(mapping, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StudyError) as info:
        load_study_file("study.yaml")
    assert str(info.value) == "study.yaml: stages[0].pipline: unknown key; did you mean 'pipeline'?"


def test_unknown_key_without_close_match_lists_the_allowed_keys(tmp_path):
    mapping = spec_mapping()
    mapping["cv"]["zzz"] = 1
    assert error_of(mapping, tmp_path) == (
        "cv.zzz: unknown key; the keys allowed here are outer, inner, reduce_inner_k")


def test_imputation_in_a_pipeline_points_to_data_missing(tmp_path):
    mapping = spec_mapping()
    mapping["stages"][0]["pipeline"]["imputation"] = "mean"
    message = error_of(mapping, tmp_path)
    assert message.startswith("stages[0].pipeline.imputation: unknown key;")
    assert "data.missing" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda m: m["stages"][1]["grid"].__setitem__("n_features", 10),
         "stages[1].grid.n_features: expected a list, got the number 10"),
        (lambda m: m["stages"][1]["grid"].__setitem__("n_features", [10, 0]),
         "stages[1].grid.n_features[1]: must be at least 1; got the number 0"),
        (lambda m: m["stages"][0]["pipeline"].__setitem__("row_scaling", "zscore"),
         "stages[0].pipeline.row_scaling: must be one of none, standard, minmax; got 'zscore'"),
        (lambda m: m.__setitem__("metric", "auc"),
         "metric: must be one of accuracy, balanced_accuracy, f1_macro; got 'auc'"),
        (lambda m: m.__setitem__("permutations", -1),
         "permutations: must be at least 0; got the number -1"),
        (lambda m: m.__setitem__("permutations", "50"),
         "permutations: expected a whole number, got '50'"),
        (lambda m: m.__setitem__("seed", 1.5), "seed: expected a whole number, got the number 1.5"),
        (lambda m: m.pop("name"), "name: this key is required; add it"),
        (lambda m: m.__setitem__("stages", []), "stages: must not be empty"),
        (lambda m: m["data"].__setitem__("exclude", "ICV"), "data.exclude: expected a list, got 'ICV'"),
        (lambda m: m["data"].__setitem__("missing", "drop"),
         "data.missing: must be one of error, drop-subjects, impute-mean, impute-median; got 'drop'"),
        (lambda m: m["data"]["maps"].__setitem__("MD", 5),
         "data.maps.MD: expected a file path (text), got the number 5"),
        (lambda m: m["data"]["parcellations"].__setitem__("WM", ["a", 5]),
         "data.parcellations.WM[1]: expected text, got the number 5"),
        (lambda m: m["stages"][3].__setitem__("search", ["genetic"]),
         "stages[3].search[0]: must be one of none, grid, random, bayes; got 'genetic'"),
        (lambda m: m["stages"][3].__setitem__("search", ["grid", "grid"]),
         "stages[3].search[1]: 'grid' is listed twice; list each once"),
        (lambda m: m["stages"][0].__setitem__("classifiers", "MLR_L2"),
         "stages[0].classifiers: must be all, shortlist or a list of classifier names, "
         "got 'MLR_L2'; for one classifier write [MLR_L2]"),
        (lambda m: m["stages"][0].__setitem__("pipeline", "worst"),
         "stages[0].pipeline: must be best (the best pipeline of the previous stage) or a "
         "mapping of steps, e.g. {row_scaling: standard}, got 'worst'"),
        (lambda m: m["stages"][0].__setitem__("shortlist", {"min_accuracy": 1.5}),
         "stages[0].shortlist.min_accuracy: must be at most 1.0; got the number 1.5"),
        (lambda m: m["labels"]["progression"].__setitem__("split", "mean"),
         "labels.progression.split: must be median or a number (the cut), got 'mean'"),
        (lambda m: m["tasks"]["SvF"]["classes"]["slow"].__setitem__("g", {"a": 1}),
         "tasks.SvF.classes.slow.g: expected a value (text, number, true/false) or a list of "
         "values meaning any of them, got a mapping"),
        (lambda m: m["tasks"].__setitem__(3, {"classes": {}}),
         'tasks.3: this name must be text; put it in quotes, e.g. "3"'),
        (lambda m: m["cv"].__setitem__("outer", "kfold:5"),
         "cv.outer: must be loo, stratified-kfold:K (K >= 2), repeated-stratified-kfold:K:R "
         "(K >= 2, R >= 1) or leave-site-out, got 'kfold:5'"),
        (lambda m: m["cv"].__setitem__("outer", "stratified-kfold:1"), "cv.outer: must be loo"),
        (lambda m: m["cv"].__setitem__("inner", "loo"),
         "cv.inner: must be stratified-kfold:K with K >= 2, got 'loo'"),
        (lambda m: m["execution"]["slurm"].__setitem__("walltime", 14400),
         'execution.slurm.walltime: was read as a number; put it in quotes, e.g. "04:00:00"'),
        (lambda m: m["execution"]["slurm"].__setitem__("memory", "lots"),
         "execution.slurm.memory: must be an amount with a unit, e.g. 64GB, got 'lots'"),
        (lambda m: m["execution"]["slurm"].pop("queue"),
         "execution.slurm.queue: this key is required; add it"),
        (lambda m: m.__setitem__("data", None),
         "data: expected a mapping (key: value pairs), got nothing (null)"),
    ],
)
def test_wrong_types_and_values_name_the_key_path(tmp_path, change, expected):
    mapping = spec_mapping()
    change(mapping)
    assert error_of(mapping, tmp_path).startswith(expected)


def test_valid_cv_forms_are_accepted():
    for outer in ("loo", "stratified-kfold:5", "repeated-stratified-kfold:5:10"):
        mapping = copy.deepcopy(MINIMAL)
        mapping["cv"] = {"outer": outer, "inner": "stratified-kfold:3", "reduce_inner_k": True}
        assert study_from_mapping(mapping).cv.outer == outer


def test_only_the_first_error_is_reported_and_always_the_same(tmp_path):
    mapping = spec_mapping()
    mapping["seed"] = "zero"
    mapping["stages"][0]["pipline"] = {}
    mapping["metric"] = "auc"
    messages = {error_of(mapping, tmp_path) for _ in range(3)}
    assert messages == {"seed: expected a whole number, got 'zero'"}


# --- mutual exclusions and cross-references ----------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.__setitem__("table", "x.xlsx"),
         "data.table: give either maps (one table per map) or table (one wide table), not both"),
        (lambda d: d.pop("maps"), "data: give maps"),
        (lambda d: (d.pop("maps"), d.__setitem__("table", "x.xlsx")), "data.blocks: required with table"),
        (lambda d: d.__setitem__("blocks", {"qT1": "qT1_*"}), "data.blocks: only used with table"),
        (lambda d: d.pop("participants"), "data.participants: required with maps"),
        (lambda d: d["parcellations"].__setitem__("all", ["a"]),
         "data.parcellations.all: the parcellation name 'all' is reserved"),
    ],
)
def test_data_layout_rules(tmp_path, change, expected):
    mapping = spec_mapping()
    change(mapping["data"])
    assert error_of(mapping, tmp_path).startswith(expected)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda m: m["stages"][1].__setitem__("pipeline", {"row_scaling": "none"}),
         "stages[1].grid: cannot be combined with pipeline"),
        (lambda m: m["stages"][1]["grid"].pop("n_features"),
         "stages[1].grid.n_features: required because feature_selection lists kbest and rfe"),
        (lambda m: m["stages"][1]["grid"].__setitem__("feature_selection", ["none"]),
         "stages[1].grid.n_features: only used with a feature selector"),
        (lambda m: m["stages"][0]["pipeline"].__setitem__("feature_selection", "rfe"),
         "stages[0].pipeline.n_features: required with feature_selection rfe"),
        (lambda m: m["stages"][0]["pipeline"].__setitem__("n_features", 5),
         "stages[0].pipeline.n_features: only used with a feature selector"),
        (lambda m: m["stages"][0].__setitem__("shortlist", {"min_accuracy": 0.5, "keep": ["RF"]}),
         "stages[0].shortlist.keep: give either min_accuracy or keep, not both"),
        (lambda m: m["stages"][0].__setitem__("shortlist", {}),
         "stages[0].shortlist: give min_accuracy"),
        (lambda m: m["labels"]["slope"].__setitem__("from", "x"),
         "labels.slope.from: give either expression or from, not both"),
        (lambda m: m["labels"]["slope"].__setitem__("split", 1),
         "labels.slope.split: only used with from"),
        (lambda m: m["labels"]["progression"].pop("split"),
         "labels.progression.split: required with from"),
        (lambda m: m["labels"]["progression"].__setitem__("classes", ["a", "b", "c"]),
         "labels.progression.classes: a split gives exactly two classes, got 3"),
        (lambda m: m["labels"].__setitem__("empty", {}), "labels.empty: give expression"),
    ],
)
def test_mutual_exclusions(tmp_path, change, expected):
    mapping = spec_mapping()
    change(mapping)
    assert error_of(mapping, tmp_path).startswith(expected)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda m: m["stages"][0].__setitem__("classifiers", "shortlist"),
         "stages[0].classifiers: shortlist means the shortlist of an earlier stage"),
        (lambda m: m["stages"][0].__setitem__("pipeline", "best"),
         "stages[0].pipeline: best means the best pipeline of the previous stage"),
        (lambda m: m["stages"][0].pop("shortlist"),
         "stages[1].classifiers: shortlist needs an earlier stage with a shortlist rule; add e.g. "
         "shortlist: {min_accuracy: 0.6} to stage 'screen'"),
        (lambda m: m["stages"][3].__setitem__("tasks", ["SvF", "3-clas"]),
         "stages[3].tasks[1]: unknown task '3-clas'; did you mean '3-class'?"),
        (lambda m: m.__setitem__("analysis", {"top_performers": {"tasks": ["nothing-alike"]}}),
         "analysis.top_performers.tasks[0]: unknown task 'nothing-alike'; the study defines "
         "2-class, 3-class, SvF"),
        (lambda m: m["tasks"]["SvF"].__setitem__("train_only", {"slo": {"group": "HC"}}),
         "tasks.SvF.train_only.slo: 'slo' is not a class of this task; use one of slow, fast"),
        (lambda m: m["tasks"]["SvF"].__setitem__("classes", {"slow": {"progression": "slow"}}),
         "tasks.SvF.classes: needs at least 2 entries, got 1"),
        (lambda m: m["stages"][2].__setitem__("name", "screen"),
         "stages[2].name: 'screen' is already the name of stages[0]"),
        (lambda m: m["stages"][3].__setitem__("modalities", [["qT1", "DTI"], ["DTI", "qT1"]]),
         "stages[3].modalities[1]: the same modalities as entry 0"),
        (lambda m: m["labels"]["progression"].__setitem__("from", "progression"),
         "labels.progression.from: a label cannot be split from itself"),
        (lambda m: m.__setitem__("analysis", {"top_performers": {"strict_accuracy": 0.5}}),
         "analysis.top_performers.strict_accuracy: must be at least min_accuracy (0.6)"),
    ],
)
def test_cross_references(tmp_path, change, expected):
    mapping = spec_mapping()
    change(mapping)
    assert error_of(mapping, tmp_path).startswith(expected)


def test_names_checked_later_are_not_checked_here():
    # Classifier, modality and parcellation names are checked against the registry and the
    # data by the loader of the data; the schema accepts any.
    mapping = copy.deepcopy(MINIMAL)
    mapping["stages"] = [{"name": "s", "classifiers": ["NOT_A_CLASSIFIER"],
                          "modalities": [["nope"]], "parcellations": ["nowhere"]}]
    study = study_from_mapping(mapping)
    assert study.classifier_names_used() == ["NOT_A_CLASSIFIER"]
    assert study.modality_names_used() == ["nope"]
    assert study.parcellation_names_used() == ["nowhere"]


def test_label_threshold_and_conditions_keep_yaml_types():
    mapping = copy.deepcopy(MINIMAL)
    mapping["labels"] = {"old": {"from": "age", "split": 60, "classes": ["young", "old"]}}
    mapping["tasks"]["HCvALS"]["classes"]["ALS"] = {"group": ["ALS", "PLS"], "site": 2}
    study = study_from_mapping(mapping)
    assert study.labels["old"].split == 60.0 and isinstance(study.labels["old"].split, float)
    assert study.tasks["HCvALS"].classes["ALS"] == {"group": ["ALS", "PLS"], "site": 2}
    assert isinstance(study, StudyFile) and isinstance(GridSpec().expand(), list)


# --------------------------------------------------------------------------- the init template
def _model_keys(model, seen=None) -> set[str]:
    """Every key of a study-file model and of the models nested in it (aliases as written)."""
    import typing

    from pydantic import BaseModel

    seen = set() if seen is None else seen
    if model in seen:
        return set()
    seen.add(model)
    keys = set()
    for name, field in model.model_fields.items():
        keys.add(field.alias or name)
        stack = [field.annotation]
        while stack:
            kind = stack.pop()
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                keys |= _model_keys(kind, seen)
            stack.extend(typing.get_args(kind))
    return keys


def test_the_init_template_documents_every_study_key():
    import re

    from cohortbench.data.synthetic import STUDY_TEMPLATE
    from cohortbench.design.study_file import StudyFile

    from cohortbench.design.importance_stage import ImportanceOptions

    text = STUDY_TEMPLATE.template
    written = set(re.findall(r"([A-Za-z_]+):", text))  # keys, set or in comments
    from cohortbench.design.learn_stage import LearnOptions

    keys = _model_keys(StudyFile) | _model_keys(LearnOptions) | _model_keys(ImportanceOptions)
    assert {"maps", "blocks", "keep_summary_columns", "reduce_inner_k", "slurm", "of",
            "resampling"} <= keys
    assert {"sizes", "repeats", "project_to"} <= keys
    missing = sorted(keys - written)
    assert not missing, f"the template written by `cohortbench init` does not mention {missing}"


def test_a_grid_may_skip_combinations_and_the_rest_keeps_its_order(tmp_path):
    mapping = spec_mapping()
    raw_rfe = {"row_scaling": "none", "column_scaling": "none", "feature_selection": "rfe"}
    mapping["stages"][1]["grid"]["skip"] = [raw_rfe, {"n_features": 150, "dim_reduction": "lda"}]
    grid = load_study_file(write(tmp_path, yaml.safe_dump(mapping, sort_keys=False))).stages[1].grid
    full = load_study_file(write(tmp_path, SPEC_EXAMPLE, "full.yaml")).stages[1].grid.expand()
    kept = grid.expand()
    left_out = [s for s in full if all(s[k] == v for k, v in raw_rfe.items())
                or (s["n_features"] == 150 and s["dim_reduction"] == "lda")]
    assert len(left_out) == 15 + 18 - 1  # 5 k x 3 reductions; 2 selectors x 9 scalings; 1 in both
    assert kept == [s for s in full if s not in left_out] and grid.size() == len(kept)


@pytest.mark.parametrize(("skip", "expected"), [
    ([{"feature_selection": "lasso"}],
     "stages[1].grid.skip[0].feature_selection: 'lasso' is not one of the grid's "
     "feature_selection options (none, kbest, rfe)"),
    ([{"n_features": 7}], "stages[1].grid.skip[0].n_features: 7 is not one of the grid's"),
    ([{}], "stages[1].grid.skip[0]: an empty entry would skip every pipeline"),
    ([{"row_scaling": r} for r in ("none", "standard", "minmax")],
     "stages[1].grid.skip: skips every pipeline of the grid"),
])
def test_a_skip_entry_must_name_options_of_the_grid(tmp_path, skip, expected):
    mapping = spec_mapping()
    mapping["stages"][1]["grid"]["skip"] = skip
    assert error_of(mapping, tmp_path).startswith(expected)
