"""The SLURM backend end to end, against a real one-node SLURM cluster.

The session fixture starts the cluster with ``tests/slurm/start_slurm.sh`` (installing
slurm-wlm and munge with apt-get when missing, which takes minutes: hence ``slow``), then
the tiny study runs with ``--cluster slurm`` and must export exactly what ``--jobs 1`` did.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

import cohortbench as cb
import cohortbench.api as cb_api

from .test_runner import _assert_same, _decisions, _exports

pytestmark = pytest.mark.slow

START_SCRIPT = Path(__file__).resolve().parents[1] / "slurm" / "start_slurm.sh"
#: start_slurm.sh's exit status for "this machine cannot host SLURM" (not root, no apt-get)
CANNOT_HOST = 77

SLURM_SETTINGS = {
    "queue": "debug", "cores": 1, "processes": 1, "memory": "1GB",
    "walltime": "00:10:00", "jobs": 2, "job_directives_skip": ["--mem"],
}


@pytest.fixture(scope="session")
def slurm_cluster() -> str:
    """A running SLURM cluster (started here if needed); its default partition."""
    if shutil.which("bash") is None:
        pytest.skip("no bash to run tests/slurm/start_slurm.sh")
    proc = subprocess.run(["bash", str(START_SCRIPT)], capture_output=True, text=True, timeout=1800)
    if proc.returncode == CANNOT_HOST:
        reason = [line for line in proc.stderr.splitlines() if "CANNOT" in line] or [proc.stderr.strip()]
        pytest.skip(f"no SLURM cluster here and none can be started: {reason[-1]}")
    if proc.returncode != 0:
        pytest.fail(f"tests/slurm/start_slurm.sh failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return SLURM_SETTINGS["queue"]


def _squeue() -> dict[str, str]:
    """Job id -> state of every job SLURM knows now."""
    out = subprocess.run(["squeue", "-h", "-o", "%i %T"], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        return {}
    return dict(line.split(None, 1) for line in out.stdout.splitlines() if line.strip())


class _SqueueWatcher(threading.Thread):
    """Records every job SLURM reported as RUNNING while the run was going on."""

    def __init__(self):
        super().__init__(daemon=True)
        self.running: set[str] = set()
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            self.running |= {job for job, state in _squeue().items() if state == "RUNNING"}
            self._halt.wait(0.5)

    def stop(self):
        self._halt.set()
        self.join(timeout=30)


def _slurm_copy_of(study: Path, directory: Path) -> Path:
    """The tiny study with its data, plus an ``execution: slurm:`` section."""
    shutil.copytree(study.parent, directory)
    path = directory / study.name
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec["execution"] = {"slurm": dict(SLURM_SETTINGS)}
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def test_slurm_cluster_gives_the_same_results_as_jobs_1(slurm_cluster, tiny_run, tmp_path, monkeypatch):
    study, reference = tiny_run  # run with --jobs 1
    slurm_study = _slurm_copy_of(study, tmp_path / "cohort")
    # the runner asks dask-jobqueue to write the jobs' logs into RUN_DIR/slurm-logs
    logs = tmp_path / "slurm" / "slurm-logs"
    monkeypatch.chdir(tmp_path)

    seen = {}
    real_make_backend = cb_api.make_backend

    def recording_make_backend(**kwargs):
        backend = real_make_backend(**kwargs)
        seen["cluster"] = backend.cluster
        seen["workers_at_start"] = len(backend.client.scheduler_info()["workers"])
        real_close = backend.close

        def close():
            # job ids as the run ends, before the cluster cancels its jobs
            seen["job_ids"] = sorted(job.job_id for job in backend.cluster.workers.values())
            seen["workers_at_end"] = len(backend.client.scheduler_info()["workers"])
            real_close()

        backend.close = close
        return backend

    monkeypatch.setattr(cb_api, "make_backend", recording_make_backend)
    watcher = _SqueueWatcher()
    watcher.start()
    started = time.monotonic()
    try:
        outcome = cb.run(slurm_study, tmp_path / "slurm", cluster="slurm", build_report=False,
                         engine="reference")
    finally:
        watcher.stop()
    elapsed = time.monotonic() - started

    # the backend really was a dask-jobqueue SLURM cluster running 2 SLURM jobs
    from dask_jobqueue import SLURMCluster

    assert isinstance(seen["cluster"], SLURMCluster)
    assert seen["workers_at_start"] >= 1
    job_ids = seen["job_ids"]
    assert len(job_ids) == SLURM_SETTINGS["jobs"] and all(job_ids), job_ids
    assert set(job_ids) <= watcher.running, (job_ids, watcher.running)
    for job_id in job_ids:
        # dask-jobqueue names them <job name>-<id>.out / .err; the worker logs to stderr
        log = "".join(f.read_text(encoding="utf-8", errors="replace") for f in sorted(logs.glob(f"*-{job_id}.*")))
        assert "Registered to" in log, f"worker of SLURM job {job_id} never joined the scheduler:\n{log[-2000:]}"
    # closing the run cancels its jobs: nothing is left queued on the cluster
    deadline = time.monotonic() + 60
    while set(job_ids) & set(_squeue()) and time.monotonic() < deadline:
        time.sleep(1)
    assert not set(job_ids) & set(_squeue())

    # ...and gave exactly the results of --jobs 1
    # (reused: a later stage asking again for an evaluation done earlier in this run)
    assert outcome.computed > 0 and outcome.failed == 0, f"{outcome} after {elapsed:.0f}s"
    assert outcome.computed + outcome.reused == outcome.total
    _assert_same(_exports(reference, tmp_path / "x1"), _exports(tmp_path / "slurm", tmp_path / "x2"))
    assert _decisions(reference) == _decisions(tmp_path / "slurm")
