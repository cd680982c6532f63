"""Conditional GET/HEAD (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since).

Precedence is S3's (RFC 7232 section 6): If-Match decides alone when present (an
If-Unmodified-Since that would fail is then ignored), and If-None-Match decides alone when
present (If-Modified-Since is then ignored). A date that does not parse is ignored.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from s3front import errors
from s3front.objects.commit import etag_matches
from s3front.request import S3Request
from s3front.store.records import ObjectRecord


def _parse_ms(value: str) -> int | None:
    if not value:  # the usual case: no such header (and parsing "" fails slowly, by exception)
        return None
    try:
        return int(parsedate_to_datetime(value).timestamp() * 1000)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def check(req: S3Request, rec: ObjectRecord, *, prefix: str = "") -> None:
    """Raise PreconditionFailed or NotModified when the conditions say so.

    `prefix` is "x-amz-copy-source-" for a copy source's conditions; those never answer 304
    (S3 reports a failed copy-source condition as 412).
    """
    # HTTP dates have second precision; compare at that precision.
    modified = rec.last_modified_ms // 1000 * 1000
    if_match = req.header(prefix + "if-match")
    if if_match:
        if not etag_matches(if_match, rec.etag):
            raise errors.PreconditionFailed(Condition=(prefix + "If-Match").title())
    else:
        since = _parse_ms(req.header(prefix + "if-unmodified-since"))
        if since is not None and modified > since:
            raise errors.PreconditionFailed(Condition=(prefix + "If-Unmodified-Since").title())
    if_none = req.header(prefix + "if-none-match")
    if if_none:
        if etag_matches(if_none, rec.etag):
            if prefix:
                raise errors.PreconditionFailed(Condition=(prefix + "If-None-Match").title())
            raise errors.NotModified()
    else:
        since = _parse_ms(req.header(prefix + "if-modified-since"))
        if since is not None and modified <= since:
            if prefix:
                raise errors.PreconditionFailed(Condition=(prefix + "If-Modified-Since").title())
            raise errors.NotModified()
