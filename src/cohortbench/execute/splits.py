"""Outer and inner cross-validation splits (SPEC section 3.2 and 3.4).

Only the task's own rows ``[0, n_eval)`` are split. Hybrid train-only rows
``[n_eval, n)`` are appended to every training index and never tested.

Seeds: the shuffled stratified outer splitters get ``random_state`` =
:func:`derived_seed` ``(seed, "outer-cv")``, so the outer folds are a function of
the study seed and the label vector only. The inner splitter is unshuffled
(deterministic given the training rows), as in the published study.

Sites (``groups``, a problem's batch column): ``leave-site-out`` outer folds and, when
groups are given, inner folds stratified by class within each training site come
from :mod:`.site_splits`. :func:`problem_outer_splits` and :func:`problem_inner_cv`
pass a problem's sites, so that every engine that calls them splits the same way.
"""

from __future__ import annotations

import hashlib

import numpy as np
from sklearn.model_selection import LeaveOneOut, RepeatedStratifiedKFold, StratifiedKFold

from ..design.cv_schemes import LEAVE_SITE_OUT, parse_cv_scheme
from ..design.seeding import stable_int
from ..errors import DataError, StudyError

__all__ = ["parse_cv_scheme", "outer_splits", "inner_cv", "check_inner_cv", "folds_id",
           "derived_seed", "problem_outer_splits", "problem_inner_cv", "LEAVE_SITE_OUT"]


def derived_seed(seed: int, purpose: str) -> int:
    """A 32-bit seed for one purpose, derived from the study seed."""
    seq = np.random.SeedSequence([int(seed), stable_int(purpose)])
    return int(seq.generate_state(1, dtype=np.uint32)[0])


