"""Faults during a run: a Dask worker killed mid-run is survived, results unchanged."""

from __future__ import annotations

import os
import signal
import threading
import time

import cohortbench as cb

from .test_runner import _assert_same, _count, _exports


def test_a_dask_worker_killed_mid_run_is_survived(tiny_run, tmp_path):
    from distributed import LocalCluster

    study, reference = tiny_run
    run_dir = tmp_path / "dask-killed"
    outcome = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        def run():
            outcome["result"] = cb.run(study, run_dir, scheduler=cluster.scheduler_address,
                                       build_report=False, engine="reference")

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 120
        while _count(run_dir) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        pids = [w.process.pid for w in cluster.workers.values() if w.process is not None]
        assert pids and thread.is_alive(), "the run finished before a worker could be killed"
        os.kill(pids[0], signal.SIGKILL)  # the nanny restarts it; its tasks are rescheduled
        thread.join(timeout=300)
    assert not thread.is_alive()
    assert outcome["result"].failed == 0
    _assert_same(_exports(reference, tmp_path / "a"), _exports(run_dir, tmp_path / "b"))
