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
# Offsets beyond any object size; longer digit strings are not converted (int() refuses more than
# 4300 digits, and no offset needs more than 19).
_HUGE = 10**20


def offset(digits: str) -> int:
    """The value of a run of digits, capped at 10**20 (bounded work for any length)."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 20 else _HUGE


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end) with end exclusive and clamped to size, or None for the whole object."""
    m = _SPEC.fullmatch(header.strip())
    if m is None:
        return None
    first, last = m.group(1), m.group(2)
    if first:
        start = offset(first)
        if last:
            end = offset(last) + 1
            if end <= start:
                return None  # last < first: syntactically invalid, so ignored
        else:
            end = size
        if start >= size:
            raise _unsatisfiable(header, size)
        return start, min(end, size)
    if not last:
        return None  # "bytes=-"
    suffix = offset(last)
    if suffix == 0 or size == 0:
        raise _unsatisfiable(header, size)
    return max(size - suffix, 0), size


def _unsatisfiable(header: str, size: int) -> InvalidRange:
    return InvalidRange(RangeRequested=header.strip(), ActualObjectSize=str(size))


def content_range(start: int, end: int, size: int) -> str:
    """The Content-Range response header for (start, end exclusive)."""
    return f"bytes {start}-{end - 1}/{size}"
