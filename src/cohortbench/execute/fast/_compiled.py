"""The batchers' compiled loops: saga lanes (:mod:`.saga_batch`), Adam steps (:mod:`.mlp_batch`).

Compiled by numba without fast-math, so each operation is the IEEE operation
scikit-learn's C or NumPy code performs (no fused multiply-add, no reassociation),
and with NumPy's error model (a division by zero gives inf, as in C and NumPy).
"""

import math

import numpy as np
from numba import njit

_OPTIONS = {"cache": True, "error_model": "numpy"}


@njit(**_OPTIONS)
def adam_step(param, m, v, grad, beta_1, beta_2, lr, epsilon):
    """``AdamOptimizer._get_updates`` + ``param += update`` for one array, in place.

    Element by element, the same operations NumPy performs on whole arrays:
    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g**2``,
    ``param += -lr m / (sqrt(v) + eps)``. Returns False if any result is not finite
    (where NumPy would have warned of an overflow or an invalid value).
    """
    flat_p, flat_m, flat_v, flat_g = param.ravel(), m.ravel(), v.ravel(), grad.ravel()
    one_minus_b1 = 1 - beta_1
    one_minus_b2 = 1 - beta_2
    finite = True
    for i in range(flat_p.size):
        g = flat_g[i]
        mi = beta_1 * flat_m[i] + one_minus_b1 * g
        vi = beta_2 * flat_v[i] + one_minus_b2 * (g * g)
        flat_m[i] = mi
        flat_v[i] = vi
        pi = flat_p[i] + -lr * mi / (math.sqrt(vi) + epsilon)
        flat_p[i] = pi
        if not (np.isfinite(mi) and np.isfinite(vi) and np.isfinite(pi)):
            finite = False
    return finite


@njit(**_OPTIONS)
def add_penalty(grad, alpha, coef, n_rows):
    """``grad += alpha[:, None, None] * coef; grad /= n_rows`` on stacked (B, a, b) arrays."""
    for b in range(grad.shape[0]):
        a = alpha[b]
        for i in range(grad.shape[1]):
            for j in range(grad.shape[2]):
                grad[b, i, j] = (grad[b, i, j] + a * coef[b, i, j]) / n_rows


@njit(**_OPTIONS)
def _fmax(x, y):
    # sag_fast's fmax64 (not math.fmax: the NaN and signed-zero cases differ).
    if x > y:
        return x
    return y


@njit(**_OPTIONS)
def _soft_threshold(x, shrinkage):
    # sag_fast's _soft_thresholding64.
    return _fmax(x - shrinkage, 0.0) - _fmax(-x - shrinkage, 0.0)


@njit(**_OPTIONS)
def _pending(cum, cum_prox, cum_sums, cum_sums_prox, step, last_update, width):
    """lagged_update's gradient and L1 sums for a feature last updated at ``last_update``."""
    L = cum_sums.shape[1]
    for c in range(width):
        for l in range(L):
            m = c * L + l
            cum[m] = cum_sums[step - 1, l]
            cum_prox[m] = cum_sums_prox[step - 1, l]
            if last_update != 0:
                cum[m] -= cum_sums[last_update - 1, l]
                cum_prox[m] -= cum_sums_prox[last_update - 1, l]


