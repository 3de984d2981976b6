"""Tiny synthetic problems for the reference engine's tests (no data-layer loaders)."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from cohortbench.execute.problem import Problem

CLASS_NAMES = ("HC", "slow", "fast", "other")


def make_synthetic_problem(class_sizes=(8, 8, 8), n_blocks=3, block_size=20, signal=1.0,
                           seed=0, nan_fraction=0.0, n_train_only=0, task="toy",
                           offsets=True) -> Problem:
    """A small Problem with a class signal in the first 4 columns of every block.

    Parameters
    ----------
    class_sizes : sizes of the evaluated classes (codes 0, 1, ...)
    n_blocks, block_size : the feature layout (one block per "map")
    signal : mean shift per class code in the signal columns (0 = pure noise)
    seed : data seed
    nan_fraction : fraction of cells set to NaN (never a whole row of a block)
    n_train_only : hybrid rows appended after the evaluated rows, labelled class 0
    offsets : add a per-subject, per-block offset and gain (what row scaling removes)
    """
    rng = np.random.default_rng(seed)
    y_eval = np.repeat(np.arange(len(class_sizes)), class_sizes)
    y = np.concatenate([y_eval, np.zeros(n_train_only, dtype=np.int64)]).astype(np.int64)
    n, p = len(y), n_blocks * block_size
    X = rng.normal(size=(n, p))
    blocks = tuple((b * block_size, (b + 1) * block_size) for b in range(n_blocks))
    for start, stop in blocks:
        X[:, start:start + 4] += signal * y[:, None]
        if offsets:
            X[:, start:stop] = (X[:, start:stop] * rng.uniform(0.5, 2.0, size=(n, 1))
                                + rng.normal(0, 3, size=(n, 1)))
    if nan_fraction:
        mask = rng.random(X.shape) < nan_fraction
        mask[:, 0] = False  # keeps every row of every block partly present
        for start, _ in blocks:
            mask[:, start] = False
        X[mask] = np.nan
    subjects = tuple(f"sub-{i:02d}" for i in range(n))
    return Problem(X=X, y=y, n_eval=len(y_eval), blocks=blocks,
                   classes=CLASS_NAMES[: len(class_sizes)], subjects=subjects, task=task,
                   view_fingerprint=f"synthetic-{seed}")


def make_noise_problem(seed: int, n: int = 30, p: int = 2000, nan_fraction: float = 0.0,
                       task: str = "noise") -> Problem:
    """Pure noise, p >> n, two balanced classes in random order."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 2).astype(np.int64)
    X = rng.normal(size=(n, p))
    if nan_fraction:
        mask = rng.random(X.shape) < nan_fraction
        mask[:, 0] = False
        X[mask] = np.nan
    return Problem(X=X, y=y, n_eval=n, blocks=((0, p),), classes=("a", "b"),
                   subjects=tuple(f"n{i:02d}" for i in range(n)), task=task,
                   view_fingerprint=f"noise-{seed}")


@pytest.fixture
def one_thread():
    """Run BLAS/OpenMP single-threaded, as the runner's workers do.

    On a loaded 2-core machine OpenMP's thread pools (e.g. KNN's distance
    computations) otherwise spin against each other and a test slows tenfold.
    Used by this package's reference-engine test modules via ``pytestmark``.
    """
    with threadpool_limits(1):
        yield


@pytest.fixture
def ref_problem() -> Problem:
    """24 subjects (8/8/8) x 3 blocks of 20 features, a modest class signal."""
    return make_synthetic_problem()


@pytest.fixture
def ref_problem_nan() -> Problem:
    """As ``ref_problem`` with about 5 % missing cells."""
    return make_synthetic_problem(nan_fraction=0.05, seed=1)


@pytest.fixture
def ref_hybrid_problem() -> Problem:
    """Two evaluated classes (8/8) plus 6 train-only subjects labelled class 0."""
    return make_synthetic_problem(class_sizes=(8, 8), n_train_only=6, seed=2, task="hybrid")
