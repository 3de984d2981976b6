"""Fit requests from many generators, answered together by each kind's batcher.

Configurations are written as generators (:func:`.config_fits.classify_steps`)
that yield a list of fit *jobs* and are sent back one outcome per job. A job
class says how to answer many of its jobs at once through its ``fit_many``
static method (:class:`.mlp_batch.MLPJob` trains networks in stacks,
:class:`.saga_batch.SagaJob` runs saga in lanes). :func:`gather` merges the
requests of many generators round by round and :func:`run_batched` answers each
round, one call per job class.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from ..scoring import IGNORED_WARNINGS, warning_text

__all__ = ["FitOutcome", "gather", "run_batched", "plain_fit", "compiled_loop"]


@dataclass
class FitOutcome:
    """What one job gave: predictions (or the error ``fit`` raised), warnings, seconds."""

    predicted: np.ndarray | None
    warnings: list
    seconds: float
    error: Exception | None = None
    n_iter: int = 0
    weights: tuple = ()  # the fitted attributes tests compare with scikit-learn's


@functools.cache
def compiled_loop(name: str):
    """A loop of :mod:`._compiled` (numba), or None without numba: callers then use NumPy."""
    try:
        from . import _compiled
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    return getattr(_compiled, name)


def plain_fit(job):
    """scikit-learn's own fit and predict of a job: ``(model, predicted, warnings, error)``.

    For the cases a batcher does not reproduce, so that the recorded warnings and
    errors are the estimator's own (``model`` and ``predicted`` are None on error).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = clone(job.estimator).fit(job.train, job.y_train)
            predicted, error = model.predict(job.test), None
        except Exception as exc:  # noqa: BLE001 - recorded for the caller, as classify would
            model, predicted, error = None, None, exc
    texts = [warning_text(w) for w in caught if not issubclass(w.category, IGNORED_WARNINGS)]
    return model, predicted, texts, error


def gather(steps: list):
    """Run generators together, yielding the union of their requests at each round.

    Each generator in ``steps`` yields a list of jobs and is sent back the list
    of their :class:`FitOutcome`; whatever it returns ends up in this generator's
    return value (a list, in the order of ``steps``). Requests made in the same
    round are batched together by whoever drives this generator
    (:func:`run_batched`, or an enclosing :func:`gather`).

    Parameters
    ----------
    steps : list of generator

    Yields
    ------
    list of jobs

    Returns
    -------
    list
        Each generator's return value.
    """
    results: list = [None] * len(steps)
    live = [(i, gen, None) for i, gen in enumerate(steps)]
    while live:
        asks = []
        for i, gen, reply in live:
            try:
                asks.append((i, gen, gen.send(reply)))
            except StopIteration as stop:
                results[i] = stop.value
        if not asks:
            break
        replies = yield [job for _, _, jobs in asks for job in jobs]
        live, start = [], 0
        for i, gen, jobs in asks:
            live.append((i, gen, replies[start:start + len(jobs)]))
            start += len(jobs)
    return results


def fit_jobs(jobs: list) -> list[FitOutcome]:
    """Answer one round: each job class's ``fit_many`` on its own jobs, in order."""
    kinds: dict[type, list[int]] = {}
    for j, job in enumerate(jobs):
        kinds.setdefault(type(job), []).append(j)
    outcomes: list = [None] * len(jobs)
    for kind, members in kinds.items():
        for j, outcome in zip(members, kind.fit_many([jobs[j] for j in members])):
            outcomes[j] = outcome
    return outcomes


def run_batched(steps: list) -> list:
    """Drive :func:`gather` over ``steps``, answering each round with :func:`fit_jobs`.

    Parameters
    ----------
    steps : list of generator
        As for :func:`gather`.

    Returns
    -------
    list
        Each generator's return value.
    """
    driver = gather(steps)
    try:
        jobs = next(driver)
        while True:
            jobs = driver.send(fit_jobs(jobs))
    except StopIteration as stop:
        return stop.value
