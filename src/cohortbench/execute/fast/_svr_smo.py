"""libsvm's epsilon-SVR solver, compiled: the same iterations, without libsvm's overheads.

A re-implementation of the SMO solver scikit-learn's bundled libsvm runs for
``SVR(kernel="precomputed")`` (``Solver::Solve`` with second-order working-set
selection and shrinking, on the ``2 n`` variables ``alpha, alpha*`` of
``solve_epsilon_svr``), operation for operation: the kernel is held as float32
(libsvm's ``Qfloat``), gradients in float64, every comparison and tie rule in
libsvm's order. Its ``alpha`` and iteration count are therefore libsvm's, bit for
bit (checked against ``SVR`` by the tests).

Why: on unscaled values the RFE's ranking SVR needs up to ~10^8 iterations of a few
dozen operations each; libsvm spends most of each one copying kernel rows out of
its cache (``SVR_Q::get_Q``, three times per iteration). Here the ``2 n x 2 n``
matrix of signed kernel values is stored once, permuted in place when libsvm would
swap indices (shrinking), so each row is read where it lies.

Compiled by numba without fast-math (no fused multiply-add, no reassociation),
as libsvm is compiled for scikit-learn's x86-64 wheels.
"""

import numpy as np
from numba import njit

_TAU = 1e-12
_INF = np.inf
_LOWER, _UPPER, _FREE = 0, 1, 2


@njit(cache=True, error_model="numpy")
def _status(alpha, C):
    if alpha >= C:
        return _UPPER
    if alpha <= 0:
        return _LOWER
    return _FREE


@njit(cache=True, error_model="numpy")
def _swap(Q, QD, y, G, status, alpha, p, active_set, G_bar, C, i, j):
    """``Solver::swap_index``: the variables and the rows and columns of Q."""
    for arr in (QD, G, alpha, p, G_bar, C):
        arr[i], arr[j] = arr[j], arr[i]
    y[i], y[j] = y[j], y[i]
    status[i], status[j] = status[j], status[i]
    active_set[i], active_set[j] = active_set[j], active_set[i]
    n = Q.shape[0]
    for k in range(n):
        Q[i, k], Q[j, k] = Q[j, k], Q[i, k]
    for k in range(n):
        Q[k, i], Q[k, j] = Q[k, j], Q[k, i]


@njit(cache=True, error_model="numpy")
def _obj_diff(grad_diff, quad_coef):
    """The objective decrease of a candidate pair (``TAU`` for a non-positive curvature)."""
    return -(grad_diff * grad_diff) / (quad_coef if quad_coef > 0 else _TAU)


@njit(cache=True, error_model="numpy")
def _add_row(G_bar, Q, i, factor):
    """``G_bar += factor * Q_i`` (libsvm's ``-=`` with ``C`` is ``+=`` with ``-C``, exactly)."""
    for k in range(G_bar.shape[0]):
        G_bar[k] += factor * np.float64(Q[i, k])


@njit(cache=True, error_model="numpy")
def _select(Q, QD, y, G, status, active_size, tol):
    """``Solver::select_working_set``: ``(i, j)``, or ``(-1, -1)`` when optimal."""
    Gmax = -_INF
    Gmax2 = -_INF
    Gmax_idx = -1
    Gmin_idx = -1
    obj_diff_min = _INF
    for t in range(active_size):
        if y[t] == 1:
            if status[t] != _UPPER and -G[t] >= Gmax:
                Gmax = -G[t]
                Gmax_idx = t
        elif status[t] != _LOWER and G[t] >= Gmax:
            Gmax = G[t]
            Gmax_idx = t
    i = Gmax_idx
    if i != -1:  # otherwise Gmax = -inf and no grad_diff is positive
        QDi = QD[i]
        two_yi = 2.0 * y[i]
        for j in range(active_size):
            if y[j] == 1:
                if status[j] != _LOWER:
                    grad_diff = Gmax + G[j]
                    if G[j] >= Gmax2:
                        Gmax2 = G[j]
                    if grad_diff > 0:
                        quad_coef = QDi + QD[j] - two_yi * np.float64(Q[i, j])
                        obj_diff = _obj_diff(grad_diff, quad_coef)
                        if obj_diff <= obj_diff_min:
                            Gmin_idx = j
                            obj_diff_min = obj_diff
            elif status[j] != _UPPER:
                grad_diff = Gmax - G[j]
                if -G[j] >= Gmax2:
                    Gmax2 = -G[j]
                if grad_diff > 0:
                    quad_coef = QDi + QD[j] + two_yi * np.float64(Q[i, j])
                    obj_diff = _obj_diff(grad_diff, quad_coef)
                    if obj_diff <= obj_diff_min:
                        Gmin_idx = j
                        obj_diff_min = obj_diff
    if Gmax + Gmax2 < tol or Gmin_idx == -1:
        return -1, -1
    return Gmax_idx, Gmin_idx


