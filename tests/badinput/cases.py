"""The bad-input corpus: a valid base study plus one mutation per case.

Every case starts from the same small valid study (:data:`BASE_STUDY`) on the
tiny synthetic cohort (16 subjects: 6 controls, 5 slow, 5 fast; 12 ROIs of which
6 form the ``GM`` parcellation) and breaks one thing: a line of the study file, a
cell of a table, a whole file. A case says what the user must read:

- ``error`` cases must stop with exit code 2 and one line on stderr containing
  every word of ``words`` (the culprit: file, key path, row, column, subject, and
  the fix), before anything is written;
- ``warning`` cases must pass validation (exit 0) and print every word of
  ``words`` on stdout;
- ``ok`` cases are inputs that only look odd (a byte-order mark, ``;`` as the
  separator, Windows line endings...): they must be read exactly like the base
  data (``same_data``), or at least validate (exit 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .mutations import (
    BASE_STUDY,
    STUDY_FILE,
    chain,
    copy_base,
    crlf,
    edit_study,
    edit_table,
    edit_text,
    regroup_all_but_one_control,
    set_cell,
    set_key,
    set_stage,
    to_excel,
    to_wide,
    tsv_to_csv,
    write_base,
    write_file,
)

__all__ = ["Case", "CASES", "ERROR_CASES", "WARNING_CASES", "OK_CASES", "write_base",
           "copy_base", "STUDY_FILE"]


# --------------------------------------------------------------------------- the corpus
@dataclass(frozen=True)
class Case:
    """One broken (or odd-looking) input.

    Attributes
    ----------
    name : str
        Test id.
    mutate : callable
        Applied to a fresh copy of the base directory.
    words : tuple of str
        What the error line (``error``) or stdout (``warning``) must contain.
    kind : {'error', 'warning', 'ok'}
    same_data : bool
        For ``ok`` cases: the loaded cohort must equal the base cohort exactly.
    """

    name: str
    mutate: Callable[[Path], None]
    words: tuple[str, ...] = ()
    kind: str = "error"
    same_data: bool = False


ROI = "GM_insula_L"   # a grey-matter ROI of the tiny cohort (in the GM parcellation)


def _participants(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "participants.tsv", sep="\t", dtype=str, keep_default_na=False)


def _clinical_columns_in_qt1(root: Path) -> None:
    """qT1.tsv becomes a wide sheet: its ROIs and every clinical column (group included)."""
    edit_table("maps/qT1.tsv", lambda f: f.merge(_participants(root), on="participant_id"))(root)


def _group_code_in_qt1(column: str):
    """qT1.tsv gains the group coded 0 (HC) / 1 (ALS) under ``column``."""
    def mutate(root: Path) -> None:
        p = _participants(root)
        codes = dict(zip(p["participant_id"], (p["group"] == "ALS").astype(int).astype(str)))
        edit_table("maps/qT1.tsv", lambda f: f.assign(
            **{column: f["participant_id"].map(codes)}))(root)
    return mutate


def _first_group_in_lower_case(root: Path) -> None:
    """sub-001's group written 'hc'/'als': it matches no class of '2-class' any more."""
    def change(frame):
        frame.loc[0, "group"] = frame.loc[0, "group"].lower()
    edit_table("participants.tsv", change)(root)


def _with_sites(per_group: dict[str, list[str]]):
    """participants.tsv gains ``site``: the k-th subject of each group gets ``per_group[g][k]``
    (6 HC, 10 ALS in the base cohort)."""
    def change(frame):
        rank = frame.groupby("group").cumcount()
        return frame.assign(site=[per_group[g][k] for g, k in zip(frame["group"], rank)])
    return edit_table("participants.tsv", change)


#: Two sites, each with half of every group.
_BALANCED = {"HC": ["A", "B"] * 3, "ALS": ["A", "B"] * 5}


def _add_column(name: str, values):
    """participants.tsv gains a column; ``values(frame)`` gives its cells."""
    return edit_table("participants.tsv", lambda f: f.assign(**{name: values(f)}))


def _study_keys(*changes):
    """Several changes of the study mapping at once."""
    def change(doc):
        for c in changes:
            c(doc)
    return edit_study(change)


