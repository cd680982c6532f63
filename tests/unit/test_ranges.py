"""Range header parsing as S3 does it: one range, invalid headers ignored, 416 when empty."""

from __future__ import annotations

import pytest

from s3front.errors import InvalidRange
from s3front.objects.ranges import content_range, parse_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-0", 10, (0, 1)),
        ("bytes=0-9", 10, (0, 10)),
        ("bytes=2-5", 10, (2, 6)),
        ("bytes=5-100", 10, (5, 10)),  # end clamped to the size
        ("bytes=9-", 10, (9, 10)),
        ("bytes=0-", 10, (0, 10)),
        ("bytes=-3", 10, (7, 10)),
        ("bytes=-10", 10, (0, 10)),
        ("bytes=-1000", 10, (0, 10)),  # suffix longer than the object: all of it
        (" bytes=1-2 ", 10, (1, 3)),
        # Ignored: whole object.
        ("bytes=5-2", 10, None),  # last < first is syntactically invalid
        ("bytes=0-1,4-5", 10, None),  # several ranges
        ("bytes=-", 10, None),
        ("bytes=a-b", 10, None),
        ("items=0-1", 10, None),
        ("bytes 0-1", 10, None),
        ("", 10, None),
        ("bytes=1-2-3", 10, None),
    ],
)
def test_parse_range(header: str, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=10-", 10),
        ("bytes=10-20", 10),
        ("bytes=-0", 10),
        ("bytes=0-", 0),
        ("bytes=0-0", 0),
        ("bytes=-5", 0),
    ],
)
def test_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(InvalidRange) as info:
        parse_range(header, size)
    assert info.value.status == 416
    assert info.value.extra["ActualObjectSize"] == str(size)
    assert info.value.extra["RangeRequested"] == header


@pytest.mark.parametrize(
    ("start", "end", "size", "expected"),
    [(0, 1, 10, "bytes 0-0/10"), (7, 10, 10, "bytes 7-9/10")],
)
def test_content_range(start: int, end: int, size: int, expected: str) -> None:
    assert content_range(start, end, size) == expected
