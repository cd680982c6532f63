"""A private single Cassandra node for tests that stop and start it (outages), started with
scripts/local-cassandra on its own ports and data dir so the session's shared node is never
disturbed. `node` is a fixture: a test module takes it with `node = s3front_cassandra_node.node`.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

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
        pytest.skip(
            "stops and restarts a private local Cassandra node; with S3FRONT_TEST_CASSANDRA the"
            " suite uses an external cluster instead, which no test may stop"
        )
    # A short path: Cassandra's file names under the data dir are long already.
    n = Node(tmp_path_factory.mktemp("outage"))
    n.run("start")
    try:
        yield n
    finally:
        n.run("stop")