@njit(**_OPTIONS)
def saga_lanes(X, Y, width, multinomial, prox, step, alpha, beta, max_iter, tol, seed,
                W_out, B_out, n_iter_out, status_out):
    """``sag64`` (saga, dense rows, unit sample weights) for many lanes at once.

    ``X`` is ``(n, p, 1)`` (one matrix for every lane) or ``(n, p, width * L)``;
    lane ``l``'s class ``c`` lives at column ``m = c * L + l`` of the working arrays.
    ``status_out[l]`` is -1 after an overflow and -2 if ``sag64`` would have rescaled
    the weights mid-epoch: such lanes are refitted by scikit-learn.
    """
    n, p, n_inputs = X.shape
    L = Y.shape[1]
    KL = width * L
    shared = n_inputs == 1
    W = np.zeros((p, KL))
    sum_grad = np.zeros((p, KL))
    previous = np.zeros((p, KL))
    intercept = np.zeros(KL)
    intercept_sum_grad = np.zeros(KL)
    grad_memory = np.zeros((n, KL))
    cum_sums = np.zeros((n, L))
    cum_sums_prox = np.zeros((n, L))
    seen = np.zeros(n, np.bool_)
    num_seen = 0
    wscale = np.ones(L)
    acc = np.empty(KL)
    grad = np.empty(KL)
    cum = np.empty(KL)
    cum_prox = np.empty(KL)
    step_m = np.empty(KL)
    wscale_m = np.ones(KL)
    for c in range(width):
        for l in range(L):
            step_m[c * L + l] = step[l]
    active = np.ones(L, np.bool_)
    n_active = L
    state = np.int64(seed)
    last_update = 0  # feature_hist: the same for every feature on dense rows
    for epoch in range(max_iter):
        for s in range(n):
            # SequentialDataset64.random: our_rand_r, then modulo the number of rows.
            state ^= (state << 13) & 0xFFFFFFFF
            state ^= state >> 17
            state ^= (state << 5) & 0xFFFFFFFF
            row = (state % 2147483648) % n
            if not seen[row]:
                num_seen += 1
                seen[row] = True
            acc[:] = 0.0
            if s > 0:
                # lagged_update (one pending step) fused with predict_sample's sums.
                _pending(cum, cum_prox, cum_sums, cum_sums_prox, s, last_update, width)
                for j in range(p):
                    for m in range(KL):
                        w = W[j, m] - cum[m] * sum_grad[j, m]
                        if prox:
                            w = _soft_threshold(w, cum_prox[m])
                        W[j, m] = w
                        acc[m] += w * X[row, j, 0 if shared else m]
                last_update = s
            else:
                for j in range(p):
                    for m in range(KL):
                        acc[m] += W[j, m] * X[row, j, 0 if shared else m]
            for l in range(L):
                if multinomial:
                    # CyHalfMultinomialLoss.cy_gradient (sum_exp_minus_max), unit weight.
                    for c in range(width):
                        m = c * L + l
                        acc[m] = wscale[l] * acc[m] + intercept[m]
                    top = acc[l]
                    for c in range(1, width):
                        if top < acc[c * L + l]:
                            top = acc[c * L + l]
                    total = 0.0
                    for c in range(width):
                        m = c * L + l
                        grad[m] = math.exp(acc[m] - top)
                        total += grad[m]
                    for c in range(width):
                        m = c * L + l
                        grad[m] = grad[m] / total - (1.0 if Y[row, l] == c else 0.0)
                else:
                    # cgradient_half_binomial
                    raw = wscale[l] * acc[l] + intercept[l]
                    y = Y[row, l]
                    if raw > -37:
                        e = math.exp(-raw)
                        grad[l] = ((1 - y) - y * e) / (1 + e)
                    else:
                        grad[l] = math.exp(raw) - y
                wscale[l] *= 1.0 - step[l] * alpha[l]
                for c in range(width):
                    wscale_m[c * L + l] = wscale[l]
            factor = 1 - 1.0 / num_seen
            for m in range(KL):
                cum[m] = grad[m] - grad_memory[row, m]
            for j in range(p):
                for m in range(KL):
                    correction = X[row, j, 0 if shared else m] * cum[m]
                    W[j, m] -= correction * step_m[m] * factor / wscale_m[m]
                    sum_grad[j, m] += correction
            for m in range(KL):
                correction = grad[m] - grad_memory[row, m]
                intercept_sum_grad[m] += correction
                correction *= step_m[m] * factor
                intercept[m] -= (step_m[m] * intercept_sum_grad[m] / num_seen * 1.0) + correction
                if not np.isfinite(intercept[m]):
                    status_out[m % L] = -1
                grad_memory[row, m] = grad[m]
            for l in range(L):
                if s == 0:
                    cum_sums[0, l] = step[l] / (wscale[l] * num_seen)
                    cum_sums_prox[0, l] = step[l] * beta[l] / wscale[l]
                else:
                    cum_sums[s, l] = cum_sums[s - 1, l] + step[l] / (wscale[l] * num_seen)
                    cum_sums_prox[s, l] = cum_sums_prox[s - 1, l] + step[l] * beta[l] / wscale[l]
                if wscale[l] < 1e-9:
                    status_out[l] = -2
        # scale_weights: the pending step of every feature, then the weight scale.
        # (Written out as in the step loop: one shared helper measured ~40 % slower.)
        _pending(cum, cum_prox, cum_sums, cum_sums_prox, n, last_update, width)
        for j in range(p):
            for m in range(KL):
                w = W[j, m] - cum[m] * sum_grad[j, m]
                if prox:
                    w = _soft_threshold(w, cum_prox[m])
                W[j, m] = w * wscale_m[m]
        for j in range(p):
            for m in range(KL):
                if not np.isfinite(W[j, m]):
                    status_out[m % L] = -1
        last_update = 0
        for l in range(L):
            cum_sums[n - 1, l] = 0.0
            cum_sums_prox[n - 1, l] = 0.0
            wscale[l] = 1.0
        wscale_m[:] = 1.0
        # The stopping test, lane by lane; a lane keeps the weights it stopped with.
        for l in range(L):
            if not active[l]:
                continue
            max_weight = 0.0
            max_change = 0.0
            for j in range(p):
                for c in range(width):
                    w = W[j, c * L + l]
                    max_weight = _fmax(max_weight, abs(w))
                    max_change = _fmax(max_change, abs(w - previous[j, c * L + l]))
            if (status_out[l] != 0 or (max_weight != 0 and max_change / max_weight <= tol)
                    or (max_weight == 0 and max_change == 0) or epoch == max_iter - 1):
                active[l] = False
                n_active -= 1
                n_iter_out[l] = epoch + 1
                for j in range(p):
                    for c in range(width):
                        W_out[j, c, l] = W[j, c * L + l]
                for c in range(width):
                    B_out[c, l] = intercept[c * L + l]
        previous[:, :] = W
        if n_active == 0:
            break
