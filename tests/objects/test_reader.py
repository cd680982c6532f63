"""Reading objects back, whole and by range, through nested manifests on the real store."""

from __future__ import annotations

import hashlib
import logging
import os
import random
from collections.abc import AsyncIterator
from typing import cast

import pytest

from s3front.errors import InternalError
from s3front.objects.intents import WriteIntent
from s3front.objects.multipart import assemble, write_assembly
from s3front.objects.reader import first_piece, read_object
from s3front.objects.writer import write_object_data
from s3front.store.protocols import MetaStore, Store
from s3front.store.records import ManifestEntry, ObjectRecord, PartRecord

pytestmark = pytest.mark.anyio

BLOCK = 64


async def one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def put_manifest_object(store: Store, data: bytes) -> str:
    result = await write_object_data(
        store.blocks, store.meta, one(data), block_size=BLOCK, inline_limit=-1,
        algorithms=(), expected_length=len(data),
        intent=WriteIntent(store.meta),
    )  # fmt: skip
    assert result.manifest_id is not None
    return result.manifest_id


def rec(size: int, manifest_id: str | None = None, inline: bytes | None = None) -> ObjectRecord:
    return ObjectRecord(
        key="k", seq=0, version_id="null", size=size, etag="e", last_modified_ms=0, owner="o",
        manifest_id=manifest_id, inline=inline,
    )  # fmt: skip


async def read(meta: MetaStore, store: Store, r: ObjectRecord, start: int, end: int) -> bytes:
    return b"".join([c async for c in read_object(meta, store.blocks, r, start, end)])


async def nested_object(store: Store) -> tuple[bytes, ObjectRecord]:
    """Parts of uneven sizes assembled, then referenced once more (a copy): three levels."""
    sizes = [BLOCK * 3, BLOCK * 2 + 5, 1, BLOCK * 4 + 63]
    datas = [os.urandom(n) for n in sizes]
    parts = [
        PartRecord(
            i + 1, len(d), hashlib.md5(d).hexdigest(), 0, await put_manifest_object(store, d)
        )
        for i, d in enumerate(datas)
    ]
    assembly = assemble(parts, [(p.part_number, p.etag) for p in parts], min_part_size=1)
    inner = await write_assembly(store.meta, assembly, WriteIntent(store.meta))
    outer = "copy-" + inner
    await store.meta.put_manifest(outer, [ManifestEntry(0, assembly.size, child=inner)])
    return b"".join(datas), rec(assembly.size, manifest_id=outer)


async def test_ranges_through_nested_manifests(store: Store) -> None:
    data, r = await nested_object(store)
    size = len(data)
    rng = random.Random(7)
    cases = [
        (0, size),
        (0, 1),
        (size - 1, size),
        (BLOCK - 1, BLOCK + 1),
        (BLOCK * 3, BLOCK * 5 + 6),
    ]
    cases += [tuple(sorted(rng.sample(range(size + 1), 2))) for _ in range(60)]  # type: ignore[misc]
    for start, end in cases:
        assert await read(store.meta, store, r, start, end) == data[start:end], (start, end)


@pytest.mark.parametrize(("start", "end"), [(0, 5), (2, 3), (0, 0), (4, 5)])
async def test_inline(store: Store, start: int, end: int) -> None:
    assert await read(store.meta, store, rec(5, inline=b"hello"), start, end) == b"hello"[start:end]


class CountingMeta:
    """The real metadata store, counting manifest reads."""

    def __init__(self, store: Store) -> None:
        self.inner = store.meta
        self.calls = 0
        self.rows = 0

    async def get_manifest(
        self, manifest_id: str, from_offset: int = 0, limit: int = 1000
    ) -> list[ManifestEntry]:
        self.calls += 1
        entries = await self.inner.get_manifest(manifest_id, from_offset, limit)
        self.rows += len(entries)
        return entries


def many_blocks() -> bytes:
    """3000 blocks (manifest entries) cycling over 7 distinct ones: quick to store, and an
    offset error still shows."""
    distinct = [os.urandom(BLOCK) for _ in range(7)]
    return b"".join(distinct[i % 7] for i in range(3000))


