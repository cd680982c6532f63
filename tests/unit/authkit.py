"""Helpers shared by the auth tests: requests built the way `s3front.request.from_scope` builds
them, an in-memory key lookup and a body reader. Not a fixture file: plain functions."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from s3front.auth import AuthResult, authenticate
from s3front.body import Body
from s3front.request import S3Request, parse_query, split_host
from s3front.store.records import AccessKeyRecord

T = TypeVar("T")


def make_request(
    method: str,
    target: str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
) -> S3Request:
    """An S3Request for `target` ("/path?query", as sent); repeated headers are comma-joined."""
    path, _, query = target.partition("?")
    joined: dict[str, str] = {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in items:
        name = name.lower()
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return S3Request(
        method=method,
        raw_path=path,
        raw_query=query,
        query=parse_query(query),
        headers=joined,
        host=split_host(joined.get("host", "")),
        scheme="http",
        client_ip="127.0.0.1",
    )


class Keys:
    """A key store in a dict; `lookup` has the KeyLookup signature."""

    def __init__(self, *records: AccessKeyRecord) -> None:
        self.records = {r.access_key: r for r in records}

    async def lookup(self, access_key: str) -> AccessKeyRecord | None:
        return self.records.get(access_key)


def key(access_key: str, secret: str, status: str = "active") -> AccessKeyRecord:
    return AccessKeyRecord(
        access_key=access_key,
        secret=secret,
        tenant="tenant-" + access_key,
        display_name="user-" + access_key,
        created_ms=0,
        status=status,
    )


async def stream_of(data: bytes, piece: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), piece):
        yield data[i : i + piece]


async def read(body: Body) -> bytes:
    return b"".join([piece async for piece in body])


async def auth(
    req: S3Request,
    keys: Keys,
    now: datetime,
    body: bytes = b"",
    *,
    bucket: str | None = None,
    virtual_host: bool = False,
    piece: int = 65536,
) -> AuthResult:
    return await authenticate(
        req,
        stream_of(body, piece),
        bucket=bucket,
        virtual_host=virtual_host,
        lookup=keys.lookup,
        region="us-east-1",
        now=now,
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(_await(coro))


async def _await(coro: Awaitable[T]) -> T:
    return await coro


# -- real clients, captured before they send ----------------------------------------------------

AK = "AKIDS3FRONTTEST"
SECRET = "s3front/test+secret/KEY"
KEYS = Keys(key(AK, SECRET))


class _Raw:
    def stream(self, *args: object, **kwargs: object) -> Iterator[bytes]:
        yield b""


_captured: list[Any] = []


@functools.cache
def _client(signature_version: str, addressing_style: str, endpoint: str, capture: bool) -> Any:
    """One boto3 client per configuration: creating clients costs ~1 s each (model loading)."""
    import boto3
    from botocore.awsrequest import AWSPreparedRequest, AWSResponse
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=AK, aws_secret_access_key=SECRET, region_name="us-east-1"
    )
    client = session.client(
        "s3",
        endpoint_url=endpoint,
        config=Config(
            signature_version=signature_version,
            s3={"addressing_style": addressing_style},
            retries={"max_attempts": 0},
        ),
    )
    if capture:

        def before_send(request: AWSPreparedRequest, **_: object) -> AWSResponse:
            _captured.append(request)
            return AWSResponse(request.url, 599, {}, _Raw())

        client.meta.events.register("before-send.s3", before_send)
    return client


def boto3_request(
    op: str,
    *,
    signature_version: str = "s3v4",
    addressing_style: str = "path",
    endpoint: str = "http://localhost:9000",
    **params: object,
) -> tuple[S3Request, bytes]:
    """The request boto3 would send for `op`, as the server would see it, and its raw body."""
    client = _client(signature_version, addressing_style, endpoint, True)
    _captured.clear()
    with contextlib.suppress(Exception):  # the fake response is not meant to parse
        getattr(client, op)(**params)
    prepared = _captured[0]
    body = prepared.body
    raw = body.read() if hasattr(body, "read") else (body or b"")
    if isinstance(raw, str):
        raw = raw.encode()
    return from_url(prepared.method, prepared.url, dict(prepared.headers.items())), raw


def from_url(method: str, url: str, headers: Mapping[str, str | bytes]) -> S3Request:
    split = urlsplit(url)
    all_headers = {
        k.lower(): v.decode("latin-1") if isinstance(v, bytes) else v for k, v in headers.items()
    }
    all_headers.setdefault("host", split.netloc)
    target = split.path + (f"?{split.query}" if split.query else "")
    return make_request(method, target, all_headers)


def boto3_presigned(
    op: str, *, signature_version: str, expires: int = 3600, addressing_style: str = "path",
    **params: object,
) -> S3Request:  # fmt: skip
    client = _client(signature_version, addressing_style, "http://localhost:9000", False)
    url = client.generate_presigned_url(op, Params=params, ExpiresIn=expires)
    method = {"put_object": "PUT", "delete_object": "DELETE"}.get(op, "GET")
    return from_url(method, url, {})
