"""Routing: a pure function from the request line to an `Endpoint`.

(Skeleton by the lead: `Endpoint` is fixed; `resolve` and the table are being written.)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Endpoint:
    op: str  # AWS operation name, e.g. "PutObject", "ListObjectsV2"
    bucket: str | None  # decoded bucket name, None for service-level operations
    key: str | None  # decoded object key, None for bucket-level operations
    virtual_host: bool  # the bucket came from the Host header