CASES: list[Case] = [
    # ---- the study file itself
    Case("yaml-syntax-error",
         edit_text(STUDY_FILE, "permutations: 0\n", "permutations: [0\n"),
         ("study.yaml", "line 18", "not valid YAML", "flow sequence that starts on line 17")),
    Case("yaml-tab-indentation",
         edit_text(STUDY_FILE, "  2-class:\n", "\t2-class:\n"),
         ("study.yaml", "line 12", "not valid YAML")),
    Case("yaml-python-tag",
         edit_text(STUDY_FILE, "name: bad-input-base",
                   "name: !!python/object/apply:os.system [\"echo pwned\"]"),
         ("study.yaml", "line 1", "!!python/object/apply:os.system", "not allowed")),
    Case("yaml-duplicate-key",
         edit_text(STUDY_FILE, "permutations: 0\n", "permutations: 0\npermutations: 5\n"),
         ("study.yaml", "line 18", "'permutations'", "line 17")),
    Case("study-file-empty", write_file(STUDY_FILE, ""), ("study.yaml", "empty")),
    Case("study-not-a-mapping", write_file(STUDY_FILE, "- just\n- a list\n"),
         ("study.yaml", "mapping")),
    Case("study-not-utf8", write_file(STUDY_FILE, BASE_STUDY.replace(
        "bad-input-base", "étude").encode("latin-1")), ("study.yaml", "UTF-8")),
    Case("unknown-key-with-suggestion",
         edit_text(STUDY_FILE, "    pipeline: {row", "    pipline: {row"),
         ("stages[0].pipline", "did you mean 'pipeline'")),
    Case("unknown-top-level-key",
         edit_text(STUDY_FILE, "permutations: 0", "permutation: 0"),
         ("permutation", "did you mean 'permutations'")),
    Case("missing-required-key", edit_study(lambda d: d.pop("tasks")),
         ("tasks", "required")),
    Case("wrong-type-text-for-number",
         edit_text(STUDY_FILE, "permutations: 0", "permutations: many"),
         ("permutations", "whole number", "'many'")),
    Case("wrong-type-classifiers-word",
         edit_study(lambda d: set_stage(d, classifiers="KNN")),
         ("stages[0].classifiers", "[KNN]")),
    Case("bad-option-value",
         edit_study(lambda d: set_stage(d, pipeline={"row_scaling": "zscore"})),
         ("stages[0].pipeline.row_scaling", "zscore", "standard")),
    Case("bad-cv-scheme", edit_study(set_key("cv.outer", "kfold:5")),
         ("cv.outer", "kfold:5", "stratified-kfold:K")),
    Case("n-features-without-selector",
         edit_study(lambda d: set_stage(d, pipeline={"row_scaling": "standard",
                                                     "n_features": 5})),
         ("stages[0].pipeline.n_features", "feature_selection")),
    Case("unknown-task-in-stage", edit_study(lambda d: set_stage(d, tasks=["3-clas"])),
         ("stages[0].tasks[0]", "3-clas", "did you mean '3-class'")),
    # ---- names checked against the registry and the data
    Case("unknown-classifier", edit_study(lambda d: set_stage(d, classifiers=["SVM_LINN"])),
         ("stages[0].classifiers", "SVM_LINN", "did you mean 'SVM_LIN'")),
    Case("unknown-modality", edit_study(lambda d: set_stage(d, modalities=[["qT1", "DTX"]])),
         ("stages[0].modalities", "DTX", "did you mean 'DTI'")),
    Case("unknown-parcellation", edit_study(lambda d: set_stage(d, parcellations=["GMM"])),
         ("stages[0].parcellations", "GMM", "did you mean 'GM'")),
    Case("unknown-map-in-modality",
         edit_study(set_key("data.modalities", {"qT1": ["qT1"], "DTI": ["FAA"]})),
         ("map 'FAA'", "did you mean 'FA'", "modality 'DTI'", "data.modalities")),
    Case("parcellation-roi-in-no-map",
         edit_text("rois_gm.txt", ROI + "\n", "GM_insola_L\n"),
         ("Parcellation 'GM'", "GM_insola_L", f"did you mean '{ROI}'", "in no map")),
    # ---- data files
    Case("map-file-does-not-exist", edit_text(STUDY_FILE, "maps/FA.tsv", "maps/nope.tsv"),
         ("nope.tsv", "does not exist", "relative to the study file")),
    Case("participants-file-does-not-exist",
         edit_text(STUDY_FILE, "participants: participants.tsv",
                   "participants: participant.tsv"),
         ("participant.tsv", "does not exist")),
    Case("map-file-empty", write_file("maps/FA.tsv", ""), ("FA.tsv", "empty")),
    Case("map-file-header-only", write_file("maps/FA.tsv", "participant_id\t" + ROI + "\n"),
         ("FA.tsv", "no data rows")),
    Case("unsupported-file-type",
         chain(write_file("maps/FA.json", "{}"),
               edit_text(STUDY_FILE, "maps/FA.tsv", "maps/FA.json")),
         ("FA.json", "unsupported file type", ".tsv")),
    Case("ragged-row",
         edit_text("maps/FA.tsv", "\nsub-003\t", "\nsub-003\t0.1\t"),
         ("FA.tsv", "tab-separated", "as many cells as the header")),
    Case("duplicate-subject-ids-in-map",
         set_cell("maps/qT1.tsv", 3, "participant_id", "sub-001"),
         ("qT1.tsv", "duplicate subject IDs", "sub-001")),
    Case("duplicate-subject-ids-in-participants",
         set_cell("participants.tsv", 4, "participant_id", "sub-002"),
         ("participants.tsv", "duplicate subject IDs", "sub-002")),
    Case("empty-subject-id",
         set_cell("maps/qT1.tsv", 2, "participant_id", ""),
         ("qT1.tsv", "no subject ID", "row(s) 3")),
    Case("map-ids-match-no-participant",
         edit_table("maps/FA.tsv", lambda f: f.assign(
             participant_id=f["participant_id"].str.replace("sub-", "s", regex=False))),
         ("FA.tsv", "map 'FA'", "No subject ID", "s001", "sub-001")),
    Case("id-column-not-found",
         edit_study(set_key("data.id_column", "subject")),
         ("has no ID column 'subject'", "id_column")),
    Case("non-numeric-cell",
         set_cell("maps/qT1.tsv", 2, ROI, "abc"),
         ("qT1.tsv", "row 3", "sub-003", f"column '{ROI}'", "'abc' is not a number")),
    Case("decimal-comma-cell",
         set_cell("maps/FA.tsv", 0, ROI, "0,25"),
         ("FA.tsv", "row 1", f"column '{ROI}'", "decimal comma")),
    Case("infinite-cell",
         set_cell("maps/FA.tsv", 5, ROI, "inf"),
         ("FA.tsv", "row 6", f"column '{ROI}'", "'inf' is not a number")),
    Case("duplicate-column-names",
         edit_text("maps/qT1.tsv", "\tGM_insula_R\t", f"\t{ROI}\t"),
         ("qT1.tsv", "duplicate column names", ROI)),
    Case("missing-values-under-error-policy",
         chain(set_cell("maps/qT1.tsv", 1, ROI, "n/a"), set_cell("maps/qT1.tsv", 4, ROI, "")),
         ("Missing values", "qT1: 2", "sub-002", "data.missing")),
    Case("all-nan-column-under-error-policy",
         edit_table("maps/qT1.tsv", lambda f: f.assign(**{ROI: "n/a"})),
         ("Missing values", "qT1: 16", f"{ROI} (map qT1) have no value at all", "exclude:")),
    Case("all-nan-column-under-drop-subjects",
         chain(edit_table("maps/qT1.tsv", lambda f: f.assign(**{ROI: ""})),
               edit_study(set_key("data.missing", "drop-subjects"))),
         ("Every subject misses a value", f"{ROI} (map qT1)", "exclude:")),
    Case("participant-in-no-map-under-error-policy",
         chain(edit_table("maps/qT1.tsv", lambda f: f[f["participant_id"] != "sub-004"]),
               edit_table("maps/FA.tsv", lambda f: f[f["participant_id"] != "sub-004"])),
         ("Missing values", "qT1: 12 in 1 subject(s), e.g. sub-004", "FA: 12", "data.missing")),
    Case("wide-table-glob-matches-nothing", to_wide({"qT1": "qT1_*", "FA": "fa_*"}),
         ("glob 'fa_*'", "map 'FA'", "data.blocks", "cohort.csv")),
    Case("wide-table-globs-overlap", to_wide({"qT1": "qT1_*", "GMq": "qT1_GM*", "FA": "FA_*"}),
         ("cohort.csv", "qT1_GM_superiorfrontal_L", "map 'qT1'", "map 'GMq'", "disjoint")),
    Case("excel-several-sheets",
         to_excel("maps/FA.tsv", {"notes": None, "FA": "data"}),
         ("FA.xlsx", "has sheets notes, FA", "sheet:")),
    Case("excel-sheet-not-there",
         chain(to_excel("maps/FA.tsv", {"notes": None, "FA": "data"}),
               edit_study(set_key("data.sheet", "Sheet1"))),
         ("FA.xlsx", "no sheet 'Sheet1'", "notes, FA")),
    # ---- labels, tasks and the CV they allow
    Case("expression-function-call",
         edit_text(STUDY_FILE, '"(48 - alsfrs_r) / disease_months"',
                   '"__import__(\'os\').system(\'echo pwned\')"'),
         ("labels.slope: expression", "function calls are not allowed")),
    Case("expression-attribute",
         edit_text(STUDY_FILE, '"(48 - alsfrs_r) / disease_months"',
                   '"(48 - alsfrs_r).real / disease_months"'),
         ("labels.slope: expression", "attribute access", "not allowed")),
    Case("expression-unknown-column",
         edit_text(STUDY_FILE, "(48 - alsfrs_r)", "(48 - alsfrs)"),
         ("labels.slope: expression", "unknown column 'alsfrs'", "did you mean 'alsfrs_r'")),
    Case("expression-text-column",
         edit_text(STUDY_FILE, "(48 - alsfrs_r)", "(48 - group)"),
         ("labels.slope: expression", "column 'group' is not numeric")),
    Case("task-condition-unknown-column",
         edit_text(STUDY_FILE, "HC: {group: HC}, ALS", "HC: {grup: HC}, ALS"),
         ("tasks.2-class", "unknown column 'grup'", "did you mean 'group'")),
    Case("task-class-matches-no-subject",
         edit_text(STUDY_FILE, "HC: {group: HC}, ALS", "HC: {group: hc}, ALS"),
         ("Task '2-class'", "class 'HC' matches no subject", "HC")),
    Case("class-with-one-subject", regroup_all_but_one_control,
         ("task '2-class'", "class 'HC'", "1 subject", "at least 2")),
    Case("inner-cv-cannot-stratify",
         # slow has 5 subjects: 3 or 4 of them in an outer training fold, fewer than 4 folds
         chain(edit_study(set_key("cv.inner", "stratified-kfold:4")),
               edit_study(lambda d: set_stage(d, search=["grid"]))),
         ("Task '3-class'", "class 'fast'", "4 inner folds", "reduce_inner_k", "stratified-kfold:3")),
    Case("outer-cv-more-folds-than-subjects",
         edit_study(set_key("cv.outer", "stratified-kfold:20")),
         ("stratified-kfold:20", "20 folds", "16 subjects")),
    Case("train-only-overlaps-a-class",
         edit_study(lambda d: d["tasks"]["2-class"].update(
             train_only={"HC": {"group": "ALS"}})),
         ("Task '2-class'", "subject 'sub-", "class 'ALS'", "train_only")),
    Case("train-only-unknown-class",
         edit_study(lambda d: d["tasks"]["2-class"].update(
             train_only={"slow": {"group": "HC"}})),
         ("tasks.2-class.train_only.slow", "not a class", "HC, ALS")),
    # ---- issue 15: nothing that defines a label is a feature; IDs; one file per map
    Case("wide-workbook-given-as-a-map",
         # the obvious move with a wide sheet: point data.maps at it (clinical columns and all)
         _clinical_columns_in_qt1,
         ("maps/qT1.tsv", "column 'group'", "gives the answer away", "`data.table`",
          "`data.blocks`", "`exclude:`")),
    Case("text-column-in-a-map",
         lambda root: edit_table("maps/qT1.tsv", lambda f: f.merge(
             _participants(root)[["participant_id", "sex"]], on="participant_id"))(root),
         ("maps/qT1.tsv", "column 'sex' holds text", "`data.table`", "`data.blocks`",
          "`exclude:`")),
    Case("label-column-as-a-feature",
         _group_code_in_qt1("group"),
         ("maps/qT1.tsv", "map 'qT1'", "column 'group'", "label 'progression' uses", "`exclude:`",
          "`data.blocks`")),
    Case("label-recoded-under-another-name",
         _group_code_in_qt1("dx_code"),
         ("maps/qT1.tsv", "map 'qT1'", "column 'dx_code'", "recodes the classes of task "
          "'2-class'", "`exclude:`")),
    Case("same-file-for-two-maps",
         edit_text(STUDY_FILE, "FA: maps/FA.tsv", "FA: maps/qT1.tsv"),
         ("data.maps.FA", "same file as map 'qT1'")),
    Case("identical-copy-for-two-maps",
         lambda root: (root / "maps" / "FA.tsv").write_bytes((root / "maps" / "qT1.tsv").read_bytes()),
         ("maps/FA.tsv", "map 'FA'", "exactly the same data", "map 'qT1'")),
    Case("ids-differ-by-leading-zeros",
         edit_table("maps/qT1.tsv", lambda f: f.assign(
             participant_id=f["participant_id"].str.replace("sub-", "", regex=False))),
         ("maps/qT1.tsv", "map 'qT1'", "leading zeros", "id_match: digits")),
    Case("ids-differ-by-case",
         edit_table("maps/qT1.tsv", lambda f: f.assign(
             participant_id=f["participant_id"].str.upper())),
         ("maps/qT1.tsv", "letter case", "id_match: case-insensitive")),
    # ---- issue 16: messages that lead somewhere
    Case("yaml-reads-yes-as-true",
         chain(edit_table("participants.tsv", lambda f: f.assign(
             patient=f["group"].map({"HC": "no", "ALS": "yes"}))),
               edit_text(STUDY_FILE, "HC: {group: HC}, ALS: {group: ALS}",
                         "HC: {patient: no}, ALS: {patient: yes}")),
         ("class 'HC' matches no subject", "YAML", "quotes", "'yes'")),
    Case("windows-backslash-path",
         edit_text(STUDY_FILE, "FA: maps/FA.tsv", "FA: maps\\FA.tsv"),
         ("does not exist", "/ instead of \\")),
    # ---- issue 21: covariates, sites, harmonization
    Case("covariate-with-missing-values",
         chain(set_cell("participants.tsv", 2, "age", "n/a"),
               _study_keys(set_key("data.covariates", ["age"]),
                           lambda d: set_stage(d, pipeline={"confounds": ["age"]}))),
         ("Covariate 'age'", "missing for 1 subject(s)", "sub-003", "data.missing: drop-subjects")),
    Case("covariate-not-a-column",
         edit_study(set_key("data.covariates", ["ages"])),
         ("data.covariates[0]", "'ages'", "not a column", "did you mean 'age'")),
    Case("covariate-defines-a-label",
         edit_study(set_key("data.covariates", ["age", "group"])),
         ("data.covariates[1]", "'group'", "defines label 'progression'", "remove it")),
    Case("confounds-not-a-covariate",
         _study_keys(set_key("data.covariates", ["age"]),
                     lambda d: set_stage(d, pipeline={"confounds": ["sex"]})),
         ("stages[0].pipeline.confounds[0]", "'sex'", "data.covariates")),
    Case("categorical-level-too-rare-for-the-folds",
         chain(_add_column("scanner", lambda f: ["S2"] + ["S1"] * (len(f) - 1)),
               _study_keys(set_key("data.covariates", ["scanner"]),
                           lambda d: set_stage(d, pipeline={"confounds": ["scanner"]}))),
         ("Covariate 'scanner'", "level 'S2'", "sub-001", "too few", "training fold")),
    Case("batch-column-with-one-site",
         chain(_add_column("site", lambda f: ["A"] * len(f)),
               edit_study(set_key("data.batch", "site"))),
         ("data.batch 'site'", "single site 'A'", "remove the batch setting")),
    Case("harmonize-without-batch",
         edit_study(lambda d: set_stage(d, pipeline={"harmonize": "combat"})),
         ("stages[0].pipeline.harmonize", "data.batch")),
    Case("leave-site-out-without-batch",
         edit_study(set_key("cv.outer", "leave-site-out")),
         ("cv.outer", "leave-site-out", "data.batch")),
    Case("site-with-one-class-under-leave-site-out",
         chain(_with_sites({"HC": ["C", "C", "A", "B", "A", "B"], "ALS": ["A", "B"] * 5}),
               _study_keys(set_key("data.batch", "site"), set_key("cv.outer", "leave-site-out"))),
         ("Site 'C'", "holds only class 'HC'", "leave-site-out")),
    Case("label-among-preserved-covariates",
         chain(_with_sites(_BALANCED), _add_column("dx", lambda f: list(f["group"])),
               _study_keys(set_key("data.covariates", ["age", "dx"]),
                           set_key("data.batch", "site"),
                           lambda d: set_stage(d, pipeline={
                               "harmonize": {"method": "combat", "preserve": ["age", "dx"]}}))),
         ("harmonize.preserve", "'dx'", "recodes the label", "remove it")),
    # ---- warnings: the study runs, the user is told
    # ---- issue 15: what the tool decides or fills is said
    Case("stage-names-a-map-as-modality",
         edit_study(lambda d: set_stage(d, modalities=[["FA"], ["all"]])),
         ("note:", "names the map 'FA'", "modality of its own"), kind="warning"),
    Case("whole-map-imputed",
         chain(edit_table("maps/FA.tsv", lambda f: f.assign(
             **{c: (["n/a"] + list(f[c].iloc[1:])) for c in f.columns[1:]})),
               edit_study(set_key("data.missing", "impute-mean"))),
         ("warning:", "impute-mean", "fills the whole map 'FA'", "sub-001", "imputed"),
         kind="warning"),
    Case("class-value-nearly-matches",
         _first_group_in_lower_case,
         ("warning:", "Task '2-class'", "in no class", "close to a class", "sub-001"),
         kind="warning"),
    Case("zero-row-in-a-map",
         edit_table("maps/FA.tsv", lambda f: f.assign(
             **{c: (["0"] + list(f[c].iloc[1:])) for c in f.columns[1:]})),
         ("warning:", "Map 'FA'", "sub-001", "only zeros"), kind="warning"),
    Case("freesurfer-table-summary-columns-left-out",
         edit_table("maps/qT1.tsv", lambda f: f.assign(eTIV="1500000",
                                                       lh_MeanThickness_thickness="2.5")
                    .rename(columns={"participant_id": "lh.aparc.thickness"})),
         ("note:", "FreeSurfer", "eTIV", "lh_MeanThickness_thickness", "left out",
          "keep_summary_columns"), kind="warning"),
    Case("map-without-the-clinical-id-column",
         chain(edit_table("maps/FA.tsv", lambda f: f.rename(columns={"participant_id": "Subject"})),
               edit_study(set_key("data.id_column", "participant_id"))),
         ("note:", "FA.tsv", "no column 'participant_id'", "first column 'Subject'"),
         kind="warning"),
    Case("map-ids-not-in-participants",
         edit_table("maps/qT1.tsv", lambda f: pd.concat(
             [f, f.iloc[:2].assign(participant_id=["sub-901", "sub-902"])], ignore_index=True)),
         ("warning:", "2 subject(s)", "qT1.tsv", "not in the clinical table", "sub-901",
          "sub-902"), kind="warning"),
    Case("participant-missing-from-a-map-is-missing-values",
         chain(edit_table("maps/FA.tsv", lambda f: f.iloc[1:]),
               edit_study(set_key("data.missing", "impute-mean"))),
         ("warning:", "sub-001", "miss the whole map 'FA'"), kind="warning"),
    Case("participant-in-no-map-imputed",
         chain(edit_table("maps/qT1.tsv", lambda f: f[f["participant_id"] != "sub-004"]),
               edit_table("maps/FA.tsv", lambda f: f[f["participant_id"] != "sub-004"]),
               edit_study(set_key("data.missing", "impute-mean"))),
         ("warning:", "sub-004", "miss the whole map 'qT1'", "miss the whole map 'FA'"),
         kind="warning"),
    Case("all-nan-column",
         chain(edit_table("maps/qT1.tsv", lambda f: f.assign(**{ROI: "n/a"})),
               edit_study(set_key("data.missing", "impute-mean"))),
         ("warning:", "Map 'qT1'", f"all-missing column(s) {ROI}"), kind="warning"),
    Case("constant-column",
         edit_table("maps/qT1.tsv", lambda f: f.assign(**{ROI: "1000"})),
         ("warning:", "Map 'qT1'", f"constant column(s) {ROI}"), kind="warning"),
    Case("n-features-more-than-available",
         edit_study(lambda d: set_stage(d, pipeline={"row_scaling": "standard",
                                                     "feature_selection": "kbest",
                                                     "n_features": 500})),
         ("warning:", "n_features 500", "24 features"), kind="warning"),
    Case("parcellation-roi-missing-from-one-map",
         edit_table("maps/FA.tsv", lambda f: f.drop(columns=[ROI])),
         ("warning:", "Parcellation 'GM'", "map 'FA'", ROI), kind="warning"),
    # ---- issue 21: the site x class table warns
    Case("class-balance-differs-between-sites",
         chain(_with_sites({"HC": ["A"] * 5 + ["B"], "ALS": ["A"] + ["B"] * 9}),
               edit_study(set_key("data.batch", "site"))),
         ("warning:", "task '2-class'", "Class balance differs between sites",
          "Fisher's exact test", "within-site permutations"), kind="warning"),
    Case("site-holds-one-class",
         chain(_with_sites({"HC": ["C", "C", "A", "B", "A", "B"], "ALS": ["A", "B"] * 5}),
               edit_study(set_key("data.batch", "site"))),
         ("warning:", "Site 'C' holds only class 'HC'"), kind="warning"),
    # ---- odd but valid: read exactly like the base
    Case("csv-with-bom", tsv_to_csv("maps/qT1.tsv", sep=",", bom=True),
         kind="ok", same_data=True),
    Case("csv-semicolon-separator", tsv_to_csv("participants.tsv", sep=";"),
         kind="ok", same_data=True),
    Case("csv-semicolon-bom-crlf", tsv_to_csv("maps/FA.tsv", sep=";", bom=True,
                                                newline="\r\n"),
         kind="ok", same_data=True),
    Case("windows-line-endings", chain(crlf("maps/qT1.tsv"), crlf("participants.tsv"),
                                       crlf("rois_gm.txt"), crlf(STUDY_FILE)),
         kind="ok", same_data=True),
    Case("study-file-with-bom", lambda root: (root / STUDY_FILE).write_bytes(
        b"\xef\xbb\xbf" + (root / STUDY_FILE).read_bytes()), kind="ok", same_data=True),
    Case("wide-table-layout", to_wide(), kind="ok", same_data=True),
    Case("wide-table-semicolons", to_wide(sep=";"), kind="ok", same_data=True),
    Case("ids-matched-by-digits-when-asked",
         chain(edit_table("maps/qT1.tsv", lambda f: f.assign(
             participant_id=f["participant_id"].str.replace("sub-0", "", regex=False))),
               edit_study(set_key("data.id_match", "digits"))),
         kind="ok", same_data=True),
    Case("excel-one-sheet", to_excel("maps/FA.tsv", {"FA": "data"}),
         kind="ok", same_data=True),
    Case("excel-several-sheets-with-sheet-named",
         chain(to_excel("maps/FA.tsv", {"notes": None, "FA": "data"}),
               to_excel("maps/qT1.tsv", {"notes": None, "FA": "data"}),
               edit_study(set_key("data.sheet", "FA"))),
         kind="ok", same_data=True),
]

ERROR_CASES = [c for c in CASES if c.kind == "error"]
WARNING_CASES = [c for c in CASES if c.kind == "warning"]
OK_CASES = [c for c in CASES if c.kind == "ok"]
