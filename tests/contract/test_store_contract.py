"""Store contract: buckets, buckets by owner, access keys and the store's lifecycle."""

from __future__ import annotations

import pytest

from s3front.store.protocols import Store
from s3front.store.records import AccessKeyRecord, BucketRecord, OwnerBucket

pytestmark = pytest.mark.anyio


def bucket(name: str, owner: str = "owner-1", **kw: object) -> BucketRecord:
    fields: dict[str, object] = {
        "bucket_id": f"id-{name}",
        "owner": owner,
        "created_ms": 1_700_000_000_123,
        "region": "us-east-1",
        "shards": 4,
    }
    fields.update(kw)
    return BucketRecord(name=name, **fields)  # type: ignore[arg-type]


async def test_ping(store: Store) -> None:
    await store.ping()


async def test_bucket_roundtrip_keeps_every_field(store: Store, prefix: str) -> None:
    rec = bucket(
        prefix, versioning="Suspended", attrs={"policy": '{"Version":"2012-10-17"}', "cors": "<x/>"}
    )
    assert await store.meta.insert_bucket(rec) is True
    assert await store.meta.get_bucket(prefix) == rec


async def test_insert_bucket_is_conditional(store: Store, prefix: str) -> None:
    first = bucket(prefix, owner="alice", bucket_id="first")
    assert await store.meta.insert_bucket(first) is True
    assert await store.meta.insert_bucket(bucket(prefix, owner="bob", bucket_id="second")) is False
    assert await store.meta.get_bucket(prefix) == first


async def test_update_bucket_overwrites(store: Store, prefix: str) -> None:
    await store.meta.insert_bucket(bucket(prefix))
    updated = bucket(prefix, versioning="Enabled", attrs={"tagging": "<Tagging/>"})
    await store.meta.update_bucket(updated)
    assert await store.meta.get_bucket(prefix) == updated


async def test_delete_bucket_then_name_is_free_again(store: Store, prefix: str) -> None:
    await store.meta.insert_bucket(bucket(prefix, bucket_id="old"))
    await store.meta.delete_bucket(prefix)
    assert await store.meta.get_bucket(prefix) is None
    assert await store.meta.insert_bucket(bucket(prefix, bucket_id="new")) is True
    got = await store.meta.get_bucket(prefix)
    assert got is not None and got.bucket_id == "new"


async def test_missing_bucket(store: Store, prefix: str) -> None:
    assert await store.meta.get_bucket(prefix) is None
    await store.meta.delete_bucket(prefix)  # deleting what is not there is no error


async def test_list_buckets_pages_each_bucket_once(store: Store, prefix: str) -> None:
    # Scan order is the backend's (token order on Cassandra): assert paging, not order.
    names = [f"{prefix}-{s}" for s in ["b", "a-b", "a.b", "a", "c0", "a0"]]
    for n in names:
        assert await store.meta.insert_bucket(bucket(n))
    seen: list[str] = []
    after = ""
    while page := await store.meta.list_buckets(after, 4):
        assert len(page) <= 4
        seen.extend(b.name for b in page)
        after = page[-1].name
    assert len(seen) == len(set(seen))
    assert set(names) <= set(seen)
    by_name = {b.name: b for b in await store.meta.list_buckets("", 100000)}
    assert by_name[names[0]] == bucket(names[0])


async def test_owner_buckets_ordered_by_name(store: Store, prefix: str) -> None:
    owner = f"{prefix}-owner"
    for i, name in enumerate(["b", "a/b", "a-b", "a0", "a"]):
        await store.meta.put_owner_bucket(OwnerBucket(owner, name, 1000 + i))
    await store.meta.put_owner_bucket(OwnerBucket(f"{prefix}-other", "zz", 1))
    got = await store.meta.list_owner_buckets(owner)
    assert [r.name for r in got] == ["a", "a-b", "a/b", "a0", "b"]
    assert got[2] == OwnerBucket(owner, "a/b", 1001)

    await store.meta.put_owner_bucket(OwnerBucket(owner, "b", 5))  # overwrite
    await store.meta.delete_owner_bucket(owner, "a-b")
    await store.meta.delete_owner_bucket(owner, "missing")
    got = await store.meta.list_owner_buckets(owner)
    assert [(r.name, r.created_ms) for r in got] == [
        ("a", 1004),
        ("a/b", 1001),
        ("a0", 1003),
        ("b", 5),
    ]
    assert await store.meta.list_owner_buckets(f"{prefix}-nobody") == []


def key(access_key: str, **kw: object) -> AccessKeyRecord:
    fields: dict[str, object] = {
        "secret": "s3cr3t/+=",
        "tenant": "tenant-1",
        "display_name": "Ann Ünicode",
        "created_ms": 1_700_000_000_000,
    }
    fields.update(kw)
    return AccessKeyRecord(access_key=access_key, **fields)  # type: ignore[arg-type]


async def test_access_keys(store: Store, prefix: str) -> None:
    a, b = key(f"{prefix}A"), key(f"{prefix}B", tenant="tenant-2", status="revoked")
    await store.keys.put_key(a)
    await store.keys.put_key(b)
    assert await store.keys.get_key(a.access_key) == a
    assert await store.keys.get_key(b.access_key) == b
    assert await store.keys.get_key(f"{prefix}C") is None
    listed = [k for k in await store.keys.list_keys() if k.access_key.startswith(prefix)]
    assert sorted(listed, key=lambda k: k.access_key) == [a, b]

    revoked = key(a.access_key, status="revoked")
    await store.keys.put_key(revoked)
    assert await store.keys.get_key(a.access_key) == revoked

    await store.keys.delete_key(a.access_key)
    assert await store.keys.get_key(a.access_key) is None
    assert a.access_key not in {k.access_key for k in await store.keys.list_keys()}
    assert await store.keys.get_key(b.access_key) == b
