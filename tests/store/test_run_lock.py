"""The run-directory lock: refusal while held, stale take-over, release."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from cohortbench.errors import RunError
from cohortbench.store import LOCK_NAME, RunLock
from cohortbench.store import run_lock as run_lock_module

HOLDER = textwrap.dedent("""
    import sys, time
    from cohortbench.store.run_lock import RunLock
    lock = RunLock(sys.argv[1])
    lock.acquire()
    print("ready", flush=True)
    time.sleep(60)
""")

RACER = textwrap.dedent("""
    import os, sys, time
    from cohortbench.errors import RunError
    from cohortbench.store.run_lock import RunLock
    go = os.path.join(sys.argv[2], "go")
    print("waiting", flush=True)
    while not os.path.exists(go):
        time.sleep(0.001)
    try:
        with RunLock(sys.argv[1]):
            print("won", flush=True)
            while not os.path.exists(os.path.join(sys.argv[2], "stop")):
                time.sleep(0.01)
    except RunError:
        print("refused", flush=True)
""")


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_lock_file(run_dir, content) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    data = content if isinstance(content, bytes) else json.dumps(content).encode()
    (run_dir / LOCK_NAME).write_bytes(data)


def leftovers(run_dir) -> list[str]:
    return sorted(p.name for p in run_dir.iterdir() if p.name != LOCK_NAME)


@pytest.fixture
def holder(tmp_path):
    """A live child process holding the lock of tmp_path / 'run'."""
    run_dir = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        yield run_dir, child
    finally:
        child.kill()
        child.wait()


def test_lock_file_content_and_release(tmp_path):
    run_dir = tmp_path / "run"
    with RunLock(run_dir) as lock:
        content = json.loads((run_dir / LOCK_NAME).read_text())
        assert content["pid"] == os.getpid()
        assert content["hostname"] == socket.gethostname()
        assert content["started_at"]
        assert lock.held and lock.took_over_stale is None
        assert leftovers(run_dir) == []
    assert not (run_dir / LOCK_NAME).exists()
    assert not lock.held


def test_second_lock_in_same_process_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    with RunLock(run_dir):
        with pytest.raises(RunError, match=rf"in use by another cohortbench run \(pid "
                                           rf"{os.getpid()}, started .*use another --out"):
            RunLock(run_dir).acquire()
        assert (run_dir / LOCK_NAME).exists()  # the refused one did not remove it
        assert leftovers(run_dir) == []
    with RunLock(run_dir) as again:  # free once released
        assert again.took_over_stale is None


def test_lock_held_by_live_child_is_refused_then_stale_after_kill(holder):
    run_dir, child = holder
    with pytest.raises(RunError, match=rf"pid {child.pid}"):
        RunLock(run_dir).acquire()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert (run_dir / LOCK_NAME).exists()  # a killed run leaves its file behind
    with RunLock(run_dir) as lock:
        assert lock.took_over_stale and f"pid {child.pid}" in lock.took_over_stale
        assert json.loads((run_dir / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert not (run_dir / LOCK_NAME).exists()


def test_stale_lock_with_dead_pid_is_taken_over(tmp_path):
    run_dir = tmp_path / "run"
    pid = dead_pid()
    write_lock_file(run_dir, {"pid": pid, "hostname": socket.gethostname(),
                              "started_at": "2020-01-01T00:00:00+00:00"})
    with RunLock(run_dir) as lock:
        assert "stale" in lock.took_over_stale and f"pid {pid}" in lock.took_over_stale
        assert json.loads((run_dir / LOCK_NAME).read_text())["pid"] == os.getpid()
        assert leftovers(run_dir) == []


@pytest.mark.parametrize("garbage", [b"", b"\x00\xffnot json", b'{"pid": "12"}', b"[1, 2]",
                                     b'{"pid": 0}'])
def test_garbage_lock_file_is_taken_over(tmp_path, garbage):
    run_dir = tmp_path / "run"
    write_lock_file(run_dir, garbage)
    with RunLock(run_dir) as lock:
        assert "empty or unreadable" in lock.took_over_stale
    assert not (run_dir / LOCK_NAME).exists()


def test_a_live_pid_without_flock_is_stale_when_flock_works(tmp_path):
    # pid reuse: the recorded pid is alive (ours) but nobody holds the flock
    run_dir = tmp_path / "run"
    write_lock_file(run_dir, {"pid": os.getppid(), "hostname": socket.gethostname()})
    with RunLock(run_dir) as lock:
        assert lock.took_over_stale


def test_without_flock_the_pid_decides(tmp_path, monkeypatch):
    monkeypatch.setattr(run_lock_module, "_try_flock", lambda fd: None)
    run_dir = tmp_path / "run"
    write_lock_file(run_dir, {"pid": os.getppid(), "hostname": socket.gethostname(),
                              "started_at": "2020-01-01T00:00:00+00:00"})
    with pytest.raises(RunError, match=rf"pid {os.getppid()}, started 2020-01-01"):
        RunLock(run_dir).acquire()
    write_lock_file(run_dir, {"pid": dead_pid(), "hostname": socket.gethostname()})
    with RunLock(run_dir) as lock:
        assert lock.took_over_stale


def test_lock_from_another_host_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    write_lock_file(run_dir, {"pid": dead_pid(), "hostname": "elsewhere.example",
                              "started_at": "2020-01-01T00:00:00+00:00"})
    with pytest.raises(RunError, match="host elsewhere.example.*cannot be checked") as info:
        RunLock(run_dir).acquire()
    assert str(run_dir / LOCK_NAME) in str(info.value)  # says which file to delete
    assert (run_dir / LOCK_NAME).exists()


def test_released_after_an_exception(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(ZeroDivisionError):
        with RunLock(run_dir):
            1 / 0
    assert not (run_dir / LOCK_NAME).exists()
    with RunLock(run_dir) as lock:
        assert lock.took_over_stale is None


def test_unusable_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RunError, match="Cannot create the lock file"):
        RunLock(blocker / "run").acquire()


def test_exactly_one_of_simultaneous_starters_wins(tmp_path):
    run_dir = tmp_path / "run"
    children = [subprocess.Popen([sys.executable, "-c", RACER, str(run_dir), str(tmp_path)],
                                 stdout=subprocess.PIPE, text=True) for _ in range(3)]
    try:
        for child in children:
            assert child.stdout.readline().strip() == "waiting"
        (tmp_path / "go").touch()
        # the winner holds the lock until every starter has answered
        outcomes = sorted(child.stdout.readline().strip() for child in children)
        (tmp_path / "stop").touch()
        for child in children:
            child.wait(timeout=30)
    finally:
        for child in children:
            child.kill()
            child.wait()
    assert outcomes == ["refused", "refused", "won"]
    assert not (run_dir / LOCK_NAME).exists()
    assert leftovers(run_dir) == []
