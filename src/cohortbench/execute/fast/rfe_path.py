"""The RFE elimination path, computed once and read for every k.

``RFE(SVR(kernel="linear"), n_features_to_select=k, step=1)`` removes one feature
per fit, always the one with the smallest squared SVR weight (first index among
ties, as ``np.argsort(..., kind="stable")`` orders them). The sequence of fits made
for a small k is a prefix-extension of the sequence made for any larger k, so one
run down to the smallest k requested yields the selection of every larger k.

Each fit here solves the same libsvm problem on the n x n Gram matrix instead of the
n x p data, in two regimes:

- many features left (more than ``2 n``): the Gram matrix is downdated by one
  rank-1 term per eliminated feature and recomputed with BLAS every
  ``recompute_every`` steps (and whenever its trace has halved). Its entries differ
  from libsvm's own kernel values by rounding only; the dual problem is strictly
  convex here and libsvm stores kernel values as float32, so the fits agree.
- few features left (at most ``2 n``), or a fit that needed more than
  ``hard_iterations`` libsvm iterations: the Gram matrix is libsvm's own, one BLAS
  ``ddot`` per pair of rows of ``X[:, remaining]`` (what ``SVR(kernel="linear")``
  computes), so the fit is the reference's bit for bit. This regime exists because
  the dual turns degenerate once the features no longer outnumber the subjects:
  on unscaled data a rounding-level kernel difference there once steered libsvm's
  10^7-iteration solve to a different elimination (benchmarks/RESULTS.md).

The weights are ``dual_coef_ @ support vectors``, exactly how ``SVR.coef_`` is
defined.

Unscaled data: on raw values (row and column scaling ``none``) libsvm may need up to
~3e8 iterations for the last few dozen fits of a path. Those fits must stay
libsvm's. libsvm iterates on a float32 copy of the kernel (entries ~5e7 here,
rounded by up to ~2), and once the columns left no longer outnumber the subjects
the optimum of that rounded problem is far from the real one: its answers meet the
1e-3 tolerance on the float32 kernel, but their KKT violation on the float64 kernel
is ~16, and in 45 of 48 sampled fits of > 20,000 iterations they are worse than the
zero vector (``benchmarks/bench_rfe_raw.py``). The feature eliminated there is thus
set by libsvm's own rounding, which no other QP method reproduces. Every fit
therefore runs libsvm's own iterations, compiled (:mod:`._svr_smo`, identical
``alpha`` and iteration counts, ~1.6x faster than the library on these fits);
sharing still saves the repeats across k, reducers and classifiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..._compat import SVR_SOLVER, gate
from .. import svr_kkt
from ..svr_kkt import checked_width, relative_violation
from .kernel_svm import libsvm_gram
from .libsvm_direct import svr_precomputed_dual

__all__ = ["RFEPath", "rfe_path", "solver_off"]


@dataclass(frozen=True, eq=False)
class RFEPath:
    """The features an RFE removed, in order, from ``n_features`` down to ``k_min``.

    Attributes
    ----------
    n_features : int
        Number of columns the path started from.
    eliminated : ndarray of shape (n_features - k_min,), int
        Column indices in the order RFE removed them.
    violations : ndarray of shape (n_features - k_min,), float, optional
        Per fit (aligned with ``eliminated``), its relative optimality gap on the
        float64 problem (:func:`~cohortbench.execute.svr_kkt.relative_violation`);
        NaN for the fits that are not checked (more than ``2 n`` features left).
    """

    n_features: int
    eliminated: np.ndarray
    violations: np.ndarray | None = None

    @property
    def k_min(self) -> int:
        return self.n_features - len(self.eliminated)

    def support(self, k: int) -> np.ndarray:
        """Boolean mask equal to ``RFE(..., n_features_to_select=k).fit(X, y).support_``.

        Parameters
        ----------
        k : int
            Number of features to keep; ``k >= n_features`` keeps every column
            (as scikit-learn does, which warns), ``k < k_min`` is refused.
        """
        if k < self.k_min:
            raise ValueError(
                f"this RFE path stops at {self.k_min} features; it cannot give k={k}."
            )
        mask = np.ones(self.n_features, dtype=bool)
        n_removed = max(self.n_features - k, 0)
        mask[self.eliminated[:n_removed]] = False
        return mask

    def ranking_fits(self, k: int) -> tuple[int, int]:
        """``(checked, unreliable)`` among the fits ``RFE(..., n_features_to_select=k)`` makes."""
        if self.violations is None:
            return 0, 0
        made = self.violations[:max(self.n_features - k, 0)]
        checked = made[~np.isnan(made)]
        return int(checked.size), int((checked > svr_kkt.UNRELIABLE_ABOVE).sum())


def solver_off() -> str | None:
    """Why the compiled SVR solver is off here (switching it off), or None when it runs.

    Besides the scikit-learn version, the installed libsvm is asked once: a build
    that rounds differently (e.g. one compiled with fused multiply-add, as some
    ARM builds are) would take other iterations on ill-conditioned problems, so a
    ~30,000-iteration problem (shrinking and unshrinking included) must come out
    bit for bit the same, or the library runs every fit.
    """
    return gate(SVR_SOLVER, "sklearn", (lambda: _solver() is not None, "numba is not installed"),
                (lambda: _smo_matches_library(),
                 "it differs from the installed libsvm on the first-use self-check"))


def _compiled_smo():
    """libsvm's SVR solver compiled (:mod:`._svr_smo`), or None where it is switched off."""
    return _solver() if solver_off() is None else None


