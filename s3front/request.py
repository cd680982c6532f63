"""The request as S3 sees it, taken from the ASGI scope before anything interprets it.

Signatures are computed over what the client sent, so the path is kept exactly as received
(percent-encoded) and the query both raw and as decoded pairs in their original order.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

# 16 hex digits like S3's: a random prefix per worker process and a counter, unique without
# a getrandom() call per request.
_REQUEST_ID_PREFIX = secrets.token_hex(4).upper()
_request_numbers = itertools.count(1)


def new_request_id() -> str:
    return f"{_REQUEST_ID_PREFIX}{next(_request_numbers) & 0xFFFFFFFF:08X}"


@dataclass(frozen=True, slots=True)
class S3Request:
    method: str  # upper case
    raw_path: str  # as sent, percent-encoded, without the query ("/bucket/a%20b")
    raw_query: str  # as sent, without the leading "?"
    query: tuple[tuple[str, str], ...]  # decoded pairs in order; "?uploads" -> ("uploads", "")
    headers: Mapping[str, str]  # lower-case names; repeated headers joined with ","
    host: str  # Host header without port (lower case), "" if absent
    scheme: str  # "http" or "https"
    client_ip: str

    def param(self, name: str) -> str | None:
        """The first value of a query parameter, or None when absent."""
        for k, v in self.query:
            if k == name:
                return v
        return None

    def has_param(self, name: str) -> bool:
        return any(k == name for k, _ in self.query)

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)


def parse_query(raw_query: str) -> tuple[tuple[str, str], ...]:
    """Decode a query string into ordered pairs, keeping blank values and bare keys.

    "+" is a space in query strings (form encoding), which is how S3 reads them too; clients that
    mean a literal plus send %2B.
    """
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((unquote_plus(name), unquote_plus(value)))
    return tuple(pairs)


def split_host(host_header: str) -> str:
    """The host name of a Host header, lower case, without port (IPv6 brackets kept)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end >= 0 else host
    return host.rsplit(":", 1)[0] if ":" in host else host


def from_scope(scope: Mapping[str, Any]) -> S3Request:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    raw_path_bytes: bytes | None = scope.get("raw_path")
    raw_path = (
        raw_path_bytes.decode("latin-1") if raw_path_bytes is not None else scope["path"]
    ).split("?", 1)[0]
    raw_query = scope.get("query_string", b"").decode("latin-1")
    client = scope.get("client")
    return S3Request(
        method=scope["method"].upper(),
        raw_path=raw_path,
        raw_query=raw_query,
        query=parse_query(raw_query),
        headers=headers,
        host=split_host(headers.get("host", "")),
        scheme=scope.get("scheme", "http"),
        client_ip=client[0] if client else "",
    )
