"""The store protocols: what a backend must do, and nothing more.

Backends are dumb. They do point reads and writes of single rows, writes confined to one
partition, ordered range scans within one partition, and a conditional insert of one row (a
Cassandra lightweight transaction). Everything that is S3 -- listing with delimiters, multipart
assembly, copies, ranges, ETags, checksums, GC decisions -- lives above, in `s3front.objects`,
and is written once for every backend.

There are no multi-row transactions: callers order their writes (blocks -> manifest -> object
row) so that a crash between any two leaves only unreferenced rows, never a broken object.

Errors: a backend raises `s3front.store.errors.StoreUnavailable` / `StoreTimeout` when the
database cannot answer; any other exception is a bug.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from s3front.store.records import (
    AccessKeyRecord,
    BlockInfo,
    BucketRecord,
    CompletionRecord,
    IntentRecord,
    ManifestEntry,
    ObjectRecord,
    OwnerBucket,
    PartRecord,
    UploadRecord,
)


class MetaStore(Protocol):
    """Buckets, the object index, manifests, multipart uploads and parts."""

    # -- buckets: partition = name (global namespace) ------------------------------------------
    async def insert_bucket(self, rec: BucketRecord) -> bool:
        """Insert only if no bucket of that name exists (an LWT). True if this call inserted."""
        ...

    async def get_bucket(self, name: str) -> BucketRecord | None: ...

    async def update_bucket(self, rec: BucketRecord) -> None:
        """Overwrite an existing bucket row (versioning state, attrs)."""
        ...

    async def delete_bucket(self, name: str) -> None: ...

    # The deletion mark (a column of the bucket row outside BucketRecord, which update_bucket
    # leaves alone): how DeleteBucket and object writes exclude each other, see
    # `s3front.objects.bucket_deletion`. Always read from the store, never from a cache.
    async def get_bucket_mark(self, name: str) -> tuple[str, str] | None:
        """(bucket_id, deletion mark) of bucket `name` now -- the mark "" when there is none --
        or None if there is no such bucket."""
        ...

    async def set_bucket_mark(self, name: str, bucket_id: str, mark: str, expected: str) -> bool:
        """Set the deletion mark to `mark` ("" clears it) only if bucket `name` exists with this
        bucket_id and its mark is `expected` now (a lightweight transaction). True if set."""
        ...

    async def delete_bucket_marked(self, name: str, mark: str) -> bool:
        """Delete bucket `name` only if its deletion mark is `mark` (non-empty; a lightweight
        transaction). True if deleted."""
        ...

    async def list_buckets(self, after: str, limit: int) -> list[BucketRecord]:
        """Buckets after `after` in the backend's scan order (name order on SQLite, token order
        on Cassandra); paging passes the last name returned. Admin and GC use, not a hot path."""
        ...

    # -- buckets by owner: partition = owner, clustering = name ---------------------------------
    async def put_owner_bucket(self, row: OwnerBucket) -> None: ...

    async def delete_owner_bucket(self, owner: str, name: str) -> None: ...

    async def list_owner_buckets(self, owner: str) -> list[OwnerBucket]:
        """The owner's buckets ordered by name."""
        ...

    # -- object index: partition = (bucket_id, shard), clustering = (key ASC, seq DESC) ---------
    async def put_object(self, bucket_id: str, shard: int, rec: ObjectRecord) -> None:
        """Write (or overwrite) the row at (key, seq)."""
        ...

    async def put_object_if(
        self, bucket_id: str, shard: int, rec: ObjectRecord, expected: ObjectRecord | None
    ) -> bool:
        """Write the row at (key, seq) only if the row there now is `expected` -- compared by
        etag and last_modified_ms -- or, with expected None, only if there is no row (a
        Cassandra lightweight transaction: two racing writers cannot both win). True if
        written."""
        ...

    async def get_object(
        self, bucket_id: str, shard: int, key: str, seq: int | None = None
    ) -> ObjectRecord | None:
        """The row at (key, seq); with seq None the newest row of key (largest seq)."""
        ...

    async def get_object_by_version(
        self, bucket_id: str, shard: int, key: str, version_id: str
    ) -> ObjectRecord | None:
        """The row of key whose version_id matches (a scan of that key's rows)."""
        ...

    async def scan_objects(
        self,
        bucket_id: str,
        shard: int,
        *,
        start_key: str = "",
        start_exclusive: bool = False,
        after_seq: int | None = None,
        end_key: str | None = None,
        limit: int,
        with_inline: bool = False,
    ) -> list[ObjectRecord]:
        """Rows in clustering order (key ascending, then seq descending), at most `limit`.

        Where the scan starts:
          - after_seq given: the rows of start_key with seq < after_seq, then keys > start_key;
          - else start_exclusive: keys > start_key;
          - else keys >= start_key.
        end_key: only keys < end_key. Every version of each key is returned. Records come
        back with inline=None unless with_inline (listings never need the bytes).
        """
        ...

    # The most shards `scan_bucket` reads as one ordered scan, which is then the cheaper way
    # to list: SQLite merges inside the engine (a compound SELECT). Above it, and on Cassandra
    # (0: its shards are partitions on different nodes), `scan_bucket` reads `limit` rows of
    # every shard and merges them (`s3front.store.shard_merge`), so listings page each shard
    # as the page needs it instead (`s3front.objects.listing`).
    max_merged_shards: int

    async def scan_bucket(
        self,
        bucket_id: str,
        shards: int,
        *,
        start_key: str = "",
        start_exclusive: bool = False,
        after_seq: int | None = None,
        end_key: str | None = None,
        limit: int,
    ) -> list[ObjectRecord]:
        """`scan_objects` over shards 0..shards-1 at once: their rows merged in clustering order
        (key ascending, then seq descending), at most `limit`. For listings: the records carry what a listing shows (key, seq,
        version id, size, ETag, time, owner, delete marker, parts, manifest id), with inline
        None and headers, checksums and attrs empty."""
        ...

    async def delete_object(self, bucket_id: str, shard: int, key: str, seq: int) -> None: ...

    async def delete_key_rows(self, bucket_id: str, shard: int, key: str) -> None:
        """Delete every row of `key` in one write (a never-versioned bucket's DELETE)."""
        ...

    async def delete_object_if(self, bucket_id: str, shard: int, expected: ObjectRecord) -> bool:
        """Delete the row at (expected.key, expected.seq) only if it is still `expected` --
        compared by etag and last_modified_ms, as put_object_if (a lightweight transaction).
        True if this call deleted it."""
        ...

    async def list_object_partitions(
        self, after: tuple[str, int] | None, limit: int
    ) -> list[tuple[str, int]]:
        """(bucket_id, shard) of object index partitions that hold rows, after `after` in the
        backend's scan order (token order on Cassandra). Lifecycle's sweep of deleted buckets
        only."""
        ...

    # -- manifests: partition = manifest_id, clustering = offset --------------------------------
    async def put_manifest(self, manifest_id: str, entries: Sequence[ManifestEntry]) -> None:
        """Write entries of one manifest; may be called several times for one id."""
        ...

    async def get_manifest(
        self, manifest_id: str, from_offset: int = 0, limit: int = 1000
    ) -> list[ManifestEntry]:
        """Entries ordered by offset, starting with the one that contains byte `from_offset`
        (the entry with the largest offset <= from_offset), at most `limit`."""
        ...

    async def delete_manifest(self, manifest_id: str) -> None: ...

    async def list_manifest_ids(self, after: str, limit: int) -> list[str]:
        """Manifest ids > after in the backend's scan order (GC only; on Cassandra, token order).
        Paging passes the last id returned as `after`."""
        ...

    # -- multipart uploads: partition = bucket_id, clustering = (key, upload_id) ---------------
    async def put_upload(self, bucket_id: str, rec: UploadRecord) -> None: ...

    async def get_upload(self, bucket_id: str, key: str, upload_id: str) -> UploadRecord | None: ...

    async def delete_upload(self, bucket_id: str, key: str, upload_id: str) -> None: ...

    async def scan_uploads(
        self, bucket_id: str, *, after_key: str = "", after_upload_id: str = "", limit: int
    ) -> list[UploadRecord]:
        """Uploads ordered by (key, upload_id) strictly after (after_key, after_upload_id);
        ("", "") starts at the beginning."""
        ...

    async def list_upload_buckets(self, after: str, limit: int) -> list[str]:
        """bucket_ids that have upload rows, after `after` in the backend's scan order
        (lifecycle's sweep of deleted buckets only)."""
        ...

    # -- parts: partition = upload_id, clustering = part_number ---------------------------------
    async def put_part(self, upload_id: str, rec: PartRecord) -> None:
        """Write (or replace) a part."""
        ...

    async def list_parts(
        self, upload_id: str, after: int = 0, limit: int = 10000
    ) -> list[PartRecord]:
        """Parts with part_number > after, ordered by part number."""
        ...

    async def delete_parts(self, upload_id: str) -> None:
        """Delete the whole partition of an upload's parts."""
        ...

    # -- completed uploads: partition = (bucket_id, key, upload_id) (`objects.completions`) -----
    async def put_completion(self, bucket_id: str, rec: CompletionRecord) -> None:
        """Keep a completed upload's result until `rec.expires_ms` (Cassandra: a TTL)."""
        ...

    async def get_completion(
        self, bucket_id: str, key: str, upload_id: str
    ) -> CompletionRecord | None:
        """The result kept for this upload; None if there is none or it has expired."""
        ...

    # -- write intents: partition = intent_id (`s3front.objects.intents`, `s3front.objects.gc`) --------
    async def put_intent(self, rec: IntentRecord) -> None:
        """Write (or refresh) an intent. The backend may drop it once `expires_ms` has passed
        (Cassandra: a TTL), and must not drop it before."""
        ...

    async def delete_intent(self, intent_id: str) -> None: ...

    async def list_intents(self) -> list[IntentRecord]:
        """Every intent row, expired ones possibly included (GC only; the table holds one row
        per write in progress, so it is small)."""
        ...

    # -- leases: partition = lease_id (`s3front.lifecycle_worker`) ------------------------------
    async def take_lease(self, lease_id: str, holder: str, ttl_seconds: int) -> bool:
        """Take the lease if nobody holds it (or its holder's time has run out), or extend it
        if `holder` holds it already; for `ttl_seconds` from now (a lightweight transaction;
        on Cassandra the row's TTL, so a crashed holder's lease lapses). True if held now."""
        ...

    async def release_lease(self, lease_id: str, holder: str) -> None:
        """Give the lease up if `holder` holds it."""
        ...


