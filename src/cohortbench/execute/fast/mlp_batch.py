"""Many ``MLPClassifier`` fits trained in lock-step, each exactly as scikit-learn trains it.

scikit-learn's Adam loop costs ~150 us of Python per epoch whatever the size of the
network; on the study's small inputs (k <= 150 selected features, a few PCA or LDA
components, 20-30 training rows) that overhead *is* the fit. Here networks that
share an architecture, a number of training rows and inputs, a seed and the
optimiser's settings are stacked along a leading axis and trained together: every
operation of ``MLPClassifier._fit_stochastic`` (forward pass, log-loss, L2 penalty,
back-propagation, Adam step, the no-improvement stopping test) is the same NumPy
operation applied to each network's slice, in the same order, so each network's
weights, iteration count and predictions are those of its own ``fit``:

- matrix products go through ``np.matmul`` on stacks, which calls the same BLAS
  routine per slice as ``a @ b`` on one network (same shapes, same strides);
- element-wise operations do not depend on batching; the reductions (the mean
  over rows of the loss, the intercept gradients' column sums) are taken along
  the same axis, in the same order, as scikit-learn's 2-D calls;
- networks of one group start from the same weights and see the same shuffles:
  with an integer ``random_state`` scikit-learn draws them from
  ``RandomState(seed)`` in an order that depends on the layer sizes and the
  number of rows only, so one stream serves the whole group;
- a network leaves the batch when it stops (its own loss curve), and is
  predicted alone with the 2-D operations of ``_forward_pass_fast``.

The tests compare weights, iteration counts, loss curves and predictions bit for
bit with ``MLPClassifier.fit`` on many random problems. Only the settings the
study uses are covered (``solver="adam"``, ReLU, no early stopping, automatic or
fixed batch size, integer seed; any ``hidden_layer_sizes``, ``alpha``, learning
rate, ``max_iter``, ``tol``, ``n_iter_no_change``), on tested scikit-learn
versions; anything else is fitted by scikit-learn itself.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy.special import expit, xlogy
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.utils import gen_batches

from ..scoring import warning_text
from ._sklearn_compat import tested_version
from .batched import FitOutcome, compiled_loop, plain_fit

__all__ = ["MLPJob", "MLPOutcome", "covers_mlp", "fit_predict_mlps"]

_STACK_BUDGET = 150_000
#: First-layer weights per network from which the compiled Adam step pays: measured on
#: this 2-core machine, it made stacks of 2 x 100 and 10 x 100 weights ~40 % slower
#: (the following BLAS products slowed down) and those of 25 x 100 to 150 x 100 weights
#: 1.2-1.9x faster. Either way the numbers are the same.
_COMPILED_ADAM_FROM = 2_000
_FIXED = {"solver": "adam", "activation": "relu", "early_stopping": False,
          "warm_start": False, "shuffle": True, "verbose": False}


def covers_mlp(estimator) -> bool:
    """Whether :func:`fit_predict_mlps` reproduces ``estimator.fit`` exactly.

    Parameters
    ----------
    estimator : object

    Returns
    -------
    bool
    """
    if type(estimator) is not MLPClassifier or not tested_version("sklearn"):
        return False
    params = estimator.get_params()
    if any(params[name] != value for name, value in _FIXED.items()):
        return False
    seed = params["random_state"]
    batch = params["batch_size"]
    return (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
            and (batch == "auto" or (isinstance(batch, (int, np.integer)) and batch >= 1))
            and all(int(h) > 0 for h in np.atleast_1d(params["hidden_layer_sizes"])))


@dataclass
class MLPJob:
    """One fit: an :func:`covers_mlp` estimator, its training and test matrices, labels.

    Jobs whose ``train`` is the same array object share it inside a batch.
    """

    estimator: MLPClassifier
    train: np.ndarray
    test: np.ndarray
    y_train: np.ndarray

    @staticmethod
    def fit_many(jobs: list) -> list:
        """Answer many jobs at once (see :mod:`.batched`)."""
        return fit_predict_mlps(jobs)


#: What one network fit gave (kept under this name for callers of this module).
MLPOutcome = FitOutcome


def fit_predict_mlps(jobs: list[MLPJob]) -> list[MLPOutcome]:
    """Fit every job's network and predict its test rows, batching compatible fits.

    Parameters
    ----------
    jobs : list of MLPJob
        Estimators must satisfy :func:`covers_mlp`; matrices are float64.

    Returns
    -------
    list of MLPOutcome
        One per job, in order. Each stack's time is split evenly among its jobs.
    """
    groups: dict[tuple, list[int]] = {}
    for j, job in enumerate(jobs):
        groups.setdefault(_group_key(job), []).append(j)
    outcomes: list = [None] * len(jobs)
    for group in groups.values():
        size = _chunk_size(jobs[group[0]])
        for first in range(0, len(group), size):
            _run_chunk(jobs, group[first:first + size], outcomes)
    return outcomes


def _chunk_size(job: MLPJob) -> int:
    """How many networks to stack: ~150,000 parameters and activations in all.

    Measured: small networks gain up to ~5x from stacking (Python overhead shared);
    stacks larger than the CPU caches lose more to memory traffic than they save.
    """
    n, k = job.train.shape
    hidden = [int(h) for h in np.atleast_1d(job.estimator.hidden_layer_sizes)]
    n_classes = len(np.unique(job.y_train))
    units = [k] + hidden + [n_classes if n_classes > 2 else 1]
    footprint = sum(a * b + b for a, b in pairwise(units)) + n * sum(units[1:])
    return int(np.clip(_STACK_BUDGET // footprint, 1, 64))


def _run_chunk(jobs, members, outcomes) -> None:
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = _train_group([jobs[j] for j in members])
    # numba's own notices (e.g. no writable cache directory) say nothing about the fits.
    if any(not type(w.message).__module__.startswith("numba") for w in caught):
        # NumPy complained (overflow, invalid values) in some network: which one,
        # and with which words, only its own fit can tell.
        results = [_plain_fit(jobs[j]) for j in members]
    share = (time.perf_counter() - start) / len(members)
    for j, (predicted, texts, error, n_iter, weights) in zip(members, results):
        outcomes[j] = MLPOutcome(predicted, texts, share, error, n_iter, weights)


def _group_key(job: MLPJob) -> tuple:
    p = job.estimator.get_params()
    hidden = tuple(int(h) for h in np.atleast_1d(p["hidden_layer_sizes"]))
    n_classes = len(np.unique(job.y_train))
    return (hidden, job.train.shape, job.train.dtype.str, n_classes, int(p["random_state"]),
            str(p["batch_size"]), float(p["learning_rate_init"]), float(p["beta_1"]),
            float(p["beta_2"]), float(p["epsilon"]), int(p["max_iter"]), float(p["tol"]),
            int(p["n_iter_no_change"]))


class _Adam:
    """``AdamOptimizer`` on stacked parameters (one learning rate: same step count)."""

    def __init__(self, params, lr, beta_1, beta_2, epsilon):
        self.lr_init, self.beta_1, self.beta_2, self.epsilon = lr, beta_1, beta_2, epsilon
        self.t = 0
        self.ms = [np.zeros_like(p) for p in params]
        self.vs = [np.zeros_like(p) for p in params]
        # The shapes are fixed for the whole training: decide once.
        self.compiled = (compiled_loop("adam_step")
                         if params[0][0].size >= _COMPILED_ADAM_FROM else None)

    def update(self, params, grads):
        self.t += 1
        lr = self.lr_init * np.sqrt(1 - self.beta_2 ** self.t) / (1 - self.beta_1 ** self.t)
        step = self.compiled
        if step is not None and all(a.flags.c_contiguous
                                    for a in params + grads + self.ms + self.vs):
            # One compiled pass per array instead of ten NumPy temporaries (same numbers).
            finite = [step(param, m, v, g, self.beta_1, self.beta_2, float(lr), self.epsilon)
                      for param, m, v, g in zip(params, self.ms, self.vs, grads)]
            if not all(finite):
                # NumPy would have warned here: the stack's networks are refitted one by one.
                warnings.warn("overflow or invalid value in the Adam step", RuntimeWarning)
            return
        self.ms = [self.beta_1 * m + (1 - self.beta_1) * g for m, g in zip(self.ms, grads)]
        self.vs = [self.beta_2 * v + (1 - self.beta_2) * (g ** 2)
                   for v, g in zip(self.vs, grads)]
        for param, m, v in zip(params, self.ms, self.vs):
            param += -lr * m / (np.sqrt(v) + self.epsilon)

    def keep(self, mask):
        self.ms = [m[mask] for m in self.ms]
        self.vs = [v[mask] for v in self.vs]


def _indicator(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``LabelBinarizer().fit_transform(y).astype(bool)`` for 2+ classes."""
    if len(classes) == 2:
        return (y == classes[1])[:, None]
    return y[:, None] == classes[None, :]


