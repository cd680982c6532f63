"""The Range header of GetObject / HeadObject, as S3 reads it.

S3 honours a single byte range. Like AWS (and RFC 9110, which says a server MAY ignore Range),
a header it cannot parse -- a unit other than bytes, a malformed spec, last < first, or several
ranges -- is ignored and the whole object is returned. A well-formed range that selects nothing
is 416 InvalidRange.
"""

from __future__ import annotations

import re

from s3front.errors import InvalidRange

_SPEC = re.compile(r"bytes=(\d*)-(\d*)")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end) with end exclusive and clamped to size, or None for the whole object."""
    m = _SPEC.fullmatch(header.strip())
    if m is None:
        return None
    first, last = m.group(1), m.group(2)
    if first:
        start = int(first)
        if last:
            end = int(last) + 1
            if end <= start:
                return None  # last < first: syntactically invalid, so ignored
        else:
            end = size
        if start >= size:
            raise _unsatisfiable(header, size)
        return start, min(end, size)
    if not last:
        return None  # "bytes=-"
    suffix = int(last)
    if suffix == 0 or size == 0:
        raise _unsatisfiable(header, size)
    return max(size - suffix, 0), size


def _unsatisfiable(header: str, size: int) -> InvalidRange:
    return InvalidRange(RangeRequested=header.strip(), ActualObjectSize=str(size))


def content_range(start: int, end: int, size: int) -> str:
    """The Content-Range response header for (start, end exclusive)."""
    return f"bytes {start}-{end - 1}/{size}"
