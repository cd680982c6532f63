"""GC at grace 0 never frees what a write in progress has stored or is about to reference.

Each test pauses a write at its most exposed point -- blocks stored but no manifest yet, blocks
reused from a deleted object, a copy's pinned manifest before its row, a completion's manifest
before its row -- runs whole GC passes at grace 0 as if long after (`now_ms` two hours ahead:
by time, everything is old), lets the write finish and reads back the exact bytes. Each pass
also frees garbage of the test's own, so a pass that kept everything could not pass the test.
Runs on every store backend.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import types
from collections.abc import AsyncIterator
from typing import cast

import pytest
from gc_helpers import delete, make_bucket, present, put, read, start_upload

from s3front.api.context import Ctx
from s3front.api.copy import Source, _pin_source
from s3front.clock import now_ms as clock_ms
from s3front.objects.gc import GcReport, run_gc
from s3front.objects.intents import IntentLapsed, WriteIntent
from s3front.objects.keys import shard_of
from s3front.objects.multipart import assemble, write_assembly
from s3front.objects.writer import write_object_data
from s3front.store.protocols import Store
from s3front.store.records import NULL_VERSION, BucketRecord, ObjectRecord

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
BLOCK = MiB  # the server's default block size: a 3 MiB PUT is three blocks
SMALL_BLOCK = 4096


def long_after() -> int:
    """t0 for a pass that runs as if two hours had passed: by age, everything is garbage."""
    return clock_ms() + 2 * 3_600_000


def ids(data: bytes, block: int = BLOCK) -> list[bytes]:
    return [hashlib.sha256(data[i : i + block]).digest() for i in range(0, len(data), block)]


def row(key: str, size: int, etag: str, manifest_id: str | None) -> ObjectRecord:
    return ObjectRecord(
        key=key, seq=0, version_id=NULL_VERSION, size=size, etag=etag, last_modified_ms=0,
        owner="owner", manifest_id=manifest_id,
    )  # fmt: skip


async def commit(store: Store, bucket: BucketRecord, rec: ObjectRecord) -> None:
    await store.meta.put_object(bucket.bucket_id, shard_of(rec.key, bucket.shards), rec)


async def garbage(store: Store, bucket: BucketRecord, key: str) -> list[bytes]:
    """An object written and deleted: its blocks are garbage a pass at grace 0 must free."""
    data = os.urandom(2 * SMALL_BLOCK + 5)
    await put(store, bucket, key, data)
    await delete(store, bucket, key)
    return ids(data, SMALL_BLOCK)


async def gc_pass(store: Store, freed: list[bytes]) -> GcReport:
    report = await run_gc(store, grace_seconds=0, now_ms=long_after())
    assert await present(store, freed) == [False] * len(freed), "the pass freed nothing"
    return report


async def until_stored(store: Store, block_ids: list[bytes]) -> None:
    for _ in range(1000):  # bounded: 10 s
        if all(await present(store, block_ids)):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the paused writer's blocks never reached the store")


class PausedBody:
    """A request body that stops after `pause_at` bytes until `resume` is set."""

    def __init__(self, data: bytes, pause_at: int, chunk: int = 256 * 1024) -> None:
        self.data, self.pause_at, self.chunk = data, pause_at, chunk
        self.paused = asyncio.Event()
        self.resume = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i in range(0, len(self.data), self.chunk):
            if i == self.pause_at:
                self.paused.set()
                await self.resume.wait()
            yield self.data[i : i + self.chunk]


async def paused_put(
    store: Store, bucket: BucketRecord, key: str, body: PausedBody
) -> ObjectRecord:
    """What handle_put_object does: intent, blocks and manifest, row; the body pauses."""
    async with WriteIntent(store.meta) as intent:
        result = await write_object_data(
            store.blocks, store.meta, aiter(body), block_size=BLOCK, inline_limit=4096,
            algorithms=(), expected_length=len(body.data), intent=intent,
        )  # fmt: skip
        rec = row(key, result.size, result.md5, result.manifest_id)
        await commit(store, bucket, rec)
    return rec


async def test_put_paused_across_a_gc_pass_keeps_its_blocks(store: Store, prefix: str) -> None:
    """The reported loss: a 3 MiB PUT whose body stalls after two blocks while a pass at grace
    0 runs to completion returned 200 without its blocks."""
    bucket = await make_bucket(store, prefix)
    freed = await garbage(store, bucket, "old")
    data = os.urandom(3 * MiB)
    body = PausedBody(data, pause_at=2 * MiB + 512 * 1024)
    writer = asyncio.create_task(paused_put(store, bucket, "big", body))
    await body.paused.wait()
    await until_stored(store, ids(data)[:2])

    report = await gc_pass(store, freed)
    assert report.intents >= 1
    assert await present(store, ids(data)[:2]) == [True, True]

    body.resume.set()
    await asyncio.wait_for(writer, 60)
    assert await read(store, bucket, "big") == data
    await gc_pass(store, [])  # and the committed object stays whole afterwards
    assert await read(store, bucket, "big") == data


async def test_put_reusing_a_deleted_objects_blocks_across_a_gc_pass(
    store: Store, prefix: str
) -> None:
    """The dedup shortcut: the blocks of a deleted object are reused (refreshed) by a PUT of
    the same bytes that then stalls; the pass sees them unreferenced."""
    bucket = await make_bucket(store, prefix)
    freed = await garbage(store, bucket, "old")
    data = os.urandom(3 * MiB)
    async with WriteIntent(store.meta) as first:
        result = await write_object_data(
            store.blocks, store.meta, aiter(PausedBody(data, -1)), block_size=BLOCK,
            inline_limit=4096, algorithms=(), expected_length=len(data), intent=first,
        )  # fmt: skip
        await commit(store, bucket, row("a", result.size, result.md5, result.manifest_id))
    await delete(store, bucket, "a")

    body = PausedBody(data, pause_at=2 * MiB + 512 * 1024)
    writer = asyncio.create_task(paused_put(store, bucket, "b", body))
    await body.paused.wait()
    await asyncio.sleep(0.5)  # let the two reuses land (the blocks exist: nothing to poll)
    await gc_pass(store, freed)
    body.resume.set()
    await asyncio.wait_for(writer, 60)
    assert await read(store, bucket, "b") == data


async def test_copy_whose_source_is_deleted_and_collected_keeps_its_data(
    store: Store, prefix: str
) -> None:
    """CopyObject pins the source's manifest with a fresh one, then writes its row; the source
    is deleted and a pass runs in between."""
    bucket = await make_bucket(store, prefix)
    freed = await garbage(store, bucket, "old")
    data = os.urandom(5 * SMALL_BLOCK + 7)
    src_rec = await put(store, bucket, "src", data, block_size=SMALL_BLOCK)
    ctx = cast(Ctx, types.SimpleNamespace(store=store))  # _pin_source only uses the store
    async with WriteIntent(store.meta) as intent:
        pinned = await _pin_source(ctx, Source(bucket, src_rec, None), intent)
        await delete(store, bucket, "src")
        await gc_pass(store, freed)
        await commit(store, bucket, row("dst", src_rec.size, src_rec.etag, pinned))
    assert await read(store, bucket, "dst") == data
    await gc_pass(store, [])
    assert await read(store, bucket, "dst") == data


async def test_complete_multipart_racing_a_gc_pass_keeps_its_manifest(
    store: Store, prefix: str
) -> None:
    """CompleteMultipartUpload writes its manifest (children: the part manifests), re-reads
    the upload, writes the row; a pass runs between the manifest and the row."""
    bucket = await make_bucket(store, prefix)
    freed = await garbage(store, bucket, "old")
    parts = [os.urandom(2 * SMALL_BLOCK + 3), os.urandom(SMALL_BLOCK + 9)]
    upload_id = await start_upload(store, bucket, "mp", parts)
    listed = await store.meta.list_parts(upload_id)
    assembly = assemble(listed, [(p.part_number, p.etag) for p in listed], min_part_size=1)
    async with WriteIntent(store.meta) as intent:
        manifest_id = await write_assembly(store.meta, assembly, intent)
        assert await store.meta.get_upload(bucket.bucket_id, "mp", upload_id) is not None
        await gc_pass(store, freed)
        await commit(store, bucket, row("mp", assembly.size, assembly.etag, manifest_id))
    await store.meta.delete_upload(bucket.bucket_id, "mp", upload_id)
    await store.meta.delete_parts(upload_id)
    assert await read(store, bucket, "mp") == b"".join(parts)
    await gc_pass(store, [])
    assert await read(store, bucket, "mp") == b"".join(parts)


async def test_released_and_expired_intents_hold_nothing_back(store: Store) -> None:
    """Grace only bounds how long garbage lingers: once writes end (or a crashed writer's
    intent expires), a pass at grace 0 frees their garbage."""
    crashed = WriteIntent(store.meta, ttl_ms=1500)
    data = os.urandom(3 * SMALL_BLOCK)
    await write_object_data(
        store.blocks,
        store.meta,
        aiter(PausedBody(data, -1, 1000)),
        block_size=SMALL_BLOCK,
        inline_limit=100,
        algorithms=(),
        expected_length=len(data),
        intent=crashed,
    )  # fmt: skip  -- never released: the writer "crashed"
    assert crashed.started_ms is not None
    report = await run_gc(store, grace_seconds=0, now_ms=long_after(), clock_skew_seconds=0)
    assert report.horizon_ms <= crashed.started_ms
    assert await present(store, ids(data, SMALL_BLOCK)) == [True] * 3
    await asyncio.sleep(1.6)  # past its expiry
    report = await run_gc(store, grace_seconds=0, now_ms=long_after(), clock_skew_seconds=0)
    assert report.horizon_ms > crashed.started_ms
    assert await present(store, ids(data, SMALL_BLOCK)) == [False] * 3
    assert crashed.started_ms not in [i.started_ms for i in await store.meta.list_intents()]


async def test_a_lapsed_intent_refuses_the_commit(store: Store) -> None:
    """A write whose intent GC may already have judged expired is not acknowledged."""
    intent = WriteIntent(store.meta, ttl_ms=600)
    await intent.ensure()
    intent.check()
    started = intent.started_ms
    assert started in [i.started_ms for i in await store.meta.list_intents()]
    await asyncio.sleep(0.45)  # less than a third of its TTL left: GC's clock may be ahead
    with pytest.raises(IntentLapsed):
        intent.check()
    await intent.release()
    assert started not in [i.started_ms for i in await store.meta.list_intents()]
