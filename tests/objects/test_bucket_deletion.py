"""DeleteBucket against object writes, step by step, on SQLite and Cassandra.

Each test orders the two requests' steps (`s3front.objects.bucket_deletion`: D1-D3 of the
delete, P2 write the row and P3 confirm of the write) by holding one store call of the real
store until the other request got somewhere. Whatever the order: never "write stands" and
"bucket deleted" both, and a write that stands is readable.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest
from s3front_store_fixtures import cassandra_store, sqlite_store  # noqa: F401

from s3front import errors
from s3front.clock import now_ms
from s3front.objects import bucket_deletion
from s3front.objects.listing import shard_of
from s3front.store.bucket_cache import BucketCachingStore, bucket_for_objects
from s3front.store.protocols import MetaStore, Store
from s3front.store.records import BucketRecord, ObjectRecord, OwnerBucket

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)])
def any_store(request: pytest.FixtureRequest) -> Store:
    fixture: Store = request.getfixturevalue(f"{request.param}_store")
    return fixture


class Held:
    """The real MetaStore, with calls of one method held until `release` (a step ordering)."""

    def __init__(self, meta: MetaStore, method: str) -> None:
        self._meta = meta
        self._method = method
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._meta, name)
        if name != self._method:
            return attr

        async def held(*args: Any, **kwargs: Any) -> Any:
            self.reached.set()
            await self.release.wait()
            return await attr(*args, **kwargs)

        return held


async def new_bucket(meta: MetaStore) -> BucketRecord:
    rec = BucketRecord(
        name="t" + uuid.uuid4().hex[:16], bucket_id=uuid.uuid4().hex, owner="o", created_ms=1,
        region="us-east-1", shards=4,
    )  # fmt: skip
    assert await meta.insert_bucket(rec)
    await meta.put_owner_bucket(OwnerBucket(rec.owner, rec.name, rec.created_ms))
    return rec


def obj(key: str = "k") -> ObjectRecord:
    return ObjectRecord(
        key=key, seq=0, version_id="null", size=1, etag="e", last_modified_ms=1, owner="o",
        inline=b"x",
    )  # fmt: skip


async def write(meta: MetaStore, bucket: BucketRecord, rec: ObjectRecord) -> None:
    """P2 and P3 of an object write (what commit_object does after its bucket check, P1)."""
    shard = shard_of(rec.key, bucket.shards)
    await meta.put_object(bucket.bucket_id, shard, rec)
    await bucket_deletion.confirm_write(meta, bucket, shard, rec)


async def outcome(step: Awaitable[None]) -> str:
    try:
        await step
    except errors.S3Error as err:
        return err.code
    return "ok"


async def stored(meta: MetaStore, bucket: BucketRecord, key: str = "k") -> ObjectRecord | None:
    return await meta.get_object(bucket.bucket_id, shard_of(key, bucket.shards), key)


async def test_delete_between_bucket_check_and_commit(any_store: Store) -> None:
    """The PUT read its bucket (P1); DeleteBucket runs start to end; then the PUT commits."""
    meta = any_store.meta
    bucket = await new_bucket(meta)
    await bucket_deletion.delete_bucket(meta, bucket)
    assert await outcome(write(meta, bucket, obj())) == "NoSuchBucket"
    assert await stored(meta, bucket) is None  # the orphan row went too


async def test_write_confirmed_before_the_mark(any_store: Store) -> None:
    meta = any_store.meta
    bucket = await new_bucket(meta)
    await write(meta, bucket, obj())
    assert await outcome(bucket_deletion.delete_bucket(meta, bucket)) == "BucketNotEmpty"
    assert await meta.get_bucket_mark(bucket.name) == (bucket.bucket_id, "")
    assert await stored(meta, bucket) is not None


async def test_write_during_the_scan_waits_and_stands(any_store: Store) -> None:
    """D1 done, D2 held; the write lands and waits on the mark; D2 sees it: BucketNotEmpty."""
    held = Held(any_store.meta, "scan_objects")
    meta = cast(MetaStore, held)
    bucket = await new_bucket(any_store.meta)
    deleting = asyncio.create_task(outcome(bucket_deletion.delete_bucket(meta, bucket)))
    await held.reached.wait()
    writing = asyncio.create_task(outcome(write(any_store.meta, bucket, obj())))
    await asyncio.sleep(0.3)
    assert not writing.done(), "the write did not wait for the deletion in progress"
    held.release.set()
    assert await deleting == "BucketNotEmpty"
    assert await writing == "ok"
    assert await stored(any_store.meta, bucket) is not None


async def test_write_after_the_scan_fails(any_store: Store) -> None:
    """D2 found the bucket empty, D3 held; the write lands and waits; D3 deletes: NoSuchBucket."""
    held = Held(any_store.meta, "delete_bucket_marked")
    meta = cast(MetaStore, held)
    bucket = await new_bucket(any_store.meta)
    deleting = asyncio.create_task(outcome(bucket_deletion.delete_bucket(meta, bucket)))
    await held.reached.wait()
    writing = asyncio.create_task(outcome(write(any_store.meta, bucket, obj())))
    await asyncio.sleep(0.3)
    assert not writing.done()
    held.release.set()
    assert await deleting == "ok"
    assert await writing == "NoSuchBucket"
    assert await stored(any_store.meta, bucket) is None


async def test_second_delete_meanwhile_is_aborted(any_store: Store) -> None:
    held = Held(any_store.meta, "scan_objects")
    bucket = await new_bucket(any_store.meta)
    first = asyncio.create_task(
        outcome(bucket_deletion.delete_bucket(cast(MetaStore, held), bucket))
    )
    await held.reached.wait()
    second = await outcome(bucket_deletion.delete_bucket(any_store.meta, bucket))
    assert second == "OperationAborted"
    held.release.set()
    assert await first == "ok"
    assert await any_store.meta.get_bucket(bucket.name) is None


async def test_stale_mark_is_cleared_and_its_holder_cannot_delete(any_store: Store) -> None:
    """A DeleteBucket that stalls past STALE_MS: a write clears its mark and stands, and the
    stalled delete, resuming, fails instead of deleting a bucket that now has an object."""
    meta = any_store.meta
    bucket = await new_bucket(meta)
    stale = bucket_deletion.new_mark(now_ms() - bucket_deletion.STALE_MS - 1)
    assert await meta.set_bucket_mark(bucket.name, bucket.bucket_id, stale, "")
    assert await outcome(write(meta, bucket, obj())) == "ok"
    assert await meta.get_bucket_mark(bucket.name) == (bucket.bucket_id, "")
    assert not await meta.delete_bucket_marked(bucket.name, stale)
    assert await stored(meta, bucket) is not None
    # A new DeleteBucket takes a stale mark over.
    assert await meta.set_bucket_mark(bucket.name, bucket.bucket_id, stale, "")
    assert await outcome(bucket_deletion.delete_bucket(meta, bucket)) == "BucketNotEmpty"


async def test_the_check_reads_the_store_not_the_bucket_cache(any_store: Store) -> None:
    cached = BucketCachingStore(any_store, 60)
    bucket = await new_bucket(any_store.meta)
    assert await bucket_for_objects(cached, bucket.name) == bucket  # now cached for 60 s
    # Deleted through another server (no cache drop here), then created again by someone else.
    await bucket_deletion.delete_bucket(any_store.meta, bucket)
    again = await new_bucket_named(any_store.meta, bucket.name)
    record = await bucket_for_objects(cached, bucket.name)
    assert record == bucket  # still the old record: the cache is a minute behind
    assert await outcome(write(cached.meta, record, obj())) == "NoSuchBucket"
    assert await stored(any_store.meta, bucket) is None
    assert await stored(any_store.meta, again) is None  # the new bucket never sees it


async def new_bucket_named(meta: MetaStore, name: str) -> BucketRecord:
    rec = BucketRecord(name, uuid.uuid4().hex, "o", 2, "us-east-1", 4)
    assert await meta.insert_bucket(rec)
    return rec


async def test_many_concurrent_rounds(any_store: Store) -> None:
    """Unordered: a write and a delete started together, 30 rounds with varying head starts."""
    meta = any_store.meta
    seen = set()
    for i in range(30):
        bucket = await new_bucket(meta)

        async def later(step: Callable[[], Awaitable[None]], delay: float) -> str:
            await asyncio.sleep(delay)
            return await outcome(step())

        w, d = await asyncio.gather(
            later(lambda b=bucket: write(meta, b, obj()), 0.001 * (i % 3)),
            later(lambda b=bucket: bucket_deletion.delete_bucket(meta, b), 0.001 * (i % 5)),
        )
        seen.add((w, d))
        assert (w, d) in {("ok", "BucketNotEmpty"), ("NoSuchBucket", "ok")}, (i, w, d)
        if w == "ok":
            assert await stored(meta, bucket) is not None
