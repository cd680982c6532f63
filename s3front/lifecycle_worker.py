"""The lifecycle worker: applies each bucket's lifecycle rules, and sweeps deleted buckets' rows.

Runs inside `serve` every `lifecycle_interval` seconds (`lifecycle_loop`) and as `s3front
lifecycle run` (`run_lifecycle`, one pass). A pass, bucket by bucket (those with rules):

- every shard of the object index, in key order, each key's versions newest first:
  - the current version, once a rule's Expiration has passed: removed in a never-versioned
    bucket, and in a versioned one hidden by a new delete marker (the data stays, as in S3);
  - a noncurrent version, NoncurrentDays after it became noncurrent (when the next newer
    version was written), keeping the NewerNoncurrentVersions newest noncurrent ones: removed;
  - a delete marker that is a key's only row: removed under ExpiredObjectDeleteMarker, or once
    it is as old as an Expiration's Days (or past its Date), as S3 does;
- the multipart uploads, DaysAfterInitiation after initiation: aborted (upload and part rows).

It removes references only: the blocks and manifests they pointed to are freed later by GC
(`s3front.objects.gc`), which its write intents and grace period make safe.

Several servers may run it at once on one store. Each (bucket, shard) -- and each bucket's
uploads -- is worked on under a lease (`MetaStore.take_lease`: a lightweight transaction with a
TTL on Cassandra, so the lease of a server that died lapses); a server that cannot take a lease
skips that shard, and one that loses its lease mid-shard (it did not extend it in time) stops.
Every action is itself conditional, so that even a lapsed lease cannot apply one twice: a
removal deletes the row only if it is still the version that was judged (etag and modification
time), and a delete marker is written at the row right after the judged current version with an
insert-if-absent (`versions.conditional_successor`), which only one writer can win -- and once
it is there, the key's current version is a delete marker, which no rule expires again.

Deleted buckets: object, upload and part rows hang off a bucket's random bucket_id, and
DeleteBucket leaves behind what a crash or a racing write left. The sweep lists the bucket ids
that have object or upload rows *first*, then every bucket; a bucket's row is always written
before any row under its id, so an id that has rows but is missing from the later bucket list
belongs to a bucket that no longer exists -- a bucket created meanwhile has a fresh id that the
earlier listing cannot have contained rows of without its bucket row existing already.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass, field, fields, replace
from typing import Any

from s3front import clock
from s3front.api.tagging_attrs import tags_of
from s3front.objects import lifecycle, lock, versions
from s3front.store.protocols import MetaStore, Store
from s3front.store.records import BucketRecord, ObjectRecord

# Jitter only. A generator of our own leaves the global `random` state to its other users.
_rng = random.Random()

log = logging.getLogger("s3front.lifecycle")

PAGE = 500
ACTIONS = 32  # row actions of one page in flight at once
# Leases last this long unless extended; the worker extends its lease after every page, which
# takes far less. A server that dies holds its shards this long at most.
LEASE_SECONDS = 60
ProgressCallback = Callable[[str], None]


def _removal_blocked(rec: ObjectRecord, now_ms: int) -> bool:
    """Whether object lock (a retention date not yet passed, or a legal hold) forbids removing
    this version. Adding a delete marker is never blocked (S3 adds them to locked objects too);
    only removing a version is, and lifecycle has no governance bypass."""
    return lock.blocks_removal(rec, now_ms)


@dataclass(slots=True)
class LifecycleReport:
    buckets: int = 0
    shards: int = 0
    shards_busy: int = 0  # skipped: another server held the lease
    scanned: int = 0
    expired: int = 0  # current versions removed (never-versioned buckets)
    markers_added: int = 0  # current versions hidden by a delete marker (versioned buckets)
    noncurrent_removed: int = 0
    markers_removed: int = 0  # expired object delete markers
    uploads_aborted: int = 0
    kept_locked: int = 0
    orphan_rows_removed: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{f.name.replace('_', ' ')} {getattr(self, f.name)}" for f in fields(self)]
        head = ", ".join(p for p in parts if not p.startswith(("seconds", "errors")))
        rate = self.scanned / self.seconds if self.seconds > 0 else 0.0
        return f"lifecycle: {head}; {self.seconds:.1f}s ({rate:,.0f} objects/s)"


@dataclass(slots=True)
class _Key:
    """What the scan remembers of the key it is in (its versions arrive newest first)."""

    key: str = ""
    index: int = 0  # rows of this key seen so far
    newer_ms: int = 0  # last_modified_ms of the row just seen (the next newer version)
    marker: ObjectRecord | None = None  # the current row, if it is a delete marker


class _Pass:
    def __init__(
        self,
        store: Store,
        *,
        day_ms: int,
        now_ms: int,
        holder: str,
        lease_seconds: int,
        progress: ProgressCallback | None,
        only: Collection[str] | None,
    ) -> None:
        self.only = None if only is None else set(only)
        self.meta: MetaStore = store.meta
        self.day_ms, self.now_ms, self.holder = day_ms, now_ms, holder
        self.lease_seconds = lease_seconds
        self.progress = progress
        self.report = LifecycleReport()
        self._pending: list[Coroutine[Any, Any, None]] = []
        self._last_progress = time.monotonic()

    def _tick(self) -> None:
        if self.progress is not None and time.monotonic() - self._last_progress >= 1.0:
            self._last_progress = time.monotonic()
            r = self.report
            self.progress(
                f"lifecycle: {r.buckets} buckets, {r.scanned:,} objects scanned,"
                f" {r.expired + r.markers_added + r.noncurrent_removed + r.markers_removed:,}"
                f" expired, {r.uploads_aborted:,} uploads aborted"
            )

    # -- buckets ----------------------------------------------------------------------------------
    async def run(self) -> None:
        after = ""
        while True:
            page = await self.meta.list_buckets(after, 100)
            if not page:
                break
            for bucket in page:
                if self.only is not None and bucket.name not in self.only:
                    continue
                rules = lifecycle.rules_of(bucket.attrs)
                if any(r.enabled for r in rules):
                    self.report.buckets += 1
                    try:
                        await self.bucket(bucket, rules)
                    except Exception as exc:  # one bucket's failure must not stop the rest
                        log.exception("lifecycle of bucket %s failed", bucket.name)
                        self.report.errors.append(f"{bucket.name}: {exc}")
            after = page[-1].name
        if self.only is None:
            await self.sweep_deleted_buckets()

    async def bucket(self, bucket: BucketRecord, rules: list[lifecycle.Rule]) -> None:
        rules = [r for r in rules if r.enabled]
        if any(r.expiration_days or r.expiration_date_ms is not None or r.noncurrent_days
               or r.expired_object_delete_marker for r in rules):  # fmt: skip
            for shard in range(bucket.shards):
                lease = f"lc:{bucket.bucket_id}:{shard}"
                if not await self.meta.take_lease(lease, self.holder, self.lease_seconds):
                    self.report.shards_busy += 1
                    continue
                try:
                    self.report.shards += 1
                    await self.shard(bucket, shard, rules, lease)
                finally:
                    for action in self._pending:  # left by a failure: never to be run
                        action.close()
                    self._pending = []
                    await self.meta.release_lease(lease, self.holder)
        if any(r.abort_days for r in rules):
            lease = f"lc:{bucket.bucket_id}:uploads"
            if not await self.meta.take_lease(lease, self.holder, self.lease_seconds):
                self.report.shards_busy += 1
                return
            try:
                await self.uploads(bucket, rules, lease)
            finally:
                await self.meta.release_lease(lease, self.holder)

    # -- one shard of the object index ------------------------------------------------------------
    async def shard(
        self, bucket: BucketRecord, shard: int, rules: list[lifecycle.Rule], lease: str
    ) -> None:
        state: _Key | None = None
        start_key, after_seq = "", None
        while True:
            page = await self.meta.scan_objects(
                bucket.bucket_id, shard, start_key=start_key, after_seq=after_seq, limit=PAGE
            )
            for rec in page:
                if state is None or rec.key != state.key:
                    if state is not None:
                        await self._key_done(bucket, shard, rules, state)
                    state = _Key(rec.key)
                await self.row(bucket, shard, rules, state, rec)
                state.index += 1
                state.newer_ms = rec.last_modified_ms
            self.report.scanned += len(page)
            await self._flush()
            self._tick()
            if len(page) < PAGE:
                break
            start_key, after_seq = page[-1].key, page[-1].seq
            if not await self.meta.take_lease(lease, self.holder, self.lease_seconds):
                log.warning("lifecycle lost its lease on %s; leaving the shard", lease)
                return
        if state is not None:
            await self._key_done(bucket, shard, rules, state)
            await self._flush()

    def _later(self, action: Coroutine[Any, Any, None]) -> None:
        """Queue an action on one row; `_flush` runs the page's actions, ACTIONS at a time.
        They touch distinct rows and each is conditional, so their order does not matter;
        one at a time, a pass on Cassandra would wait out one LWT round trip per object."""
        self._pending.append(action)

    async def _flush(self) -> None:
        pending, self._pending = self._pending, []
        gate = asyncio.Semaphore(ACTIONS)

        async def gated(action: Coroutine[Any, Any, None]) -> None:
            async with gate:
                await action

        await asyncio.gather(*(gated(a) for a in pending))

    async def _remove(
        self, bucket: BucketRecord, shard: int, rec: ObjectRecord, counter: str
    ) -> None:
        if await self.meta.delete_object_if(bucket.bucket_id, shard, rec):
            setattr(self.report, counter, getattr(self.report, counter) + 1)

    async def row(
        self,
        bucket: BucketRecord,
        shard: int,
        rules: list[lifecycle.Rule],
        state: _Key,
        rec: ObjectRecord,
    ) -> None:
        if state.index == 0:
            if rec.delete_marker:
                state.marker = rec
                return
            found = lifecycle.expiration(
                rules, rec.key, rec.size, tags_of(rec.attrs), rec.last_modified_ms, self.day_ms
            )
            if found is not None and found[0] <= self.now_ms:
                self._later(self.expire_current(bucket, shard, rec))
            return
        state.marker = None  # the key has more than one row: its marker is not alone
        newer = state.index - 1  # noncurrent rows newer than this one
        for r in rules:
            if not r.noncurrent_days:
                continue
            if not lifecycle.matches(r.filter, rec.key, rec.size, tags_of(rec.attrs)):
                continue
            at = lifecycle.noncurrent_expiry(r, state.newer_ms, self.day_ms)
            if at is None or at > self.now_ms:
                continue
            if r.newer_noncurrent is not None and newer < r.newer_noncurrent:
                continue
            if _removal_blocked(rec, self.now_ms):
                self.report.kept_locked += 1
                return
            self._later(self._remove(bucket, shard, rec, "noncurrent_removed"))
            return

    async def _key_done(
        self, bucket: BucketRecord, shard: int, rules: list[lifecycle.Rule], state: _Key
    ) -> None:
        marker = state.marker
        if marker is None or state.index != 1:
            return
        for r in rules:
            if not lifecycle.matches(r.filter, marker.key, None, tags_of(marker.attrs)):
                continue
            # ExpiredObjectDeleteMarker removes it at once; a Days or Date rule once the marker
            # itself is old enough (as S3 does).
            due = lifecycle.expiry_of(r, marker.last_modified_ms, self.day_ms)
            if r.expired_object_delete_marker or (due is not None and due <= self.now_ms):
                self._later(self._remove(bucket, shard, marker, "markers_removed"))
                return

    async def expire_current(self, bucket: BucketRecord, shard: int, rec: ObjectRecord) -> None:
        if not bucket.versioning:
            if _removal_blocked(rec, self.now_ms):
                self.report.kept_locked += 1
            elif await self.meta.delete_object_if(bucket.bucket_id, shard, rec):
                self.report.expired += 1
            return
        marker = ObjectRecord(
            key=rec.key,
            seq=0,
            version_id="",
            size=0,
            etag="",
            last_modified_ms=self.now_ms,
            owner=bucket.owner,
            delete_marker=True,
        )
        # At the row right after the judged version, written only if absent: two servers (or a
        # pass after a lapsed lease) that judged the same version aim at the same row, and only
        # one lands. A PUT meanwhile takes a larger, time-based seq and stays current.
        marker = versions.conditional_successor(marker, bucket.versioning, rec)
        if await versions.write_version(self.meta, bucket, shard, marker, rec, if_absent=True):
            self.report.markers_added += 1

    # -- multipart uploads ------------------------------------------------------------------------
    async def uploads(self, bucket: BucketRecord, rules: list[lifecycle.Rule], lease: str) -> None:
        after_key, after_id = "", ""
        while True:
            page = await self.meta.scan_uploads(
                bucket.bucket_id, after_key=after_key, after_upload_id=after_id, limit=PAGE
            )
            for up in page:
                found = lifecycle.abort_date(rules, up.key, up.initiated_ms, self.day_ms)
                if found is not None and found[0] <= self.now_ms:
                    # As AbortMultipartUpload: the upload row first, so no part lands after.
                    await self.meta.delete_upload(bucket.bucket_id, up.key, up.upload_id)
                    await self.meta.delete_parts(up.upload_id)
                    self.report.uploads_aborted += 1
            self._tick()
            if len(page) < PAGE:
                return
            after_key, after_id = page[-1].key, page[-1].upload_id
            if not await self.meta.take_lease(lease, self.holder, self.lease_seconds):
                return

    # -- deleted buckets --------------------------------------------------------------------------
    async def sweep_deleted_buckets(self) -> None:
        lease = "lc:deleted-buckets"
        if not await self.meta.take_lease(lease, self.holder, self.lease_seconds):
            return
        try:
            # Partitions first, buckets second (see the module docstring for why this order).
            partitions: list[tuple[str, int]] = []
            after: tuple[str, int] | None = None
            while page := await self.meta.list_object_partitions(after, 1000):
                partitions += page
                after = page[-1]
            upload_ids: list[str] = []
            up_after = ""
            while up_page := await self.meta.list_upload_buckets(up_after, 1000):
                upload_ids += up_page
                up_after = up_page[-1]
            live: set[str] = set()
            b_after = ""
            while b_page := await self.meta.list_buckets(b_after, 1000):
                live.update(b.bucket_id for b in b_page)
                b_after = b_page[-1].name
            for bucket_id, shard in partitions:
                if bucket_id not in live:
                    await self._drop_partition(bucket_id, shard)
                    await self.meta.take_lease(lease, self.holder, self.lease_seconds)
            for bucket_id in upload_ids:
                if bucket_id not in live:
                    await self._drop_uploads(bucket_id)
        finally:
            await self.meta.release_lease(lease, self.holder)

    async def _drop_partition(self, bucket_id: str, shard: int) -> None:
        while page := await self.meta.scan_objects(bucket_id, shard, limit=PAGE):
            for rec in page:
                await self.meta.delete_object(bucket_id, shard, rec.key, rec.seq)
            self.report.orphan_rows_removed += len(page)
            if len(page) < PAGE:
                break

    async def _drop_uploads(self, bucket_id: str) -> None:
        while page := await self.meta.scan_uploads(bucket_id, limit=PAGE):
            for up in page:
                await self.meta.delete_parts(up.upload_id)
                await self.meta.delete_upload(bucket_id, up.key, up.upload_id)
            self.report.orphan_rows_removed += len(page)
            if len(page) < PAGE:
                break


async def run_lifecycle(
    store: Store,
    *,
    day_seconds: float = 86400.0,
    now_ms: int | None = None,
    holder: str | None = None,
    lease_seconds: int = LEASE_SECONDS,
    progress: ProgressCallback | None = None,
    only: Collection[str] | None = None,
) -> LifecycleReport:
    """One lifecycle pass over every bucket (see the module docstring); with `only`, over the
    buckets of those names and without the sweep of deleted buckets."""
    started = time.monotonic()
    work = _Pass(
        store,
        day_ms=max(1, int(day_seconds * 1000)),
        now_ms=now_ms if now_ms is not None else clock.now_ms(),
        holder=holder or uuid.uuid4().hex,
        lease_seconds=lease_seconds,
        progress=progress,
        only=only,
    )
    await work.run()
    work.report.seconds = time.monotonic() - started
    return replace(work.report)


async def lifecycle_loop(
    store: Store, *, interval_seconds: float, day_seconds: float, stop: asyncio.Event
) -> None:
    """A pass every `interval_seconds` (give or take a tenth, so that servers started together
    spread out) until `stop` is set. A failed pass is logged; the loop goes on."""
    holder = uuid.uuid4().hex
    while True:
        wait = interval_seconds * _rng.uniform(0.9, 1.1)
        try:
            await asyncio.wait_for(stop.wait(), wait)
            return
        except TimeoutError:
            pass
        try:
            report = await run_lifecycle(store, day_seconds=day_seconds, holder=holder)
        except Exception:
            log.exception("lifecycle pass failed; next attempt in %s s", interval_seconds)
        else:
            if report.scanned or report.buckets:
                log.info("%s", report.summary())
