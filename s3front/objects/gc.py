"""Garbage collection of blocks and manifests: mark and sweep, no reference table.

Writers never count references. Deleting or overwriting an object only drops (or replaces) its
row; a GC pass later finds what nothing reaches and deletes it. Safety does not rest on the
grace period: a write in progress holds a *write intent* (`s3front.objects.intents`), and a pass
keeps everything stamped at or after the oldest live intent's start. Grace (G, possibly 0) only
bounds how long garbage lingers.

A pass:
  0. t0 = now; then read the intents (`horizon`). The horizon is
         H = min(t0 - G - skew, started_ms of every live intent)
     where skew (DEFAULT_CLOCK_SKEW_SECONDS) bounds how far servers' clocks differ. Expired
     intents (a crashed server's) are ignored and deleted.
Mark, in this order:
  1. every multipart upload of every bucket: its parts' manifests are roots;
  2. every object row (all versions, all shards) of every bucket: its manifest is a root
     (inline objects, empty objects and delete markers have none);
  3. every manifest whose id says it was created at or after H (`objects.manifest_ids`: the id
     carries its creation time) is a root, referenced or not;
  then follow child entries from the roots to the set of live manifests and live block ids.
Sweep:
  a. blocks: every block that is not live and was last written before H is deleted with
     `delete_block(id, written_ms)`, conditional on the written time the scan saw (SQLite: in
     the write transaction; Cassandra: a tombstone timestamped at the end of that millisecond,
     which shadows no later write -- no LWT, which would race plain writes);
  b. manifests: every manifest that is not live and was created before H (or whose id carries
     no usable time: the uuid4 ids of old versions) is deleted.

The writer's side. Every request that stores blocks or manifests -- PUT, UploadPart, POST,
CopyObject, UploadPartCopy, CompleteMultipartUpload -- registers an intent (id, started_ms =
S, expires_ms) before its first block or manifest write, and deletes it only after its object
or part row is written. Everything it stamps after registering is >= S on its own clock: the
written time of each block it writes *or reuses* (put_block always rewrites the block's row,
and on Cassandra the larger write timestamp wins, so the stamp never moves back), and the time
in each manifest id it creates. Inline objects store neither and register nothing.

Why no acknowledged write loses data, at any grace. Take a write W and a pass P.
  - W deleted its intent before P read the intents: W's row was written before that, so P's
    mark (later still) reads it -- unless a later write or delete replaced it, and then its
    data is garbage by right. (Cassandra: intents and rows are written and read at the
    store's consistency, LOCAL_QUORUM by default, so what was acknowledged before P's read is
    seen by it; at ONE it need not be.)
  - W's intent was live when P read the intents: H <= S. Every block W has written or reused
    so far has written_ms >= S >= H: not a candidate. A block W reuses after P's scan saw it
    (with an old written time w < H) is rewritten with a time >= S > w: the conditional delete
    fails (SQLite) or its tombstone at the end of millisecond w shadows nothing W wrote
    (Cassandra; S > w in whole milliseconds, so W's microsecond timestamps are later). A block
    P deleted before W reuses it is written again in full by W's put_block. Every manifest W
    writes is created >= S >= H: never swept; if P lists it (3), it is a root and its children
    are marked.
  - W registered after P read the intents: all W's stamps come later in real time than P's t0,
    so on W's clock they are >= t0 - skew >= H as long as W's clock is at most `skew` behind
    P's. The rest is as in the previous case.
  Then the manifests W references without creating them:
  (d) CompleteMultipartUpload: the part manifests are roots through the part rows until the
      object row is written, and the completion writes the object row before deleting the
      upload; P reads uploads (1) before objects (2), so it sees the part manifests in one
      place or the other. A completion or abort that wins meanwhile deletes the part rows:
      so the completion re-reads the upload row after writing its manifest M (young, >= S)
      and fails if it is gone. If it is still there, the parts are deleted (if at all) after
      the re-read, since the upload row goes first: P either listed them before, or listed
      them after the re-read and so lists manifests (3) after M existed; M leads to them.
  (e) CopyObject / UploadPartCopy of a whole object: a fresh manifest M (>= S) whose child is
      the source's manifest, then a re-read of the source row (`api.copy._pin_source`): if the
      row is still there, P read it (and marked the source manifest) or reads it later, and
      then lists manifests (3) after M existed and follows M to the source's blocks. If the
      re-read fails, the copy fails and M is garbage.
  (a)-(c) blocks written but no manifest yet, blocks reused from a deleted object, manifest
      written but no row yet: the intent cases above.
  (f) the row is written and the old version's row is replaced or removed (overwrite,
      versioning suspended): only the old manifest becomes unreachable; blocks shared with
      the new version are reached through the new manifest, which the new row roots.
  A write whose intent may have lapsed (refreshes failed for a third of its TTL) is refused
  before its row is written (`WriteIntent.check`, 503): an unacknowledged write leaves garbage.

Clocks, stated: (1) one server's clock does not step back during a request (every stamp it
makes after S is >= S; an NTP step backwards inside a request would break this); (2) servers'
clocks are within `clock_skew` of the GC's (only for writes that start during a pass's intent
read; NTP keeps them within milliseconds, the default allows a second); (3) intent expiry is
judged by the GC's clock against the writer's, with a third of the TTL (minutes) of margin.
Overlapping passes are each safe on their own argument (one only wastes work on the other).

Deleted buckets: object, upload and part rows keyed by the bucket_id of a bucket row that no
longer exists are never read (GC walks buckets from the bucket table), so their data is freed.
Deleting those orphaned index rows themselves is out of scope here.

Memory: the live sets are Python sets of manifest ids and 32-byte block ids, roughly 100 bytes
per entry -- fine up to tens of millions of blocks. Beyond that, mark into a Bloom filter sized
for the block count (Apache James' deduplicated blob store GC does this): a false positive only
keeps a garbage block one more pass (passes reseed the filter), never deletes a live one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field

from s3front import clock, metrics
from s3front.objects.limits import DEFAULT_GC_GRACE_SECONDS
from s3front.objects.manifest_ids import manifest_created_ms
from s3front.objects.scan import (
    PAGE,
    Progress,
    ProgressCallback,
    all_buckets,
    block_pages,
    object_pages,
)
from s3front.objects.stats import collect_stats
from s3front.store.protocols import Store
from s3front.store.records import BlockInfo, BucketRecord

# Jitter only. A generator of our own leaves the global `random` state to its other users.
_rng = random.Random()

log = logging.getLogger("s3front.gc")

CONCURRENCY = 32  # store calls in flight while following manifests or deleting blocks
FUTURE_SLACK_MS = 3_600_000  # a stamped time later than t0 + this is not a real time
# The lease that spreads `gc_loop`'s passes: one per interval across every server of a store.
GC_LEASE = "gc:pass"
# How far apart two servers' clocks may be (NTP keeps them within milliseconds): subtracted from
# the horizon for the writes a pass cannot see, those that register their intent after it read
# the intents. Not the operator's grace period: it holds at grace 0 too.
DEFAULT_CLOCK_SKEW_SECONDS = 1.0


@dataclass(slots=True)
class GcReport:
    buckets: int = 0
    uploads: int = 0
    objects: int = 0  # object rows, every version and delete marker
    live_manifests: int = 0
    live_blocks: int = 0
    scanned_blocks: int = 0
    freed_blocks: int = 0
    freed_bytes: int = 0
    scanned_manifests: int = 0
    freed_manifests: int = 0
    intents: int = 0  # live write intents when the pass started
    horizon_ms: int = 0  # nothing stamped at or after this was freed
    duration_seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.buckets} buckets, {self.uploads} uploads, {self.objects} object rows; "
            f"live {self.live_manifests} manifests, {self.live_blocks} blocks; "
            f"freed {self.freed_blocks}/{self.scanned_blocks} blocks ({self.freed_bytes} bytes), "
            f"{self.freed_manifests}/{self.scanned_manifests} manifests "
            f"in {self.duration_seconds:.1f} s"
        )


@dataclass(slots=True)
class Marks:
    """What the mark phase found reachable, and the times it judged age by."""

    t0_ms: int
    cutoff_ms: int
    live_manifests: set[str] = field(default_factory=set)
    live_blocks: set[bytes] = field(default_factory=set)

    def young(self, manifest_id: str) -> bool:
        """Created at or after the horizon (so possibly in use by a write in progress)."""
        created = manifest_created_ms(manifest_id)
        return created is not None and self.cutoff_ms <= created <= self.t0_ms + FUTURE_SLACK_MS


async def _upload_roots(
    store: Store, buckets: Sequence[BucketRecord], report: GcReport, progress: Progress
) -> set[str]:
    roots: set[str] = set()
    progress.phase("marking multipart uploads")
    for bucket in buckets:
        after_key, after_id = "", ""
        while uploads := await store.meta.scan_uploads(
            bucket.bucket_id, after_key=after_key, after_upload_id=after_id, limit=PAGE
        ):
            after_key, after_id = uploads[-1].key, uploads[-1].upload_id
            report.uploads += len(uploads)
            progress.rows(len(uploads))
            for upload in uploads:
                after_part = 0
                while parts := await store.meta.list_parts(upload.upload_id, after_part, PAGE):
                    after_part = parts[-1].part_number
                    roots.update(p.manifest_id for p in parts)
    return roots


async def _object_roots(
    store: Store, buckets: Sequence[BucketRecord], report: GcReport, progress: Progress
) -> set[str]:
    roots: set[str] = set()
    progress.phase("marking objects")
    for bucket in buckets:
        async for rows in object_pages(store, bucket):
            report.objects += len(rows)
            progress.rows(len(rows))
            roots.update(r.manifest_id for r in rows if r.manifest_id is not None)
    return roots


async def _young_manifests(store: Store, marks: Marks, progress: Progress) -> set[str]:
    roots: set[str] = set()
    progress.phase("listing young manifests")
    after = ""
    while ids := await store.meta.list_manifest_ids(after, PAGE):
        after = ids[-1]
        progress.rows(len(ids))
        roots.update(i for i in ids if marks.young(i))
    return roots


async def _children(store: Store, manifest_id: str, marks: Marks) -> list[str]:
    """Mark the blocks of one manifest live; return its child manifests."""
    children: list[str] = []
    from_offset, last_offset = 0, -1
    while True:
        entries = await store.meta.get_manifest(manifest_id, from_offset, PAGE)
        # get_manifest starts at the entry containing from_offset, which may be one already seen
        # (a zero-length or overlapping entry); stop when a page brings nothing new.
        fresh = [e for e in entries if e.offset > last_offset]
        if not fresh:
            return children
        for e in fresh:
            if e.block_id is not None:
                marks.live_blocks.add(e.block_id)
            if e.child is not None:
                children.append(e.child)
        last = fresh[-1]
        last_offset = last.offset
        from_offset = max(last.offset + last.length, last.offset + 1)
        if len(entries) < PAGE:
            return children


async def _expand(store: Store, roots: Iterable[str], marks: Marks, progress: Progress) -> None:
    """Follow child entries from `roots`, breadth first, a bounded number of reads at once."""
    progress.phase("following manifests")
    frontier = [m for m in set(roots) if m not in marks.live_manifests]
    marks.live_manifests.update(frontier)
    while frontier:
        found: list[str] = []
        for i in range(0, len(frontier), CONCURRENCY):
            chunk = frontier[i : i + CONCURRENCY]
            for children in await asyncio.gather(*(_children(store, m, marks) for m in chunk)):
                found.extend(children)
            progress.rows(len(chunk))
        frontier = [m for m in set(found) if m not in marks.live_manifests]
        marks.live_manifests.update(frontier)


async def mark(
    store: Store,
    *,
    t0_ms: int,
    cutoff_ms: int,
    report: GcReport | None = None,
    progress: Progress | None = None,
) -> Marks:
    """The mark phase: everything reachable now, or young enough to be in use by a write."""
    report = report if report is not None else GcReport()
    progress = progress if progress is not None else Progress(None)
    marks = Marks(t0_ms=t0_ms, cutoff_ms=cutoff_ms)
    buckets = await all_buckets(store)
    report.buckets = len(buckets)
    roots = await _upload_roots(store, buckets, report, progress)  # (1) before (2): see above
    roots |= await _object_roots(store, buckets, report, progress)
    roots |= await _young_manifests(store, marks, progress)  # (3) after (2): copies
    await _expand(store, roots, marks, progress)
    report.live_manifests = len(marks.live_manifests)
    report.live_blocks = len(marks.live_blocks)
    return marks


async def horizon(
    store: Store,
    *,
    t0_ms: int,
    grace_ms: int,
    skew_ms: int,
    report: GcReport | None = None,
) -> int:
    """The pass's horizon: nothing stamped at or after it is freed. Read the intents after
    taking t0 and before marking (see the module docstring). Expired intents (a crashed
    server's) are ignored and deleted; expiry is judged by this clock, never by a t0 that a
    test moved ahead."""
    report = report if report is not None else GcReport()
    now = clock.now_ms()
    live: list[int] = []
    for intent in await store.meta.list_intents():
        if intent.expires_ms + skew_ms > now:
            live.append(intent.started_ms)
        else:
            await store.meta.delete_intent(intent.intent_id)
    report.intents = len(live)
    report.horizon_ms = min([t0_ms - grace_ms - skew_ms, *live])
    return report.horizon_ms


async def garbage_blocks(
    store: Store,
    marks: Marks,
    report: GcReport | None = None,
    progress: Progress | None = None,
) -> AsyncIterator[list[BlockInfo]]:
    """Scan every block; yield, a page at a time, those that are unreachable and old."""
    report = report if report is not None else GcReport()
    progress = progress if progress is not None else Progress(None)
    progress.phase("scanning blocks")
    async for page in block_pages(store):
        report.scanned_blocks += len(page)
        progress.rows(len(page))
        yield [
            b
            for b in page
            if b.block_id not in marks.live_blocks and b.written_ms < marks.cutoff_ms
        ]


async def free_blocks(
    store: Store, garbage: Sequence[BlockInfo], report: GcReport | None = None
) -> int:
    """Delete blocks as the scan saw them; one written or reused since then stays. The count
    deleted."""
    report = report if report is not None else GcReport()
    freed = 0
    for i in range(0, len(garbage), CONCURRENCY):
        chunk = garbage[i : i + CONCURRENCY]
        done = await asyncio.gather(
            *(store.blocks.delete_block(b.block_id, b.written_ms) for b in chunk)
        )
        for b, deleted in zip(chunk, done, strict=True):
            if deleted:
                freed += 1
                report.freed_blocks += 1
                report.freed_bytes += b.size
    return freed


async def sweep_manifests(
    store: Store,
    marks: Marks,
    report: GcReport | None = None,
    progress: Progress | None = None,
) -> None:
    """Delete every manifest that is unreachable and old."""
    report = report if report is not None else GcReport()
    progress = progress if progress is not None else Progress(None)
    progress.phase("sweeping manifests")
    after = ""
    while ids := await store.meta.list_manifest_ids(after, PAGE):
        after = ids[-1]
        report.scanned_manifests += len(ids)
        progress.rows(len(ids))
        dead = [m for m in ids if m not in marks.live_manifests and not marks.young(m)]
        for i in range(0, len(dead), CONCURRENCY):
            await asyncio.gather(
                *(store.meta.delete_manifest(m) for m in dead[i : i + CONCURRENCY])
            )
        report.freed_manifests += len(dead)


async def run_gc(
    store: Store,
    *,
    grace_seconds: float = DEFAULT_GC_GRACE_SECONDS,
    progress: ProgressCallback | None = None,
    now_ms: int | None = None,
    clock_skew_seconds: float = DEFAULT_CLOCK_SKEW_SECONDS,
) -> GcReport:
    """One full pass. `now_ms` (tests) replaces the clock for t0 -- as if the pass ran that
    much later with every write in progress still holding its intent."""
    if grace_seconds < 0:
        raise ValueError(f"grace period must not be negative, not {grace_seconds}")
    if clock_skew_seconds < 0:
        raise ValueError(f"clock skew must not be negative, not {clock_skew_seconds}")
    started = time.monotonic()
    t0 = clock.now_ms() if now_ms is None else now_ms
    report = GcReport()
    status = Progress(progress)
    cutoff = await horizon(
        store,
        t0_ms=t0,
        grace_ms=int(grace_seconds * 1000),
        skew_ms=int(clock_skew_seconds * 1000),
        report=report,
    )
    marks = await mark(store, t0_ms=t0, cutoff_ms=cutoff, report=report, progress=status)
    async for garbage in garbage_blocks(store, marks, report, status):
        await free_blocks(store, garbage, report)
    await sweep_manifests(store, marks, report, status)
    report.duration_seconds = time.monotonic() - started
    if progress is not None:
        progress(f"done: {report.summary()}")
    return report


async def gc_loop(
    store: Store,
    *,
    interval_seconds: float,
    grace_seconds: float = DEFAULT_GC_GRACE_SECONDS,
    clock_skew_seconds: float = DEFAULT_CLOCK_SKEW_SECONDS,
    stop: asyncio.Event,
) -> None:
    """Run a pass every `interval_seconds` (the first one interval after start) until `stop`
    is set. A failed pass is logged and retried at the next interval; it never ends the loop.

    Every server runs this loop (on by default), but one pass per interval is enough for the
    whole store: a pass first takes the lease GC_LEASE for most of an interval and does not
    give it back, so the other servers' loops find it held and skip their turn. Concurrent
    passes would be safe (write intents), only wasted work. Each wait is the interval give or
    take a tenth, so servers started together do not all ask at once."""
    holder = uuid.uuid4().hex
    try:
        while True:
            try:
                wait = interval_seconds * _rng.uniform(0.9, 1.1)
                await asyncio.wait_for(stop.wait(), wait)
                return
            except TimeoutError:
                pass
            await _gc_turn(store, holder, interval_seconds, grace_seconds, clock_skew_seconds)
    finally:
        # A server that stops leaves the next pass to the others at once.
        with contextlib.suppress(Exception):
            await store.meta.release_lease(GC_LEASE, holder)


async def _gc_turn(
    store: Store,
    holder: str,
    interval_seconds: float,
    grace_seconds: float,
    clock_skew_seconds: float,
) -> None:
    try:
        ttl = max(1, int(interval_seconds * 0.8))
        if not await store.meta.take_lease(GC_LEASE, holder, ttl):
            return  # another server's pass this interval
        report = await run_gc(
            store, grace_seconds=grace_seconds, clock_skew_seconds=clock_skew_seconds
        )
    except Exception:
        log.exception("gc pass failed; next attempt in %s s", interval_seconds)
    else:
        log.info("gc pass: %s", report.summary())
        metrics.set_gc_result(report.freed_blocks, report.freed_bytes)
        try:
            # Dedup figures for /-/metrics: a second scan, but only once per GC interval.
            stats = await collect_stats(store)
            metrics.set_dedup(stats.logical_bytes, stats.stored_bytes)
        except Exception:
            log.exception("collecting stats after the gc pass failed")