def _train_group(jobs: list[MLPJob]):
    """Train one group of compatible networks; ``(predicted, warnings, error)`` per job."""
    est = jobs[0].estimator
    p = est.get_params()
    B = len(jobs)
    hidden = [int(h) for h in np.atleast_1d(p["hidden_layer_sizes"])]
    n, k = jobs[0].train.shape
    classes = [np.unique(job.y_train) for job in jobs]
    if len(classes[0]) < 2 or jobs[0].train.dtype != np.float64:  # scikit-learn's own
        return [_plain_fit(job) for job in jobs]
    Y = np.stack([_indicator(job.y_train, c) for job, c in zip(jobs, classes)])
    n_out = Y.shape[2]
    softmax = n_out > 1
    shared = all(job.train is jobs[0].train for job in jobs)
    X = jobs[0].train if shared else np.stack([job.train for job in jobs])
    alpha = np.array([float(job.estimator.alpha) for job in jobs])

    # MLPClassifier._initialize / _init_coef: one stream for the whole group.
    rs = np.random.RandomState(int(p["random_state"]))
    coefs, intercepts = [], []
    for fan_in, fan_out in pairwise([k] + hidden + [n_out]):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        w = rs.uniform(-bound, bound, (fan_in, fan_out))
        b = rs.uniform(-bound, bound, fan_out)
        coefs.append(np.repeat(w[None], B, axis=0))
        intercepts.append(np.repeat(b[None], B, axis=0))
    n_layers = len(coefs)
    adam = _Adam(coefs + intercepts, float(p["learning_rate_init"]), float(p["beta_1"]),
                 float(p["beta_2"]), float(p["epsilon"]))
    batch_size = min(200, n) if p["batch_size"] == "auto" else int(np.clip(p["batch_size"], 1, n))
    max_iter, tol, patience = int(p["max_iter"]), float(p["tol"]), int(p["n_iter_no_change"])

    ids = np.arange(B)  # job index of each network still training
    best = np.full(B, np.inf)
    stall = np.zeros(B, dtype=np.int64)
    final: dict[int, tuple] = {}
    unconverged: set[int] = set()
    sample_idx = np.arange(n, dtype=int)
    batches = list(gen_batches(n, batch_size))
    for it in range(max_iter):
        # sklearn.utils.shuffle(sample_idx, random_state=rs), without its per-call
        # parameter validation: resample's own draw and indexing.
        order = np.arange(n)
        rs.shuffle(order)
        sample_idx = sample_idx[order]
        accumulated = np.zeros(len(ids))
        for batch in batches:
            rows = sample_idx[batch]
            # C-ordered like scikit-learn's _safe_indexing copy (take, not X[:, rows, :],
            # which puts the indexed axis first in memory: with one input column NumPy then
            # calls another BLAS routine for X_b.T @ delta, which rounds differently).
            Xb = X[rows] if shared else X.take(rows, axis=1)
            loss = _step(Xb, Y[:, rows, :], coefs, intercepts, alpha, softmax, adam,
                         batch.stop - batch.start)
            accumulated += loss * (batch.stop - batch.start)
        loss = accumulated / n
        # _update_no_improvement_count (training loss), then the stopping test.
        worse = loss > best - tol
        stall = np.where(worse, stall + 1, 0)
        best = np.where(loss < best, loss, best)
        done = stall > patience
        if it + 1 == max_iter:
            for i in ids[~done]:
                unconverged.add(int(i))
            done = np.ones(len(ids), dtype=bool)
        if done.any():
            for pos in np.flatnonzero(done):
                final[int(ids[pos])] = ([c[pos].copy() for c in coefs],
                                        [b[pos].copy() for b in intercepts], it + 1)
            keep = ~done
            if not keep.any():
                break
            ids, best, stall = ids[keep], best[keep], stall[keep]
            coefs = [c[keep] for c in coefs]
            intercepts = [b[keep] for b in intercepts]
            adam.keep(keep)
            Y, alpha = Y[keep], alpha[keep]
            if not shared:
                X = X[keep]

    message = ("Stochastic Optimizer: Maximum iterations (%d) reached and the "
               "optimization hasn't converged yet." % max_iter)
    text = warning_text(warnings.WarningMessage(ConvergenceWarning(message),
                                                ConvergenceWarning, "", 0))
    out = []
    for j, job in enumerate(jobs):
        W, b, n_iter = final[j]
        texts = [text] if j in unconverged else []
        if not all(np.isfinite(a).all() for a in W + b):
            out.append((None, texts, ValueError(
                "Solver produced non-finite parameter weights. The input data may"
                " contain large values and need to be preprocessed."), n_iter, (W, b)))
            continue
        scores = _forward_fast(job.test, W, b, n_layers, softmax)
        if softmax:
            predicted = classes[j].take(scores.argmax(axis=1), mode="clip")
        else:
            predicted = classes[j][(scores.ravel() > 0.5).astype(int)]
        out.append((predicted, texts, None, n_iter, (W, b)))
    return out