@njit(cache=True, error_model="numpy")
def _reconstruct(Q, G, status, alpha, p, G_bar, active_size):
    """``Solver::reconstruct_gradient`` (both of libsvm's loop orders add alike)."""
    n = Q.shape[0]
    if active_size == n:
        return
    for j in range(active_size, n):
        G[j] = G_bar[j] + p[j]
    nr_free = 0
    for j in range(active_size):
        if status[j] == _FREE:
            nr_free += 1
    if nr_free * n > 2 * active_size * (n - active_size):
        for i in range(active_size, n):
            for j in range(active_size):
                if status[j] == _FREE:
                    G[i] += alpha[j] * np.float64(Q[i, j])
    else:
        for i in range(active_size):
            if status[i] == _FREE:
                alpha_i = alpha[i]
                for j in range(active_size, n):
                    G[j] += alpha_i * np.float64(Q[i, j])


@njit(cache=True, error_model="numpy")
def _be_shrunk(y, G, status, i, Gmax1, Gmax2):
    if status[i] == _UPPER:
        if y[i] == 1:
            return -G[i] > Gmax1
        return -G[i] > Gmax2
    if status[i] == _LOWER:
        if y[i] == 1:
            return G[i] > Gmax2
        return G[i] > Gmax1
    return False


@njit(cache=True, error_model="numpy")
def _shrink(Q, QD, y, G, status, alpha, p, active_set, G_bar, C, active_size,
            unshrink, tol):
    """``Solver::do_shrinking``; returns the new ``(active_size, unshrink)``."""
    Gmax1 = -_INF
    Gmax2 = -_INF
    for i in range(active_size):
        if y[i] == 1:
            if status[i] != _UPPER and -G[i] >= Gmax1:
                Gmax1 = -G[i]
            if status[i] != _LOWER and G[i] >= Gmax2:
                Gmax2 = G[i]
        else:
            if status[i] != _UPPER and -G[i] >= Gmax2:
                Gmax2 = -G[i]
            if status[i] != _LOWER and G[i] >= Gmax1:
                Gmax1 = G[i]
    if not unshrink and Gmax1 + Gmax2 <= tol * 10:
        unshrink = True
        _reconstruct(Q, G, status, alpha, p, G_bar, active_size)
        active_size = Q.shape[0]
    i = 0
    while i < active_size:
        if _be_shrunk(y, G, status, i, Gmax1, Gmax2):
            active_size -= 1
            while active_size > i:
                if not _be_shrunk(y, G, status, active_size, Gmax1, Gmax2):
                    _swap(Q, QD, y, G, status, alpha, p, active_set, G_bar, C,
                          i, active_size)
                    break
                active_size -= 1
        i += 1
    return active_size, unshrink


