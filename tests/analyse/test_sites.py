"""The site x class table, its test of equal balance and its warnings."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import hypergeom, multivariate_hypergeom

from cohortbench.analyse.sites import site_class_table


def _subjects(table):
    """Site and class vectors from a {site: {class: count}} table."""
    sites, labels = [], []
    for site, row in table.items():
        for cls, count in row.items():
            sites += [site] * count
            labels += [cls] * count
    return np.array(sites), np.array(labels)


def test_counts_and_proportions():
    sites, labels = _subjects({"A": {"HC": 2, "ALS": 8}, "B": {"HC": 6, "ALS": 2}})
    result = site_class_table(sites, labels, classes=["HC", "ALS"])
    assert result.counts.loc["A", "ALS"] == 8 and result.counts.loc["B", "HC"] == 6
    np.testing.assert_allclose(result.proportions.loc["A"].to_numpy(), [0.2, 0.8])
    np.testing.assert_allclose(result.proportions.sum(axis=1).to_numpy(), 1.0)
    assert result.table().loc["A", "ALS"] == "8 (80 %)" and result.table().loc["B", "total"] == 8


def test_two_by_two_p_value_is_fishers_exact_by_hand():
    sites, labels = _subjects({"A": {"HC": 1, "ALS": 9}, "B": {"HC": 7, "ALS": 2}})
    result = site_class_table(sites, labels, classes=["HC", "ALS"])
    # Two-sided Fisher: sum of hypergeometric probabilities no larger than the observed.
    total, site_a, hc = 19, 10, 8
    support = np.arange(max(0, site_a + hc - total), min(site_a, hc) + 1)
    probs = hypergeom.pmf(support, total, site_a, hc)
    observed = hypergeom.pmf(1, total, site_a, hc)
    expected = probs[probs <= observed * (1 + 1e-7)].sum()
    assert result.test == "Fisher's exact test"
    assert result.p_value == pytest.approx(expected, rel=1e-9)
    assert result.p_value < 0.05
    assert len(result.warnings) == 1
    warning = result.warnings[0]
    assert warning.startswith("Class balance differs between sites (Fisher's exact test, p = 0.0")
    assert "site A 9/10 ALS (90 %), site B 2/9 ALS (22 %)" in warning


def test_larger_tables_get_a_seeded_monte_carlo_close_to_the_exact_freeman_halton():
    table = {"A": {"HC": 6, "ALS": 1}, "B": {"HC": 2, "ALS": 5}, "C": {"HC": 3, "ALS": 4}}
    sites, labels = _subjects(table)
    result = site_class_table(sites, labels, classes=["HC", "ALS"], seed=3)
    # Exact Freeman-Halton by enumeration: every table with these margins, weighted by
    # its multivariate hypergeometric probability (the HC column given the site sizes).
    sizes, hc_total = np.array([7, 7, 7]), 11
    observed = multivariate_hypergeom.pmf([6, 2, 3], sizes, hc_total)
    exact = 0.0
    for hc in itertools.product(*(range(s + 1) for s in sizes)):
        if sum(hc) == hc_total:
            prob = multivariate_hypergeom.pmf(list(hc), sizes, hc_total)
            exact += prob if prob <= observed * (1 + 1e-7) else 0.0
    assert result.test.startswith("Freeman-Halton test (Monte-Carlo, 99,999 tables)")
    assert result.p_value == pytest.approx(exact, abs=4 * np.sqrt(exact * (1 - exact) / 99_999))
    again = site_class_table(sites, labels, classes=["HC", "ALS"], seed=3)
    assert again.p_value == result.p_value                      # fixed seed, same answer


def test_balanced_sites_give_no_warning():
    sites, labels = _subjects({"A": {"HC": 5, "ALS": 5}, "B": {"HC": 4, "ALS": 5},
                               "C": {"HC": 5, "ALS": 4}})
    result = site_class_table(sites, labels)
    assert result.p_value > 0.5 and result.warnings == ()
    assert result.single_class_sites == ()


def test_a_site_with_one_class_is_named():
    sites, labels = _subjects({"A": {"HC": 5, "ALS": 5}, "B": {"HC": 4}})
    result = site_class_table(sites, labels, classes=["HC", "ALS"])
    assert result.single_class_sites == (("B", "HC"),)
    assert any(w.startswith("Site 'B' holds only class 'HC' (4 subjects)")
               for w in result.warnings)


def test_one_site_or_one_class_has_no_test():
    result = site_class_table(["A"] * 6, ["HC", "ALS"] * 3)
    assert result.test == "none" and result.p_value is None and result.warnings == ()
    assert site_class_table(["A", "B", "A"], ["HC"] * 3).p_value is None
    with pytest.raises(ValueError, match="sites for"):
        site_class_table(["A"], ["HC", "ALS"])
