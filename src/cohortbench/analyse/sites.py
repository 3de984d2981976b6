"""Site x class table: counts, proportions, a test of equal class balance, and warnings.

When sites differ in class balance, anything in the features that identifies the site
(scanner, protocol) also predicts the class: a classifier can score above chance
without any disease signal, a plain label shuffle breaks that site-class link and so
makes the permutation null too easy, and ComBat without the label removes part of the
class signal (with the label it leaks; Nieto et al. 2024). ``validate`` and the report
show this table and warn.

The test is Fisher's exact test for a 2 x 2 table (two sites, two classes) and its
Freeman-Halton extension otherwise. SciPy (``scipy.stats.fisher_exact``) computes the
2 x 2 case exactly; for larger tables it offers only resampling, so the p-value there is
Monte-Carlo: ``n_resamples`` tables drawn with the observed margins
(``scipy.stats.random_table``) by a generator seeded with ``seed``, hence reproducible;
its standard error is about sqrt(p (1 - p) / n_resamples), 0.0007 at p = 0.05 with the
default 99,999.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["SiteBalance", "site_class_table", "balance_from_counts", "BALANCE_ALPHA"]

BALANCE_ALPHA = 0.05


@dataclass(frozen=True)
class SiteBalance:
    """The site x class table and what it implies.

    Attributes
    ----------
    counts : DataFrame
        Subjects per site (rows, sorted) and class (columns).
    proportions : DataFrame
        Each site's class shares (rows sum to 1).
    test : str
        ``"Fisher's exact test"``, ``"Freeman-Halton test (Monte-Carlo, N tables)"``,
        or ``"none"`` with fewer than two sites or classes.
    p_value : float or None
    single_class_sites : tuple of (site, class)
        Sites whose subjects all hold one class.
    warnings : tuple of str
        One sentence each, for ``validate`` and the report.
    """

    counts: pd.DataFrame
    proportions: pd.DataFrame
    test: str
    p_value: float | None
    single_class_sites: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...]

    def table(self) -> pd.DataFrame:
        """Counts with row percentages, e.g. ``"8 (80 %)"``, plus a total column."""
        shown = self.counts.astype(int).astype(str) + " (" + (
            (100 * self.proportions).round().astype(int).astype(str)) + " %)"
        shown["total"] = self.counts.sum(axis=1).astype(int)
        return shown


def site_class_table(sites, labels, *, classes=None, seed: int = 0,
                     n_resamples: int = 99_999, alpha: float = BALANCE_ALPHA) -> SiteBalance:
    """Cross-tabulate sites and classes, test equal class balance, and word the warnings.

    Parameters
    ----------
    sites : array-like of shape (n,)
        Site of every subject of the task.
    labels : array-like of shape (n,)
        Class of every subject.
    classes : sequence of str, optional
        Column order (default: sorted class names present).
    seed : int
        Seed of the Monte-Carlo p-value (tables larger than 2 x 2).
    n_resamples : int
        Monte-Carlo tables.
    alpha : float
        A p-value below it triggers the balance warning.

    Returns
    -------
    SiteBalance
    """
    sites = np.asarray(sites).astype(str)
    labels = np.asarray(labels).astype(str)
    if sites.shape != labels.shape:
        raise ValueError(f"{len(sites)} sites for {len(labels)} labels.")
    counts = pd.crosstab(pd.Series(sites, name="site"), pd.Series(labels, name="class"))
    if classes is not None:
        counts = counts.reindex(columns=[str(c) for c in classes], fill_value=0)
    counts = counts.loc[:, counts.sum(axis=0) > 0]
    proportions = counts.div(counts.sum(axis=1), axis=0)
    single = tuple((str(site), str(row.idxmax())) for site, row in counts.iterrows()
                   if (row > 0).sum() == 1 and counts.shape[1] > 1)
    test, p_value = "none", None
    if counts.shape[0] >= 2 and counts.shape[1] >= 2:
        table = counts.to_numpy()
        if table.shape == (2, 2):
            test, p_value = "Fisher's exact test", float(stats.fisher_exact(table).pvalue)
        else:
            method = stats.MonteCarloMethod(n_resamples=n_resamples,
                                            rng=np.random.default_rng(seed))
            test = f"Freeman-Halton test (Monte-Carlo, {n_resamples:,} tables)"
            p_value = float(stats.fisher_exact(table, method=method).pvalue)
    notes = []
    if p_value is not None and p_value < alpha:
        notes.append(
            f"Class balance differs between sites ({test}, p = {p_value:.2g}; "
            f"{_shares(counts, proportions)}): features that identify the site also "
            "predict the class, so use within-site permutations and read harmonized or "
            "pooled results with care."
        )
    for site, cls in single:
        notes.append(
            f"Site {site!r} holds only class {cls!r} ({int(counts.loc[site].sum())} "
            "subjects): there, site and class cannot be told apart, and within-site "
            "shuffles leave its labels unchanged."
        )
    return SiteBalance(counts, proportions, test, p_value, single, tuple(notes))


def _shares(counts: pd.DataFrame, proportions: pd.DataFrame) -> str:
    """``site A: 8/10 ALS (80 %), site B: 2/8 ALS (25 %)`` for the last class column."""
    cls = counts.columns[-1]
    parts = [f"site {site} {int(counts.loc[site, cls])}/{int(counts.loc[site].sum())} "
             f"{cls} ({100 * proportions.loc[site, cls]:.0f} %)" for site in counts.index]
    return ", ".join(parts)


def balance_from_counts(counts: dict, *, seed: int = 0,
                        n_resamples: int = 99_999) -> SiteBalance:
    """:func:`site_class_table` of recorded counts.

    Parameters
    ----------
    counts : dict
        ``{"sites": [...], "classes": [...], "counts": [[n per class] per site]}``, as a
        run records them (``run_info["sites"]["tasks"][task]``).
    seed, n_resamples
        As for :func:`site_class_table`.

    Returns
    -------
    SiteBalance
    """
    table = np.asarray(counts["counts"], dtype=np.int64).reshape(len(counts["sites"]), -1)
    sites = np.repeat(np.asarray(counts["sites"], dtype=object), table.sum(axis=1))
    labels = np.concatenate([np.repeat(np.asarray(counts["classes"], dtype=object), row)
                             for row in table]) if table.size else np.array([], dtype=object)
    return site_class_table(sites, labels, classes=counts["classes"], seed=seed,
                            n_resamples=n_resamples)
