"""Nogueira et al. (2018) stability: published numbers, a second formulation, coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest, norm

from cohortbench.analyse.stability import nogueira_stability

# The random 4-of-10 selections printed in the authors' demo notebook
# (github.com/nogueirs/JMLR2018, python/stabilityDemo.ipynb), with its published
# stability -0.037037037037 and variance 0.00516666666667.
Z3 = np.array([
    [1, 1, 1, 1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 1, 1, 1, 0, 0],
    [0, 1, 0, 0, 0, 1, 1, 1, 0, 0], [1, 1, 0, 0, 1, 0, 1, 0, 0, 0],
    [0, 1, 1, 0, 1, 1, 0, 0, 0, 0], [0, 1, 1, 1, 0, 0, 1, 0, 0, 0],
    [1, 0, 0, 1, 0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 0, 1, 1, 1, 0, 0],
    [0, 0, 1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0, 1, 1, 1],
])


def test_published_values_of_the_reference_demo():
    result = nogueira_stability(Z3.astype(bool))
    assert result.estimate == pytest.approx(-0.037037037037, abs=1e-11)
    assert result.variance == pytest.approx(0.00516666666667, abs=1e-13)
    half = norm.ppf(0.975) * np.sqrt(result.variance)
    assert (result.ci_low, result.ci_high) == pytest.approx((result.estimate - half,
                                                             result.estimate + half))
    assert nogueira_stability([[1, 1, 0]] * 3).estimate == 1.0
    assert nogueira_stability([[1, 1, 0], [0, 1, 1], [1, 0, 1]]).estimate == pytest.approx(-0.5)


def kappa_form(Z):
    """The paper's Fleiss-kappa reading, written independently of the module.

    Φ = (p_a - p_e) / (1 - p_e) with observed agreement p_a = 1 - (2/d) M/(M-1) Σ p_f(1-p_f)
    and chance agreement p_e = 1 - 2 π (1 - π), π = k̄/d; the variance uses each set's
    agreement γ_i = (p_a,i - p_e,i) / (1 - p_e).
    """
    Z = np.asarray(Z, float)
    M, d = Z.shape
    k = Z.sum(axis=1)
    pf = Z.mean(axis=0)
    pi = k.mean() / d
    pe = 1 - 2 * pi * (1 - pi)
    pa = 1 - (2 / d) * (M / (M - 1)) * np.sum(pf * (1 - pf))
    phi = (pa - pe) / (1 - pe)
    gamma = []
    for i in range(M):
        pa_i = 1 - k[i] / d - pi + (2 / d) * np.sum(Z[i] * pf)
        pe_i = (1 - phi) * (pi * k[i] / d + (1 - pi) * (1 - k[i] / d))
        gamma.append((pa_i - pe_i) / (1 - pe))
    gamma = np.array(gamma)
    return phi, 4 / M**2 * np.sum((gamma - gamma.mean()) ** 2)


@pytest.mark.parametrize("seed", range(5))
def test_equals_the_kappa_formulation_with_varying_set_sizes(seed):
    rng = np.random.default_rng(seed)
    probability = rng.uniform(0.02, 0.9, size=30)
    Z = rng.random(size=(12, 30)) < probability
    result = nogueira_stability(Z)
    phi, variance = kappa_form(Z)
    assert result.estimate == pytest.approx(phi, rel=1e-12)
    assert result.variance == pytest.approx(variance, rel=1e-10)
    assert result.n_sets == 12 and result.n_features == 30


def test_kuncheva_index_for_equal_sizes():
    """With every |S_i| = k, Φ equals Kuncheva's consistency index averaged over pairs."""
    rng = np.random.default_rng(7)
    d, k, M = 20, 6, 8
    Z = np.zeros((M, d), bool)
    for i in range(M):
        Z[i, rng.choice(d, k, replace=False)] = True
    pairs = [(Z[i] & Z[j]).sum() for i in range(M) for j in range(i + 1, M)]
    kuncheva = np.mean([(r * d - k * k) / (k * (d - k)) for r in pairs])
    assert nogueira_stability(Z).estimate == pytest.approx(kuncheva, rel=1e-12)


def test_interval_covers_the_population_stability_nearly_at_its_nominal_level():
    """Independent selections with known p_f: Φ = 1 - Σ p_f(1-p_f) / (d π (1-π)), π = Σp_f/d.

    The interval is asymptotic (normal, estimated variance); at M = 50 sets (5-fold x 10
    repeats) it covers about 0.92 instead of 0.95 (0.80 at M = 10, 0.935 at M = 100 in
    1,000 repeats each), which docs/importance.md states.
    """
    rng = np.random.default_rng(11)
    d, M, repeats = 40, 50, 600
    pf = np.concatenate([np.full(5, 0.9), np.full(35, 0.1)])
    pi = pf.mean()
    population = 1 - np.mean(pf * (1 - pf)) / (pi * (1 - pi))
    Z = rng.random(size=(repeats, M, d)) < pf
    results = [nogueira_stability(z) for z in Z]
    covered = sum(r.ci_low <= population <= r.ci_high for r in results)
    assert np.mean([r.estimate for r in results]) == pytest.approx(population, abs=0.01)
    # Consistent with a coverage of at least 0.90 (one-sided binomial at 0.01), below 0.99.
    assert binomtest(covered, repeats, 0.90, alternative="less").pvalue > 0.01
    assert covered / repeats < 0.99


def test_undefined_cases_and_bad_input():
    assert np.isnan(nogueira_stability([[1, 0, 1]]).estimate)             # one set
    assert np.isnan(nogueira_stability(np.zeros((4, 5))).estimate)        # nothing selected
    assert np.isnan(nogueira_stability(np.ones((4, 5))).variance)         # everything
    with pytest.raises(ValueError, match="2-D"):
        nogueira_stability([1, 0, 1])
    with pytest.raises(ValueError, match="boolean"):
        nogueira_stability([[0.5, 1], [1, 0]])
    with pytest.raises(ValueError, match="alpha"):
        nogueira_stability([[1, 0], [0, 1]], alpha=1.0)
