"""The covariates-and-sites block of the report, from what a run records."""

from __future__ import annotations

import pandas as pd
from scipy import stats

from cohortbench.report.sites_section import sites_section

INFO = {"covariates": ["age", "sex"], "batch": "site", "tasks": {
    "2-class": {"sites": ["A", "B"], "classes": ["ALS", "HC"], "counts": [[1, 9], [8, 2]]},
    "3-class": {"sites": ["A", "B", "C"], "classes": ["HC", "fast", "slow"],
                "counts": [[3, 0, 0], [2, 2, 2], [1, 2, 2]]}}}
EMPTY = pd.DataFrame(columns=["evaluation_id", "stage", "task", "classifier", "accuracy"])


def test_nothing_without_covariates_or_sites():
    assert sites_section({}, EMPTY, None) == {} and sites_section(None, EMPTY, None) == {}


def test_tables_tests_and_warnings():
    block = sites_section(INFO, EMPTY, pd.DataFrame())
    assert block["text"].startswith("Covariates: age, sex. Sites from column 'site'")
    (title_2, table_2), (title_3, table_3) = block["tables"]
    p = stats.fisher_exact([[1, 9], [8, 2]]).pvalue
    assert title_2 == f"Task 2-class: subjects per site and class (Fisher's exact test, p = {p:.3g})"
    assert list(table_2["Site"]) == ["A", "B"] and list(table_2["total"]) == [10, 10]
    assert table_2.loc[0, "ALS"] == "1 (10 %)"
    assert "Freeman-Halton" in title_3
    warnings = block["warnings"]
    assert any(w.startswith("Task 2-class: Class balance differs between sites") for w in warnings)
    assert any("Site 'A' holds only class 'HC'" in w for w in warnings)
    assert block["effects"].empty
