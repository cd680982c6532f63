"""The progress reporter of long CLI work (gc, stats, lifecycle run, key rotation): the one place
that writes progress to a terminal or a log.

Work that reports in messages (GC's phases, the lifecycle counts: `status_line`) and work that
counts items (`Progress`) are shown the same way.

On a terminal it keeps rewriting one status line ("gc: 1,204/5,000 blocks  310/s  24%"), at most
every `redraw` seconds so a fast loop does not spend its time writing to the terminal. Anywhere
else (a pipe, a file, a Kubernetes Job's log) carriage returns only make noise, so it stays
quiet and writes one summary line at the end, plus, if `log_every` is given, one plain line at
most every `log_every` seconds so a long job still shows it is alive.

    with Progress("gc", total=len(blocks), unit="blocks") as p:
        for b in blocks:
            ...
            p.advance()

The summary goes to the same stream (stderr by default), keeping stdout for command output.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

# Erase the whole line, then return to column 0 (works on every ANSI terminal).
_CLEAR_LINE = "\r\x1b[2K"


def _stderr() -> TextIO:
    return sys.stderr  # looked up at each use: tests and callers may replace sys.stderr


def is_terminal(stream: TextIO | None = None) -> bool:
    try:
        return (stream if stream is not None else sys.stderr).isatty()
    except (AttributeError, ValueError):  # closed or file-like objects without a tty notion
        return False


def terminal_status() -> Callable[[str], None] | None:
    """One rewritten status line on a terminal (stderr); None elsewhere, where a pipe or a Job's
    log gets only the command's final summary."""
    if not is_terminal():
        return None

    def show(message: str) -> None:
        _stderr().write(_CLEAR_LINE + message[:200])
        _stderr().flush()

    return show


def status_line(label: str, every: float = 30.0) -> Callable[[str], None]:
    """A callback for work that reports in messages: the status line on a terminal; elsewhere
    (a CronJob's log) one plain line "<label>: <message>" at most every `every` seconds, so a
    long pass still shows it is alive."""
    shown = terminal_status()
    if shown is not None:
        return shown
    last = [time.monotonic()]

    def log_line(message: str) -> None:
        if time.monotonic() - last[0] >= every:
            last[0] = time.monotonic()
            print(f"{label}: {message}", file=_stderr(), flush=True)

    return log_line


def clear_status() -> None:
    """Erase the status line before a command prints its summary (on a terminal only)."""
    if is_terminal():
        _stderr().write(_CLEAR_LINE)


def _count(n: float) -> str:
    return f"{n:,.0f}"


def _rate(n: float) -> str:
    return f"{n:,.1f}" if n < 100 else f"{n:,.0f}"


class Progress:
    """Counts work done and reports it; see the module docstring for where output goes."""

    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        unit: str = "items",
        stream: TextIO | None = None,
        tty: bool | None = None,
        redraw: float = 0.1,
        log_every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.stream: TextIO = stream if stream is not None else sys.stderr
        self.tty = is_terminal(self.stream) if tty is None else tty
        self.redraw = redraw
        self.log_every = log_every
        self.done = 0
        self._clock = clock
        self._started = clock()
        self._last_draw = float("-inf")
        self._last_log = self._started
        self._drawn = False
        self._finished = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish("failed" if exc_type is not None else None)

    def elapsed(self) -> float:
        return max(self._clock() - self._started, 0.0)

    def rate(self) -> float:
        elapsed = self.elapsed()
        return self.done / elapsed if elapsed > 0 else 0.0

    def status(self) -> str:
        """The current status line, without any terminal control characters."""
        parts = [f"{self.label}: {_count(self.done)}"]
        if self.total is not None:
            parts[0] += f"/{_count(self.total)}"
        parts[0] += f" {self.unit}"
        parts.append(f"{_rate(self.rate())}/s")
        if self.total:
            parts.append(f"{min(100.0, 100.0 * self.done / self.total):.0f}%")
        return "  ".join(parts)

    def advance(self, n: int = 1) -> None:
        self.update(self.done + n)

    def update(self, done: int) -> None:
        """Set the absolute count (for work that reports its own position)."""
        self.done = done
        now = self._clock()
        if self.tty:
            if now - self._last_draw >= self.redraw:
                self._write(_CLEAR_LINE + self.status())
                self._last_draw = now
                self._drawn = True
        elif self.log_every is not None and now - self._last_log >= self.log_every:
            self._write(self.status() + "\n")
            self._last_log = now

    def finish(self, outcome: str | None = None) -> None:
        """Write the summary line once: counts, elapsed time and rate (and `outcome`, if any)."""
        if self._finished:
            return
        self._finished = True
        elapsed = self.elapsed()
        line = f"{self.label}: {_count(self.done)}"
        if self.total is not None and self.total != self.done:
            line += f"/{_count(self.total)}"
        line += f" {self.unit} in {elapsed:.1f}s ({_rate(self.rate())}/s)"
        if outcome:
            line += f" {outcome}"
        self._write((_CLEAR_LINE if self.tty and self._drawn else "") + line + "\n")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