@njit(cache=True, error_model="numpy")
def svr_smo(K, target, C_value, epsilon, tol, max_iter, out):
    """``solve_epsilon_svr`` on a precomputed kernel; writes ``alpha - alpha*`` to ``out``.

    Parameters
    ----------
    K : ndarray of shape (n, n), float64
        The kernel, as libsvm reads it (row ``i`` holds ``K(i, .)``).
    target : ndarray of shape (n,), float64
    C_value, epsilon, tol : float
        SVR's ``C``, ``epsilon`` and ``tol`` (all sample weights 1).
    max_iter : int
        -1 for no limit, as scikit-learn's default.
    out : ndarray of shape (n,), float64
        Receives the dual coefficients of every row (0 off the support).

    Returns
    -------
    int
        libsvm's iteration count (``n_iter_``).
    """
    n = K.shape[0]
    ll = 2 * n
    Q = np.empty((ll, ll), dtype=np.float32)
    QD = np.empty(ll)
    y = np.empty(ll, dtype=np.int8)
    p = np.empty(ll)
    C = np.full(ll, C_value)  # C * sample weight 1
    for k in range(n):
        y[k] = 1
        y[k + n] = -1
        p[k] = epsilon - target[k]
        p[k + n] = epsilon + target[k]
        QD[k] = K[k, k]
        QD[k + n] = K[k, k]
    for a in range(n):  # SVR_Q::get_Q's values: sign(a) sign(b) (Qfloat) K(a mod n, b mod n)
        for b in range(n):
            value = np.float32(K[a, b])
            Q[a, b] = value
            Q[a + n, b + n] = value
            Q[a, b + n] = -value
            Q[a + n, b] = -value
    alpha = np.zeros(ll)
    status = np.zeros(ll, dtype=np.int8)  # all at the lower bound
    active_set = np.arange(ll)
    G = p.copy()
    G_bar = np.zeros(ll)
    active_size = ll
    unshrink = False

    n_iter = 0
    counter = min(ll, 1000) + 1
    while True:
        if max_iter != -1 and n_iter >= max_iter:
            break
        counter -= 1
        if counter == 0:
            counter = min(ll, 1000)
            active_size, unshrink = _shrink(Q, QD, y, G, status, alpha, p, active_set,
                                            G_bar, C, active_size, unshrink, tol)
        i, j = _select(Q, QD, y, G, status, active_size, tol)
        if i == -1:
            _reconstruct(Q, G, status, alpha, p, G_bar, active_size)
            active_size = ll
            i, j = _select(Q, QD, y, G, status, active_size, tol)
            if i == -1:
                break
            counter = 1
        n_iter += 1

        C_i = C[i]
        C_j = C[j]
        old_alpha_i = alpha[i]
        old_alpha_j = alpha[j]
        Qij = np.float64(np.float32(2) * Q[i, j])
        if y[i] != y[j]:
            quad_coef = QD[i] + QD[j] + Qij
            if quad_coef <= 0:
                quad_coef = _TAU
            delta = (-G[i] - G[j]) / quad_coef
            diff = alpha[i] - alpha[j]
            alpha[i] += delta
            alpha[j] += delta
            if diff > 0:
                if alpha[j] < 0:
                    alpha[j] = 0
                    alpha[i] = diff
            elif alpha[i] < 0:
                alpha[i] = 0
                alpha[j] = -diff
            if diff > C_i - C_j:
                if alpha[i] > C_i:
                    alpha[i] = C_i
                    alpha[j] = C_i - diff
            elif alpha[j] > C_j:
                alpha[j] = C_j
                alpha[i] = C_j + diff
        else:
            quad_coef = QD[i] + QD[j] - Qij
            if quad_coef <= 0:
                quad_coef = _TAU
            delta = (G[i] - G[j]) / quad_coef
            total = alpha[i] + alpha[j]
            alpha[i] -= delta
            alpha[j] += delta
            if total > C_i:
                if alpha[i] > C_i:
                    alpha[i] = C_i
                    alpha[j] = total - C_i
            elif alpha[j] < 0:
                alpha[j] = 0
                alpha[i] = total
            if total > C_j:
                if alpha[j] > C_j:
                    alpha[j] = C_j
                    alpha[i] = total - C_j
            elif alpha[i] < 0:
                alpha[i] = 0
                alpha[j] = total

        delta_alpha_i = alpha[i] - old_alpha_i
        delta_alpha_j = alpha[j] - old_alpha_j
        for k in range(active_size):
            G[k] += np.float64(Q[i, k]) * delta_alpha_i + np.float64(Q[j, k]) * delta_alpha_j

        ui = status[i] == _UPPER
        uj = status[j] == _UPPER
        status[i] = _status(alpha[i], C_i)
        status[j] = _status(alpha[j], C_j)
        if ui != (status[i] == _UPPER):
            _add_row(G_bar, Q, i, -C_i if ui else C_i)
        if uj != (status[j] == _UPPER):
            _add_row(G_bar, Q, j, -C_j if uj else C_j)

    final = np.empty(ll)
    for k in range(ll):
        final[active_set[k]] = alpha[k]
    for k in range(n):
        out[k] = final[k] - final[k + n]
    return n_iter
