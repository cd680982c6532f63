"""Behaviour of the Cassandra store that the shared contract suite cannot pin down alone:
lightweight-transaction races between separate connections, clustering order of real keys, and
the GC delete that must lose to a block's reuse."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from s3front.store.cassandra import CassandraStore, open_cassandra
from s3front.store.records import BucketRecord, ObjectRecord

pytestmark = pytest.mark.cassandra


def _bucket(name: str, bucket_id: str) -> BucketRecord:
    return BucketRecord(name, bucket_id, "owner", 1, "us-east-1", 4)


def test_create_bucket_race_has_one_winner(cassandra_url: str) -> None:
    async def race() -> None:
        stores = [await open_cassandra(cassandra_url), await open_cassandra(cassandra_url)]
        try:
            for _ in range(3):
                name = f"race-{secrets.token_hex(4)}"
                attempts = [(stores[i % 2], f"id-{i}") for i in range(24)]
                results = await asyncio.gather(
                    *(s.meta.insert_bucket(_bucket(name, bid)) for s, bid in attempts)
                )
                assert results.count(True) == 1
                winner = attempts[results.index(True)][1]
                for store in stores:
                    found = await store.meta.get_bucket(name)
                    assert found is not None and found.bucket_id == winner
        finally:
            for store in stores:
                await store.close()

    asyncio.run(race())


def test_conditional_object_write_race_has_one_winner(cassandra_url: str) -> None:
    async def race() -> None:
        stores = [await open_cassandra(cassandra_url), await open_cassandra(cassandra_url)]
        bid = f"b-{secrets.token_hex(4)}"
        try:
            expected: ObjectRecord | None = None
            for round_ in range(3):  # create (expected None), then two replace-if-unchanged
                recs = [
                    ObjectRecord("k", 0, "null", 1, f"r{round_}w{i}", 100 + round_, "o")
                    for i in range(16)
                ]
                results = await asyncio.gather(
                    *(
                        stores[i % 2].meta.put_object_if(bid, 0, rec, expected)
                        for i, rec in enumerate(recs)
                    )
                )
                assert results.count(True) == 1
                winner = recs[results.index(True)]
                assert await stores[1].meta.get_object(bid, 0, "k") == winner
                expected = winner
        finally:
            for store in stores:
                await store.close()

    asyncio.run(race())


KEYS = [
    "a", "a/", "a/b", "a/b/c", "a b", "a-b", "a0", "a\u00e9", "ab", "A", "Z", "z", "~",
    "\u00e9t\u00e9", "\u65e5\u672c/\u6587\u5b57", "\U0001f600", "\U0001f600/x", "\u0410\u0411",
    "photos/2024/01/img.jpg", "photos/2024/1/img.jpg", "photos/2024/img", "\x7f", "\u00ff",
]  # fmt: skip


def _obj(key: str, seq: int) -> ObjectRecord:
    return ObjectRecord(key, seq, f"v{seq}", 1, "etag", seq, "owner", inline=b"x")


async def _scan_all(store: CassandraStore, bid: str, page: int) -> list[tuple[str, int]]:
    """Page through the shard the way a listing does, resuming after the last row."""
    out: list[tuple[str, int]] = []
    rows = await store.meta.scan_objects(bid, 3, limit=page)
    while rows:
        out += [(r.key, r.seq) for r in rows]
        last = rows[-1]
        rows = await store.meta.scan_objects(
            bid, 3, start_key=last.key, after_seq=last.seq, limit=page
        )
    return out


def test_scan_order_of_unicode_keys_and_versions(cassandra_url: str) -> None:
    async def scan() -> None:
        store = await open_cassandra(cassandra_url)
        bid = f"b-{secrets.token_hex(4)}"
        try:
            for i, key in enumerate(reversed(KEYS)):
                for seq in range(i % 3 + 1):
                    await store.meta.put_object(bid, 3, _obj(key, seq))
            # S3 orders keys by UTF-8 bytes; for text that is code point order.
            by_bytes = sorted(KEYS, key=lambda k: k.encode())
            assert by_bytes == sorted(KEYS)
            rows = await store.meta.scan_objects(bid, 3, limit=1000)
            assert [r.key for r in rows if r.seq == 0] == by_bytes
            expected = [(r.key, r.seq) for r in rows]
            seqs = [(k, s) for k, s in expected if k == "a/b"]
            assert seqs == sorted(seqs, key=lambda ks: -ks[1])  # newest version first
            assert all(r.inline is None for r in rows)
            # Any page size, resuming with after_seq, gives the same rows.
            for page in (1, 2, 5, 7):
                assert await _scan_all(store, bid, page) == expected
            # Prefix windows: [start, end).
            window = await store.meta.scan_objects(bid, 3, start_key="a/", end_key="a0", limit=1000)
            assert sorted({r.key for r in window}) == ["a/", "a/b", "a/b/c"]
            excl = await store.meta.scan_objects(
                bid, 3, start_key="a/", start_exclusive=True, end_key="a0", limit=1000
            )
            assert sorted({r.key for r in excl}) == ["a/b", "a/b/c"]
            with_data = await store.meta.scan_objects(bid, 3, limit=1, with_inline=True)
            assert with_data[0].inline == b"x"
        finally:
            await store.close()

    asyncio.run(scan())


def test_gc_delete_loses_to_reuse(cassandra_url: str) -> None:
    async def gc() -> None:
        store = await open_cassandra(cassandra_url)
        block_id = secrets.token_bytes(32)
        try:
            await store.blocks.put_block(block_id, b"payload")
            seen = await _written(store, block_id)
            await asyncio.sleep(0.005)
            await store.blocks.put_block(block_id, b"payload")  # reuse refreshes written_ms
            refreshed = await _written(store, block_id)
            assert refreshed > seen
            assert await store.blocks.delete_block(block_id, seen) is False
            assert await store.blocks.get_block(block_id) == b"payload"
            assert await store.blocks.delete_block(block_id, refreshed) is True
            assert await store.blocks.get_block(block_id) is None
            # A block written again after the GC's delete comes back whole.
            await store.blocks.put_block(block_id, b"payload")
            assert await store.blocks.get_block(block_id) == b"payload"
        finally:
            await store.close()

    asyncio.run(gc())


async def _written(store: CassandraStore, block_id: bytes) -> int:
    after = b""
    while page := await store.blocks.scan_blocks(after, 500):
        for info in page:
            if info.block_id == block_id:
                return info.written_ms
        after = page[-1].block_id
    raise AssertionError("block not found by scan_blocks")
