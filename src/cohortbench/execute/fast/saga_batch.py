"""L1 and elastic-net logistic regressions (saga) run in lanes, each exactly as scikit-learn fits it.

``LogisticRegression(solver="saga")`` spends its time in scikit-learn's Cython
``sag64`` loop (100 epochs on the study's inputs) plus ~0.6 ms of Python per fit.
Here fits that share a number of training rows and columns, a number of classes,
a seed and the stopping settings run side by side in one compiled loop (numba),
one *lane* per fit, doing per lane the arithmetic ``sag64`` does, in its order:

- with an integer ``random_state`` the sample drawn at every step comes from the
  same ``our_rand_r`` stream (seeded as ``make_dataset`` seeds it), so all lanes
  visit the same rows and share the bookkeeping that depends only on them (rows
  seen, the just-in-time update history);
- on dense data every feature is touched at every step, so each lazy update
  covers exactly one step, and ``lagged_update``'s two branches compute the same
  numbers: one form serves both;
- the step size, L2 scale and L1 shrinkage are each lane's own (its ``C``,
  ``l1_ratio`` and rows), computed by scikit-learn's own helpers
  (``row_norms``, ``get_auto_step_size``);
- a lane stops at the epoch its own convergence test passes, and keeps the
  weights it had then.

The loop is compiled without fast-math, so each operation is the IEEE operation
the C code performs (no fused multiply-add, no reassociation); the tests compare
``coef_``, ``intercept_``, ``n_iter_`` and predictions bit for bit with
``LogisticRegression.fit`` on random problems. Anything else (a lane whose weight
scale would be rescaled mid-epoch, overflow, untested scikit-learn versions, numba
missing) is fitted by scikit-learn itself, so its errors and warnings are its own.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from ..scoring import warning_text
from ._sklearn_compat import tested_version
from .batched import FitOutcome, compiled_loop, plain_fit

__all__ = ["SagaJob", "covers_saga", "fit_predict_sagas"]

#: Numbers (weights, gradient sums, previous weights, inputs) one chunk of lanes may
#: hold: ~2 MB, so that a step's passes over them stay in the CPU caches.
_LANE_BUDGET = 250_000
_MAX_LANES = 64
_INT32_MAX = np.iinfo(np.int32).max
_NOT_CONVERGED = "The max_iter was reached which means the coef_ did not converge"


def covers_saga(estimator) -> bool:
    """Whether :func:`fit_predict_sagas` reproduces ``estimator.fit`` exactly.

    Parameters
    ----------
    estimator : object

    Returns
    -------
    bool
        True for a ``LogisticRegression`` with ``solver="saga"``, an L1 part
        (``0 < l1_ratio <= 1``), an intercept, no class weights, no warm start and
        an integer ``random_state``, on a tested scikit-learn, with numba present.
    """
    if type(estimator) is not LogisticRegression or not tested_version("sklearn"):
        return False
    params = estimator.get_params()
    C, l1_ratio, seed = params["C"], params["l1_ratio"], params["random_state"]
    return bool(
        params["solver"] == "saga" and params.get("penalty") == "deprecated"
        and isinstance(l1_ratio, (int, float)) and 0 < l1_ratio <= 1
        and isinstance(C, (int, float)) and math.isfinite(C) and C > 0
        and params["fit_intercept"] is True and params["class_weight"] is None
        and not params["warm_start"] and params["verbose"] == 0
        and params.get("n_jobs") is None
        and isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
        and isinstance(params["max_iter"], int) and params["max_iter"] > 0
        and compiled_loop("saga_lanes") is not None and _lanes_match_library())


@functools.lru_cache(maxsize=1)
def _lanes_match_library() -> bool:
    """Whether the lanes reproduce the installed ``sag64`` on a fixed small problem.

    Asked once: a scikit-learn built to round otherwise (e.g. with fused multiply-add,
    as some ARM builds are) would take other steps, and every fit then runs plainly.
    """
    rng = np.random.default_rng(4)
    train = rng.normal(size=(24, 7)) * 3.0 + 1.0
    test = rng.normal(size=(5, 7))
    labels = np.arange(24) % 3
    jobs = [SagaJob(LogisticRegression(solver="saga", l1_ratio=ratio, C=C, max_iter=40,
                                       random_state=0), train, test, y)
            for ratio, C, y in ((1.0, 0.5, labels), (0.5, 2.0, labels), (1.0, 1.0, labels % 2))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fits stop at max_iter on purpose
        outcomes = fit_predict_sagas(jobs)
        models = [clone(job.estimator).fit(train, job.y_train) for job in jobs]
    return all(
        out.n_iter == model.n_iter_[0] and len(out.weights) == 2
        and np.array_equal(out.weights[0], model.coef_)
        and np.array_equal(out.weights[1], model.intercept_)
        for out, model in zip(outcomes, models))


@dataclass
class SagaJob:
    """One fit: a :func:`covers_saga` estimator, its training and test matrices, labels.

    Jobs whose ``train`` is the same array object share it inside a chunk of lanes.
    """

    estimator: LogisticRegression
    train: np.ndarray
    test: np.ndarray
    y_train: np.ndarray

    @staticmethod
    def fit_many(jobs: list) -> list:
        """Answer many jobs at once (see :mod:`.batched`)."""
        return fit_predict_sagas(jobs)


@dataclass
class _Lane:
    """What ``LogisticRegression.fit`` derives from a job before calling ``sag64``."""

    classes: np.ndarray
    target: np.ndarray
    step: float
    alpha: float
    beta: float
    seed: int

    @property
    def width(self) -> int:
        """Columns of weights per feature: one per class, or one for two classes."""
        return len(self.classes) if len(self.classes) > 2 else 1


@functools.lru_cache(maxsize=64)
def _dataset_seed(random_state: int) -> int:
    """The seed ``make_dataset`` draws for ``SequentialDataset64`` from ``random_state``."""
    return int(np.random.RandomState(random_state).randint(1, _INT32_MAX))


def _lane(job: SagaJob) -> _Lane | None:
    """The solver's inputs for ``job``, as scikit-learn computes them (None: fit it plainly)."""
    from sklearn.linear_model._sag import get_auto_step_size
    from sklearn.utils.extmath import row_norms

    train = job.train
    classes = np.unique(job.y_train)
    if (len(classes) < 2 or train.dtype != np.float64 or train.ndim != 2
            or not np.isfinite(train).all()):
        return None
    n = train.shape[0]
    C, l1_ratio = job.estimator.C, job.estimator.l1_ratio  # get_params is slow per fit
    multinomial = len(classes) > 2
    if multinomial:
        target = np.searchsorted(classes, job.y_train).astype(np.float64)
    else:
        target = (job.y_train == classes[1]).astype(np.float64)
    # _logistic_regression_path's elastic-net split (l1_ratio == 1 gives its "l1" numbers
    # too), then sag_solver's scaling by the number of rows.
    alpha = float((1.0 / C) * (1 - l1_ratio)) / n
    beta = float((1.0 / C) * l1_ratio) / n
    step = get_auto_step_size(row_norms(train, squared=True).max(), alpha,
                              "multinomial" if multinomial else "log", True,
                              n_samples=n, is_saga=True)
    if step * alpha == 1:
        return None
    return _Lane(classes, target, float(step), alpha, beta,
                 _dataset_seed(int(job.estimator.random_state)))


