"""The copy: everything a store keeps, from a read-only source to a target Store.

Order (each step only after the one before it is written, so a crash anywhere leaves the
target with at most unreferenced blocks and manifests, never a row that points at nothing):

  1. access keys (tenants have no table: a tenant is its keys' canonical id), the root-key
     marker and the SSE-KMS key ring among them -- every record as stored, sealed secrets
     sealed (the target's servers need the same master key);
  2. per bucket: the bucket row (configuration documents -- ACL, policy, CORS, lifecycle,
     encryption, object lock, tags, ownership, public access block... -- are its `attrs`),
     its by-owner row and its deletion mark;
  3. its multipart uploads in progress: each part's blocks, then its manifest, then the part
     row; the upload row after its parts;
  4. its object index, shard by shard, every version and delete marker with all its fields
     (metadata, tags, ACL, lock and retention, checksums, SSE parameters: headers, checksums
     and attrs): the blocks of its manifest tree, the manifest pages (children first), then
     the row.

Blocks move as they are: both stores address a block by the SHA-256 of its stored bytes (the
sealed bytes of an encrypted object), so no block is re-chunked, re-hashed into a new id or
re-encrypted, and manifests and rows keep their ids. Each block's bytes are checked against
its id on the way. Only what a row reaches is copied: the source's garbage stays behind.

Resuming: the source and target walks of each partition are paired (`streams.paired`); a row
already on the target and equal is skipped together with everything below it -- it was
written last, after its manifests and blocks. A row that is missing or differs is written
again with its whole tree (writes of blocks and manifest entries are idempotent). So an
interrupted run, run again, finishes the job, and a run after a complete one writes nothing.
Bucket rows and keys that exist on the target with other contents are conflicts: reported,
never overwritten (a bucket of that name belongs to someone else there).

Memory: a page of rows per walk, a page of manifest entries per tree level, at most
`block_concurrency` blocks in flight, and bounded caches of the block and manifest ids this
run has written (so deduplicated blocks and shared manifests are written once, mostly).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import os
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from s3front.migrate import streams
from s3front.migrate.guard import MigrationIntent
from s3front.store.protocols import Store
from s3front.store.records import BucketRecord, ObjectRecord, OwnerBucket, UploadRecord

# Test hook: exit abruptly (no cleanup, as a kill would) after this many writes to the target.
EXIT_AFTER_ENV = "S3FRONT_MIGRATE_EXIT_AFTER"
EXIT_AFTER_CODE = 75
BLOCK_CONCURRENCY = 8
OBJECT_CONCURRENCY = 8
CACHE_IDS = 100_000
MANIFEST_PAGE = 1000
MAX_DEPTH = 64  # manifest nesting: copies of copies; deeper means a cycle


class SourceDataLost(Exception):
    """The source lacks data a row references (or it does not match its id)."""


@dataclass(slots=True)
class KindCount:
    source: int = 0  # rows seen on the source
    written: int = 0  # written to the target by this run
    present: int = 0  # already on the target, equal


@dataclass(slots=True)
class CopyReport:
    kinds: dict[str, KindCount] = field(default_factory=dict)
    blocks_written: int = 0
    block_bytes_written: int = 0
    manifest_pages_written: int = 0
    extra_on_target: int = 0  # rows under migrated buckets that the source does not have
    sealed_secrets: int = 0
    conflicts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def kind(self, name: str) -> KindCount:
        return self.kinds.setdefault(name, KindCount())


async def _all(calls: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run the calls at once and wait for every one; then raise the first failure, a store
    error before lost source data (which fails one object, where a store error ends the run)."""
    failures = [r for r in await asyncio.gather(*calls, return_exceptions=True) if r is not None]
    failures.sort(key=lambda e: isinstance(e, SourceDataLost))
    if failures:
        raise failures[0]


class _Recent:
    """A bounded set of recently added ids (oldest dropped first)."""

    def __init__(self, size: int) -> None:
        self._ids: collections.OrderedDict[object, None] = collections.OrderedDict()
        self._size = size

    def __contains__(self, item: object) -> bool:
        return item in self._ids

    def add(self, item: object) -> None:
        self._ids[item] = None
        self._ids.move_to_end(item)
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)