def _step(Xb, Yb, coefs, intercepts, alpha, softmax, adam, n_rows):
    """One ``_backprop`` + ``update_params`` on every network; returns their batch losses."""
    n_layers = len(coefs)
    activations = [Xb]
    for i in range(n_layers):
        a = np.matmul(activations[i], coefs[i])
        a += intercepts[i][:, None, :]
        if i + 1 != n_layers:
            np.maximum(a, 0, out=a)
        activations.append(a)
    out = activations[-1]
    if softmax:
        tmp = out - out.max(axis=2)[:, :, None]
        np.exp(tmp, out=out)
        out /= out.sum(axis=2)[:, :, None]
    else:
        expit(out, out=out)

    eps = np.finfo(out.dtype).eps
    prob = np.clip(out, eps, 1 - eps)
    if softmax:
        loss = -xlogy(Yb, prob).mean(axis=1).sum(axis=1)
    else:
        loss = -(xlogy(Yb, prob) + xlogy(1 - Yb, 1 - prob)).mean(axis=1).sum(axis=1)
    values = 0
    for c in coefs:
        flat = c.reshape(len(c), -1)
        values += np.matmul(flat[:, None, :], flat[:, :, None])[:, 0, 0]
    loss += (0.5 * alpha) * values / n_rows

    coef_grads = [None] * n_layers
    intercept_grads = [None] * n_layers
    delta = out - Yb
    for i in range(n_layers - 1, -1, -1):
        grad = np.matmul(activations[i].transpose(0, 2, 1)
                         if activations[i].ndim == 3 else activations[i].T, delta)
        _add_penalty(grad, alpha, coefs[i], n_rows)
        coef_grads[i] = grad
        intercept_grads[i] = np.sum(delta, axis=1) / n_rows
        if i > 0:
            delta = np.matmul(delta, coefs[i].transpose(0, 2, 1))
            np.copyto(delta, 0.0, where=activations[i] == 0)  # delta[a == 0] = 0
    adam.update(coefs + intercepts, coef_grads + intercept_grads)
    return loss


