"""The access log's lines are written at the end of the event-loop turn that made them, in
writes that a pipe shared by the workers never interleaves (s3front.requestlog)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest

from s3front.requestlog import _BATCH_BYTES, RequestLog


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    logger = logging.getLogger("s3front.access")
    level = logger.level
    logger.setLevel(logging.INFO)
    r, w = os.pipe()
    os.set_blocking(r, False)
    try:
        yield r, w
    finally:
        logger.setLevel(level)
        os.close(r)
        os.close(w)


def _log(log: RequestLog, n: int, key: str = "k") -> None:
    log.write(
        request_id=f"{n:016X}",
        client="127.0.0.1",
        access_key="AKIDEXAMPLE",
        tenant="t",
        op="GetObject",
        method="GET",
        bucket="b",
        key=key,
        status=200,
        error="",
        bytes_in=0,
        bytes_out=4096,
        seconds=0.0001,
    )


def _read(fd: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return out
        out += chunk


def _lines(data: bytes) -> list[dict[str, Any]]:
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.decode().splitlines()]


def test_lines_wait_for_the_end_of_the_turn_then_all_arrive_in_order(
    pipe: tuple[int, int],
) -> None:
    r, w = pipe

    async def main() -> tuple[bytes, bytes]:
        log = RequestLog(True, w)
        for n in range(5):
            _log(log, n)
        during = _read(r)
        await asyncio.sleep(0)  # the turn ends: its callbacks, the flush among them, run
        return during, _read(r)

    during, after = asyncio.run(main())
    assert during == b""
    assert [line["request_id"] for line in _lines(after)] == [f"{n:016X}" for n in range(5)]


def test_a_turn_with_more_than_a_pipe_write_of_lines_writes_whole_lines_in_pieces(
    pipe: tuple[int, int],
) -> None:
    r, w = pipe
    writes: list[int] = []
    real_write = os.write

    def counting_write(fd: int, data: bytes) -> int:
        writes.append(len(data))
        return real_write(fd, data)

    async def main() -> bytes:
        log = RequestLog(True, w)
        for n in range(40):
            _log(log, n, key="x" * 200)
        await asyncio.sleep(0)
        return _read(r)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("s3front.requestlog.os.write", counting_write)
        data = asyncio.run(main())
    lines = _lines(data)
    assert [line["request_id"] for line in lines] == [f"{n:016X}" for n in range(40)]
    assert len(data) > 2 * _BATCH_BYTES
    assert len(writes) > 1 and max(writes) <= _BATCH_BYTES
    assert len(writes) < 40  # batched, not a write per line


def test_without_an_event_loop_a_line_is_written_at_once(pipe: tuple[int, int]) -> None:
    r, w = pipe
    log = RequestLog(True, w)
    _log(log, 7)
    assert [line["request_id"] for line in _lines(_read(r))] == [f"{7:016X}"]


def test_a_line_longer_than_a_pipe_write_goes_out_whole(pipe: tuple[int, int]) -> None:
    r, w = pipe

    async def main() -> bytes:
        log = RequestLog(True, w)
        _log(log, 1)
        _log(log, 2, key="\u00e9" * 1024)  # JSON-escaped: six bytes a character
        _log(log, 3)
        await asyncio.sleep(0)
        return _read(r)

    lines = _lines(asyncio.run(main()))
    assert [line["request_id"] for line in lines] == [f"{n:016X}" for n in (1, 2, 3)]
    assert lines[1]["key"] == "\u00e9" * 1024
