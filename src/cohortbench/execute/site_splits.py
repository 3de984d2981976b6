"""Site-aware cross-validation: leave one site out, and inner folds that keep sites.

``leave_site_out_splits`` (``cv.outer: leave-site-out``) tests each site once, on a
model trained on the other sites: the accuracy says how the pipeline does on a site it
has never seen. ``inner_site_splits`` cuts an outer training set into inner folds that
are stratified by class *within each training site*, so each site keeps its class
balance in every fold and (with at least two subjects of one class) is in every inner
training set: an inner validation subject then comes from a site its inner training
set saw, which in-fold ComBat needs.

Hybrid train-only rows ``[n_eval, n)`` are never tested. Under leave-site-out they join
every training set *except the one whose test site is theirs*: a held-out site must be
wholly unseen, and its train-only subjects would let the fold learn that site's scanner
effect (this differs from :func:`.splits.outer_splits`, which appends them everywhere).
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from .splits import inner_cv

__all__ = ["leave_site_out_splits", "inner_site_splits", "check_leave_site_out"]


def check_leave_site_out(y, sites, n_eval: int, classes=None) -> None:
    """Refuse data that leave-site-out cannot evaluate, in one sentence.

    Refused: fewer than two sites among the task's subjects; a site whose subjects
    all hold one class (its fold cannot tell site from class, and within-site
    permutations cannot shuffle it); a fold whose training sites lack a class.

    Parameters
    ----------
    y : array-like of shape (n,)
        Integer class codes.
    sites : array-like of shape (n,)
        Site of every row (train-only rows included).
    n_eval : int
        Rows ``[0, n_eval)`` are the task's own subjects.
    classes : sequence of str, optional
        Class names by code, for messages.

    Raises
    ------
    DataError
    """
    y, sites = np.asarray(y), np.asarray(sites).astype(str)
    def name(code):
        return repr(str(classes[int(code)]) if classes is not None else str(code))

    y_eval, s_eval = y[:n_eval], sites[:n_eval]
    site_names = [str(site) for site in np.unique(s_eval)]
    if len(site_names) < 2:
        raise DataError(
            f"cv.outer: leave-site-out needs subjects from at least 2 sites; the task has "
            f"only site {site_names[0]!r}: use loo or stratified-kfold instead."
        )
    for site in site_names:
        held = np.unique(y_eval[s_eval == site])
        if len(held) == 1:
            raise DataError(
                f"Site {site!r} holds only class {name(held[0])} under cv.outer: "
                "leave-site-out, so its fold cannot separate site from class; use loo or "
                "stratified-kfold, or merge the site with another."
            )
        train = sites != site
        missing = np.setdiff1d(np.unique(y_eval), np.unique(y[train]))
        if missing.size:
            raise DataError(
                f"Leaving site {site!r} out leaves no training subject of class "
                f"{name(missing[0])}; use loo or stratified-kfold, or add subjects of that "
                "class at other sites."
            )


def leave_site_out_splits(y, sites, n_eval: int, classes=None) -> list[tuple[np.ndarray,
                                                                         np.ndarray]]:
    """One fold per site: test on that site's task subjects, train on the other sites.

    Parameters
    ----------
    y : array-like of shape (n,)
        Integer class codes (real or shuffled: folds do not depend on them, only the
        checks do).
    sites : array-like of shape (n,)
        Site of every row, train-only rows included.
    n_eval : int
        Rows ``[0, n_eval)`` are tested; rows ``[n_eval, n)`` only ever train.
    classes : sequence of str, optional
        Class names by code, for messages.

    Returns
    -------
    list of (train_idx, test_idx)
        int64 index arrays, one fold per site in sorted site order.

    Raises
    ------
    DataError
        See :func:`check_leave_site_out`.
    """
    y, sites = np.asarray(y), np.asarray(sites).astype(str)
    n = len(y)
    if len(sites) != n:
        raise ValueError(f"{len(sites)} sites for {n} labels.")
    if not 0 < n_eval <= n:
        raise ValueError(f"n_eval must be in [1, {n}]; got {n_eval}.")
    check_leave_site_out(y, sites, n_eval, classes)
    rows = np.arange(n, dtype=np.int64)
    folds = []
    for site in map(str, np.unique(sites[:n_eval])):
        test = rows[:n_eval][sites[:n_eval] == site]
        train = rows[sites != site]
        folds.append((train, test))
    return folds


def inner_site_splits(y_train, sites_train, scheme: str, task: str, classes,
                      reduce_k: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Inner folds of one outer training set, stratified by class within each site.

    The number of folds K and the class-size checks are those of :func:`.splits.inner_cv`
    (same messages, same ``reduce_k`` rule). The rows are then ordered by class, by site
    within class, and dealt to the K folds in turn. So every class is spread over the
    folds as evenly as ``StratifiedKFold`` spreads it, and each site's subjects of a
    class go to different folds: a site x class cell of m subjects lies in min(m, K)
    folds, keeping each site's class balance, and a site with at least two subjects
    of one class is in every inner training set. (``StratifiedKFold`` on the site x
    class cell would not do: it refuses when every cell is smaller than K, common with
    several small sites, and it cuts each cell into contiguous chunks.) Deterministic.

    Parameters
    ----------
    y_train : array-like
        Class codes of the outer training rows.
    sites_train : array-like
        Their sites.
    scheme, task, classes, reduce_k
        As for :func:`.splits.inner_cv`.

    Returns
    -------
    list of (train_idx, test_idx)
        int64 indices into the outer training rows, usable as a search's ``cv``.
    """
    y_train = np.asarray(y_train)
    sites_train = np.asarray(sites_train).astype(str)
    if len(sites_train) != len(y_train):
        raise ValueError(f"{len(sites_train)} sites for {len(y_train)} labels.")
    k = inner_cv(y_train, scheme, task, classes, reduce_k).get_n_splits()
    rows = np.arange(len(y_train), dtype=np.int64)
    order = np.lexsort((rows, sites_train, y_train))
    fold = np.empty(len(y_train), dtype=np.int64)
    fold[order] = rows % k
    return [(rows[fold != f], rows[fold == f]) for f in range(k)]