class BlockStore(Protocol):
    """Content-addressed blocks: id = SHA-256 of the bytes, written once, never changed."""

    async def put_block(self, block_id: bytes, data: bytes) -> None:
        """Store the block; writing an existing block again is harmless and refreshes its
        written time (so a GC sweep that saw it as old will not delete it)."""
        ...

    async def get_block(self, block_id: bytes) -> bytes | None: ...

    async def delete_block(self, block_id: bytes, written_ms: int) -> bool:
        """Delete the block only if its written time is still `written_ms` (it has not been
        written or reused since the GC scan saw it). True if deleted."""
        ...

    async def scan_blocks(self, after: bytes, limit: int) -> list[BlockInfo]:
        """Blocks with id > after in the backend's scan order (GC only)."""
        ...


class KeyStore(Protocol):
    """Access keys."""

    async def put_key(self, rec: AccessKeyRecord) -> None: ...

    async def get_key(self, access_key: str) -> AccessKeyRecord | None: ...

    async def list_keys(self) -> list[AccessKeyRecord]: ...

    async def delete_key(self, access_key: str) -> None: ...


class Store(Protocol):
    """What `open_store(url)` returns: the three protocols plus lifecycle."""

    @property
    def meta(self) -> MetaStore: ...

    @property
    def blocks(self) -> BlockStore: ...

    @property
    def keys(self) -> KeyStore: ...

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the backend answers (readiness probe)."""
        ...

    async def close(self) -> None: ...
