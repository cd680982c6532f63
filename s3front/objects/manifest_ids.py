"""Manifest ids that carry their creation time.

An id is 32 lower-case hex digits: the first 12 are the creation time in milliseconds since the
epoch (enough until the year 10889), the last 20 are random (80 bits). GC reads the time back
to keep every manifest created within its grace period, whether or not anything references it
yet: an upload between writing its manifest and its object row, or a copy's fresh manifest.

Ids of any other shape have no known time: `manifest_created_ms` returns None and GC treats
them as old. The uuid4 hex ids written before this format are 32 hex digits too, so they parse;
their first 12 digits are random, which reads as a time centuries ahead for all but a tiny
fraction of them. GC therefore trusts a stamped time only up to a little past its own clock and
treats anything later as old as well (see `s3front.objects.gc`).
"""

from __future__ import annotations

import secrets

from s3front import clock

_TIME_DIGITS = 12
_RANDOM_DIGITS = 20
ID_LENGTH = _TIME_DIGITS + _RANDOM_DIGITS
_HEX = frozenset("0123456789abcdef")


def new_manifest_id(now_ms: int | None = None) -> str:
    """A fresh id stamped with `now_ms` (default: the current time)."""
    ms = clock.now_ms() if now_ms is None else now_ms
    if not 0 <= ms < 16**_TIME_DIGITS:
        raise ValueError(f"time {ms} ms does not fit a manifest id")
    return f"{ms:0{_TIME_DIGITS}x}{secrets.token_hex(_RANDOM_DIGITS // 2)}"


def manifest_created_ms(manifest_id: str) -> int | None:
    """The creation time stamped in `manifest_id`, or None if it is not of this format."""
    if len(manifest_id) != ID_LENGTH or not _HEX.issuperset(manifest_id):
        return None
    return int(manifest_id[:_TIME_DIGITS], 16)
