"""A delete of one version racing a PutObjectLegalHold on it, interleaved exactly.

The delete checks the version (no hold), then removes the row. If the hold lands between the
two, the hold must not be acknowledged for a version that is then removed: the delete claims
the row first (`lock_headers.delete_guard`), so the hold's compare-and-set fails and it answers
409 OperationAborted. Real handlers, a real SQLite store; the only addition is a store wrapper
that runs the hold request at the moment the delete is about to remove the row.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from s3front import errors
from s3front.api import object_lock, objects
from s3front.api.context import Ctx
from s3front.auth import Principal
from s3front.config import Settings
from s3front.objects import lock
from s3front.objects.listing import shard_of
from s3front.request import S3Request, parse_query
from s3front.routing import Endpoint
from s3front.store.protocols import Store
from s3front.store.records import BucketRecord, ObjectRecord

pytestmark = pytest.mark.anyio

HOLD = b"<LegalHold><Status>ON</Status></LegalHold>"


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.length: int | None = len(data)
        self.trailers: dict[str, str] = {}
        self.sha256: bytes | None = None

    async def _gen(self) -> AsyncIterator[bytes]:
        yield self.data

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._gen()


def _ctx(store: Any, method: str, op: str, query: str, body: bytes = b"", **hdrs: str) -> Ctx:
    req = S3Request(
        method=method,
        raw_path="/b/k",
        raw_query=query,
        query=parse_query(query),
        headers=hdrs,
        host="localhost",
        scheme="http",
        client_ip="127.0.0.1",
    )
    return Ctx(
        req=req,
        ep=Endpoint(op=op, bucket="b", key="k", virtual_host=False),
        principal=Principal("AK", "owner", "owner"),
        body=_Bytes(body),
        store=store,
        settings=Settings(),
        request_id="r",
    )


class _Meta:
    """The real meta store; `delete_object` first runs `before_delete` (once)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.before_delete: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def delete_object(self, bucket_id: str, shard: int, key: str, seq: int) -> None:
        hook, self.before_delete = self.before_delete, None
        if hook is not None:
            await hook()
        await self.inner.delete_object(bucket_id, shard, key, seq)


class _Store:
    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.meta = _Meta(inner.meta)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_legal_hold_racing_a_delete_is_not_acknowledged(store: Store) -> None:
    bucket = BucketRecord(
        name="b",
        bucket_id="bid",
        owner="owner",
        created_ms=0,
        region="us-east-1",
        shards=4,
        versioning="Enabled",
        attrs={lock.BUCKET_ATTR: ""},
    )
    assert await store.meta.insert_bucket(bucket)
    version = ObjectRecord(
        key="k",
        seq=1,
        version_id="0000000000000001" + "0" * 16,
        size=1,
        etag="e",
        last_modified_ms=1,
        owner="owner",
        inline=b"x",
    )
    shard = shard_of("k", bucket.shards)
    await store.meta.put_object(bucket.bucket_id, shard, version)
    racing = _Store(store)
    outcome: list[object] = []

    async def hold() -> None:
        md5 = base64.b64encode(hashlib.md5(HOLD).digest()).decode()
        query = f"legal-hold&versionId={version.version_id}"
        ctx = _ctx(racing, "PUT", "PutObjectLegalHold", query, HOLD, **{"content-md5": md5})
        try:
            outcome.append((await object_lock.handle_put_object_legal_hold(ctx)).status_code)
        except errors.S3Error as err:
            outcome.append(err.code)

    racing.meta.before_delete = hold
    delete = _ctx(racing, "DELETE", "DeleteObject", f"versionId={version.version_id}")
    resp = await objects.handle_delete_object(delete)
    assert resp.status_code == 204
    assert await store.meta.get_object(bucket.bucket_id, shard, "k", 1) is None
    # The version is gone, so the hold must not have been acknowledged.
    assert outcome == ["OperationAborted"]
