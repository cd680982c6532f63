"""Store contract: what the lifecycle worker needs of a backend -- leases that exclude each other
and lapse, a conditional delete of one object row, and the partitions that hold rows."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from s3front.store.protocols import Store
from s3front.store.records import NULL_VERSION, ObjectRecord, UploadRecord

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000_000


async def test_lease_excludes_others_extends_and_lapses(store: Store, prefix: str) -> None:
    lease, meta = f"{prefix}:lease", store.meta
    assert await meta.take_lease(lease, "a", 30)
    assert not await meta.take_lease(lease, "b", 30)
    assert await meta.take_lease(lease, "a", 30)  # the holder extends it
    await meta.release_lease(lease, "b")  # not b's: no effect
    assert not await meta.take_lease(lease, "b", 30)
    await meta.release_lease(lease, "a")
    assert await meta.take_lease(lease, "b", 1)
    await asyncio.sleep(2.5)  # b crashed without releasing: its lease lapses
    assert await meta.take_lease(lease, "a", 30)
    await meta.release_lease(lease, "a")


async def test_racing_lease_takers_one_wins(store: Store, prefix: str) -> None:
    lease = f"{prefix}:race"
    won = await asyncio.gather(*(store.meta.take_lease(lease, f"h{i}", 30) for i in range(8)))
    assert sum(won) == 1


async def test_delete_object_if_only_the_judged_row(store: Store, prefix: str) -> None:
    b = f"{prefix}-b"
    rec = ObjectRecord("k", 0, NULL_VERSION, 1, "e1", NOW, "owner")
    await store.meta.put_object(b, 0, rec)
    newer = ObjectRecord("k", 0, NULL_VERSION, 1, "e2", NOW + 1, "owner")
    await store.meta.put_object(b, 0, newer)  # overwritten after it was judged
    assert not await store.meta.delete_object_if(b, 0, rec)
    assert await store.meta.get_object(b, 0, "k") == newer
    assert await store.meta.delete_object_if(b, 0, newer)
    assert await store.meta.get_object(b, 0, "k") is None


async def test_partitions_with_rows_are_listed(store: Store, prefix: str) -> None:
    ids = [f"{prefix}-{uuid.uuid4().hex[:6]}" for _ in range(3)]
    for i, bucket_id in enumerate(ids):
        rec = ObjectRecord("k", 0, NULL_VERSION, 1, "e", NOW, "owner")
        await store.meta.put_object(bucket_id, i, rec)
        await store.meta.put_upload(bucket_id, UploadRecord("k", uuid.uuid4().hex, NOW, "o"))
    seen: list[tuple[str, int]] = []
    after: tuple[str, int] | None = None
    while page := await store.meta.list_object_partitions(after, 2):  # paging by 2
        seen += page
        after = page[-1]
    assert len(seen) == len(set(seen))
    assert {(b, i) for i, b in enumerate(ids)} <= set(seen)
    up_seen: list[str] = []
    up_after = ""
    while up_page := await store.meta.list_upload_buckets(up_after, 2):
        up_seen += up_page
        up_after = up_page[-1]
    assert set(ids) <= set(up_seen) and len(up_seen) == len(set(up_seen))
