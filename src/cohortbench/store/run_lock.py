"""A lock guarding a run directory against a second concurrent ``run`` (SPEC 11).

``RUN_DIR/.lock`` holds ``{"pid", "hostname", "started_at"}`` and, while the
lock is held, an exclusive ``flock`` of its holder. The flock is the liveness
check: the kernel drops it when the holder dies, however it dies, so a reused
pid can never keep a dead run's lock alive. Where flock is unavailable (some
network filesystems) the recorded pid is checked instead.

The lock file appears with its content complete and its flock already held: it
is written to a private temporary file first and then hard-linked into place,
which fails atomically when a lock file exists (``O_CREAT | O_EXCL`` semantics).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path

from ..errors import RunError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

__all__ = ["RunLock", "LOCK_NAME"]

LOCK_NAME = ".lock"
_ATTEMPTS = 20


def _try_flock(fd: int) -> bool | None:
    """True when the exclusive flock was taken, False when another holds it,
    None when this filesystem cannot flock."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        return None  # ENOLCK, EOPNOTSUPP, EINVAL: no flock here
    return True


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # pragma: no cover - os.kill would terminate it
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _read_holder(fd: int) -> dict | None:
    """The lock file's JSON, or None when it is empty or garbage."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = b""
        while chunk := os.read(fd, 65536):
            data += chunk
        holder = json.loads(data.decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(holder, dict) or not isinstance(holder.get("pid"), int) \
            or isinstance(holder["pid"], bool) or holder["pid"] <= 0:
        return None
    return holder


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


class RunLock:
    """Exclusive use of a run directory by one ``cohortbench run``.

    Parameters
    ----------
    run_dir : Path
        The run directory (created if missing).

    Attributes
    ----------
    took_over_stale : str or None
        After acquiring, a warning sentence when a stale lock (its holder dead,
        or the file unreadable) was taken over; None otherwise. The caller
        prints it.

    Raises
    ------
    RunError
        On entry, when another run holds the directory (or may, on another host).

    Examples
    --------
    >>> with RunLock(run_dir) as lock:               # doctest: +SKIP
    ...     if lock.took_over_stale:
    ...         print(lock.took_over_stale)
    """

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self.took_over_stale: str | None = None
        self._fd: int | None = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise RunError (see the class docstring)."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this RunLock.")
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            for _ in range(_ATTEMPTS):
                if self._attempt():
                    return
                time.sleep(0.01)  # lost a race with another starter; look again
        except OSError as exc:
            raise RunError(f"Cannot create the lock file {self.path} ({exc.strerror or exc}); "
                           "fix the permissions of the run directory or use another --out.") \
                from exc
        raise RunError(f"Could not take the lock {self.path}: other processes keep changing it; "
                       "make sure only one cohortbench run uses this directory.")

    def _attempt(self) -> bool:
        tmp_fd, tmp_path = self._write_private_copy()
        keep = False
        try:
            try:
                os.link(tmp_path, self.path)
                keep = True
            except FileExistsError:
                keep = self._inspect_existing(tmp_path)
            except OSError:
                return self._create_in_place()  # no hard links on this filesystem
            if keep:
                self._fd = tmp_fd
            return keep
        finally:
            if not keep:
                os.close(tmp_fd)
            try:
                os.unlink(tmp_path)  # gone already when it replaced a stale lock
            except FileNotFoundError:
                pass

    def _content(self) -> bytes:
        return json.dumps({
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }).encode("utf-8")

    def _write_private_copy(self) -> tuple[int, str]:
        tmp_path = str(self.path) + f".{os.getpid()}.{time.monotonic_ns()}.tmp"
        fd = os.open(tmp_path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
        try:
            os.write(fd, self._content())
            os.fsync(fd)
            _try_flock(fd)  # nobody else knows this file yet: it cannot be refused
        except BaseException:
            os.close(fd)
            os.unlink(tmp_path)
            raise
        return fd, tmp_path

    def _create_in_place(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
        except FileExistsError:
            return False
        _try_flock(fd)
        os.write(fd, self._content())
        self._fd = fd
        return True

    def _inspect_existing(self, tmp_path: str) -> bool:
        """Decide about an existing lock file: refuse (raise), take over (True),
        or look again (False: it changed under us)."""
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            locked = _try_flock(fd)
            holder = _read_holder(fd)
            if locked is False:
                raise RunError(self._in_use_message(holder))
            if not _same_file(fd, self.path):
                return False
            here = socket.gethostname()
            if holder is not None and holder.get("hostname", here) != here:
                raise RunError(self._in_use_message(holder, other_host=True))
            if locked is None and holder is not None and _pid_alive(holder["pid"]):
                raise RunError(self._in_use_message(holder))
            # Stale: swap our complete file in atomically while still holding
            # the old one's flock, so no third process can slip in between.
            os.replace(tmp_path, self.path)
        finally:
            os.close(fd)
        if holder is None:
            self.took_over_stale = (f"The lock file {self.path} was empty or unreadable; "
                                    "took it over (a previous run probably crashed).")
        else:
            self.took_over_stale = (
                f"Took over a stale lock in {self.run_dir}: the run that held it (pid "
                f"{holder['pid']}, started {holder.get('started_at', '?')}) is no longer "
                "running; its finished evaluations are kept.")
        return True

    def _in_use_message(self, holder: dict | None, other_host: bool = False) -> str:
        if holder is None:
            return (f"{self.run_dir} is in use by another cohortbench run; wait for it to "
                    "finish or use another --out.")
        started = holder.get("started_at", "at an unknown time")
        if other_host:
            return (f"{self.run_dir} is in use by a cohortbench run on host "
                    f"{holder.get('hostname')} (pid {holder['pid']}, started {started}), which "
                    "cannot be checked from here; wait for it to finish or use another --out, "
                    f"or delete {self.path} if you are sure it is no longer running.")
        return (f"{self.run_dir} is in use by another cohortbench run (pid {holder['pid']}, "
                f"started {started}); wait for it to finish or use another --out.")

    def release(self) -> None:
        """Remove the lock file and drop the flock (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if _same_file(fd, self.path):
                os.unlink(self.path)
        except OSError:
            pass  # a leftover file is harmless: its flock is gone, so it reads as stale
        finally:
            os.close(fd)
