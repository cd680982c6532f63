"""Store statistics: logical vs stored bytes and the dedup ratio. Runs on every store backend;
on the shared Cassandra keyspace the assertions are on differences before/after."""

from __future__ import annotations

import asyncio
import os

import pytest
from gc_helpers import make_bucket, put

from s3front.objects.stats import Stats, collect_stats
from s3front.store.protocols import Store

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024


def test_dedup_ratio_definition() -> None:
    empty = Stats(buckets=0, objects=0, delete_markers=0, logical_bytes=0, inline_bytes=0,
                  blocks=0, block_bytes=0)  # fmt: skip
    assert empty.stored_bytes == 0 and empty.dedup_ratio == 1.0
    some = Stats(buckets=1, objects=3, delete_markers=0, logical_bytes=900, inline_bytes=100,
                 blocks=2, block_bytes=200)  # fmt: skip
    assert some.stored_bytes == 300 and some.dedup_ratio == 3.0


async def test_two_identical_objects_dedup_to_one_copy(store: Store, prefix: str) -> None:
    before = await collect_stats(store)
    bucket = await make_bucket(store, prefix)
    data = os.urandom(3 * MIB)  # three 1 MiB blocks (the default block size)
    await put(store, bucket, "one", data, block_size=MIB)
    await put(store, bucket, "two", data, block_size=MIB)
    await put(store, bucket, "small", b"tiny object")  # inline
    after = await collect_stats(store)

    assert after.buckets - before.buckets == 1
    assert after.objects - before.objects == 3
    logical = after.logical_bytes - before.logical_bytes
    stored = after.stored_bytes - before.stored_bytes
    assert logical == 2 * len(data) + 11
    assert after.inline_bytes - before.inline_bytes == 11
    assert after.block_bytes - before.block_bytes == len(data)
    assert after.blocks - before.blocks == 3
    assert logical / stored == pytest.approx(2.0, rel=1e-5)
    if before.logical_bytes == 0:  # a fresh store (SQLite): the ratio itself
        assert after.dedup_ratio == pytest.approx(2.0, rel=1e-5)


async def test_stats_progress_on_large_store(store: Store, prefix: str) -> None:
    bucket = await make_bucket(store, prefix, shards=3)
    keys = [f"k{i:05d}" for i in range(1200)]
    for i in range(0, len(keys), 100):
        await asyncio.gather(*(put(store, bucket, k, b"x") for k in keys[i : i + 100]))
    messages: list[str] = []
    stats = await collect_stats(store, progress=messages.append)
    assert stats.objects >= 1200
    assert any(m.startswith("counting objects: ") for m in messages)
    assert "counting blocks..." in messages
