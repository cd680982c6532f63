"""Object versions: sequence numbers, version ids, and how a new version or a delete lands.

Every version of a key is one row of the object index, clustered by `seq` descending, so the
key's first row is its newest version (or delete marker). What `seq` and `version_id` hold
depends on the bucket's versioning state:

- never versioned (""): one row per key at seq 0 with version id "null"; an overwrite replaces
  the row in place and a delete removes it.
- Enabled: every write adds a row with a fresh seq and a version id that *encodes* that seq,
  so `?versionId=` is a point read of (key, seq) -- no scan of the key's history. A delete
  without a version id adds a delete marker row the same way.
- Suspended: a write (or delete marker) gets version id "null" and a fresh seq, then the key's
  previous "null" row is deleted. The new row is written first: a crash in between leaves two
  "null" rows, the newer one wins every lookup, and the next write removes the older one.

A fresh seq is the time in microseconds times 1000 plus three random digits (so two servers
writing the same key in the same microsecond rarely collide), and always larger than the key's
newest seq, so a clock that went backwards cannot put a new version behind an old one. It fits
a signed 64-bit column until the year 2262.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from s3front import clock
from s3front.objects import lock
from s3front.objects.keys import shard_of
from s3front.store.protocols import MetaStore
from s3front.store.records import NULL_VERSION, BucketRecord, ObjectRecord

ENABLED = "Enabled"
SUSPENDED = "Suspended"

# Version ids we mint: 16 hex digits of the seq, then 16 random hex digits (so an id cannot be
# forged from a timestamp, and a row rewritten at the same seq never answers to an old id).
_SEQ_DIGITS = 16
_ID_LENGTH = 32
_HEX = frozenset("0123456789abcdef")


def new_seq(newer_than: int | None = None) -> int:
    """A fresh seq: time-based, and strictly larger than `newer_than` when given."""
    seq = time.time_ns() // 1000 * 1000 + secrets.randbelow(1000)
    if newer_than is not None and seq <= newer_than:
        seq = newer_than + 1 + secrets.randbelow(1000)
    return seq


def version_id_for(seq: int) -> str:
    return f"{seq:0{_SEQ_DIGITS}x}{secrets.token_hex((_ID_LENGTH - _SEQ_DIGITS) // 2)}"


def seq_of(version_id: str) -> int | None:
    """The seq a version id minted by `version_id_for` encodes; None for any other id."""
    if len(version_id) != _ID_LENGTH or not _HEX.issuperset(version_id):
        return None
    return int(version_id[:_SEQ_DIGITS], 16)


def next_version(versioning: str, newest: ObjectRecord | None) -> tuple[int, str]:
    """(seq, version id) of a new version of a key whose newest row is `newest`."""
    if not versioning:
        return 0, NULL_VERSION
    seq = new_seq(newest.seq if newest is not None else None)
    return seq, version_id_for(seq) if versioning == ENABLED else NULL_VERSION


def renumbered(rec: ObjectRecord, versioning: str, newest: ObjectRecord | None) -> ObjectRecord:
    """`rec`, given a new seq (and id) if it would not be newer than the key's newest row."""
    if not versioning or newest is None or rec.seq > newest.seq:
        return rec
    seq, version_id = next_version(versioning, newest)
    return replace(rec, seq=seq, version_id=version_id)


async def get_version(
    meta: MetaStore, bucket_id: str, shard: int, key: str, version_id: str
) -> ObjectRecord | None:
    """The row of `key` with this version id: a point read for ids we minted, else a scan of
    the key's rows ("null", or ids from elsewhere)."""
    seq = seq_of(version_id)
    if seq is None:
        return await meta.get_object_by_version(bucket_id, shard, key, version_id)
    rec = await meta.get_object(bucket_id, shard, key, seq)
    return rec if rec is not None and rec.version_id == version_id else None


async def resolve(
    meta: MetaStore, bucket: BucketRecord, key: str, version_id: str | None
) -> ObjectRecord | None:
    """Which version a request names: `version_id` (`get_version`) or, without one, the key's
    newest row. Delete markers are returned as they are: what one means (an error, "no object"
    or a row to act on) is the caller's to say."""
    shard = shard_of(key, bucket.shards)
    if version_id is not None:
        return await get_version(meta, bucket.bucket_id, shard, key, version_id)
    return await meta.get_object(bucket.bucket_id, shard, key)


