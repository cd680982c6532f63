"""What only the SQLite backend promises: its URL, its directory, and its error mapping."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import time
from pathlib import Path

import pytest

from s3front.store import open_store
from s3front.store.errors import StoreTimeout, StoreUnavailable
from s3front.store.records import BucketRecord, ObjectRecord, OwnerBucket
from s3front.store.sqlite import DB_NAME, open_sqlite, parse_url

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///var/lib/s3front", "/var/lib/s3front"),
        ("sqlite://data", "data"),
        ("sqlite://./a/b", "./a/b"),
    ],
)
def test_parse_url(url: str, path: str) -> None:
    assert parse_url(url) == path


@pytest.mark.parametrize("url", ["sqlite:", "sqlite://", "sqlite:/x", "cassandra://h/ks"])
def test_parse_url_rejects(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite"):
        parse_url(url)


async def test_relative_directory_created_and_data_survives_reopen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = b"block bytes"
    block_id = hashlib.sha256(data).digest()
    store = await open_store("sqlite://nested/data")
    await store.meta.put_owner_bucket(OwnerBucket("o", "b", 1))
    await store.blocks.put_block(block_id, data)
    await store.close()
    assert (tmp_path / "nested" / "data" / DB_NAME).is_file()

    again = await open_store(f"sqlite://{tmp_path}/nested/data")
    assert await again.meta.list_owner_buckets("o") == [OwnerBucket("o", "b", 1)]
    assert await again.blocks.get_block(block_id) == data
    await again.close()


async def test_half_written_blocks_are_cleared_at_open(tmp_path: Path) -> None:
    store = await open_sqlite(f"sqlite://{tmp_path}")
    await store.close()
    leftover = tmp_path / "blocks" / "tmp" / "deadbeef"
    leftover.write_bytes(b"partial")
    store = await open_sqlite(f"sqlite://{tmp_path}")
    assert not leftover.exists()
    await store.close()


async def test_unusable_directory_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StoreUnavailable):
        await open_store(f"sqlite://{tmp_path}/file")


async def test_closed_store_is_unavailable(tmp_path: Path) -> None:
    store = await open_store(f"sqlite://{tmp_path}")
    await store.ping()
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.ping()


async def test_lock_held_by_another_process_times_out(tmp_path: Path) -> None:
    store = await open_sqlite(f"sqlite://{tmp_path}", busy_timeout_ms=50)
    other = sqlite3.connect(os.path.join(tmp_path, DB_NAME), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        with pytest.raises(StoreTimeout):
            await store.meta.put_owner_bucket(OwnerBucket("o", "b", 1))
        assert await store.meta.list_owner_buckets("o") == []  # readers are not blocked (WAL)
    finally:
        other.execute("ROLLBACK")
        other.close()
    await store.meta.put_owner_bucket(OwnerBucket("o", "b", 1))
    assert await store.meta.list_owner_buckets("o") == [OwnerBucket("o", "b", 1)]
    await store.close()


def _object(key: str, data: bytes) -> ObjectRecord:
    return ObjectRecord(
        key=key,
        seq=1,
        version_id="null",
        size=len(data),
        etag=hashlib.md5(data).hexdigest(),
        last_modified_ms=1,
        owner="o",
        manifest_id=None,
        inline=data,
    )


async def test_a_small_write_waits_out_another_writer(tmp_path: Path) -> None:
    """Object rows are written on the event loop thread (`_exec_quick`); when another process
    holds the write lock, the write queues on the writer thread instead and lands later."""
    store = await open_sqlite(f"sqlite://{tmp_path}", busy_timeout_ms=5000)
    other = sqlite3.connect(os.path.join(tmp_path, DB_NAME), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    released = asyncio.get_running_loop().call_later(0.3, other.execute, "ROLLBACK")
    try:
        t0 = time.monotonic()
        await store.meta.put_object("bid", 0, _object("k", b"x" * 100))
        assert time.monotonic() - t0 >= 0.25  # it waited for the lock, it did not fail
        got = await store.meta.get_object("bid", 0, "k")
        assert got is not None and got.inline == b"x" * 100
    finally:
        released.cancel()
        other.close()
        await store.close()


async def test_a_write_that_finds_the_lock_briefly_taken_lands_from_the_event_loop(
    tmp_path: Path,
) -> None:
    """Another process's commit holds the write lock for tens of microseconds: the write is
    tried again on the event loop after short waits rather than handed to the writer thread.
    The writer thread is kept busy here for 0.5 s, so a write sent there would take that long."""
    store = await open_sqlite(f"sqlite://{tmp_path}", busy_timeout_ms=5000)
    other = sqlite3.connect(os.path.join(tmp_path, DB_NAME), isolation_level=None)
    writer_busy = asyncio.ensure_future(store.db.write(lambda _conn: time.sleep(0.5)))
    await asyncio.sleep(0.05)  # the writer thread has started sleeping
    other.execute("BEGIN IMMEDIATE")
    # Released before the loop's third wait ends (0.5 ms, then 1 ms): timers fire in order.
    released = asyncio.get_running_loop().call_later(0.001, other.execute, "ROLLBACK")
    try:
        t0 = time.monotonic()
        await store.meta.put_object("bid", 0, _object("k", b"y" * 100))
        assert time.monotonic() - t0 < 0.3, "the write waited for the writer thread"
        got = await store.meta.get_object("bid", 0, "k")
        assert got is not None and got.inline == b"y" * 100
    finally:
        released.cancel()
        await writer_busy
        other.close()
        await store.close()


async def test_small_writes_keep_the_wal_bounded(tmp_path: Path) -> None:
    """The loop-thread connection never checkpoints; the writer thread's checkpoints must still
    let the WAL start over (a passive one, chasing the writes, never did: the WAL grew by
    ~20 KiB per 4 KiB PUT without end)."""
    store = await open_store(f"sqlite://{tmp_path}")
    data = os.urandom(4096)
    wal = tmp_path / f"{DB_NAME}-wal"
    for i in range(3000):
        await store.meta.put_object("bid", i % 8, _object(f"k{i % 500:04d}", data))
        await asyncio.sleep(0)  # a server yields between requests
    size = wal.stat().st_size
    await store.close()
    assert size < 24 * 1024 * 1024, f"WAL of {size} bytes after 3000 small writes"


async def test_a_database_from_before_bucket_marks_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old"
    path.mkdir()
    conn = sqlite3.connect(path / "s3front.db")
    conn.execute(
        "CREATE TABLE buckets (name TEXT PRIMARY KEY, bucket_id TEXT NOT NULL, owner TEXT NOT"
        " NULL, created_ms INTEGER NOT NULL, region TEXT NOT NULL, shards INTEGER NOT NULL,"
        " versioning TEXT NOT NULL, attrs TEXT NOT NULL) WITHOUT ROWID"
    )
    conn.execute("INSERT INTO buckets VALUES ('b', 'id', 'o', 1, 'r', 4, '', '{}')")
    conn.commit()
    conn.close()
    store = await open_store(f"sqlite://{path}")
    try:
        assert await store.meta.get_bucket_mark("b") == ("id", "")
        assert await store.meta.set_bucket_mark("b", "id", "m", "")
        rec = await store.meta.get_bucket("b")
        assert rec == BucketRecord("b", "id", "o", 1, "r", 4)
    finally:
        await store.close()
