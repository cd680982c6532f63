"""The bucket-record cache of object requests (`s3front.store.bucket_cache`), on a real SQLite
store. "Another process" is a second store opened on the same directory, as a second worker
would be."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from s3front.store import open_store
from s3front.store.bucket_cache import BucketCachingStore, bucket_for_objects
from s3front.store.protocols import Store
from s3front.store.records import BucketRecord

pytestmark = pytest.mark.anyio
TTL = 0.3


@asynccontextmanager
async def _two_stores(tmp_path: Path, seconds: float) -> AsyncIterator[tuple[Store, Store]]:
    """(this process's caching store, another process's plain store) on one directory."""
    url = f"sqlite://{tmp_path / 'store'}"
    here, other = await open_store(url), await open_store(url)
    try:
        yield BucketCachingStore(here, seconds), other
    finally:
        await here.close()
        await other.close()


@pytest.fixture
async def pair(anyio_backend: str, tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    async with _two_stores(tmp_path, TTL) as stores:
        yield stores


async def _after_ttl() -> None:
    await anyio.sleep(TTL + 0.05)


async def test_a_recent_record_is_reused_then_read_again(
    pair: tuple[Store, Store], bucket: BucketRecord
) -> None:
    here, other = pair
    await other.meta.insert_bucket(dataclasses.replace(bucket, versioning=""))
    t0 = time.monotonic()
    seen = await bucket_for_objects(here, bucket.name)
    assert seen is not None and seen.versioning == ""
    await other.meta.update_bucket(dataclasses.replace(bucket, versioning="Enabled"))
    again = await bucket_for_objects(here, bucket.name)
    assert time.monotonic() - t0 < TTL, "too slow a machine for this test's TTL"
    assert again is not None and again.versioning == ""  # the record read at t0
    await _after_ttl()
    fresh = await bucket_for_objects(here, bucket.name)
    assert fresh is not None and fresh.versioning == "Enabled"
    # A plain get_bucket is never cached.
    direct = await here.meta.get_bucket(bucket.name)
    assert direct is not None and direct.versioning == "Enabled"


async def test_changes_made_through_this_store_apply_at_once(
    pair: tuple[Store, Store], bucket: BucketRecord
) -> None:
    here, _ = pair
    assert await here.meta.insert_bucket(dataclasses.replace(bucket, versioning=""))
    assert (await bucket_for_objects(here, bucket.name)) is not None
    await here.meta.update_bucket(dataclasses.replace(bucket, versioning="Suspended"))
    seen = await bucket_for_objects(here, bucket.name)
    assert seen is not None and seen.versioning == "Suspended"
    await here.meta.delete_bucket(bucket.name)
    assert await bucket_for_objects(here, bucket.name) is None
    assert await here.meta.insert_bucket(dataclasses.replace(bucket, bucket_id="new-id"))
    seen = await bucket_for_objects(here, bucket.name)
    assert seen is not None and seen.bucket_id == "new-id"


async def test_a_missing_bucket_is_not_remembered(
    pair: tuple[Store, Store], bucket: BucketRecord
) -> None:
    here, other = pair
    assert await bucket_for_objects(here, bucket.name) is None
    await other.meta.insert_bucket(bucket)
    seen = await bucket_for_objects(here, bucket.name)  # at once, not after the TTL
    assert seen is not None and seen.bucket_id == bucket.bucket_id


async def test_a_bucket_deleted_elsewhere_goes_within_the_ttl(
    pair: tuple[Store, Store], bucket: BucketRecord
) -> None:
    here, other = pair
    await other.meta.insert_bucket(bucket)
    assert await bucket_for_objects(here, bucket.name) is not None
    await other.meta.delete_bucket(bucket.name)
    await _after_ttl()
    assert await bucket_for_objects(here, bucket.name) is None


async def test_zero_seconds_reads_every_time(
    anyio_backend: str, tmp_path: Path, bucket: BucketRecord
) -> None:
    async with _two_stores(tmp_path, 0) as (here, other):
        await other.meta.insert_bucket(dataclasses.replace(bucket, versioning=""))
        assert await bucket_for_objects(here, bucket.name) is not None
        await other.meta.update_bucket(dataclasses.replace(bucket, versioning="Enabled"))
        seen = await bucket_for_objects(here, bucket.name)
        assert seen is not None and seen.versioning == "Enabled"