async def write_version(
    meta: MetaStore,
    bucket: BucketRecord,
    shard: int,
    rec: ObjectRecord,
    newest: ObjectRecord | None,
    *,
    if_absent: bool = False,
) -> bool:
    """Write a new version row of a versioned bucket (`rec` newer than `newest`, the key's
    newest row read before); in a Suspended bucket, then drop the key's previous "null" row.

    With `if_absent` the row is written only if none is at its seq yet (a lightweight
    transaction on Cassandra); False if another writer got there first."""
    previous_null: ObjectRecord | None = None
    if rec.version_id == NULL_VERSION:
        if newest is not None and newest.version_id == NULL_VERSION:
            previous_null = newest
        else:
            previous_null = await meta.get_object_by_version(
                bucket.bucket_id, shard, rec.key, NULL_VERSION
            )
    if if_absent:
        if not await meta.put_object_if(bucket.bucket_id, shard, rec, None):
            return False
    else:
        await meta.put_object(bucket.bucket_id, shard, rec)
    # A lock-enabled bucket is never Suspended, so no protected "null" version should be
    # here; should one be (a configuration race), it is kept rather than overwritten.
    if (
        previous_null is not None
        and previous_null.seq != rec.seq
        and not lock.blocks_removal(previous_null, clock.now_ms())
    ):
        await meta.delete_object(bucket.bucket_id, shard, rec.key, previous_null.seq)
    return True


def conditional_successor(
    rec: ObjectRecord, versioning: str, newest: ObjectRecord | None
) -> ObjectRecord:
    """`rec` placed at the row right after `newest` (seq + 1), for a conditional write.

    Conditional writers that checked the same newest version all aim at this one row with an
    insert-if-absent, so exactly one of them lands -- the serialisation a never-versioned
    bucket gets from its single row. An unconditional write meanwhile takes a larger,
    time-based seq and stays the newest, as if it came after."""
    seq = newest.seq + 1 if newest is not None else 1
    return replace(
        rec, seq=seq, version_id=version_id_for(seq) if versioning == ENABLED else NULL_VERSION
    )


@dataclass(frozen=True, slots=True)
class Deletion:
    """What a delete did: the version id it removed or created (None for a plain delete in a
    never-versioned bucket), and whether that version is a delete marker."""

    version_id: str | None
    delete_marker: bool = False


async def delete_version(
    meta: MetaStore,
    bucket: BucketRecord,
    shard: int,
    key: str,
    version_id: str,
    guard: Callable[[ObjectRecord], Awaitable[ObjectRecord | None]] | None = None,
) -> Deletion:
    """Remove exactly one version (or delete marker). A version that does not exist is no
    error, as in S3. For "null", every "null" row goes (a crash may have left two).
    `guard` sees each row before it goes: it raises to keep it (object lock), returns the row
    to delete, or None when the row changed meanwhile (it is read again)."""
    marker = False
    while (rec := await get_version(meta, bucket.bucket_id, shard, key, version_id)) is not None:
        if guard is not None and (rec := await guard(rec)) is None:
            continue
        marker = marker or rec.delete_marker
        # The data is released by removing the row; the GC frees what no row references.
        await meta.delete_object(bucket.bucket_id, shard, key, rec.seq)
        if version_id != NULL_VERSION:
            break
    return Deletion(version_id, marker)


async def delete_latest(
    meta: MetaStore, bucket: BucketRecord, shard: int, key: str, *, owner: str, now_ms: int
) -> Deletion:
    """DELETE without a version id: remove the row in a never-versioned bucket, otherwise add
    a delete marker (even when the key has no versions, or its newest is a marker: S3 does)."""
    if not bucket.versioning:
        # One write, no read: a never-versioned bucket keeps one row per key, and no lock or
        # hold can protect it (Object Lock needs versioning).
        await meta.delete_key_rows(bucket.bucket_id, shard, key)
        return Deletion(None)
    newest = await meta.get_object(bucket.bucket_id, shard, key)
    seq, version_id = next_version(bucket.versioning, newest)
    marker = ObjectRecord(
        key=key,
        seq=seq,
        version_id=version_id,
        size=0,
        etag="",
        last_modified_ms=now_ms,
        owner=owner,
        delete_marker=True,
    )
    await write_version(meta, bucket, shard, marker, newest)
    return Deletion(version_id, delete_marker=True)
