"""Label shuffles and permutation-test statistics (SPEC section 3.5).

Choices written down here because other engines must make the same ones:

- **What is shuffled**: the whole label vector, hybrid train-only rows
  included. The null hypothesis is "no association between features and any
  label", so train-only rows must not keep real labels (they would carry real
  signal into every training fold). A consequence: under a shuffle the class
  counts among the evaluated rows can differ from the real ones (the total per
  class is unchanged). Without train-only rows it is a plain permutation of the
  task's labels.
- **Seeding**: ``numpy.random.default_rng(SeedSequence([seed, stable_int(task)]))``;
  permutation ``i`` is the ``i``-th ``rng.permutation(y)`` call. The shuffles
  depend only on (seed, task, y), so every configuration of a task sees the same
  shuffles and results are paired across configurations.
- **Null std** is the population standard deviation (``ddof=0``) of the null
  accuracies.
- **Z-score** is ``(accuracy - null mean) / null std``, and ``None`` when the
  null std is 0 (all shuffles gave the same accuracy): no finite Z exists.
- **p-value** is ``(1 + #{null >= accuracy}) / (1 + P)``, never 0.
"""

from __future__ import annotations

import numpy as np

from ..design.seeding import stable_int

__all__ = ["stable_int", "label_shuffles", "label_shuffles_within", "permutation_stats"]


def label_shuffles(y, n_permutations: int, seed: int, task: str) -> np.ndarray:
    """``n_permutations`` shuffled copies of the whole label vector.

    Parameters
    ----------
    y : array-like of shape (n,)
        Label codes, train-only rows included.
    n_permutations : int
        P, the number of shuffles (0 gives an empty ``(0, n)`` array).
    seed : int
        Study seed (non-negative).
    task : str
        Task name; together with ``seed`` it fixes the shuffles.

    Returns
    -------
    ndarray of shape (P, n), same dtype as ``y``
    """
    y = np.asarray(y)
    if n_permutations < 0:
        raise ValueError(f"n_permutations must be >= 0; got {n_permutations}.")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), stable_int(task)]))
    out = np.empty((n_permutations, len(y)), dtype=y.dtype)
    for i in range(n_permutations):
        out[i] = rng.permutation(y)
    return out


def label_vectors(problem, cv) -> list[np.ndarray]:
    """The label vectors every engine evaluates: the real labels, then the shuffles.

    The shuffles are seeded by the study seed and ``problem.shuffle_key`` (the task
    name, or the task and a subset's key), so every configuration of a problem sees
    the same shuffles and results are paired. This is the one place engines get
    their label vectors from.
    """
    y = np.asarray(problem.y)
    groups = getattr(problem, "shuffle_groups", None)
    if groups is not None:  # e.g. sites: shuffle only within each group
        return [y] + list(label_shuffles_within(y, groups, cv.permutations, cv.seed,
                                                problem.shuffle_key))
    return [y] + list(label_shuffles(y, cv.permutations, cv.seed, problem.shuffle_key))


def permutation_stats(acc: float, nulls) -> tuple[float | None, float | None,
                                                   float | None, float | None]:
    """Null mean, null std (ddof=0), Z-score and permutation p-value.

    Parameters
    ----------
    acc : float
        Accuracy on the real labels.
    nulls : array-like of shape (P,)
        Accuracy on each shuffled label vector.

    Returns
    -------
    (mean, std, z, p)
        All ``None`` when P = 0; ``z`` is ``None`` when ``std`` is 0.
    """
    nulls = np.asarray(nulls, dtype=np.float64)
    if nulls.size == 0:
        return None, None, None, None
    mean = float(np.mean(nulls))
    std = float(np.std(nulls))
    z = (float(acc) - mean) / std if std > 0 else None
    p = (1 + int(np.sum(nulls >= acc))) / (1 + nulls.size)
    return mean, std, z, float(p)


def label_shuffles_within(y, groups, n_permutations: int, seed: int, task: str) -> np.ndarray:
    """``n_permutations`` copies of the labels, each shuffled only within its group.

    The null hypothesis is "no association between features and labels beyond what the
    group (site) explains": when class balance differs between sites and features
    carry a site effect, plain shuffles break the site-class link that real labels
    keep, so the null is too easy and p-values too small; shuffling within sites keeps
    every site's class counts in every shuffle.

    Seeded exactly as :func:`label_shuffles` (same generator from ``(seed, task)``);
    shuffle ``i`` permutes the groups one after the other in sorted group order, each
    with one ``rng.permutation`` call over that group's rows in row order. With a
    single group the shuffles are therefore those of :func:`label_shuffles`. As there,
    hybrid train-only rows are shuffled too (within their own group). A group whose
    rows hold one class only is unchanged by every shuffle.

    Parameters
    ----------
    y : array-like of shape (n,)
        Label codes, train-only rows included.
    groups : array-like of shape (n,)
        Group (site) of every row.
    n_permutations : int
        P, the number of shuffles (0 gives an empty ``(0, n)`` array).
    seed : int
        Study seed (non-negative).
    task : str
        Task name; with ``seed`` it fixes the shuffles.

    Returns
    -------
    ndarray of shape (P, n), same dtype as ``y``
    """
    y = np.asarray(y)
    groups = np.asarray(groups)
    if groups.shape != y.shape:
        raise ValueError(f"groups has shape {groups.shape} but y has shape {y.shape}.")
    if n_permutations < 0:
        raise ValueError(f"n_permutations must be >= 0; got {n_permutations}.")
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), stable_int(task)]))
    out = np.empty((n_permutations, len(y)), dtype=y.dtype)
    for i in range(n_permutations):
        for rows in members:
            out[i, rows] = rng.permutation(y[rows])
    return out
