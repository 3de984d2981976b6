"""Progress display: a Rich bar on a terminal, plain periodic lines otherwise.

The time left in a stage comes from the time estimate's model when the runner
gives the expected cost of each evaluation (:mod:`.estimate`): remaining
expected cost x (observed / expected so far), see :class:`StageClock`; without
costs it falls back to a count-based rate.
"""

from __future__ import annotations

import sys
import time

__all__ = ["Progress", "StageClock", "make_progress", "describe_seconds"]


def describe_seconds(seconds: float) -> str:
    """``"40 s"``, ``"12 min"``, ``"2.1 h"``."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


class StageClock:
    """Seconds left in a stage, from expected costs corrected by what was observed.

    At each completion the ratio of the seconds elapsed to the expected cost done
    so far is updated; the model's own ratio (1) counts as if ``prior`` of its
    expected seconds had been observed, so that one early result does not swing
    the estimate. Between completions the estimate counts down.

    Parameters
    ----------
    expected_total : float
        Expected seconds of the stage's evaluations still to do.
    clock : callable
        Returns the current time in seconds (``time.monotonic``; a fake in tests).
    prior : float
        Fraction of ``expected_total`` the model's ratio weighs as.
    """

    def __init__(self, expected_total: float, clock=time.monotonic, prior: float = 0.1):
        self.clock = clock
        self.start = self.last = clock()
        self.total = max(float(expected_total), 0.0)
        self.done = 0.0
        self.weight = prior * self.total
        self.ratio = 1.0

    def advance(self, expected: float) -> None:
        """One or more evaluations finished; ``expected`` is their expected cost."""
        self.last = self.clock()
        self.done += max(float(expected), 0.0)
        elapsed = self.last - self.start
        if self.done + self.weight > 0:
            self.ratio = (elapsed + self.weight) / (self.done + self.weight)

    def seconds_left(self) -> float:
        """Remaining expected cost x observed/expected, less the time since the last result."""
        left = max(self.total - self.done, 0.0) * self.ratio - (self.clock() - self.last)
        return max(left, 0.0)


class Progress:
    """Silent progress (``--quiet``); subclasses display it.

    ``start_stage(..., expected=)`` takes the expected seconds of the evaluations
    still to do, ``advance(..., expected=)`` those of the ones just finished.
    """

    def start_stage(self, stage: str, total: int, done: int, expected: float | None = None) -> None:
        pass

    def advance(self, n: int = 1, expected: float | None = None) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class PlainProgress(Progress):
    """Periodic lines on stderr, for logs and CI (no terminal)."""

    def __init__(self, stream=None, every: float = 10.0, unit: str = "evaluations",
                 clock=time.monotonic):
        self.stream = stream or sys.stderr
        self.every = every
        self.unit = unit
        self.clock = clock

    def start_stage(self, stage, total, done, expected=None):
        self.stage, self.total, self.done = stage, total, done
        self.t0, self.start_done, self.last = self.clock(), done, 0.0
        self.model = StageClock(expected, self.clock) if expected is not None else None
        self._line(force=True)

    def _seconds_left(self, now):
        if self.done >= self.total:
            return None
        if self.model is not None:
            return self.model.seconds_left()
        rate_done = self.done - self.start_done
        if rate_done > 0:
            return (now - self.t0) / rate_done * (self.total - self.done)
        return None

    def _line(self, force=False):
        now = self.clock()
        if not force and now - self.last < self.every and self.done < self.total:
            return
        self.last = now
        left = self._seconds_left(now)
        eta = "" if left is None else f", about {describe_seconds(left)} left"
        print(f"[{self.stage}] {self.done}/{self.total} {self.unit}{eta}", file=self.stream, flush=True)

    def advance(self, n=1, expected=None):
        self.done += n
        if self.model is not None and expected is not None:
            self.model.advance(expected)
        self._line(force=self.done >= self.total)

    def message(self, text):
        print(text, file=self.stream, flush=True)


class RichProgress(Progress):
    """A Rich progress bar: evaluations done / total, current stage, ETA."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RP, ProgressColumn,
                                   TextColumn, TimeElapsedColumn, TimeRemainingColumn)
        from rich.text import Text

        class ModelRemaining(ProgressColumn):
            """The stage clock's time left; Rich's own rate when there is no model."""

            def __init__(self):
                super().__init__()
                self.rate = TimeRemainingColumn()

            def render(self, task):
                model = task.fields.get("model")
                if model is None or task.finished:
                    return self.rate.render(task)
                left = int(model.seconds_left())
                return Text(f"{left // 3600}:{left % 3600 // 60:02d}:{left % 60:02d}",
                            style="progress.remaining")

        self.console = Console(stderr=True)
        self.bar = RP(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TextColumn("ETA"), ModelRemaining(),
                      console=self.console, transient=False)
        self.bar.start()
        self.task = None
        self.model = None

    def start_stage(self, stage, total, done, expected=None):
        self.model = StageClock(expected) if expected is not None else None
        self.task = self.bar.add_task(f"stage {stage}", total=total, completed=done,
                                      model=self.model)

    def advance(self, n=1, expected=None):
        if self.model is not None and expected is not None:
            self.model.advance(expected)
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