@lru_cache(maxsize=1)
def _solver():
    try:
        from ._svr_smo import svr_smo
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    return svr_smo


@lru_cache(maxsize=1)
def _smo_matches_library() -> bool:
    """Whether the compiled solver gives the installed libsvm's answer on a hard problem."""
    rng = np.random.default_rng(9)
    rows = rng.normal(size=(29, 10)) * 5.0 + 25.0  # unscaled: an ill-conditioned dual
    y = (np.arange(29) % 3).astype(np.float64)
    rng.shuffle(y)
    gram = libsvm_gram(rows)
    coef = np.zeros(len(y))
    n_iter = _solver()(gram, y, 1.0, 0.1, 1e-3, -1, coef)
    support, dual_coef, library_iter = svr_precomputed_dual(gram, y)
    return bool(n_iter == library_iter and np.array_equal(np.flatnonzero(coef), support)
                and np.array_equal(coef[support], dual_coef[0]))


def svr_dual(gram, y, *, C=1.0, epsilon=0.1, tol=1e-3):
    """``SVR(kernel="precomputed", C=C, epsilon=epsilon, tol=tol).fit(gram, y)``'s dual.

    Returns ``(support, dual_coef, n_iter)`` as :func:`svr_precomputed_dual` does,
    from the compiled solver when the installed libsvm is one it mirrors.
    """
    coef, n_iter = _dual_coef(np.ascontiguousarray(gram), y, float(C), float(epsilon),
                              float(tol))
    support = np.flatnonzero(coef).astype(np.int32)
    return support, coef[support][None, :], n_iter


def _dual_coef(gram, y, C, epsilon, tol, max_iter=-1):
    """The SVR's dual coefficient of every row (0 off the support) and its iterations.

    With ``max_iter`` the compiled solver stops there (libsvm's own iterations up to
    that point); the library, when it runs instead, always runs to the end.
    """
    smo = _compiled_smo()
    coef = np.zeros(len(y))
    if smo is None:
        support, dual_coef, n_iter = svr_precomputed_dual(gram, y, C=C, epsilon=epsilon,
                                                          tol=tol)
        coef[support] = dual_coef[0]
        return coef, n_iter
    return coef, int(smo(gram, y, C, epsilon, tol, max_iter, coef))


