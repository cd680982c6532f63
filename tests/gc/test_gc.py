"""GC frees exactly what nothing reaches, only after the grace period, and never a block that a
concurrent upload reuses. Runs on every store backend."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import uuid

import pytest
from gc_helpers import (
    BLOCK,
    abort_upload,
    block_ids,
    complete_upload,
    delete,
    make_bucket,
    present,
    put,
    read,
    start_upload,
    write_data,
)

from s3front.clock import now_ms as clock_ms
from s3front.objects.gc import (
    GcReport,
    free_blocks,
    garbage_blocks,
    gc_loop,
    mark,
    run_gc,
)
from s3front.objects.keys import shard_of
from s3front.objects.manifest_ids import new_manifest_id
from s3front.store.protocols import Store
from s3front.store.records import ManifestEntry

pytestmark = pytest.mark.anyio

HOUR_MS = 3_600_000


def later() -> int:
    """A t0 two hours ahead: with a one-hour grace everything written so far is old. Only for
    passes while nothing else writes (see run_gc)."""
    return clock_ms() + 2 * HOUR_MS


async def test_garbage_freed_after_grace_and_live_objects_intact(store: Store, prefix: str) -> None:
    bucket = await make_bucket(store, prefix)
    shared = os.urandom(3 * BLOCK)  # block aligned: the same three blocks in both objects
    single = os.urandom(5 * BLOCK + 123)
    tiny = os.urandom(100)  # inline
    parts = [os.urandom(2 * BLOCK + 7), os.urandom(BLOCK + 1)]
    pending = [os.urandom(BLOCK + 5)]
    live = {
        "single": single,
        "inline": tiny,
        "dedup": shared + os.urandom(BLOCK),
        "multi": b"".join(parts),
    }
    deleted = shared + os.urandom(2 * BLOCK)
    overwritten = os.urandom(2 * BLOCK)
    aborted = [os.urandom(BLOCK + 9)]

    for key in ("single", "inline", "dedup"):
        await put(store, bucket, key, live[key])
    await put(store, bucket, "deleted", deleted)
    await delete(store, bucket, "deleted")
    await put(store, bucket, "over", overwritten)
    await put(store, bucket, "over", tiny)
    live["over"] = tiny
    multi = await start_upload(store, bucket, "multi", parts)
    await complete_upload(store, bucket, "multi", multi)
    await start_upload(store, bucket, "pending", pending)  # in progress: its parts are live
    gone = await start_upload(store, bucket, "aborted", aborted)
    await abort_upload(store, bucket, "aborted", gone)
    multi_row = await store.meta.get_object(bucket.bucket_id, shard_of("multi", 4), "multi")
    assert multi_row is not None and multi_row.manifest_id is not None
    part_manifests = [e.child for e in await store.meta.get_manifest(multi_row.manifest_id)]
    assert len(part_manifests) == 2 and all(part_manifests)

    garbage = block_ids(deleted)[3:] + block_ids(overwritten) + block_ids(aborted[0])
    kept = (
        block_ids(single)
        + block_ids(live["dedup"])
        + block_ids(live["multi"][: len(parts[0])])
        + block_ids(parts[1])
        + block_ids(pending[0])
    )

    # Within the grace period nothing goes.
    report = await run_gc(store, grace_seconds=3600)
    assert await present(store, garbage) == [True] * len(garbage)
    assert report.objects >= 5 and report.buckets >= 1

    report = await run_gc(store, grace_seconds=3600, now_ms=later())
    assert await present(store, garbage) == [False] * len(garbage)
    assert await present(store, kept) == [True] * len(kept)
    assert report.freed_blocks >= len(garbage)
    assert report.freed_bytes >= 2 * BLOCK + len(overwritten) + len(aborted[0])
    for key, data in live.items():
        assert await read(store, bucket, key) == data, key
    assert await read(store, bucket, "deleted") is None
    for m in part_manifests:  # child manifests of a live object stay
        assert m is not None and await store.meta.get_manifest(m)


async def test_unreferenced_manifests_freed_after_grace(store: Store, prefix: str) -> None:
    block = os.urandom(BLOCK)
    bid = block_ids(block)[0]
    await store.blocks.put_block(bid, block)
    young = new_manifest_id()
    legacy = "f" + uuid.uuid4().hex[1:]  # an old-format id: reads as a time far in the future
    for m in (young, legacy):
        await store.meta.put_manifest(m, [ManifestEntry(offset=0, length=BLOCK, block_id=bid)])

    await run_gc(store, grace_seconds=3600)
    assert await store.meta.get_manifest(young)  # young: kept, and so its block
    assert await store.blocks.get_block(bid) == block
    assert await store.meta.get_manifest(legacy) == []  # no usable time: old and unreachable

    report = await run_gc(store, grace_seconds=3600, now_ms=later())
    assert await store.meta.get_manifest(young) == []
    assert await store.blocks.get_block(bid) is None
    assert report.freed_manifests >= 1


async def test_reused_block_survives_sweep_that_scanned_it(store: Store, prefix: str) -> None:
    """The race, made deterministic: the sweep has scanned A's blocks as garbage when B, with
    the same bytes, reuses them; the conditional delete must then leave them."""
    bucket = await make_bucket(store, prefix)
    data = os.urandom(3 * BLOCK + 17)
    other = os.urandom(2 * BLOCK)  # garbage nobody reuses: the same sweep must free it
    await put(store, bucket, "a", data)
    await put(store, bucket, "c", other)
    await delete(store, bucket, "a")
    await delete(store, bucket, "c")
    await asyncio.sleep(0.05)

    t0 = clock_ms()
    report = GcReport()
    marks = await mark(store, t0_ms=t0, cutoff_ms=t0 - 10, report=report)
    candidates = [b async for page in garbage_blocks(store, marks, report) for b in page]
    scanned = {b.block_id for b in candidates}
    assert set(block_ids(data)) <= scanned and set(block_ids(other)) <= scanned

    await put(store, bucket, "b", data)  # put_block of the same bytes, then B's row

    await free_blocks(store, candidates, report)
    assert await present(store, block_ids(data)) == [True] * len(block_ids(data))
    assert await present(store, block_ids(other)) == [False, False]
    assert await read(store, bucket, "b") == data
    await run_gc(store, grace_seconds=0.01)
    assert await read(store, bucket, "b") == data


# Write intents keep GC off uploads in progress whatever the grace period: race at grace 0.
RACE_GRACE = 0.0


async def test_concurrent_uploads_and_gc_passes(store: Store, prefix: str) -> None:
    bucket = await make_bucket(store, prefix)
    common = os.urandom(4 * BLOCK)  # every upload reuses these blocks
    acknowledged: dict[str, bytes] = {}
    done = asyncio.Event()
    two_passes = asyncio.Event()
    reports: list[GcReport] = []

    async def uploader(n: int) -> None:
        for rnd in range(4):
            key = f"k{n}"
            data = common + os.urandom(BLOCK // 2)  # plus a tail that becomes garbage
            await put(store, bucket, key, data)
            acknowledged[key] = data
            if rnd < 3:
                await delete(store, bucket, key)
                del acknowledged[key]
                # Long enough for the blocks to be old garbage when the next round reuses them.
                await asyncio.sleep(RACE_GRACE + 0.05)

    async def collector() -> None:
        while not done.is_set():
            # One clock here: no skew allowance, so 50 ms old garbage is fair game.
            reports.append(await run_gc(store, grace_seconds=RACE_GRACE, clock_skew_seconds=0))
            if len(reports) >= 2:
                two_passes.set()
            await asyncio.sleep(0.01)

    async def uploaders() -> None:
        await asyncio.gather(*(uploader(n) for n in range(4)))
        # On a shared Cassandra keyspace a pass scans every test's buckets and may outlast the
        # uploads: let at least two passes finish (bounded) so that more than one overlapped.
        await asyncio.wait_for(two_passes.wait(), 120)
        done.set()

    await asyncio.gather(uploaders(), collector())
    assert len(reports) >= 2
    for key, data in acknowledged.items():
        assert await read(store, bucket, key) == data, key
    final = await run_gc(
        store, grace_seconds=RACE_GRACE, now_ms=clock_ms() + 1000, clock_skew_seconds=0
    )
    # Each deleted upload left one garbage tail block of its own: all were freed by now.
    assert sum(r.freed_blocks for r in [*reports, final]) >= 12
    assert len(acknowledged) == 4
    for key, data in acknowledged.items():
        assert await read(store, bucket, key) == data, key


async def test_crash_before_object_row_leaves_only_garbage(store: Store, prefix: str) -> None:
    bucket = await make_bucket(store, prefix)
    data = os.urandom(3 * BLOCK + 1)
    result = await write_data(store, data)  # blocks and manifest; the row is never written
    assert result.manifest_id is not None
    assert await read(store, bucket, "crashed") is None
    rows = [
        r
        for shard in range(bucket.shards)
        for r in await store.meta.scan_objects(bucket.bucket_id, shard, limit=100)
    ]
    assert rows == []

    await run_gc(store, grace_seconds=3600)
    assert await present(store, block_ids(data)) == [True] * 4  # maybe still being written

    await run_gc(store, grace_seconds=3600, now_ms=later())
    assert await present(store, block_ids(data)) == [False] * 4
    assert await store.meta.get_manifest(result.manifest_id) == []
    assert await read(store, bucket, "crashed") is None


async def test_progress_reported_on_large_store(store: Store, prefix: str) -> None:
    bucket = await make_bucket(store, prefix, shards=2)
    rows = [f"k{i:05d}" for i in range(1100)]
    for i in range(0, len(rows), 100):
        await asyncio.gather(*(put(store, bucket, k, b"x") for k in rows[i : i + 100]))
    messages: list[str] = []
    report = await run_gc(store, grace_seconds=3600, progress=messages.append)
    assert report.objects >= 1100
    assert "marking objects..." in messages
    assert any(m.startswith("marking objects: ") and m.endswith(" rows") for m in messages)
    assert messages[-1].startswith("done: ")


class _Watch(logging.Handler):
    """Sets `event` once `count` records of s3front.gc contain `needle`."""

    def __init__(self, needle: str, count: int) -> None:
        super().__init__()
        self.needle, self.count, self.event = needle, count, asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.needle in record.getMessage():
            self.count -= 1
            if self.count <= 0:
                self.event.set()


async def _loop_until(store: Store, watch: _Watch, *, grace_seconds: float) -> None:
    logger = logging.getLogger("s3front.gc")
    logger.addHandler(watch)
    stop = asyncio.Event()
    loop = asyncio.create_task(
        gc_loop(
            store,
            interval_seconds=0.01,
            grace_seconds=grace_seconds,
            clock_skew_seconds=0,  # one clock here; the block below is 20 ms old
            stop=stop,
        )
    )
    try:
        await asyncio.wait_for(watch.event.wait(), 30)
        assert not loop.done()  # a failed pass does not end the loop
    finally:
        stop.set()
        await asyncio.wait_for(loop, 30)
        logger.removeHandler(watch)


async def test_gc_loop_runs_passes_and_survives_failures(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="s3front.gc")
    # A bad setting fails every pass: the loop logs each failure and goes on until stopped.
    await _loop_until(store, _Watch("gc pass failed", 2), grace_seconds=-1)

    block = secrets.token_bytes(100)
    bid = block_ids(block)[0]
    await store.blocks.put_block(bid, block)
    await asyncio.sleep(0.02)  # older than the grace period by the first pass
    assert await store.blocks.get_block(bid) == block
    await _loop_until(store, _Watch("gc pass: ", 1), grace_seconds=0.01)
    assert await store.blocks.get_block(bid) is None
