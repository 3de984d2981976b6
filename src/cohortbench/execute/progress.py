"""Progress display: a Rich bar on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress", "make_progress"]


class Progress:
    """Silent progress (``--quiet``); subclasses display it."""

    def start_stage(self, stage: str, total: int, done: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class PlainProgress(Progress):
    """Periodic lines on stderr, for logs and CI (no terminal)."""

    def __init__(self, stream=None, every: float = 10.0, unit: str = "evaluations"):
        self.stream = stream or sys.stderr
        self.every = every
        self.unit = unit

    def start_stage(self, stage, total, done):
        self.stage, self.total, self.done = stage, total, done
        self.t0, self.start_done, self.last = time.monotonic(), done, 0.0
        self._line(force=True)

    def _line(self, force=False):
        now = time.monotonic()
        if not force and now - self.last < self.every and self.done < self.total:
            return
        self.last = now
        rate_done = self.done - self.start_done
        eta = ""
        if rate_done > 0 and self.done < self.total:
            remaining = (now - self.t0) / rate_done * (self.total - self.done)
            eta = f", about {remaining:.0f} s left"
        print(f"[{self.stage}] {self.done}/{self.total} {self.unit}{eta}", file=self.stream, flush=True)

    def advance(self, n=1):
        self.done += n
        self._line(force=self.done >= self.total)

    def message(self, text):
        print(text, file=self.stream, flush=True)


class RichProgress(Progress):
    """A Rich progress bar: evaluations done / total, current stage, ETA."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RP,
                                   TextColumn, TimeElapsedColumn, TimeRemainingColumn)

        self.console = Console(stderr=True)
        self.bar = RP(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                      console=self.console, transient=False)
        self.bar.start()
        self.task = None

    def start_stage(self, stage, total, done):
        self.task = self.bar.add_task(f"stage {stage}", total=total, completed=done)

    def advance(self, n=1):
        if self.task is not None:
            self.bar.advance(self.task, n)

    def message(self, text):
        self.console.print(text, markup=False, highlight=False)

    def close(self):
        self.bar.stop()


def make_progress(quiet: bool = False, unit: str = "evaluations") -> Progress:
    """Silent, a Rich bar (terminal) or plain lines counting ``unit`` (logs)."""
    if quiet:
        return Progress()
    if sys.stderr.isatty():
        return RichProgress()
    return PlainProgress(unit=unit)
