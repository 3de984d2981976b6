"""Execution backends: local processes (with retry), Dask, SLURM job scripts."""

from __future__ import annotations

import os

import pytest

from cohortbench.errors import RunError
from cohortbench.execute.backends import (InlineBackend, LocalBackend, make_backend,
                                          slurm_cluster_kwargs)


def square(x):
    return x * x


def die_once(x, marker):
    # The first call for x == 2 kills its worker process outright (like an OOM kill).
    if x == 2 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(9)
    return x * x


def always_die(x):
    os._exit(9)


def test_inline_and_local_give_the_same_results():
    units = [(i,) for i in range(7)]
    inline = dict(InlineBackend().run(square, units))
    with LocalBackend(2) as backend:
        local = dict(backend.run(square, units))
    assert inline == local == {i: i * i for i in range(7)}


def test_a_dead_worker_is_retried_not_lost_or_duplicated(tmp_path):
    marker = str(tmp_path / "died")
    units = [(i, marker) for i in range(5)]
    with LocalBackend(2) as backend:
        got = list(backend.run(die_once, units))
    assert os.path.exists(marker)  # a worker really died
    assert sorted(i for i, _ in got) == list(range(5))  # each unit exactly once
    assert dict(got) == {i: i * i for i in range(5)}


def test_a_unit_that_always_kills_its_worker_gives_a_clear_error():
    with LocalBackend(1) as backend, pytest.raises(RunError, match="worker process died"):
        list(backend.run(always_die, [(1,)]))


def test_make_backend_choices():
    assert isinstance(make_backend(jobs=1), InlineBackend)
    assert isinstance(make_backend(jobs=2), LocalBackend)
    with pytest.raises(RunError, match="either --scheduler or --cluster"):
        make_backend(scheduler="tcp://127.0.0.1:1", cluster="slurm")
    with pytest.raises(RunError, match="execution: slurm"):
        make_backend(cluster="slurm", slurm=None)
    with pytest.raises(RunError, match="unknown --cluster"):
        make_backend(cluster="pbs", slurm={"queue": "q"})


def test_slurm_job_script_follows_the_study_settings():
    from dask_jobqueue import SLURMCluster

    settings = {"queue": "normal", "cores": 4, "memory": "16GB", "walltime": "04:00:00", "jobs": 3,
                "job_directives_skip": ["--mem"], "job_extra_directives": ["--account=neuro"]}
    kwargs = slurm_cluster_kwargs(settings)
    with SLURMCluster(**kwargs) as cluster:
        script = cluster.job_script()
    assert "#SBATCH -p normal" in script
    assert "#SBATCH --cpus-per-task=4" in script
    assert "#SBATCH -t 04:00:00" in script
    assert "#SBATCH --account=neuro" in script
    assert "#SBATCH --mem" not in script
    assert "--nworkers 4" in script or "--nprocs 4" in script
    assert "OMP_NUM_THREADS=1" in script
