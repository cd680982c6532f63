"""Store contract: a bucket's deletion mark (what DeleteBucket and object writes exclude each
other with, `s3front.objects.bucket_deletion`), on every backend."""

from __future__ import annotations

import pytest

from s3front.store.protocols import Store
from s3front.store.records import BucketRecord

pytestmark = pytest.mark.anyio


def bucket(name: str, bucket_id: str = "id-1", **kw: object) -> BucketRecord:
    return BucketRecord(
        name=name, bucket_id=bucket_id, owner="o", created_ms=1, region="us-east-1", shards=4,
        **kw,  # type: ignore[arg-type]
    )  # fmt: skip


async def test_a_new_bucket_is_unmarked(store: Store, prefix: str) -> None:
    assert await store.meta.get_bucket_mark(prefix) is None
    await store.meta.insert_bucket(bucket(prefix))
    assert await store.meta.get_bucket_mark(prefix) == ("id-1", "")


async def test_mark_is_conditional_on_id_and_previous_mark(store: Store, prefix: str) -> None:
    meta = store.meta
    assert not await meta.set_bucket_mark(prefix, "id-1", "m1", "")  # no bucket
    await meta.insert_bucket(bucket(prefix))
    assert not await meta.set_bucket_mark(prefix, "other-id", "m1", "")
    assert await meta.set_bucket_mark(prefix, "id-1", "m1", "")
    assert await meta.get_bucket_mark(prefix) == ("id-1", "m1")
    assert not await meta.set_bucket_mark(prefix, "id-1", "m2", "")  # someone holds it
    assert not await meta.set_bucket_mark(prefix, "id-1", "", "m2")
    assert await meta.set_bucket_mark(prefix, "id-1", "m2", "m1")  # taken over
    assert await meta.set_bucket_mark(prefix, "id-1", "", "m2")  # cleared
    assert await meta.get_bucket_mark(prefix) == ("id-1", "")


async def test_update_bucket_keeps_the_mark(store: Store, prefix: str) -> None:
    # Configuration writes rewrite the record read earlier; the mark is not part of it.
    await store.meta.insert_bucket(bucket(prefix))
    assert await store.meta.set_bucket_mark(prefix, "id-1", "m1", "")
    updated = bucket(prefix, versioning="Enabled", attrs={"policy": "{}"})
    await store.meta.update_bucket(updated)
    assert await store.meta.get_bucket(prefix) == updated
    assert await store.meta.get_bucket_mark(prefix) == ("id-1", "m1")


async def test_delete_bucket_marked_needs_that_mark(store: Store, prefix: str) -> None:
    meta = store.meta
    await meta.insert_bucket(bucket(prefix))
    assert not await meta.delete_bucket_marked(prefix, "")  # never without a mark
    assert not await meta.delete_bucket_marked(prefix, "m1")
    assert await meta.set_bucket_mark(prefix, "id-1", "m1", "")
    assert not await meta.delete_bucket_marked(prefix, "m0")
    assert await meta.get_bucket(prefix) is not None
    assert await meta.delete_bucket_marked(prefix, "m1")
    assert await meta.get_bucket(prefix) is None
    assert await meta.get_bucket_mark(prefix) is None
    # The name is free again, and a new bucket starts unmarked.
    assert await meta.insert_bucket(bucket(prefix, bucket_id="id-2"))
    assert await meta.get_bucket_mark(prefix) == ("id-2", "")