class Copier:
    """One run of the copy (see the module docstring); `run` returns what it saw and wrote."""

    def __init__(
        self,
        src: streams.ReadStore,
        dst: Store,
        intent: MigrationIntent,
        *,
        progress: Callable[[int], None] = lambda n: None,
        exit_after: int | None = None,
        block_concurrency: int = BLOCK_CONCURRENCY,
    ) -> None:
        self.src, self.dst, self.intent = src, dst, intent
        self.report = CopyReport()
        self._progress = progress
        self._exit_after = exit_after
        self._writes = 0
        self._blocks_sem = asyncio.Semaphore(block_concurrency)
        self._blocks_done = _Recent(CACHE_IDS)
        self._manifests_done = _Recent(CACHE_IDS // 10)
        self._inflight: dict[bytes, asyncio.Future[None]] = {}
        self._owned: dict[str, set[tuple[str, int]]] = {}  # the target's by-owner rows

    def _wrote(self) -> None:
        self._writes += 1
        if self._exit_after is not None and self._writes >= self._exit_after:
            os._exit(EXIT_AFTER_CODE)

    async def run(self) -> CopyReport:
        await self.copy_keys()
        async for bucket in streams.buckets(self.src.meta):
            self.report.kind("buckets").source += 1
            self._progress(1)
            if await self.copy_bucket(bucket):
                await self.copy_uploads(bucket)
                await self.copy_objects(bucket)
        return self.report

    # -- keys --------------------------------------------------------------------------------
    async def copy_keys(self) -> None:
        count = self.report.kind("access keys")
        for rec in await self.src.keys.list_keys():
            count.source += 1
            self._progress(1)
            if rec.secret.startswith("sealed:"):
                self.report.sealed_secrets += 1
            there = await self.dst.keys.get_key(rec.access_key)
            if there == rec:
                count.present += 1
            elif there is None:
                await self.dst.keys.put_key(rec)
                self._wrote()
                count.written += 1
            else:
                self.report.conflicts.append(
                    f"access key {rec.access_key}: the target has another record of that id"
                )

    # -- buckets -----------------------------------------------------------------------------
    async def copy_bucket(self, rec: BucketRecord) -> bool:
        """The bucket row, by-owner row and mark; False if the name is taken on the target."""
        count = self.report.kind("buckets")
        meta = self.dst.meta
        there = await meta.get_bucket(rec.name)
        if there is None:
            if not await meta.insert_bucket(rec):
                there = await meta.get_bucket(rec.name)
            else:
                self._wrote()
                count.written += 1
        if there is not None:
            if there.bucket_id != rec.bucket_id:
                self.report.conflicts.append(
                    f"bucket {rec.name}: the target has another bucket of that name; not copied"
                )
                return False
            if there == rec:
                count.present += 1
            else:
                await meta.update_bucket(rec)
                self._wrote()
                count.written += 1
        # Derived from the bucket row, as CreateBucket writes it. The owner's list is read once
        # per owner (a tenant has at most a few thousand buckets).
        if rec.owner not in self._owned:
            rows = await meta.list_owner_buckets(rec.owner)
            self._owned[rec.owner] = {(r.name, r.created_ms) for r in rows}
        if (rec.name, rec.created_ms) not in self._owned[rec.owner]:
            await meta.put_owner_bucket(OwnerBucket(rec.owner, rec.name, rec.created_ms))
            self._wrote()
        src_mark = await self.src.meta.get_bucket_mark(rec.name)
        dst_mark = await meta.get_bucket_mark(rec.name)
        if src_mark is not None and dst_mark is not None and src_mark[1] != dst_mark[1]:
            await meta.set_bucket_mark(rec.name, rec.bucket_id, src_mark[1], dst_mark[1])
        return True

    # -- multipart uploads ---------------------------------------------------------------------
    async def copy_uploads(self, bucket: BucketRecord) -> None:
        count = self.report.kind("uploads")
        src_walk = streams.uploads(self.src.meta, bucket.bucket_id)
        dst_walk = streams.uploads(self.dst.meta, bucket.bucket_id)
        async for s, d in streams.paired(src_walk, dst_walk, streams.upload_order):
            if s is None:
                self.report.extra_on_target += 1
                continue
            count.source += 1
            self._progress(1)
            try:
                await self.copy_parts(bucket, s)
            except SourceDataLost as e:
                self.report.errors.append(
                    f"bucket {bucket.name}: upload {s.upload_id} of {s.key!r}: {e}; not copied"
                )
                continue
            if d == s:
                count.present += 1
                continue
            self.intent.check()
            await self.dst.meta.put_upload(bucket.bucket_id, s)
            self._wrote()
            count.written += 1

    async def copy_parts(self, bucket: BucketRecord, upload: UploadRecord) -> None:
        count = self.report.kind("parts")
        src_walk = streams.parts(self.src.meta, upload.upload_id)
        dst_walk = streams.parts(self.dst.meta, upload.upload_id)
        async for s, d in streams.paired(src_walk, dst_walk, streams.part_order):
            if s is None:
                self.report.extra_on_target += 1
                continue
            count.source += 1
            self._progress(1)
            if d == s:
                count.present += 1
                continue
            await self.copy_manifest(s.manifest_id)
            self.intent.check()
            await self.dst.meta.put_part(upload.upload_id, s)
            self._wrote()
            count.written += 1

    # -- objects -----------------------------------------------------------------------------
    async def copy_objects(self, bucket: BucketRecord) -> None:
        for shard in range(bucket.shards):
            src_walk = streams.objects(self.src.meta, bucket.bucket_id, shard)
            dst_walk = streams.objects(self.dst.meta, bucket.bucket_id, shard)
            pending: list[ObjectRecord] = []
            async for s, d in streams.paired(src_walk, dst_walk, streams.object_order):
                if s is None:
                    self.report.extra_on_target += 1
                    continue
                self._count_object(s)
                if d is not None and streams.same_object(s, d):
                    self._count_object(s, "present")
                    continue
                pending.append(s)
                if len(pending) >= OBJECT_CONCURRENCY:
                    await self._copy_objects(bucket, shard, pending)
                    pending = []
            await self._copy_objects(bucket, shard, pending)

    def _count_object(self, rec: ObjectRecord, what: str = "source") -> None:
        kinds = ["object versions"] + (["delete markers"] if rec.delete_marker else [])
        for kind in kinds:
            count = self.report.kind(kind)
            setattr(count, what, getattr(count, what) + 1)
        if what == "source":
            self._progress(1)

    async def _copy_objects(
        self, bucket: BucketRecord, shard: int, recs: Iterable[ObjectRecord]
    ) -> None:
        await _all(self._copy_object(bucket, shard, r) for r in recs)

    async def _copy_object(self, bucket: BucketRecord, shard: int, rec: ObjectRecord) -> None:
        try:
            if rec.manifest_id is not None:
                await self.copy_manifest(rec.manifest_id)
        except SourceDataLost as e:
            self.report.errors.append(
                f"bucket {bucket.name}: {rec.key!r} version {rec.version_id}: {e}; not copied"
            )
            return
        self.intent.check()
        await self.dst.meta.put_object(bucket.bucket_id, shard, rec)
        self._wrote()
        self._count_object(rec, "written")

    # -- manifests and blocks ----------------------------------------------------------------
    async def copy_manifest(self, manifest_id: str, depth: int = 0) -> None:
        """The whole tree under `manifest_id`: per page, its blocks and child trees, then the
        page's entries."""
        if manifest_id in self._manifests_done:
            return
        if depth > MAX_DEPTH:
            raise SourceDataLost(f"manifest {manifest_id} is nested more than {MAX_DEPTH} deep")
        async for page in streams.manifest_pages(self.src.meta, manifest_id, MANIFEST_PAGE):
            await self.copy_blocks(e.block_id for e in page if e.block_id is not None)
            for e in page:
                if e.child is not None:
                    await self.copy_manifest(e.child, depth + 1)
            await self.dst.meta.put_manifest(manifest_id, page)
            self._wrote()
            self.report.manifest_pages_written += 1
        self._manifests_done.add(manifest_id)

    async def copy_blocks(self, ids: Iterable[bytes]) -> None:
        todo = list(dict.fromkeys(i for i in ids if i not in self._blocks_done))
        await _all(self._copy_block(i) for i in todo)

    async def _copy_block(self, block_id: bytes) -> None:
        # Two objects copied at once may share a block: the second waits for the first's write.
        if (waiting := self._inflight.get(block_id)) is not None:
            await asyncio.shield(waiting)
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[block_id] = done
        try:
            async with self._blocks_sem:
                data = await self.src.blocks.get_block(block_id)
                if data is None:
                    raise SourceDataLost(f"block {block_id.hex()} is missing on the source")
                if hashlib.sha256(data).digest() != block_id:
                    raise SourceDataLost(f"block {block_id.hex()} on the source is corrupt")
                await self.dst.blocks.put_block(block_id, data)
            self._wrote()
            self.report.blocks_written += 1
            self.report.block_bytes_written += len(data)
            self._blocks_done.add(block_id)
            done.set_result(None)
        except Exception as e:
            done.set_exception(e)
            done.exception()  # retrieved here: a waiter re-raises it, none may exist
            raise
        except BaseException:  # cancelled: a waiter gives up too
            done.cancel()
            raise
        finally:
            del self._inflight[block_id]
