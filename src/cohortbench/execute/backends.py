"""Where evaluation units run: in-process, local worker processes, Dask, SLURM.

A backend takes picklable ``(function, args)`` units and yields ``(unit_index,
outcome)`` as units finish, in whatever order. Results are deterministic
because every unit is self-contained and seeded; only the writer process (the
runner) touches the results store.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from ..errors import RunError

__all__ = ["Backend", "InlineBackend", "LocalBackend", "DaskBackend", "make_backend", "slurm_cluster_kwargs"]

#: how often a unit is resubmitted after the process running it died
MAX_RETRIES = 2


def _limit_threads() -> None:
    # One BLAS/OpenMP thread per worker process: the runner parallelises across
    # processes, and oversubscription makes 2-core laptops crawl.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except Exception:  # pragma: no cover - threadpoolctl ships with scikit-learn
        pass


class Backend:
    """Interface: ``run(fn, units)`` yields ``(index, result)`` as units finish."""

    name = "backend"
    workers = 1

    def run(self, fn: Callable, units: Sequence[tuple]) -> Iterator[tuple[int, object]]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class InlineBackend(Backend):
    """Runs units one after the other in this process (``--jobs 1``)."""

    name = "inline"

    def run(self, fn, units):
        # Same numerical environment as a worker process (one BLAS thread): thread
        # counts can change floating-point summation order, hence results.
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            for i, args in enumerate(units):
                yield i, fn(*args)


def _user_script() -> str | None:
    """The user's own script when one started this process (spawned workers import it)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path or "cohortbench" in Path(path).parts or Path(path).name in ("pytest", "__main__.py"):
        return None
    return Path(path).name


class LocalBackend(Backend):
    """Local worker processes; a unit whose worker died is retried."""

    name = "local"

    def __init__(self, jobs: int):
        self.workers = jobs
        self._pool = None

    def _new_pool(self):
        ctx = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_limit_threads)

    def run(self, fn, units):
        attempts = {i: 0 for i in range(len(units))}
        queue = list(range(len(units)))
        finished = 0
        while queue:
            if self._pool is None:
                self._pool = self._new_pool()
            futures = {}
            try:
                while queue or futures:
                    # A bounded number of units in flight, so a dead pool loses little.
                    while queue and len(futures) < 2 * self.workers:
                        i = queue.pop(0)
                        futures[self._pool.submit(fn, *units[i])] = i
                    done, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for fut in done:
                        result = fut.result()  # raises BrokenProcessPool if a worker died
                        finished += 1
                        yield futures.pop(fut), result
            except BrokenProcessPool:
                lost = []
                for fut, i in futures.items():
                    if fut.done() and not fut.cancelled() and fut.exception() is None:
                        yield i, fut.result()
                        continue
                    attempts[i] += 1
                    if attempts[i] > MAX_RETRIES:
                        script = _user_script()
                        if not finished and script:
                            raise RunError(
                                f"worker processes died before finishing any evaluation: each "
                                f"imports your script {script}, which must keep its cohortbench "
                                "calls under `if __name__ == \"__main__\":`; fix the script, or "
                                "run with jobs=1") from None
                        raise RunError(
                            f"a worker process died {attempts[i]} times while running the same "
                            "evaluations (out of memory?); run again with fewer --jobs"
                        ) from None
                    lost.append(i)
                queue = sorted(lost) + queue
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskBackend(Backend):
    """A Dask distributed cluster: an existing scheduler, or a SLURM cluster."""

    name = "dask"

    def __init__(self, client, cluster=None, workers: int | None = None):
        self.client = client
        self.cluster = cluster
        # A SLURM cluster is still starting when the study begins: count the
        # workers it was asked for, so that units are split for all of them.
        self.workers = workers or max(1, len(client.scheduler_info().get("workers", {})))

    def run(self, fn, units):
        from distributed import as_completed

        futures = {}
        for i, args in enumerate(units):
            # pure=False: identical arguments must still each run (and results are
            # deterministic anyway); retries cover a worker lost mid-unit.
            futures[self.client.submit(fn, *args, pure=False, retries=MAX_RETRIES)] = i
        for fut in as_completed(futures):
            i = futures[fut]
            yield i, fut.result()

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def slurm_cluster_kwargs(settings: dict, log_directory: str | None = None) -> dict:
    """dask-jobqueue ``SLURMCluster`` arguments from the study's ``execution.slurm``."""
    return {
        "log_directory": log_directory,
        "scheduler_options": {"dashboard_address": None},
        "queue": settings.get("queue"),
        "cores": int(settings.get("cores", 1)),
        # one single-threaded worker process per core: the work is CPU-bound Python
        "processes": int(settings.get("processes") or settings.get("cores", 1)),
        "memory": settings.get("memory", "4GB"),
        "walltime": settings.get("walltime", "01:00:00"),
        "job_extra_directives": list(settings.get("job_extra_directives", [])),
        "job_directives_skip": list(settings.get("job_directives_skip", [])),
        "job_script_prologue": [
            "export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1",
        ],
    }


def make_backend(*, jobs: int | None = None, scheduler: str | None = None,
                 cluster: str | None = None, slurm: dict | None = None,
                 log_directory: str | None = None) -> Backend:
    """Choose a backend from the command-line options.

    Parameters
    ----------
    jobs : int, optional
        Local worker processes (default: all cores); 1 runs in this process.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``).
    cluster : {'slurm'}, optional
        Start a SLURM cluster with dask-jobqueue from ``slurm`` settings.
    """
    if scheduler and cluster:
        raise RunError("use either --scheduler or --cluster, not both")
    if scheduler:
        from distributed import Client

        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise RunError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); is it running?") from None
        return DaskBackend(client)
    if cluster:
        if cluster != "slurm":
            raise RunError(f"unknown --cluster '{cluster}'; the one supported is 'slurm'")
        if not slurm:
            raise RunError("--cluster slurm needs an `execution: slurm:` section in the study file")
        from dask_jobqueue import SLURMCluster
        from distributed import Client

        slurm_cluster = SLURMCluster(**slurm_cluster_kwargs(slurm, log_directory))
        slurm_cluster.scale(jobs=int(slurm.get("jobs", 1)))
        client = Client(slurm_cluster)
        try:
            client.wait_for_workers(1, timeout=600)
        except TimeoutError:
            client.close()
            slurm_cluster.close()
            raise RunError("no SLURM job started a worker within 10 minutes; check `squeue` and the "
                           "queue/cores/memory of `execution: slurm:` in the study file") from None
        kwargs = slurm_cluster_kwargs(slurm, log_directory)
        return DaskBackend(client, slurm_cluster,
                           workers=int(slurm.get("jobs", 1)) * kwargs["processes"])
    jobs = jobs or os.cpu_count() or 1
    if jobs < 1:
        raise RunError("--jobs must be at least 1")
    return InlineBackend() if jobs == 1 else LocalBackend(jobs)