def rfe_path(X, y, k_min: int, *, C: float = 1.0, epsilon: float = 0.1,
             tol: float = 1e-3, recompute_every: int = 64, exact_below: int | None = None,
             hard_iterations: int = 1000) -> RFEPath:
    """Run linear-SVR RFE with ``step=1`` from all columns of ``X`` down to ``k_min``.

    Parameters
    ----------
    X : ndarray of shape (n, p), float64, finite
        Training rows after every earlier pipeline step.
    y : ndarray of shape (n,)
        Targets handed to the SVR (label codes, cast to float64 as SVR does).
    k_min : int
        Smallest number of features any caller will ask for (>= 1).
    C, epsilon, tol : float
        The ranking SVR's parameters (scikit-learn's defaults).
    recompute_every : int
        Recompute the downdated Gram matrix exactly at least this often (steps).
    exact_below : int, optional
        With at most this many features left (default ``2 * n``), every fit uses
        libsvm's own kernel values (one ``ddot`` per pair of compacted rows), so
        it is the reference's fit bit for bit. This is where the dual problem turns
        degenerate (rank of the Gram < n) and a rounding difference could steer
        libsvm elsewhere; it is also where this costs least.
    hard_iterations : int
        A fit that needed more libsvm iterations than this (a near-degenerate
        problem, e.g. unscaled data) is redone, and the next fit done, on libsvm's
        own kernel values too.

    Returns
    -------
    RFEPath
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.asarray(y).astype(np.float64, copy=False).ravel()
    n, p = X.shape
    if p < 2:
        raise ValueError("RFE needs at least 2 features.")
    if k_min < 1:
        raise ValueError("k_min must be >= 1.")
    if not np.isfinite(X).all():
        raise ValueError("RFE path needs finite input (impute missing values first).")
    exact_below = 2 * n if exact_below is None else exact_below
    n_steps = max(p - k_min, 0)
    eliminated = np.empty(n_steps, dtype=np.intp)
    violations = np.full(n_steps, np.nan)
    alive = np.ones(p, dtype=bool)
    C, epsilon, tol = float(C), float(epsilon), float(tol)
    # `block` holds the columns alive at the last recompute, contiguous; columns
    # eliminated since then stay in it, their importance masked to +inf.
    block_cols = np.arange(p)
    block = X
    dead_in_block: list[int] = []
    gram = block @ block.T
    trace_at_recompute = np.trace(gram)
    since_recompute = 0
    last_iterations = 0
    for step in range(n_steps):
        fitted = False
        if p - step > exact_below and last_iterations <= hard_iterations:
            if since_recompute >= recompute_every or np.trace(gram) < 0.5 * trace_at_recompute:
                block_cols = np.flatnonzero(alive)
                block = np.ascontiguousarray(X[:, block_cols])
                dead_in_block = []
                gram = block @ block.T
                trace_at_recompute = np.trace(gram)
                since_recompute = 0
            # A fit past hard_iterations is redone below: no need to finish it here.
            dual_full, iterations = _dual_coef(gram, y, C, epsilon, tol, hard_iterations + 1)
            if iterations <= hard_iterations:
                fitted, last_iterations = True, iterations
                # w = dual_coef_ @ support_vectors_ (SVR.coef_), as a product over all
                # rows with zero weight off the support (same value, no row copies).
                importances = np.square(dual_full @ block)
                importances[dead_in_block] = np.inf
        if not fitted:
            # The reference's own fit: SVR(kernel="linear") on X[:, features].
            block_cols = np.flatnonzero(alive)
            block = np.ascontiguousarray(X[:, block_cols])
            dead_in_block = []
            gram = libsvm_gram(block)
            trace_at_recompute = np.trace(gram)
            since_recompute = 0
            support, dual_coef, last_iterations = svr_dual(
                gram, y, C=C, epsilon=epsilon, tol=tol)
            importances = np.square((dual_coef @ block[support])[0])
            if p - step <= checked_width(n):  # as the reference engine checks it
                coef = np.zeros(n)
                coef[support] = dual_coef[0]
                violations[step] = relative_violation(block, y, coef, C=C, epsilon=epsilon)
        # argmin == first of a stable argsort: the lowest index among equal minima.
        position = int(np.argmin(importances))
        worst = block_cols[position]
        eliminated[step] = worst
        alive[worst] = False
        dead_in_block.append(position)
        column = block[:, position]
        gram -= np.outer(column, column)
        since_recompute += 1
    return RFEPath(n_features=p, eliminated=eliminated, violations=violations)
