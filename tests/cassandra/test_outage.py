"""A store whose Cassandra goes away fails fast with StoreUnavailable / StoreTimeout (the 503
path), and works again once Cassandra is back. Runs on its own node (another port and data
dir, started with scripts/local-cassandra) so the session's shared node is never disturbed."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable

import pytest
import s3front_cassandra_node as cassandra_node

from s3front.store.cassandra import CassandraStore, open_cassandra
from s3front.store.cassandra.schema import apply_schema_sync
from s3front.store.errors import StoreTimeout, StoreUnavailable
from s3front.store.records import BucketRecord

pytestmark = pytest.mark.cassandra

node = cassandra_node.node  # the private node fixture
BOUND = cassandra_node.BOUND


async def _fails_fast(op: Callable[[], Awaitable[object]]) -> None:
    t0 = time.monotonic()
    with pytest.raises((StoreUnavailable, StoreTimeout)):
        await op()
    elapsed = time.monotonic() - t0
    assert elapsed < BOUND, f"took {elapsed:.1f}s to fail (bound {BOUND}s)"


async def _recovers(store: CassandraStore, name: str, within: float = 90.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            found = await store.meta.get_bucket(name)
        except (StoreUnavailable, StoreTimeout) as exc:
            assert time.monotonic() < deadline, f"no recovery in {within}s; last error: {exc}"
            await asyncio.sleep(0.5)
            continue
        assert found is not None and found.name == name
        return


def test_outage_maps_to_store_errors_and_recovers(node: cassandra_node.Node) -> None:
    url = f"cassandra://127.0.0.1:{node.port}/outage?dc=datacenter1&{cassandra_node.TIMEOUTS}"
    apply_schema_sync(url)

    async def scenario() -> None:
        store = await open_cassandra(url)
        try:
            assert await store.meta.insert_bucket(BucketRecord("b", "id", "o", 1, "r", 1))

            # Hung node (SIGSTOP): requests time out instead of waiting forever.
            os.kill(node.pid(), signal.SIGSTOP)
            try:
                await _fails_fast(lambda: store.meta.get_bucket("b"))
                await _fails_fast(lambda: store.blocks.put_block(b"k" * 32, b"data"))
            finally:
                os.kill(node.pid(), signal.SIGCONT)
            await _recovers(store, "b")

            # Stopped node: connections refused -> unavailable, promptly.
            await asyncio.to_thread(node.run, "stop")
            await _fails_fast(lambda: store.meta.get_bucket("b"))
            await _fails_fast(
                lambda: store.meta.insert_bucket(BucketRecord("c", "i", "o", 1, "r", 1))
            )
            await _fails_fast(store.ping)

            await asyncio.to_thread(node.run, "start")
            await _recovers(store, "b")
            await store.ping()
        finally:
            await store.close()

    asyncio.run(scenario())