def fit_predict_sagas(jobs: list[SagaJob]) -> list[FitOutcome]:
    """Fit every job's logistic regression and predict its test rows, in lanes.

    Parameters
    ----------
    jobs : list of SagaJob
        Estimators must satisfy :func:`covers_saga`.

    Returns
    -------
    list of FitOutcome
        One per job, in order; ``weights`` is ``(coef_, intercept_)``. A chunk's
        time is split evenly among its jobs.
    """
    outcomes: list = [None] * len(jobs)
    groups: dict[tuple, list[int]] = {}
    lanes: list = [None] * len(jobs)
    for j, job in enumerate(jobs):
        start = time.perf_counter()
        lanes[j] = _lane(job)
        if lanes[j] is None:
            outcomes[j] = _plain_fit(job, time.perf_counter() - start)
            continue
        key = (job.train.shape, len(lanes[j].classes), lanes[j].seed,
               int(job.estimator.max_iter), float(job.estimator.tol))
        groups.setdefault(key, []).append(j)
    for members in groups.values():
        for chunk in _chunks(jobs, lanes[members[0]].width, members):
            _run_chunk(jobs, lanes, chunk, outcomes)
    return outcomes


def _chunks(jobs, width: int, members: list[int]) -> list[list[int]]:
    """Lanes that run together: those sharing one matrix first, then the others."""
    n, p = jobs[members[0]].train.shape
    by_matrix: dict[int, list[int]] = {}
    for j in members:
        by_matrix.setdefault(id(jobs[j].train), []).append(j)
    shared_size = int(np.clip(_LANE_BUDGET // (3 * p * width + n), 1, _MAX_LANES))
    own_size = int(np.clip(_LANE_BUDGET // (4 * p * width), 1, _MAX_LANES))
    chunks, rest = [], []
    for same in by_matrix.values():
        if len(same) < 4:
            rest += same
            continue
        chunks += [same[i:i + shared_size] for i in range(0, len(same), shared_size)]
    chunks += [rest[i:i + own_size] for i in range(0, len(rest), own_size)]
    return chunks


def _run_chunk(jobs, lanes, members: list[int], outcomes) -> None:
    start = time.perf_counter()
    first = jobs[members[0]]
    n, p = first.train.shape
    n_lanes = len(members)
    lane = lanes[members[0]]
    width = lane.width
    if all(jobs[j].train is first.train for j in members):
        X = first.train[:, :, None].copy()  # writable: one compiled signature for all
    else:
        # Lane m = c * n_lanes + l reads its own column of inputs (no gather in the loop).
        X = np.tile(np.stack([jobs[j].train for j in members], axis=2), (1, 1, width))
    Y = np.stack([lanes[j].target for j in members], axis=1)
    W = np.zeros((p, width, n_lanes))
    B = np.zeros((width, n_lanes))
    n_iter = np.zeros(n_lanes, dtype=np.int64)
    status = np.zeros(n_lanes, dtype=np.int64)
    per_lane = [np.array([getattr(lanes[j], name) for j in members])
                for name in ("step", "alpha", "beta")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's own (caching) notices are not the fit's
        compiled_loop("saga_lanes")(
            X, Y, width, len(lane.classes) > 2, lane.beta > 0, *per_lane,
            int(first.estimator.max_iter), float(first.estimator.tol), lane.seed,
            W, B, n_iter, status)
    share = (time.perf_counter() - start) / n_lanes
    for l, j in enumerate(members):
        if status[l] != 0:
            outcomes[j] = _plain_fit(jobs[j], share)
            continue
        outcomes[j] = _outcome(jobs[j], lanes[j], W[:, :, l], B[:, l], int(n_iter[l]), share)


def _outcome(job: SagaJob, lane: _Lane, weights, intercept, n_iter: int,
             seconds: float) -> FitOutcome:
    """Predictions from a lane's weights, laid out as ``LogisticRegression.fit`` lays them out."""
    p = job.train.shape[1]
    # sag_solver stacks (p + 1, K) weights and intercepts; the path copies their
    # transpose into a (1, K, p + 1) stack; fit slices coef_ and intercept_ from it.
    if len(lane.classes) > 2:
        stacked = np.empty((1, len(lane.classes), p + 1))
        stacked[0, :, :-1] = weights.T
        stacked[0, :, -1] = intercept
        coef, icpt = stacked[0][:, :-1], stacked[0][:, -1]
    else:
        stacked = np.empty((1, p + 1))
        stacked[0, :-1] = weights[:, 0]
        stacked[0, -1] = intercept[0]
        coef, icpt = stacked[0][:-1][None, :], stacked[0][-1:]
    scores = job.test @ coef.T + icpt  # LinearClassifierMixin.decision_function
    if len(lane.classes) > 2:
        predicted = lane.classes[scores.argmax(axis=1)]
    else:
        predicted = lane.classes[(scores.ravel() > 0).astype(int)]
    texts = []
    if n_iter == job.estimator.max_iter:
        texts.append(warning_text(warnings.WarningMessage(
            ConvergenceWarning(_NOT_CONVERGED), ConvergenceWarning, __file__, 0)))
    return FitOutcome(predicted, texts, seconds, None, n_iter, (coef, icpt))


def _plain_fit(job: SagaJob, seconds: float = 0.0) -> FitOutcome:
    """scikit-learn's own fit and predict (cases the lanes do not reproduce)."""
    start = time.perf_counter()
    model, predicted, texts, error = plain_fit(job)
    seconds += time.perf_counter() - start
    if model is None:
        return FitOutcome(None, texts, seconds, error)
    return FitOutcome(predicted, texts, seconds, None, int(model.n_iter_[0]),
                      (model.coef_, model.intercept_))
