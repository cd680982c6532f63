"""s3front.progress on a real pseudo-terminal and on a pipe."""

from __future__ import annotations

import io
import os
import pty
import select
from collections.abc import Iterator

import pytest

from s3front.progress import Progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def terminal() -> Iterator[tuple[io.TextIOWrapper, int]]:
    """A text stream on a pty's terminal side, and the controller fd to read what it shows."""
    controller, tty_fd = pty.openpty()
    stream = open(tty_fd, "w", encoding="utf-8", closefd=True)  # noqa: SIM115 - closed below
    try:
        yield stream, controller
    finally:
        stream.close()
        os.close(controller)


def read_all(fd: int) -> str:
    chunks = []
    while select.select([fd], [], [], 0.2)[0]:
        chunks.append(os.read(fd, 65536))
    return b"".join(chunks).decode()


def test_on_a_tty_it_rewrites_one_line(terminal: tuple[io.TextIOWrapper, int]) -> None:
    stream, controller = terminal
    clock = FakeClock()
    p = Progress("gc", total=200, unit="blocks", stream=stream, redraw=0.5, clock=clock)
    assert p.tty  # detected from the stream, not forced
    for _ in range(100):
        clock.now += 0.01
        p.advance()
    p.finish()
    shown = read_all(controller)
    # Redraws are throttled to one per 0.5 s of the 1 s of work, plus the final summary.
    redraws = shown.count("\x1b[2K")
    assert 2 <= redraws <= 4, shown
    assert "gc: 1/200 blocks" in shown  # the first redraw
    assert "\n" not in shown.replace("\r\n", "\n").rstrip("\n")  # one line, rewritten
    assert shown.rstrip().endswith("gc: 100/200 blocks in 1.0s (100.0/s)")


def test_on_a_pipe_it_prints_only_a_summary() -> None:
    read_fd, write_fd = os.pipe()
    with open(write_fd, "w", encoding="utf-8") as stream:
        clock = FakeClock()
        with Progress("schema", unit="files", stream=stream, clock=clock) as p:
            assert not p.tty
            for _ in range(5):
                clock.now += 1
                p.advance()
    with open(read_fd, encoding="utf-8") as out:
        text = out.read()
    assert text == "schema: 5 files in 5.0s (1.0/s)\n"


def test_on_a_pipe_it_logs_at_most_every_interval() -> None:
    out = io.StringIO()
    clock = FakeClock()
    p = Progress("copy", total=60, stream=out, log_every=10, clock=clock)
    for _ in range(60):
        clock.now += 0.5
        p.advance()
    p.finish()
    lines = out.getvalue().splitlines()
    # 30 s of work, a line every 10 s, then the summary; no terminal control characters.
    assert lines == [
        "copy: 20/60 items  2.0/s  33%",
        "copy: 40/60 items  2.0/s  67%",
        "copy: 60/60 items  2.0/s  100%",
        "copy: 60 items in 30.0s (2.0/s)",
    ]
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_failure_is_reported_and_summary_written_once() -> None:
    out = io.StringIO()
    clock = FakeClock()
    with pytest.raises(RuntimeError), Progress("gc", total=10, stream=out, clock=clock) as p:
        clock.now += 2
        p.update(4)
        raise RuntimeError("store went away")
    p.finish()
    assert out.getvalue() == "gc: 4/10 items in 2.0s (2.0/s) failed\n"
