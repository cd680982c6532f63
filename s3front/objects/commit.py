"""Commit a new object version: the one place PutObject, PostObject, CopyObject and
CompleteMultipartUpload make the version they have written visible (as Garage's `save_stream`
serves both PutObject and PostObject).

A writer stores blocks and a manifest first (`objects.writer`), under a write intent; it then
takes a (seq, version id) from `new_version`, builds its row and hands it to `commit_version`.
"""

from __future__ import annotations

from s3front import errors
from s3front.objects import bucket_deletion, versions
from s3front.objects.keys import shard_of
from s3front.store.protocols import MetaStore
from s3front.store.records import BucketRecord, ObjectRecord


def new_version(bucket: BucketRecord) -> tuple[int, str]:
    """(seq, version id) of a new version: seq 0 and "null" in a never-versioned bucket (one
    row per key, overwritten in place), otherwise a fresh time-based seq. `commit_version`
    renews it if the key already has a newer row (a clock that went backwards)."""
    return versions.next_version(bucket.versioning, None)


def etag_matches(header: str, etag: str) -> bool:
    """Whether an If-Match / If-None-Match header value names `etag` (or is `*`)."""
    for candidate in header.split(","):
        c = candidate.strip()
        if c.startswith("W/"):
            c = c[2:]
        c = c.strip('"')
        if c == "*" or c == etag:
            return True
    return False


async def commit_version(
    meta: MetaStore,
    bucket: BucketRecord,
    rec: ObjectRecord,
    *,
    if_none_match: str = "",
    if_match: str = "",
) -> ObjectRecord:
    """Write the object row: the single switch that makes the new version visible (its blocks
    and manifest are already written). Returns the row as written: in a versioned bucket its
    seq (and version id) may have been renewed so that it is newer than the key's newest row.

    Conditional writes (PutObject / CompleteMultipartUpload with `If-None-Match: *` or
    `If-Match: <etag>`) are checked against the key's newest version: If-None-Match fails if
    it is a live object, If-Match compares its etag (and 404s if there is none).

    Either way the write itself is conditional -- a lightweight transaction on Cassandra --
    so of two racing conditional writers at most one wins; the loser gets 412 if the condition
    no longer holds when it re-checks, or 409 ConditionalRequestConflict. In a never-versioned
    bucket the new row replaces the one checked (compare-and-set on it); in a versioned bucket
    every conditional writer that checked the same newest version inserts-if-absent the same
    row, the one right after it (`versions.conditional_successor`).

    Once written, the row stands only if its bucket still does and is not being deleted:
    a write racing DeleteBucket answers NoSuchBucket or the delete BucketNotEmpty, never both
    succeed (`s3front.objects.bucket_deletion`).
    """
    rec = await _write_row(meta, bucket, rec, if_none_match.strip(), if_match.strip())
    await bucket_deletion.confirm_write(meta, bucket, shard_of(rec.key, bucket.shards), rec)
    return rec


async def _write_row(
    meta: MetaStore, bucket: BucketRecord, rec: ObjectRecord, if_none: str, if_match: str
) -> ObjectRecord:
    shard = shard_of(rec.key, bucket.shards)
    if if_none and if_none != "*":
        raise errors.NotImplemented("If-None-Match on writes supports only '*'.")
    conditional = bool(if_none or if_match)
    if not bucket.versioning and not conditional:
        await meta.put_object(bucket.bucket_id, shard, rec)
        return rec
    current = await meta.get_object(bucket.bucket_id, shard, rec.key)
    if conditional:
        _check_write_conditions(rec.key, current, if_none=if_none, if_match=if_match)
    if bucket.versioning:
        if not conditional:
            rec = versions.renumbered(rec, bucket.versioning, current)
            await versions.write_version(meta, bucket, shard, rec, current)
            return rec
        rec = versions.conditional_successor(rec, bucket.versioning, current)
        if not await versions.write_version(meta, bucket, shard, rec, current, if_absent=True):
            raise errors.ConditionalRequestConflict()
        return rec
    if not await meta.put_object_if(bucket.bucket_id, shard, rec, current):
        raise errors.ConditionalRequestConflict()
    return rec


def _check_write_conditions(
    key: str, current: ObjectRecord | None, *, if_none: str, if_match: str
) -> None:
    live = current is not None and not current.delete_marker
    if if_none and live:
        raise errors.PreconditionFailed(Condition="If-None-Match")
    if if_match:
        if current is None or current.delete_marker:
            raise errors.NoSuchKey(Key=key)
        if not etag_matches(if_match, current.etag):
            raise errors.PreconditionFailed(Condition="If-Match")
