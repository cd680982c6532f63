"""Versions on the real SQLite store: seqs and ids, point reads by id, the Suspended "null"
replacement, deletes and delete markers, and 10,000 versions of one key listed in pages."""

from __future__ import annotations

from dataclasses import replace

import pytest

from s3front.objects import versions
from s3front.objects.keys import shard_of
from s3front.objects.listing import list_versions
from s3front.store.protocols import Store
from s3front.store.records import NULL_VERSION, BucketRecord, ObjectRecord

pytestmark = pytest.mark.anyio


def row(key: str, seq: int, version_id: str, *, marker: bool = False) -> ObjectRecord:
    return ObjectRecord(
        key=key,
        seq=seq,
        version_id=version_id,
        size=0 if marker else 1,
        etag="" if marker else f"e{seq}",
        last_modified_ms=1_700_000_000_000,
        owner="owner",
        delete_marker=marker,
    )


def test_version_ids_encode_their_seq() -> None:
    seqs = [versions.new_seq() for _ in range(1000)]
    assert len(set(seqs)) > 990  # three random digits below the microsecond
    for seq in seqs[:50]:
        vid = versions.version_id_for(seq)
        assert len(vid) == 32 and versions.seq_of(vid) == seq
    assert versions.version_id_for(5) != versions.version_id_for(5)  # random tail
    for foreign in ("null", "", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", "g" * 32, "0" * 31):
        assert versions.seq_of(foreign) is None


def test_new_seq_is_newer_than_a_future_row() -> None:
    future = versions.new_seq() + 10**15  # a row written by a clock far ahead
    assert versions.new_seq(future) > future
    assert versions.next_version("", None) == (0, NULL_VERSION)
    seq, vid = versions.next_version("Enabled", row("k", future, "x"))
    assert seq > future and versions.seq_of(vid) == seq
    seq, vid = versions.next_version("Suspended", row("k", future, "x"))
    assert seq > future and vid == NULL_VERSION
    old = row("k", 1, "old")
    assert versions.renumbered(old, "Enabled", row("k", 1, "same-seq")).seq > 1
    assert versions.renumbered(row("k", 9, "v"), "Enabled", old) == row("k", 9, "v")


async def test_get_version_point_read_and_fallback(store: Store, bucket: BucketRecord) -> None:
    meta, shard = store.meta, shard_of("k", bucket.shards)
    seq = versions.new_seq()
    ours = row("k", seq, versions.version_id_for(seq))
    await meta.put_object(bucket.bucket_id, shard, ours)
    await meta.put_object(bucket.bucket_id, shard, row("k", 0, NULL_VERSION))
    await meta.put_object(bucket.bucket_id, shard, row("k", 7, "foreign-id"))
    get = versions.get_version
    assert await get(meta, bucket.bucket_id, shard, "k", ours.version_id) == ours
    assert (await get(meta, bucket.bucket_id, shard, "k", NULL_VERSION) or ours).seq == 0
    assert (await get(meta, bucket.bucket_id, shard, "k", "foreign-id") or ours).seq == 7
    # Same seq, other random tail: not this version.
    forged = versions.version_id_for(seq)
    assert await get(meta, bucket.bucket_id, shard, "k", forged) is None
    assert await get(meta, bucket.bucket_id, shard, "other", ours.version_id) is None


async def test_suspended_write_replaces_the_null_row(store: Store, bucket: BucketRecord) -> None:
    meta, shard = store.meta, shard_of("k", bucket.shards)
    suspended = replace(bucket, versioning="Suspended")
    enabled_seq = versions.new_seq()
    enabled = row("k", enabled_seq, versions.version_id_for(enabled_seq))
    legacy_null = row("k", 0, NULL_VERSION)  # from the bucket's never-versioned days
    for rec in (legacy_null, enabled):
        await meta.put_object(bucket.bucket_id, shard, rec)
    for _ in range(3):
        newest = await meta.get_object(bucket.bucket_id, shard, "k")
        seq, vid = versions.next_version("Suspended", newest)
        await versions.write_version(meta, suspended, shard, row("k", seq, vid), newest)
    rows = await meta.scan_objects(bucket.bucket_id, shard, start_key="k", end_key="k\0", limit=10)
    assert [r.version_id for r in rows] == [NULL_VERSION, enabled.version_id]
    assert rows[0].seq > enabled_seq


async def test_suspended_write_keeps_a_protected_null_row(
    store: Store, bucket: BucketRecord
) -> None:
    """Object lock: should a protected "null" version meet a Suspended write (a lock-enabled
    bucket never is Suspended, but a configuration race could leave one), it is kept."""
    from s3front.objects import lock

    meta, shard = store.meta, shard_of("k", bucket.shards)
    suspended = replace(bucket, versioning="Suspended")
    held = replace(row("k", 0, NULL_VERSION), attrs=lock.with_legal_hold({}, True))
    await meta.put_object(bucket.bucket_id, shard, held)
    seq, vid = versions.next_version("Suspended", held)
    await versions.write_version(meta, suspended, shard, row("k", seq, vid), held)
    rows = await meta.scan_objects(bucket.bucket_id, shard, start_key="k", end_key="k\0", limit=10)
    assert [r.seq for r in rows] == [seq, 0]


async def test_deletes_and_markers(store: Store, bucket: BucketRecord) -> None:
    meta, shard = store.meta, shard_of("k", bucket.shards)
    seq = versions.new_seq()
    v1 = row("k", seq, versions.version_id_for(seq))
    await meta.put_object(bucket.bucket_id, shard, v1)
    done = await versions.delete_latest(meta, bucket, shard, "k", owner="o", now_ms=1)
    assert done.delete_marker and versions.seq_of(done.version_id or "") is not None
    newest = await meta.get_object(bucket.bucket_id, shard, "k")
    assert newest is not None and newest.delete_marker and newest.version_id == done.version_id
    # Removing the marker by id reports it as one and brings v1 back.
    undo = await versions.delete_version(meta, bucket, shard, "k", done.version_id or "")
    assert undo == versions.Deletion(done.version_id, delete_marker=True)
    assert await meta.get_object(bucket.bucket_id, shard, "k") == v1
    # A version that does not exist is no error.
    missing = versions.version_id_for(seq + 1)
    assert await versions.delete_version(meta, bucket, shard, "k", missing) == versions.Deletion(
        missing
    )
    # Two "null" rows (a crash mid-replacement) both go with one delete of "null".
    for s in (0, 5):
        await meta.put_object(bucket.bucket_id, shard, row("k", s, NULL_VERSION))
    await versions.delete_version(meta, bucket, shard, "k", NULL_VERSION)
    assert await meta.get_object_by_version(bucket.bucket_id, shard, "k", NULL_VERSION) is None
    assert await meta.get_object(bucket.bucket_id, shard, "k") == v1
    # Never versioned: the row goes, nothing is added.
    plain = replace(bucket, versioning="")
    done = await versions.delete_latest(meta, plain, shard, "k", owner="o", now_ms=1)
    assert done == versions.Deletion(None)
    assert await meta.get_object(bucket.bucket_id, shard, "k") is None


async def test_ten_thousand_versions_listed_in_pages(store: Store, bucket: BucketRecord) -> None:
    """10,000 versions of one key (written straight into the store), neighbours on both sides,
    listed 1000 at a time with key-marker / version-id-marker: each exactly once, in order."""
    meta, key = store.meta, "many/versions"
    base = versions.new_seq()
    rows = [
        row(key, base + i * 1000, versions.version_id_for(base + i * 1000)) for i in range(10_000)
    ]
    rows[4321] = row(key, rows[4321].seq, rows[4321].version_id, marker=True)
    for rec in rows:
        await meta.put_object(bucket.bucket_id, shard_of(key, bucket.shards), rec)
    for other in ("many/after", "many/before", "many/z"):
        await meta.put_object(
            bucket.bucket_id, shard_of(other, bucket.shards), row(other, 0, "null")
        )
    expected = [(key, r.version_id) for r in reversed(rows)]

    seen: list[tuple[str, str]] = []
    flagged: list[str] = []
    key_marker = version_marker = ""
    pages = 0
    while True:
        page = await list_versions(
            meta,
            bucket,
            prefix="many/v",
            key_marker=key_marker,
            version_id_marker=version_marker,
            max_keys=1000,
        )
        pages += 1
        seen += [(r.key, r.version_id) for r in page.versions]
        flagged += [r.version_id for r in page.versions if r.delete_marker]
        if pages == 1:
            assert page.latest == {(key, rows[-1].version_id)}
        else:
            assert not page.latest  # the newest version was on the first page
        if not page.is_truncated:
            break
        assert len(page.versions) == 1000
        key_marker, version_marker = page.next_key_marker or "", page.next_version_id_marker or ""
    assert pages == 10 and seen == expected
    assert flagged == [rows[4321].version_id]
