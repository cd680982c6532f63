"""Object headers: what a PUT stores and what a GET/HEAD returns.

S3 keeps a fixed set of standard headers plus `x-amz-meta-*` user metadata and returns them
verbatim. The `response-*` query parameters of a GET override some of them on the way out.

Every value stored as a header passes `check_stored_headers` first (PUT, CopyObject with
REPLACE, CreateMultipartUpload, POST form fields): a value the HTTP layer cannot send back
would make every later GET and HEAD of the object fail (a 500 or a dropped connection). The
rule is RFC 9110's field value as Latin-1 text: HTAB, visible ASCII, SP and obs-text
(U+0080-U+00FF, which is how a PUT header's raw non-ASCII bytes arrive and are sent back byte
for byte). Control characters (CR, LF, NUL, ...) and anything above U+00FF are refused with
400 InvalidArgument. AWS instead RFC 2047-encodes non-ASCII metadata; we refuse rather than
rewrite what the client sent.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Mapping

from s3front import errors
from s3front.request import S3Request
from s3front.store.records import NULL_VERSION, ObjectRecord

STORED = (
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
)
# S3 limits user metadata (names and values, UTF-8) to 2 KB.
MAX_USER_METADATA = 2048
# GET query parameters that replace a response header (S3 "response-*" overrides).
OVERRIDES = {
    "response-content-type": "content-type",
    "response-content-language": "content-language",
    "response-expires": "expires",
    "response-cache-control": "cache-control",
    "response-content-disposition": "content-disposition",
    "response-content-encoding": "content-encoding",
}


# Characters outside an HTTP field value (RFC 9110 5.5: HTAB, SP, VCHAR, obs-text).
_NOT_FIELD_VALUE = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
# An HTTP field name (RFC 9110 5.1: a token).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def header_value_ok(value: str) -> bool:
    """Whether `value` can be sent as an HTTP header value exactly as stored."""
    return _NOT_FIELD_VALUE.search(value) is None


def header_name_ok(name: str) -> bool:
    return _TOKEN.fullmatch(name) is not None


def check_stored_headers(headers: Mapping[str, str]) -> None:
    """Refuse (400 InvalidArgument) headers that could not be sent back on a GET or HEAD."""
    for name, value in headers.items():
        if not header_name_ok(name):
            raise errors.InvalidArgument(
                "Invalid header name.", ArgumentName="header", ArgumentValue=""
            )
        if not header_value_ok(value):
            # The value itself is not echoed: it is what could not be sent.
            raise errors.InvalidArgument(
                f"Header value for {name} contains characters that are not allowed.",
                ArgumentName=name,
                ArgumentValue="",
            )


def stored_headers(req: S3Request) -> dict[str, str]:
    """The headers of a PUT (or CreateMultipartUpload) that become part of the object."""
    out: dict[str, str] = {}
    for name in STORED:
        value = req.headers.get(name)
        if value is None:
            continue
        if name == "content-encoding" and "aws-chunked" in value.lower():
            # aws-chunked is transfer framing, not the object's encoding: strip it, keep the
            # rest (`aws-chunked,gzip` stores `gzip`), as S3 does. Any other value is kept
            # byte for byte, spaces included.
            # (botocore appends ",aws-chunked" to the caller's own value, spaces and all.)
            parts = [p for p in value.split(",") if p.strip().lower() != "aws-chunked"]
            value = ",".join(parts).strip()
            if not value:
                continue
        out[name] = value
    meta_size = 0
    for name, value in req.headers.items():
        if name.startswith("x-amz-meta-"):
            out[name] = value
            meta_size += len(name) - len("x-amz-meta-") + len(value.encode("utf-8", "replace"))
    if meta_size > MAX_USER_METADATA:
        raise errors.MetadataTooLarge(
            f"Your metadata headers exceed the maximum allowed metadata size of {MAX_USER_METADATA} bytes."
        )
    # The HTTP server already refuses CR/LF in a request header; this also covers what its
    # parser lets through and what the header decoding could produce.
    check_stored_headers(out)
    return out


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(ms: int) -> str:
    """RFC 7231 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (what email.utils'
    format_datetime(usegmt=True) gives, written out: every GET and HEAD sends one)."""
    return _http_date_of_second(ms // 1000)


@functools.lru_cache(maxsize=4096)  # objects written in the same second share the text
def _http_date_of_second(second: int) -> str:
    t = time.gmtime(second)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def object_headers(rec: ObjectRecord, req: S3Request | None = None) -> dict[str, str]:
    """Response headers for GET/HEAD of `rec` (without length and range headers)."""
    out = {
        "etag": f'"{rec.etag}"',
        "last-modified": http_date(rec.last_modified_ms),
        "accept-ranges": "bytes",
        "content-type": "binary/octet-stream",
    }
    missing = 0
    for name, value in rec.headers.items():
        # Objects stored before values were checked may hold one the server cannot send: leave
        # it out rather than fail the whole response (S3 likewise omits unprintable metadata
        # and counts it in x-amz-missing-meta).
        if header_name_ok(name) and header_value_ok(value):
            out[name] = value
        elif name.startswith("x-amz-meta-"):
            missing += 1
    if missing:
        out["x-amz-missing-meta"] = str(missing)
    if rec.version_id != NULL_VERSION:
        out["x-amz-version-id"] = rec.version_id
    if rec.parts:
        out["x-amz-mp-parts-count"] = str(rec.parts)
    if req is not None:
        if req.header("x-amz-checksum-mode").upper() == "ENABLED":
            for alg, value in rec.checksums.items():
                if alg == "type":
                    out["x-amz-checksum-type"] = value
                else:
                    out[f"x-amz-checksum-{alg.lower()}"] = value
        for param, header in OVERRIDES.items() if req.query else ():
            override = req.param(param)
            if override is not None:
                # Decoded from the query, so it may hold CR/LF (header injection) or non-Latin-1
                # text, which the HTTP server refuses to send (a 500): refuse it here instead.
                if not header_value_ok(override):
                    raise errors.InvalidArgument(
                        f"Invalid value for {param}.", ArgumentName=param, ArgumentValue=""
                    )
                out[header] = override
    return out