async def test_tail_range_reads_few_manifest_rows(store: Store) -> None:
    data = many_blocks()
    r = rec(len(data), manifest_id=await put_manifest_object(store, data))
    meta = CountingMeta(store)
    got = await read(cast(MetaStore, meta), store, r, len(data) - BLOCK - 10, len(data))
    assert got == data[-BLOCK - 10 :]
    assert meta.calls <= 2
    assert meta.rows <= 8


async def test_whole_read_pages_grow(store: Store) -> None:
    data = many_blocks()
    r = rec(len(data), manifest_id=await put_manifest_object(store, data))
    meta = CountingMeta(store)
    assert await read(cast(MetaStore, meta), store, r, 0, len(data)) == data
    assert meta.calls <= 8  # 4, 16, 64, 256, 1000, 1000, 1000 ...


async def test_missing_block_is_internal_error(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    data = os.urandom(BLOCK * 4)
    mid = await put_manifest_object(store, data)
    entries = await store.meta.get_manifest(mid)
    info = {b.block_id: b for b in await store.blocks.scan_blocks(b"", 10)}
    victim = entries[2].block_id
    assert victim is not None
    assert await store.blocks.delete_block(victim, info[victim].written_ms)
    with caplog.at_level(logging.ERROR, "s3front.objects"), pytest.raises(InternalError):
        await read(store.meta, store, rec(len(data), manifest_id=mid), 0, len(data))
    assert "data loss" in caplog.text
    # Bytes before the lost block are still readable.
    assert (
        await read(store.meta, store, rec(len(data), manifest_id=mid), 0, BLOCK * 2)
        == data[: BLOCK * 2]
    )


async def test_first_piece_raises_for_a_lost_first_block(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """What a GET awaits before its status line: a lost first block (of the range) raises there,
    logged with the block id and the request id; a later lost block only once streaming."""
    data = os.urandom(BLOCK * 4)
    mid = await put_manifest_object(store, data)
    entries = await store.meta.get_manifest(mid)
    info = {b.block_id: b for b in await store.blocks.scan_blocks(b"", 10)}
    victim = entries[1].block_id
    assert victim is not None
    assert await store.blocks.delete_block(victim, info[victim].written_ms)
    r = rec(len(data), manifest_id=mid)
    stream = read_object(store.meta, store.blocks, r, BLOCK + 3, len(data), request_id="RID42")
    with caplog.at_level(logging.ERROR, "s3front.objects"), pytest.raises(InternalError):
        await first_piece(stream)
    lines = [rec.getMessage() for rec in caplog.records]
    assert any(victim.hex() in m and "RID42" in m for m in lines), lines
    # From the start: the first piece is fine, the loss surfaces on the next one.
    stream = read_object(store.meta, store.blocks, r, 0, len(data))
    assert await first_piece(stream) == data[:BLOCK]
    with pytest.raises(InternalError):
        await anext(stream)
    await stream.aclose()


@pytest.mark.parametrize("manifest_id", ["no-such-manifest", None])
async def test_missing_manifest_is_internal_error(store: Store, manifest_id: str | None) -> None:
    with pytest.raises(InternalError):
        await read(store.meta, store, rec(10, manifest_id=manifest_id), 0, 10)


async def test_gap_in_manifest_is_internal_error(store: Store) -> None:
    mid = await put_manifest_object(store, os.urandom(BLOCK))
    block_id = (await store.meta.get_manifest(mid))[0].block_id
    await store.meta.put_manifest(
        "gappy", [ManifestEntry(0, BLOCK, block_id), ManifestEntry(BLOCK + 1, BLOCK, block_id)]
    )
    with pytest.raises(InternalError):
        await read(store.meta, store, rec(BLOCK * 2 + 1, manifest_id="gappy"), 0, BLOCK * 2 + 1)


async def test_consumer_stopping_early_cancels_prefetch(store: Store) -> None:
    data = os.urandom(BLOCK * 50)
    r = rec(len(data), manifest_id=await put_manifest_object(store, data))
    stream = read_object(store.meta, store.blocks, r, 0, len(data), prefetch=4)
    first = await anext(stream)
    assert first == data[:BLOCK]
    await stream.aclose()  # what Starlette does when the client goes away
