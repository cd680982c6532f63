"""The block writer against the real SQLite store: chunking, hashing, inline, failures."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Sequence

import pytest

from s3front import checksums
from s3front.errors import IncompleteBody, XAmzContentSHA256Mismatch
from s3front.objects.intents import WriteIntent
from s3front.objects.reader import read_all
from s3front.objects.writer import WriteResult, write_object_data
from s3front.store.protocols import Store
from s3front.store.records import BlockInfo, ObjectRecord

pytestmark = pytest.mark.anyio

BLOCK = 4096
INLINE = 100


async def chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]
        await asyncio.sleep(0)


def record(result: WriteResult) -> ObjectRecord:
    return ObjectRecord(
        key="k",
        seq=0,
        version_id="null",
        size=result.size,
        etag=result.md5,
        last_modified_ms=0,
        owner="o",
        manifest_id=result.manifest_id,
        inline=result.inline,
    )


async def write(
    store: Store,
    data: bytes,
    chunk: int,
    *,
    inline_limit: int = INLINE,
    algorithms: Sequence[str] = (),
    expected_length: int | None = None,
) -> WriteResult:
    return await write_object_data(
        store.blocks,
        store.meta,
        chunks(data, chunk),
        block_size=BLOCK,
        inline_limit=inline_limit,
        algorithms=algorithms,
        expected_length=expected_length,
        intent=WriteIntent(store.meta),
    )


@pytest.mark.parametrize(
    "size", [0, 1, INLINE, INLINE + 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 17]
)
@pytest.mark.parametrize("chunk", [1000, BLOCK, 3 * BLOCK + 5])
async def test_round_trip(store: Store, size: int, chunk: int) -> None:
    data = os.urandom(size)
    result = await write(store, data, chunk, algorithms=checksums.ALGORITHMS, expected_length=size)
    assert result.size == size
    assert result.md5 == hashlib.md5(data).hexdigest()
    assert result.checksums == {a: checksums.checksum(a, data) for a in checksums.ALGORITHMS}
    if size == 0:
        assert (result.inline, result.manifest_id) == (None, None)
    elif size <= INLINE:
        assert (result.inline, result.manifest_id) == (data, None)
    else:
        assert result.inline is None and result.manifest_id is not None
        entries = await store.meta.get_manifest(result.manifest_id, 0, 10_000)
        assert [(e.offset, e.length) for e in entries] == [
            (o, min(BLOCK, size - o)) for o in range(0, size, BLOCK)
        ]
        for e in entries:
            piece = data[e.offset : e.offset + e.length]
            assert e.block_id == hashlib.sha256(piece).digest()
            assert await store.blocks.get_block(e.block_id) == piece
    assert await read_all(store.meta, store.blocks, record(result)) == data


@pytest.mark.parametrize("size", [INLINE + 1, BLOCK, BLOCK + 1])
async def test_verified_payload_hash_names_a_one_block_body(store: Store, size: int) -> None:
    # The body's own SHA-256 (signed by the client, verified when the body ended) is asked for
    # only after the last byte, and used as the block id only when the body is one block.
    data = os.urandom(size)
    asked: list[int] = []
    reads = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal reads
        async for piece in chunks(data, 1000):
            reads += len(piece)
            yield piece

    def payload_hash() -> bytes:
        asked.append(reads)
        return hashlib.sha256(data).digest()

    result = await write_object_data(
        store.blocks,
        store.meta,
        counted(),
        block_size=BLOCK,
        inline_limit=INLINE,
        algorithms=(),
        expected_length=size,
        intent=WriteIntent(store.meta),
        payload_sha256=payload_hash,
    )
    assert result.manifest_id is not None
    entries = await store.meta.get_manifest(result.manifest_id)
    assert [e.block_id for e in entries] == [
        hashlib.sha256(data[o : o + BLOCK]).digest() for o in range(0, size, BLOCK)
    ]
    assert asked == ([size] if size <= BLOCK else [])
    assert await read_all(store.meta, store.blocks, record(result)) == data


async def test_never_inline_always_has_a_manifest(store: Store) -> None:
    # Parts use inline_limit=-1: even an empty part gets a manifest id (with no entries).
    for data in (b"", b"x"):
        result = await write(store, data, 10, inline_limit=-1)
        assert result.inline is None
        assert result.manifest_id is not None
        entries = await store.meta.get_manifest(result.manifest_id)
        assert sum(e.length for e in entries) == len(data)


async def test_identical_blocks_are_stored_once(store: Store) -> None:
    block = os.urandom(BLOCK)
    result = await write(store, block * 5, BLOCK)
    assert result.manifest_id is not None
    entries = await store.meta.get_manifest(result.manifest_id)
    assert len({e.block_id for e in entries}) == 1
    assert len(await store.blocks.scan_blocks(b"", 100)) == 1


@pytest.mark.parametrize(("sent", "declared"), [(10, 11), (BLOCK * 2, BLOCK * 2 + 1), (500, 499)])
async def test_length_mismatch_is_incomplete_body(store: Store, sent: int, declared: int) -> None:
    with pytest.raises(IncompleteBody):
        await write(store, os.urandom(sent), 300, expected_length=declared)
    assert await store.meta.list_manifest_ids("", 10) == []


async def test_failing_body_propagates_and_writes_no_manifest(store: Store) -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(6):
            yield os.urandom(BLOCK)
        raise XAmzContentSHA256Mismatch()

    with pytest.raises(XAmzContentSHA256Mismatch):
        await write_object_data(
            store.blocks, store.meta, body(), block_size=BLOCK, inline_limit=INLINE,
            algorithms=(), expected_length=None, intent=WriteIntent(store.meta),
        )  # fmt: skip
    assert await store.meta.list_manifest_ids("", 10) == []


class SlowBlocks:
    """The real block store, slowed down, recording how many puts overlap."""

    def __init__(self, store: Store) -> None:
        self.inner = store.blocks
        self.active = 0
        self.peak = 0
        self.puts = 0

    async def put_block(self, block_id: bytes, data: bytes) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(0.005)
            await self.inner.put_block(block_id, data)
            self.puts += 1
        finally:
            self.active -= 1

    async def get_block(self, block_id: bytes) -> bytes | None:
        return await self.inner.get_block(block_id)

    async def delete_block(self, block_id: bytes, written_ms: int) -> bool:
        return await self.inner.delete_block(block_id, written_ms)

    async def scan_blocks(self, after: bytes, limit: int) -> list[BlockInfo]:
        return await self.inner.scan_blocks(after, limit)


@pytest.mark.parametrize("max_in_flight", [1, 3])
async def test_block_writes_in_flight_are_bounded(store: Store, max_in_flight: int) -> None:
    blocks = SlowBlocks(store)
    read_ahead: list[int] = []  # chunks the writer had taken minus blocks stored, per chunk

    async def body() -> AsyncIterator[bytes]:
        for i in range(40):
            read_ahead.append(i - blocks.puts)
            yield os.urandom(BLOCK)

    result = await write_object_data(
        blocks, store.meta, body(), block_size=BLOCK, inline_limit=INLINE,
        algorithms=("CRC32C",), expected_length=40 * BLOCK, max_in_flight=max_in_flight,
        intent=WriteIntent(store.meta),
    )  # fmt: skip
    assert result.size == 40 * BLOCK
    assert blocks.puts == 40
    assert blocks.peak == max_in_flight
    # Backpressure: the body is not read further ahead than the blocks in flight allow.
    assert max(read_ahead) <= max_in_flight + 1


async def test_store_failure_propagates(store: Store) -> None:
    class Broken(SlowBlocks):
        async def put_block(self, block_id: bytes, data: bytes) -> None:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        await write_object_data(
            Broken(store), store.meta, chunks(os.urandom(10 * BLOCK), BLOCK), block_size=BLOCK,
            inline_limit=INLINE, algorithms=(), expected_length=None,
            intent=WriteIntent(store.meta),
        )  # fmt: skip
    assert await store.meta.list_manifest_ids("", 10) == []


async def test_cancelled_write_leaves_no_tasks(store: Store) -> None:
    blocks = SlowBlocks(store)
    started = asyncio.Event()
    before = asyncio.all_tasks()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            started.set()
            yield os.urandom(BLOCK)

    task = asyncio.create_task(
        write_object_data(
            blocks,
            store.meta,
            endless(),
            block_size=BLOCK,
            inline_limit=INLINE,
            algorithms=(),
            expected_length=None,
            intent=WriteIntent(store.meta),
        )
    )
    await started.wait()
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert blocks.active == 0  # every pending block write was cancelled and has ended
    assert asyncio.all_tasks() == before
    assert await store.meta.list_manifest_ids("", 10) == []