def outer_splits(y, n_eval: int, scheme: str, seed: int, groups=None,
                 classes=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Outer cross-validation folds over the task's rows.

    Parameters
    ----------
    y : array-like of shape (n,)
        Integer class codes (real or shuffled); stratification uses ``y[:n_eval]``.
    n_eval : int
        Rows ``[0, n_eval)`` are split; rows ``[n_eval, n)`` only ever train.
    scheme : str
        ``loo``, ``stratified-kfold:K``, ``repeated-stratified-kfold:K:R`` or
        ``leave-site-out`` (needs ``groups``).
    seed : int
        Study seed (shuffled stratified splits derive their ``random_state`` from it).
    groups : array-like of shape (n,), optional
        The site of every row (used by ``leave-site-out`` only).
    classes : sequence of str, optional
        Class names by code, for messages.

    Returns
    -------
    list of (train_idx, test_idx)
        int64 index arrays into ``y``. For repeated CV the folds of repeat 0
        come first, then repeat 1, and so on.
    """
    y = np.asarray(y)
    n = len(y)
    if not 0 < n_eval <= n:
        raise ValueError(f"n_eval must be in [1, {n}]; got {n_eval}.")
    kind, k, r = parse_cv_scheme(scheme)
    if kind == LEAVE_SITE_OUT:
        if groups is None:
            raise StudyError("cv.outer: leave-site-out needs the site column; name it in "
                             "data.batch.")
        from .site_splits import leave_site_out_splits  # it imports this module

        return leave_site_out_splits(y, groups, n_eval, classes)
    y_eval = y[:n_eval]
    placeholder = np.zeros((n_eval, 1))
    if kind == "loo":
        if n_eval < 2:
            raise DataError("Leave-one-out needs at least 2 subjects in the task; add subjects.")
        splitter = LeaveOneOut()
    else:
        if k > n_eval:
            raise DataError(
                f"CV scheme {scheme!r} asks for {k} folds but the task has only {n_eval} "
                "subjects: use fewer folds or loo."
            )
        random_state = derived_seed(seed, "outer-cv")
        if kind == "stratified-kfold":
            splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=random_state)
        else:
            splitter = RepeatedStratifiedKFold(n_splits=k, n_repeats=r, random_state=random_state)
    train_only = np.arange(n_eval, n, dtype=np.int64)
    folds = []
    for train, test in splitter.split(placeholder, y_eval):
        train = np.concatenate([np.asarray(train, dtype=np.int64), train_only])
        folds.append((train, np.asarray(test, dtype=np.int64)))
    return folds


def inner_cv(y_train, scheme: str, task: str, classes, reduce_k: bool, groups=None):
    """The inner (search) splitter for one outer training set.

    Parameters
    ----------
    y_train : array-like
        Integer class codes of the outer fold's training rows.
    scheme : str
        ``stratified-kfold:K`` (the only inner scheme).
    task : str
        Task name, for the error message.
    classes : sequence of str
        Class names indexed by code, for the error message.
    reduce_k : bool
        When the smallest class has fewer than K members, lower K to that size
        (at least 2) instead of failing.
    groups : array-like, optional
        The sites of the training rows: the folds are then stratified by class
        within each site (:func:`.site_splits.inner_site_splits`).

    Returns
    -------
    StratifiedKFold, or list of (train_idx, test_idx) with ``groups``
        Unshuffled, hence deterministic for the given rows.
    """
    if groups is not None:
        from .site_splits import inner_site_splits  # it imports this module

        return inner_site_splits(y_train, groups, scheme, task, classes, reduce_k)
    kind, k, _ = parse_cv_scheme(scheme)
    if kind != "stratified-kfold":
        raise StudyError(f"cv.inner must be stratified-kfold:K; got {scheme!r}.")
    codes, counts = np.unique(np.asarray(y_train), return_counts=True)
    smallest = int(np.argmin(counts))
    n_min, name = int(counts[smallest]), classes[int(codes[smallest])]
    if n_min < k:
        if reduce_k and n_min >= 2:
            k = n_min
        elif reduce_k:
            raise DataError(
                f"Task {task!r}: class {name!r} has only {n_min} subject in a training fold, "
                "too few for any inner cross-validation; add subjects or drop the search."
            )
        else:
            raise DataError(
                f"Task {task!r}: class {name!r} has only {n_min} subjects in a training fold, "
                f"fewer than the {k} inner folds of {scheme!r}; set cv.reduce_inner_k: true "
                "or use fewer folds."
            )
    return StratifiedKFold(n_splits=k, shuffle=False)


def check_inner_cv(y, n_eval: int, outer: str, seed: int, inner: str, task: str, classes,
                   reduce_k: bool, groups=None) -> None:
    """Refuse, with advice that works, an inner CV some outer training fold cannot run.

    Looks at every outer training fold first, so that the advice fits the worst
    one: lowering K (``reduce_inner_k``) only helps when every fold keeps at least
    two subjects of every class.
    """
    kind, k, _ = parse_cv_scheme(inner)
    worst, worst_class = None, None
    for train, _ in outer_splits(y, n_eval, outer, seed, groups, classes):
        codes, counts = np.unique(np.asarray(y)[train], return_counts=True)
        missing = [c for c in range(len(classes)) if c not in set(codes.tolist())]
        n_min = 0 if missing else int(counts.min())
        if worst is None or n_min < worst:
            worst = n_min
            worst_class = classes[missing[0]] if missing else classes[int(codes[np.argmin(counts)])]
    if worst is None or worst >= k:
        return
    if worst >= 2:
        if reduce_k:
            return
        raise DataError(
            f"Task {task!r}: class {worst_class!r} has only {worst} subjects in an outer training "
            f"fold, fewer than the {k} inner folds of {inner!r}; set cv.reduce_inner_k: true (the "
            f"inner K then drops to the smallest class, here {worst}) or cv.inner: "
            f"\"stratified-kfold:{worst}\".")
    raise DataError(
        f"Task {task!r}: class {worst_class!r} has only {worst} subject(s) in an outer training "
        "fold, too few for any inner cross-validation (it needs 2 per class); remove the search "
        "from this task's stages (search: [none]), use an outer CV that keeps more subjects in "
        "training (cv.outer: loo), or add subjects to that class.")


def problem_outer_splits(problem, y, cv) -> list[tuple[np.ndarray, np.ndarray]]:
    """The outer folds of ``problem`` for label vector ``y`` (its sites passed on)."""
    return outer_splits(y, problem.n_eval, cv.outer, cv.seed,
                        getattr(problem, "shuffle_groups", None), problem.classes)


def problem_inner_cv(problem, y_train, train, cv):
    """The inner splitter of one outer training set ``train`` (row indices) of ``problem``.

    Stratified by class within sites when the problem has sites.
    """
    sites = getattr(problem, "shuffle_groups", None)
    return inner_cv(y_train, cv.inner, problem.task, problem.classes, cv.reduce_inner_k,
                    None if sites is None else np.asarray(sites)[np.asarray(train)])


def folds_id(splits) -> str:
    """A content hash of the fold index arrays (order included)."""
    h = hashlib.sha256()
    for train, test in splits:
        for part in (train, test):
            part = np.ascontiguousarray(part, dtype=np.int64)
            h.update(len(part).to_bytes(8, "little"))
            h.update(part.tobytes())
    return h.hexdigest()[:16]
