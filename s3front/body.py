"""Request bodies as handlers see them: verified byte streams.

The auth layer turns the ASGI receive channel into a `Body`: it strips aws-chunked framing,
checks chunk signatures and the payload hash, and fails the iteration with the right S3 error
(IncompleteBody, XAmzContentSHA256Mismatch, SignatureDoesNotMatch, ...) if anything is wrong.
Handlers never see framing or signatures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol


class Body(Protocol):
    # Exact payload length when the client declared one (Content-Length, or
    # x-amz-decoded-content-length for aws-chunked bodies); None when unknown.
    @property
    def length(self) -> int | None: ...

    # Trailing headers of an aws-chunked body, lower-case names (e.g. "x-amz-checksum-crc32").
    # Complete only once iteration has finished.
    @property
    def trailers(self) -> dict[str, str]: ...

    # The SHA-256 of the whole payload, once iteration has finished, if the client signed it
    # and it matched (so the server need not hash the same bytes again); else None.
    @property
    def sha256(self) -> bytes | None: ...

    def __aiter__(self) -> AsyncIterator[bytes]: ...


async def read_all(body: Body, limit: int) -> bytes:
    """Read a small body (an XML document) whole, refusing more than `limit` bytes."""
    from s3front.errors import EntityTooLarge

    parts: list[bytes] = []
    size = 0
    async for chunk in body:
        size += len(chunk)
        if size > limit:
            raise EntityTooLarge(f"The request body exceeds {limit} bytes.")
        parts.append(chunk)
    return b"".join(parts)
