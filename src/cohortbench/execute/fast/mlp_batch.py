"""Many ``MLPClassifier`` fits trained in stacks, each exactly as scikit-learn trains it.

scikit-learn's Adam loop costs ~150 us of Python per epoch whatever the size of the
network; on the study's small inputs (k <= 150 selected features, a few PCA or LDA
components, 20-30 training rows) that overhead *is* the fit. Here the fits that
share an architecture, a number of training rows and inputs, a seed and the
optimiser's settings are grouped and trained together, a stack at a time, by
:mod:`.mlp_stack` (which says why each network's numbers are its own ``fit``'s).

The tests compare weights, iteration counts, loss curves and predictions bit for
bit with ``MLPClassifier.fit`` on many random problems. Only the settings the
study uses are covered (``solver="adam"``, ReLU, no early stopping, automatic or
fixed batch size, integer seed; any ``hidden_layer_sizes``, ``alpha``, learning
rate, ``max_iter``, ``tol``, ``n_iter_no_change``), on tested scikit-learn
versions; anything else is fitted by scikit-learn itself.

Which BLAS routine NumPy calls for a product depends on its shapes and strides,
and what that routine rounds like depends on the CPU and the BLAS build. So on
first use the stacks train a few fixed small problems whose shapes take the
different routes (one input column, a short last mini-batch, a first layer large
enough for the compiled Adam step, several classes) and compare weights,
iteration counts and loss curves with ``MLPClassifier.fit`` bit for bit; on any
difference the stacks are switched off (:func:`stacks_off`) and every network is
fitted by scikit-learn, one by one.
"""

from __future__ import annotations

import functools
import time
import warnings
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from sklearn.neural_network import MLPClassifier

from ..._compat import MLP_STACKS, gate
from .batched import FitOutcome
from .mlp_stack import plain_network_fit, train_stack

__all__ = ["MLPJob", "MLPOutcome", "covers_mlp", "fit_predict_mlps", "stacks_off"]

_STACK_BUDGET = 150_000
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
        True for the settings described in the module docstring, while the stacks
        are on (:func:`stacks_off`).
    """
    if type(estimator) is not MLPClassifier:
        return False
    params = estimator.get_params()
    if any(params[name] != value for name, value in _FIXED.items()):
        return False
    seed = params["random_state"]
    batch = params["batch_size"]
    return (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
            and (batch == "auto" or (isinstance(batch, (int, np.integer)) and batch >= 1))
            and all(int(h) > 0 for h in np.atleast_1d(params["hidden_layer_sizes"]))
            and stacks_off() is None)


def stacks_off() -> str | None:
    """Why the stacks are off here (switching them off), or None when they run."""
    return gate(MLP_STACKS, "sklearn", (lambda: _stacks_match_library(),
                                        ("they differ from the installed scikit-learn and "
                                         "BLAS on the first-use self-check")))


#: The self-check's problems: (rows, inputs, classes, hidden layers, batch size,
#: shared inputs). Each takes another route through NumPy and BLAS.
_SELF_CHECK = (
    (24, 1, 2, (100,), "auto", False),   # one input column per network (LDA on 2 classes)
    (23, 4, 3, (7, 5), 8, True),         # a short last mini-batch (8 + 8 + 7), 3 classes
    (20, 30, 2, (100,), "auto", True),   # 3,000 first-layer weights: compiled Adam step
    (21, 25, 3, (100,), "auto", False),  # the same with several classes, own inputs
)


@functools.lru_cache(maxsize=1)
def _stacks_match_library() -> bool:
    """Whether stacks of the :data:`_SELF_CHECK` problems train as ``MLPClassifier.fit``.

    Asked once per process: weights, iteration counts and loss curves must be equal
    bit for bit, three networks per stack. Any error counts as a difference.
    """
    try:
        return _self_check()
    except Exception:  # noqa: BLE001 - whatever went wrong, the stacks are not trusted
        return False


def _self_check() -> bool:
    rng = np.random.default_rng(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fits stop at max_iter on purpose
        for n, k, n_classes, hidden, batch, shared in _SELF_CHECK:
            X = rng.normal(size=(n, k)) * 2.0
            jobs = []
            for alpha in (1e-4, 1e-3, 1e-2):
                y = np.arange(n) % n_classes
                rng.shuffle(y)
                estimator = MLPClassifier(hidden_layer_sizes=hidden, alpha=alpha,
                                          batch_size=batch, max_iter=12, random_state=1)
                train = X if shared else rng.normal(size=(n, k))
                jobs.append(MLPJob(estimator, train, train[:3], y))
            curves: dict = {}
            for job, (_, _, error, n_iter, (W, b)) in zip(jobs, train_stack(jobs, curves)):
                model = MLPClassifier(**job.estimator.get_params()).fit(job.train, job.y_train)
                same = (error is None and n_iter == model.n_iter_
                        and curves[id(job)] == model.loss_curve_
                        and all(np.array_equal(mine, theirs) for mine, theirs in
                                zip(W + b, model.coefs_ + model.intercepts_)))
                if not same:
                    return False
    return True


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
        results = train_stack([jobs[j] for j in members])
    # numba's own notices (e.g. no writable cache directory) say nothing about the fits.
    if any(not type(w.message).__module__.startswith("numba") for w in caught):
        # NumPy complained (overflow, invalid values) in some network: which one,
        # and with which words, only its own fit can tell.
        results = [plain_network_fit(jobs[j]) for j in members]
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
