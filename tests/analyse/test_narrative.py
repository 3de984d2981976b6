"""The report's sentences on constructed numbers: exact wording."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cohortbench.analyse.narrative import data_sentences, decision_sentence, step_sentences


def step_row(step, option, p, holm, median, n=27, k=None, classifier="MLR_L2"):
    return {"stage": "refine", "task": "SvF", "classifier": classifier, "step": step,
            "option": option, "n_features": k, "n_pairs": n, "median_difference": median,
            "p_value": p, "p_holm": holm, "p_bh": holm, "stars": "", "n_nonzero": n}


def test_a_step_that_survives_holm_is_said_with_its_effect():
    table = pd.DataFrame([step_row("row_scaling", "standard", 0.001, 0.004, 6.7, n=99),
                          step_row("feature_selection", "kbest", 0.2, 0.6, -3.3, k=50)])
    assert step_sentences(table) == [
        "Task SvF (stage refine): standard (row scaling (per subject)) raised MLR_L2's "
        "accuracy by a median of +6.7 points over 99 pairs against leaving the step out "
        "(p = 0.001, Holm p = 0.004)."]


def test_nothing_surviving_correction_is_said_honestly():
    table = pd.DataFrame([step_row("row_scaling", "standard", 0.03, 0.09, 3.3, n=99),
                          step_row("feature_selection", "kbest", 0.2, 0.6, -3.3, k=50)])
    assert step_sentences(table) == [
        "Task SvF (stage refine): no pipeline step changed accuracy beyond chance once the 2 "
        "comparisons of its table were corrected (Holm); the strongest raw difference was "
        "standard (row scaling (per subject)) with MLR_L2: a median of +3.3 points over 99 "
        "pairs (p = 0.030, Holm p = 0.090)."]


def test_all_ties_are_said():
    table = pd.DataFrame([step_row("dim_reduction", "pca", np.nan, np.nan, 0.0)])
    assert step_sentences(table) == [
        "Task SvF (stage refine): every paired configuration had the same accuracy, so the "
        "pipeline steps could not be compared."]


def enrich_rows(p_values, permutations=19):
    rows = []
    for i, (modalities, p) in enumerate(zip(["qT1+DTI+Na", "qT1+DTI", "qT1+Na"], p_values)):
        rows.append({"task": "3-class", "modalities": modalities, "parcellation": "GM",
                     "accuracy": 0.6 - 0.1 * i, "accuracy_ci_low": 0.4 - 0.1 * i,
                     "accuracy_ci_high": 0.76 - 0.1 * i, "p_value": p,
                     "n_permutations": permutations})
    return pd.DataFrame(rows)


def test_data_sentences_use_p_values_only():
    assert data_sentences(enrich_rows([0.05, 0.2, 0.6])) == [
        "Task 3-class: of 3 combinations of modalities and parcellations, qT1+DTI+Na with "
        "parcellation GM reached the highest accuracy, 0.60 [0.40, 0.76] (p = 0.050); 1 of 3 "
        "are above chance on their own (p ≤ 0.05), before accounting for the choice among "
        "them."]
    assert data_sentences(enrich_rows([0.3, 0.2, 0.6])) == [
        "Task 3-class: of 3 combinations of modalities and parcellations, qT1+DTI+Na with "
        "parcellation GM reached the highest accuracy, 0.60 [0.40, 0.76] (p = 0.300); none is "
        "above chance on its own (every p > 0.05)."]
    assert data_sentences(enrich_rows([0.25, 0.5, 0.75], permutations=3)) == [
        "Task 3-class: of 3 combinations of modalities and parcellations, qT1+DTI+Na with "
        "parcellation GM reached the highest accuracy, 0.60 [0.40, 0.76]; whether any is "
        "above chance cannot be told (with 3 shuffles the smallest possible p is 0.250)."]


def test_decisions_in_words():
    shortlist = {"stage": "screen", "kind": "shortlist", "payload": {
        "classifiers": ["MLR_L2", "SVM_LIN"], "min_accuracy": 0.6,
        "rule": "best accuracy >= 0.6 on every task of the stage", "reasons": {"MLR_L2": "kept (...)", "SVM_LIN": "kept (...)",
                                 "KNN": "dropped (accuracy: 2-class 0.500)"}}}
    assert decision_sentence(shortlist) == (
        "After stage screen, MLR_L2, SVM_LIN were shortlisted (best accuracy >= 0.6 on every "
        "task of the stage); KNN did not reach it.")
    best = {"stage": "tune", "kind": "pipeline", "payload": {
        "pipeline": {"row_scaling": "standard", "column_scaling": "none",
                     "feature_selection": "kbest", "n_features": 50, "dim_reduction": "none"},
        "why": {"mean_accuracy": 0.7333, "mean_z": 2.1, "n_pipelines_compared": 297},
        "from_stage": "refine"}}
    assert decision_sentence(best) == (
        "Stage tune used the best pipeline of stage refine: row scaling (per subject) "
        "standard, feature selection kbest (k = 50), the highest mean accuracy (0.733) over "
        "its classifiers and tasks among 297 pipelines (chosen on these subjects, so "
        "optimistic).")


def test_a_shortlist_by_name_says_who_was_not_listed():
    decision = {"stage": "screen", "kind": "shortlist", "payload": {
        "classifiers": ["KNN"], "rule": "the classifiers listed in shortlist.keep",
        "reasons": {"KNN": "kept (...)", "MLR_L2": "dropped (...)"}}}
    assert decision_sentence(decision) == (
        "After stage screen, KNN was shortlisted (the classifiers listed in shortlist.keep); "
        "MLR_L2 was not listed.")


def test_engine_hand_overs_and_switched_off_paths_are_said_with_their_counts():
    from cohortbench.analyse.narrative import engine_sentences

    frame = pd.DataFrame({"engine": ["fast", "fast", "reference (side steps)",
                                     "reference (side steps)",
                                     "fast; SVR solver off: scikit-learn 9 is not a tested version",
                                     "reference", "fast-fallback"]})
    sentences = engine_sentences(frame)
    assert len(sentences) == 2
    assert sentences[0].startswith("2 evaluation(s) were handed") and "side steps" in sentences[0]
    assert sentences[1].startswith("1 evaluation(s) ran with a fast sub-path switched off")
    assert "SVR solver off" in sentences[1]
    assert engine_sentences(frame[frame["engine"] == "fast"]) == []
