"""A store whose Cassandra goes away fails fast with StoreUnavailable / StoreTimeout (the 503
path), and works again once Cassandra is back. Runs on its own node (another port and data
dir, started with scripts/local-cassandra) so the session's shared node is never disturbed."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from s3front.schema import apply_schema_sync
from s3front.store.cassandra import CassandraStore, open_cassandra
from s3front.store.errors import StoreTimeout, StoreUnavailable
from s3front.store.records import BucketRecord

pytestmark = pytest.mark.cassandra

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "local-cassandra"
# Short timeouts so the failures show quickly; the bound below is what "no hang" means.
TIMEOUTS = "connect_timeout=2&request_timeout=2"
BOUND = 15.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Node:
    """A private local-cassandra node, driven through the script's environment overrides."""

    def __init__(self, tmp: Path) -> None:
        self.port = _free_port()
        self.dir = tmp / "node"
        self.env = {
            **os.environ,
            "S3FRONT_CASSANDRA_PORT": str(self.port),
            "S3FRONT_CASSANDRA_STORAGE_PORT": str(_free_port()),
            "S3FRONT_CASSANDRA_DIR": str(self.dir),
            "S3FRONT_CASSANDRA_HEAP": "512m",
        }

    def run(self, command: str) -> None:
        done = subprocess.run(
            [str(SCRIPT), command], env=self.env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"local-cassandra {command}:\n{done.stdout}{done.stderr}"

    def pid(self) -> int:
        return int((self.dir / "cassandra.pid").read_text())


@pytest.fixture
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    if os.environ.get("S3FRONT_TEST_CASSANDRA"):
        pytest.skip("uses scripts/local-cassandra; S3FRONT_TEST_CASSANDRA names another cluster")
    # A short path: Cassandra's file names under the data dir are long already.
    n = Node(tmp_path_factory.mktemp("outage"))
    n.run("start")
    try:
        yield n
    finally:
        n.run("stop")


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


def test_outage_maps_to_store_errors_and_recovers(node: Node) -> None:
    url = f"cassandra://127.0.0.1:{node.port}/outage?dc=datacenter1&{TIMEOUTS}"
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