def _add_penalty(grad, alpha, coef, n_rows):
    """``grad += alpha[:, None, None] * coef; grad /= n_rows`` (in place), in one pass if compiled."""
    compiled = compiled_loop("add_penalty")
    if compiled is not None and grad.flags.c_contiguous and coef.flags.c_contiguous:
        compiled(grad, alpha, coef, float(n_rows))
        return
    grad += alpha[:, None, None] * coef
    grad /= n_rows


def _forward_fast(X, coefs, intercepts, n_layers, softmax):
    """``MLPClassifier._forward_pass_fast`` for one network."""
    activation = X
    for i in range(n_layers):
        activation = activation @ coefs[i]
        activation += intercepts[i]
        if i != n_layers - 1:
            np.maximum(activation, 0, out=activation)
    if softmax:
        tmp = activation - activation.max(axis=1)[:, np.newaxis]
        np.exp(tmp, out=activation)
        activation /= activation.sum(axis=1)[:, np.newaxis]
    else:
        expit(activation, out=activation)
    return activation


def _plain_fit(job: MLPJob):
    """scikit-learn's own fit and predict (cases the batch does not reproduce)."""
    model, predicted, texts, error = plain_fit(job)
    if model is None:
        return None, texts, error, 0, ()
    return predicted, texts, None, model.n_iter_, (model.coefs_, model.intercepts_)
