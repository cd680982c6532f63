"""The pure parts of the slow-client guards: credential detection and body pacing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from s3front.errors import RequestTimeout
from s3front.limits import has_credentials, paced


@pytest.mark.parametrize(
    ("headers", "target", "expected"),
    [
        ([(b"authorization", b"AWS4-HMAC-SHA256 ...")], b"/b/k", True),
        ([], b"/b/k?X-Amz-Signature=abc&X-Amz-Credential=x", True),
        ([], b"/b/k?AWSAccessKeyId=a&Signature=s&Expires=1", True),
        ([], b"/b/k?uploads", False),
        ([], b"/b/k?x-amz-signature-ish=1", False),
        ([(b"host", b"x")], b"/b", False),
    ],
)
def test_has_credentials(headers: list[tuple[bytes, bytes]], target: bytes, expected: bool) -> None:
    assert has_credentials(headers, target) is expected


async def _stream(pieces: list[tuple[float, bytes]]) -> AsyncIterator[bytes]:
    for delay, piece in pieces:
        await asyncio.sleep(delay)
        yield piece


async def _drain(stream: AsyncIterator[bytes]) -> int:
    return sum([len(piece) async for piece in stream])


def test_paced_banks_at_most_the_window() -> None:
    """A fast start earns no more than `window` seconds: a pause longer than the window after
    a big first chunk still fails, a shorter one passes."""
    fast_then_pause = [(0, b"x" * 100_000), (0.5, b"y")]
    ok = paced(_stream(fast_then_pause), idle=0, min_rate=100, window=1.0, deadline=None)
    assert asyncio.run(_drain(ok)) == 100_001
    long_pause = [(0, b"x" * 100_000), (1.5, b"y")]
    late = paced(_stream(long_pause), idle=0, min_rate=100, window=1.0, deadline=None)
    with pytest.raises(RequestTimeout):
        asyncio.run(_drain(late))


def test_paced_idle_and_deadline() -> None:
    idle = paced(_stream([(0.5, b"x")]), idle=0.2, min_rate=0, window=0, deadline=None)
    with pytest.raises(RequestTimeout):
        asyncio.run(_drain(idle))

    async def past_deadline() -> int:
        deadline = asyncio.get_running_loop().time() + 0.5
        steady = [(0.1, b"x" * 1000)] * 20  # 10 kB/s, two seconds
        return await _drain(paced(_stream(steady), idle=1, min_rate=1, window=1, deadline=deadline))

    with pytest.raises(RequestTimeout):
        asyncio.run(past_deadline())
    unlimited = paced(_stream([(0.05, b"x")] * 3), idle=0, min_rate=0, window=0, deadline=None)
    assert asyncio.run(_drain(unlimited)) == 3
