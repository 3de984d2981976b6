"""Checks a study with covariates or sites must pass before it runs (one sentence each).

:func:`check_side_problem` runs on every whole-task problem in
:func:`~cohortbench.execute.preparation.prepare`, for the confound sets and ComBat
settings the stages name:

- a batch column holding one site among the task's subjects
  (:func:`~.harmonization.check_batch_sites`);
- a preserved covariate that recodes the class label
  (:func:`~.harmonization.check_preserved_covariates`);
- a categorical covariate level too rare for every training fold to see it
  (:func:`~.side_columns.check_levels_in_folds`);
- under ComBat, a fold that tests a site unseen in its training rows
  (:func:`~.harmonization.check_sites_seen`), and with a search the same for every
  inner fold.

Stratified outer folds are recomputed from each shuffled label vector (as both
engines do), so the fold checks look at the folds of every label vector, not only
the real labels': a run must not fail on its 37th shuffle. (Leave-one-out and
leave-site-out folds do not depend on the labels; they are checked once.)
:func:`site_counts` gives the site x class counts that ``validate`` and the report
test and show (the test itself lives in :mod:`cohortbench.analyse.sites`).
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from .harmonization import check_batch_sites, check_preserved_covariates, check_sites_seen
from .permutations import label_vectors
from .side_columns import _is_numeric, check_levels_in_folds
from .splits import parse_cv_scheme, problem_inner_cv, problem_outer_splits

__all__ = ["check_side_problem", "site_counts"]


def _fold_sets(problem, cv):
    """``(label vector, outer folds)`` for every distinct set of outer folds."""
    kind, _, _ = parse_cv_scheme(cv.outer)
    vectors = label_vectors(problem, cv)
    if kind in ("loo", "leave-site-out"):  # folds independent of the labels
        vectors = vectors[:1]
    for y in vectors:
        yield y, problem_outer_splits(problem, y, cv)


def check_side_problem(problem, cv, side, confound_sets, combat, searching: bool) -> None:
    """Refuse a problem the side steps or site folds cannot run on.

    Parameters
    ----------
    problem : Problem
        A whole-task problem carrying its side block.
    cv : CVScheme
    side : SideData
        The study's covariates and batch column.
    confound_sets : list of tuple of str
        The ``confounds`` options of the stages.
    combat : list of (preserve, unseen_site)
        The ``harmonize: combat`` settings of the stages.
    searching : bool
        Whether some stage searches hyperparameters (inner folds are checked too).

    Raises
    ------
    DataError, StudyError
    """
    task = f"task '{problem.task}'"
    subjects = list(problem.subjects)
    raw = side.raw.loc[subjects]
    if side.batch is not None:
        check_batch_sites(problem.sites[: problem.n_eval], f"data.batch '{side.batch}' in {task}")
    labels = np.asarray(problem.classes)[problem.y]
    for preserve, _ in combat:
        if preserve:
            check_preserved_covariates(raw.loc[:, list(preserve)].reset_index(drop=True),
                                       labels, task=task, key="harmonize.preserve")
    used = {name for names in confound_sets for name in names}
    used |= {name for preserve, _ in combat for name in preserve}
    categorical = [name for name in side.covariates if name in used
                   and not _is_numeric(raw[name])]
    if not categorical and not combat:
        return
    for y, folds in _fold_sets(problem, cv):
        if categorical:
            check_levels_in_folds(raw, categorical, folds, subjects)
        for _, unseen in combat:
            check_sites_seen(problem.sites, folds, unseen, f"data.batch '{side.batch}'")
            if searching:
                _check_inner_sites(problem, cv, y, folds, unseen, side.batch)


def _check_inner_sites(problem, cv, y, folds, unseen: str, batch: str) -> None:
    """Every inner validation fold's sites are in its inner training rows (ComBat + search)."""
    for number, (train, _test) in enumerate(folds):
        sites = np.asarray(problem.sites)[train]
        for inner_train, inner_test in problem_inner_cv(problem, y[train], train, cv):
            seen, held = set(sites[inner_train]), sites[inner_test]
            for site in map(str, np.unique(held)):
                if site in seen or (unseen == "fit-unlabeled" and np.sum(held == site) >= 2):
                    continue
                raise DataError(
                    f"Site {site!r} ({batch}) has too few subjects for the inner folds of the "
                    f"search under harmonize: combat (in outer fold {number} an inner fold "
                    "holds all of them out of training); merge small sites, or remove the "
                    "search from the stages that harmonize.")


def site_counts(problem) -> dict:
    """The site x class counts of a problem's evaluated subjects (for validate and the report).

    Returns
    -------
    dict
        ``{"sites": [...], "classes": [...], "counts": [[n per class] per site]}``,
        sites sorted, classes in the problem's (sorted) order.
    """
    sites = np.asarray(problem.sites[: problem.n_eval]).astype(str)
    codes = np.asarray(problem.y[: problem.n_eval])
    names = sorted(set(sites.tolist()))
    counts = [[int(np.sum((sites == s) & (codes == c))) for c in range(len(problem.classes))]
              for s in names]
    return {"sites": names, "classes": list(problem.classes), "counts": counts}
