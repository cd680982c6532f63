"""Store contract: content-addressed blocks and the conditional delete GC relies on."""

from __future__ import annotations

import asyncio
import hashlib
import os

import pytest

from s3front.store.protocols import Store
from s3front.store.records import BlockInfo

pytestmark = pytest.mark.anyio


def block(size: int) -> tuple[bytes, bytes]:
    data = os.urandom(size)
    return hashlib.sha256(data).digest(), data


async def find(store: Store, block_id: bytes) -> BlockInfo | None:
    """The GC's view of one block, found by paging the whole scan (the order is the backend's)."""
    after = b""
    while page := await store.blocks.scan_blocks(after, 500):
        for info in page:
            if info.block_id == block_id:
                return info
        after = page[-1].block_id
    return None


@pytest.mark.parametrize("size", [1, 4096, 2**20])
async def test_put_get(store: Store, size: int) -> None:
    block_id, data = block(size)
    await store.blocks.put_block(block_id, data)
    assert await store.blocks.get_block(block_id) == data
    info = await find(store, block_id)
    assert info is not None
    assert info.size == size


async def test_missing_block(store: Store) -> None:
    block_id, _ = block(10)
    assert await store.blocks.get_block(block_id) is None
    assert await store.blocks.delete_block(block_id, 0) is False


async def test_rewrite_refreshes_written_ms_and_beats_a_stale_delete(store: Store) -> None:
    block_id, data = block(1000)
    await store.blocks.put_block(block_id, data)
    seen = await find(store, block_id)
    assert seen is not None
    await asyncio.sleep(0.005)  # a reuse in a later millisecond
    await store.blocks.put_block(block_id, data)
    now = await find(store, block_id)
    assert now is not None and now.written_ms > seen.written_ms
    assert now.size == 1000

    # GC saw the old time: the block was reused since, so it must survive.
    assert await store.blocks.delete_block(block_id, seen.written_ms) is False
    assert await store.blocks.get_block(block_id) == data
    assert await find(store, block_id) == now

    assert await store.blocks.delete_block(block_id, now.written_ms) is True
    assert await store.blocks.get_block(block_id) is None
    assert await find(store, block_id) is None
    assert await store.blocks.delete_block(block_id, now.written_ms) is False

    await store.blocks.put_block(block_id, data)  # written again after GC took it
    assert await store.blocks.get_block(block_id) == data
    assert await find(store, block_id) is not None


async def test_scan_blocks_pages_each_block_once(store: Store) -> None:
    mine = dict(block(64) for _ in range(9))
    for block_id, data in mine.items():
        await store.blocks.put_block(block_id, data)
    seen: list[bytes] = []
    after = b""
    while page := await store.blocks.scan_blocks(after, 4):
        assert len(page) <= 4
        seen += [i.block_id for i in page]
        after = page[-1].block_id
    assert len(seen) == len(set(seen))
    assert set(mine) <= set(seen)


async def test_concurrent_puts_of_one_block(store: Store) -> None:
    block_id, data = block(2**20)
    await asyncio.gather(*(store.blocks.put_block(block_id, data) for _ in range(20)))
    assert await store.blocks.get_block(block_id) == data
    info = await find(store, block_id)
    assert info is not None and info.size == 2**20
