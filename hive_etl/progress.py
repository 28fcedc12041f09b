"""Progress bars for the long stages: how far, how fast, how long still.

    load.tables  messages       [#########...........]  46%  1,480,112/3,205,713 rows  212,400 rows/s  ETA 8s

A bar is drawn on one terminal line (carriage return, redrawn at most five times a second)
and ends with a newline and the stage's total. Bars are for people watching: they go to
stderr on a terminal only, never into CI logs or pipes (`NoBar` then does nothing).

Within one SQL statement SQLite reports no row count, so the table loads move their bar
by time at the throughput measured so far (`estimate`), never past the statement's own
rows; the figures are exact again at every statement's end.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 20
REDRAW_SECONDS = 0.2


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _amount(value: float, unit: str) -> str:
    if unit == "bytes":
        return f"{value / 2**20:,.0f} MB"
    return f"{int(value):,}"


class Bar:
    """One stage's bar: `update(done)` with the absolute amount done, `close()` at the end."""

    def __init__(self, label: str, total: float, unit: str = "rows", stream: TextIO | None = None):
        self.label, self.total, self.unit = label, max(total, 0), unit
        self.stream = stream or sys.stderr
        self.started = time.perf_counter()
        self.done, self.note, self._drawn = 0.0, "", 0.0
        self._mark: tuple[float, float] | None = None   # (done, time) where the current statement began

    def rate(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        fraction = min(self.done / self.total, 1.0) if self.total else 1.0
        filled = int(fraction * WIDTH)
        rate = self.rate()
        unit = "MB" if self.unit == "bytes" else self.unit
        speed = f"{rate / 2**20:,.1f} MB/s" if self.unit == "bytes" else f"{rate:,.0f} {unit}/s"
        eta = _duration((self.total - self.done) / rate) if rate > 0 and self.done < self.total else "-"
        total = _amount(self.total, self.unit)
        done = _amount(self.done, self.unit) if self.unit == "bytes" else f"{int(self.done):,}/{total} {unit}"
        if self.unit == "bytes":
            done = f"{done}/{total}"
        return (f"{self.label:<12.12} {self.note:<24.24} [{'#' * filled}{'.' * (WIDTH - filled)}] "
                f"{fraction:4.0%}  {done}  {speed}  ETA {eta}")

    def _draw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self._drawn >= REDRAW_SECONDS:
            self._drawn = now
            self.stream.write("\r" + self.line() + "\x1b[K")
            self.stream.flush()

    def update(self, done: float, note: str | None = None) -> None:
        self.done = min(done, self.total) if self.total else done
        if note is not None:
            self.note = note
        self._draw()

    def begin(self, note: str) -> None:
        """A statement starts: `estimate` moves the bar from here until `update` says where it ended."""
        self.note = note
        self._mark = (self.done, time.perf_counter())
        self._draw(force=True)

    def estimate(self, ceiling: float) -> None:
        """Move the bar by time at the measured throughput, at most to `ceiling` (the statement's
        last row): SQLite says nothing of its progress within one statement."""
        if self._mark is None:
            return
        done, since = self._mark
        elapsed_before = since - self.started
        if done <= 0 or elapsed_before <= 0:
            self._draw()
            return
        guess = done + (time.perf_counter() - since) * done / elapsed_before
        self.update(min(guess, ceiling))

    def close(self) -> None:
        seconds = time.perf_counter() - self.started
        self.done = self.total or self.done
        self.note = f"done in {_duration(seconds)}"
        self._draw(force=True)
        self.stream.write("\n")
        self.stream.flush()


class NoBar:
    """The bar when nobody is watching: every method does nothing."""

    done = 0.0

    def update(self, done: float, note: str | None = None) -> None:
        pass

    def begin(self, note: str) -> None:
        pass

    def estimate(self, ceiling: float) -> None:
        pass

    def close(self) -> None:
        pass
