"""Subsets of subjects for learning curves: sizes, stratified draws, their label shuffles.

Choices written down here because every engine and configuration must make the same ones:

- **Class allocation**: a subsample of ``size`` subjects holds, per class, its share of
  ``size`` rounded by the largest-remainder (Hamilton) rule: every class gets the floor of
  ``size * n_class / N``, and the subjects left over go to the largest fractional parts
  (ties: the larger class first, then the lower class code). The allocation depends only on
  the class counts, never on which configuration is evaluated.
- **Subsample draws** are seeded by ``SeedSequence([seed, stable_int("learn-subsample"),
  stable_int(task), size, repeat])``; within each class (in sorted order of the labels)
  ``rng.choice(members, k, replace=False)``. The indices come back sorted, so the rows keep
  the cohort's order. Draws of different sizes or repeats are **independent, not nested**
  (the subsample of 20 subjects is not a subset of the one of 25): each point of the curve is
  a fresh sample of its size, as in Mukherjee et al. (2003), and the bootstrap over repeats
  of each size treats them so. The whole cohort (``size == N``) is the same for every repeat.
- **Shuffles** within a subsample are permutations of its labels (class counts preserved):
  an evaluation on a :class:`~cohortbench.design.plans.Subset` is shuffled by the study's
  generator seeded with ``(seed, stable_int(task + "|" + key))``
  (:func:`cohortbench.execute.permutations.label_vectors` through ``Problem.shuffle_key``),
  the key (:func:`subset_key`) naming the size and the repeat. Asking for more shuffles
  extends the same sequence, and every configuration and modality set of a task sees the
  same shuffles of the same subsample.
- **Smallest size** a CV allows: every outer training fold keeps at least 2 members of
  each class (so every class is learnt from more than one example; with leave-one-out a
  class then needs 3 in the subsample), at least the inner K when a search runs (2 with
  ``reduce_inner_k``), and with an outer (repeated) stratified K-fold every class has at
  least K members. Below that, leave-one-out on tiny subsamples mostly measures its own
  bias (the held-out subject's class is the smaller one in training), not learning.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from ..errors import StudyError
from .cv_schemes import parse_cv_scheme
from .seeding import stable_int

__all__ = [
    "class_allocation",
    "stratified_subsample",
    "smallest_size",
    "check_sizes",
    "size_ladder",
    "resolve_sizes",
    "training_size",
    "subset_key",
    "parse_subset_key",
]


def class_allocation(class_counts: Sequence[int], size: int) -> np.ndarray:
    """Subjects per class in a stratified subsample of ``size`` (largest remainder).

    Parameters
    ----------
    class_counts : sequence of int
        Subjects per class in the cohort, in class-code order.
    size : int
        Subsample size, ``0 <= size <= sum(class_counts)``.

    Returns
    -------
    ndarray of int64, summing to ``size``
    """
    counts = np.asarray(class_counts, dtype=np.int64)
    total = int(counts.sum())
    if not 0 <= size <= total:
        raise ValueError(f"size must be in [0, {total}]; got {size}.")
    # Exact integer arithmetic: quota = size * n_c / N as quotient and remainder
    floor, remainder = np.divmod(size * counts, total)
    left = size - int(floor.sum())
    # Largest remainder first; ties to the larger class, then the lower code
    order = np.lexsort((np.arange(len(counts)), -counts, -remainder))
    floor[order[:left]] += 1
    return floor


def _generator(*parts: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(p) for p in parts]))


def stratified_subsample(y, size: int, *, seed: int, task: str, repeat: int) -> np.ndarray:
    """Indices of a class-stratified subsample of ``size`` subjects.

    Parameters
    ----------
    y : array-like of shape (N,)
        Labels (codes or names) of the subjects eligible for every view of the stage.
    size : int
        Subjects to draw (``N`` returns every index).
    seed, task, repeat
        Study seed, task name and repeat number: with ``size`` they fix the draw.

    Returns
    -------
    ndarray of int64, sorted
        Indices into ``y``; the class counts are :func:`class_allocation`'s.
    """
    y = np.asarray(y)
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    allocation = class_allocation(counts, size)
    rng = _generator(seed, stable_int("learn-subsample"), stable_int(task), size, repeat)
    chosen = [rng.choice(np.flatnonzero(codes == k), int(allocation[k]), replace=False)
              for k in range(len(classes))]
    return np.sort(np.concatenate(chosen).astype(np.int64))


def _class_minimum(outer: str, inner: str | None, reduce_inner_k: bool) -> tuple[int, str]:
    """The fewest members a class may have in a subsample, and why (for messages)."""
    kind, k_outer, _ = parse_cv_scheme(outer)
    first = k_outer if kind != "loo" else 1
    in_training, why = 2, "every outer training fold must keep 2 of each class"
    if inner is not None:
        _, k_inner, _ = parse_cv_scheme(inner)
        k_inner = 2 if reduce_inner_k else k_inner
        if k_inner > in_training:
            in_training = k_inner
            why = (f"the {k_inner} inner folds of {inner!r} need {k_inner} of each class in "
                   "every outer training fold")

    def left(members):
        # Members in the worst outer training fold: one fewer with LOO, the class minus its
        # largest share of a test fold with K folds
        return members - (1 if kind == "loo" else math.ceil(members / k_outer))

    members = first
    while left(members) < in_training:
        members += 1
    if kind != "loo" and members == k_outer:
        why = f"the {k_outer} outer folds of {outer!r} need {k_outer} of each class"
    return members, why


def smallest_size(class_counts: Sequence[int], outer: str = "loo", inner: str | None = None,
                  *, reduce_inner_k: bool = False) -> int | None:
    """The smallest subsample size whose every class is large enough for the CV.

    Parameters
    ----------
    class_counts : sequence of int
        Subjects per class in the cohort.
    outer : str
        Outer CV scheme (``loo``, ``stratified-kfold:K``, ``repeated-stratified-kfold:K:R``).
    inner : str or None
        Inner CV scheme when the stage searches hyperparameters, else ``None``.
    reduce_inner_k : bool
        The study's ``cv.reduce_inner_k`` (an inner K lowered down to 2).

    Returns
    -------
    int or None
        ``None`` when even the whole cohort is too small.
    """
    need, _ = _class_minimum(outer, inner, reduce_inner_k)
    total = int(np.sum(class_counts))
    for size in range(2, total + 1):
        if class_allocation(class_counts, size).min() >= need:
            return size
    return None


def check_sizes(sizes: Sequence[int], class_counts: Sequence[int], class_names: Sequence[str],
                *, task: str, outer: str = "loo", inner: str | None = None,
                reduce_inner_k: bool = False) -> None:
    """Refuse a size too small for the CV or larger than the cohort, naming class and size.

    Raises
    ------
    StudyError
        One sentence naming the task, the size, the class and the fix.
    """
    need, why = _class_minimum(outer, inner, reduce_inner_k)
    total = int(np.sum(class_counts))
    for size in sizes:
        if not 2 <= size <= total:
            raise StudyError(f"Task {task!r}: learning-curve size {size} is outside 2..{total} "
                             "(the subjects of the task): list sizes within it.")
        allocation = class_allocation(class_counts, size)
        k = int(np.argmin(allocation))
        if allocation[k] < need:
            lowest = smallest_size(class_counts, outer, inner, reduce_inner_k=reduce_inner_k)
            fix = (f"use sizes of at least {lowest}" if lowest is not None
                   else "the whole cohort is too small; drop the search or use fewer folds")
            raise StudyError(
                f"Task {task!r}: a stratified subsample of {size} subjects holds only "
                f"{allocation[k]} of class {class_names[k]!r}, but {why}: {fix}.")


def size_ladder(class_counts: Sequence[int], outer: str = "loo", inner: str | None = None,
                *, reduce_inner_k: bool = False, n_sizes: int = 8) -> tuple[int, ...]:
    """The default sizes: from the smallest the CV allows to the whole cohort, evenly spaced.

    Up to ``n_sizes`` distinct integers, the first the :func:`smallest_size`, the last ``N``;
    a rounded size whose allocation happens to be too small (largest-remainder rounding is
    not monotone) moves up to the next size that is large enough.

    Returns
    -------
    tuple of int
        Ascending; empty when the whole cohort is too small for the CV.
    """
    lowest = smallest_size(class_counts, outer, inner, reduce_inner_k=reduce_inner_k)
    if lowest is None:
        return ()
    need, _ = _class_minimum(outer, inner, reduce_inner_k)
    total = int(np.sum(class_counts))
    sizes = []
    for target in np.linspace(lowest, total, max(int(n_sizes), 2)):
        size = int(round(target))
        while class_allocation(class_counts, size).min() < need:
            size += 1
        if not sizes or size > sizes[-1]:
            sizes.append(size)
    return tuple(sizes)


def resolve_sizes(sizes: Sequence[float], n_total: int) -> tuple[int, ...]:
    """Subject counts from counts or fractions of the cohort (``0 < f <= 1`` as a float).

    Fractions are rounded to the nearest count; duplicates are dropped and the result
    sorted. Integers are taken as counts (``1`` means one subject, ``1.0`` the cohort).
    """
    out = set()
    for value in sizes:
        if isinstance(value, float) and 0 < value <= 1:
            out.add(max(1, int(round(value * n_total))))
        elif float(value) == int(value) and value >= 1:
            out.add(int(value))
        else:
            raise StudyError(f"Learning-curve size {value!r} is neither a subject count nor a "
                             "fraction in (0, 1]: write e.g. 20 or 0.5.")
    return tuple(sorted(out))


def training_size(n_subjects, outer: str = "loo"):
    """The mean outer training-set size of a cohort of ``n_subjects`` (the curve's x-axis).

    ``n - 1`` with leave-one-out; ``n (K - 1) / K`` with (repeated) stratified K-fold: the
    test folds partition the ``n`` subjects, so the training sets average ``n - n / K``.
    Works on a number or an array.
    """
    kind, k, _ = parse_cv_scheme(outer)
    n = np.asarray(n_subjects, dtype=np.float64)
    out = n - 1 if kind == "loo" else n * (k - 1) / k
    return float(out) if out.ndim == 0 else out


_KEY = re.compile(r"^size=(\d+)/repeat=(\d+)$")


def subset_key(size: int, repeat: int) -> str:
    """The key of a learning-curve subsample (``size=12/repeat=3``): it names the subset in
    the store and seeds its label shuffles (with the task)."""
    return f"size={int(size)}/repeat={int(repeat)}"


def parse_subset_key(key) -> tuple[int, int] | None:
    """``(size, repeat)`` of a :func:`subset_key` (None for anything else)."""
    match = _KEY.match(str(key)) if isinstance(key, str) else None
    return (int(match.group(1)), int(match.group(2))) if match else None
