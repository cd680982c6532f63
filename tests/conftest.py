"""Root fixtures: a real Cassandra for the suites marked `cassandra`.

`cassandra_url` finds a cluster, in this order:
  1. S3FRONT_TEST_CASSANDRA names an existing one ("127.0.0.1:9042" or a cassandra:// URL whose
     query, e.g. credentials or dc, is kept);
  2. a reachable Docker engine runs testcontainers' CassandraContainer;
  3. scripts/local-cassandra starts a node from Maven Central (JDK 17 + Maven) unless one runs;
     the last test session using a node that tests started stops it (S3FRONT_KEEP_CASSANDRA=1
     keeps it for faster reruns).
It then creates a fresh keyspace (SimpleStrategy, RF 1) with the schema job, returns its URL,
and drops it at the end. With CI=true a missing cluster fails the run instead of skipping.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from s3front_required import unavailable

from s3front.store.cassandra.schema import apply_schema_sync
from s3front.store.cassandra.session import Db, parse_url
from s3front.store.errors import StoreError

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "local-cassandra"


@pytest.fixture(scope="session")
def cassandra_url() -> Iterator[str]:
    with _cluster() as base:
        try:
            db = Db.connect(parse_url(base, require_keyspace=False))
        except StoreError as exc:
            _no_cassandra(f"cannot connect to {base.split('?')[0]}: {exc}")
        try:
            dc = db.execute("SELECT data_center FROM system.local")[0]["data_center"]
            keyspace = f"s3t_{secrets.token_hex(6)}"
            hosts, _, query = base.partition("?")
            params = "&".join(p for p in query.split("&") if p and not p.startswith("dc="))
            url = f"{hosts.rstrip('/')}/{keyspace}?dc={dc}" + (f"&{params}" if params else "")
            # Sync: the fixture may be first requested from inside a running event loop.
            apply_schema_sync(url)
            yield url
            db.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
        finally:
            db.shutdown()


@contextlib.contextmanager
def _cluster() -> Iterator[str]:
    """A base URL (no keyspace) of a running cluster, for the duration of the session."""
    named = os.environ.get("S3FRONT_TEST_CASSANDRA")
    if named:
        yield named if named.startswith("cassandra://") else f"cassandra://{named}/"
    elif _docker_reachable():
        from testcontainers.community.cassandra import CassandraContainer

        with CassandraContainer("cassandra:5.0") as node:
            host, port = node.get_contact_points()[0]
            yield f"cassandra://{host}:{port}/"
    else:
        with _local_node() as port:
            yield f"cassandra://127.0.0.1:{port}/"


@contextlib.contextmanager
def _local_node() -> Iterator[int]:
    port = int(os.environ.get("S3FRONT_CASSANDRA_PORT", "9042"))
    node_dir = Path(
        os.environ.get("S3FRONT_CASSANDRA_DIR", f"{tempfile.gettempdir()}/s3front-cassandra-{port}")
    )
    # Test sessions share the node: each registers its PID, and the last one to leave stops the
    # node if a test session started it (a node someone started by hand is left alone).
    sessions = node_dir / "sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    me, marker = sessions / str(os.getpid()), sessions / "started-by-tests"
    with _locked(sessions):
        if _script("status").returncode != 0:
            started = _script("start")
            if started.returncode != 0:
                _no_cassandra(f"local-cassandra start failed:\n{started.stdout}{started.stderr}")
            marker.touch()
        me.touch()
    try:
        yield port
    finally:
        with _locked(sessions):
            me.unlink(missing_ok=True)
            others = [p for p in sessions.iterdir() if p.name.isdigit() and _pid_alive(int(p.name))]
            if marker.exists() and not others and not os.environ.get("S3FRONT_KEEP_CASSANDRA"):
                _script("stop")
                marker.unlink()


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _script(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), command], capture_output=True, text=True, check=False, timeout=600
    ) if SCRIPT.exists() else subprocess.CompletedProcess([], 1, "", "")  # fmt: skip


def _pid_alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _docker_reachable() -> bool:
    """True if a Docker engine answers `GET /_ping` (checked by hand: the SDK leaks a socket)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            address: str | tuple[str, int] = host[len("unix://") :]
            family = socket.AF_UNIX
        elif host.startswith("tcp://"):
            name, _, port = host[len("tcp://") :].rstrip("/").rpartition(":")
            address, family = (name, int(port)), socket.AF_INET
        else:
            return False
        with socket.socket(family) as sock:
            sock.settimeout(3)
            sock.connect(address)
            sock.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return sock.recv(64).split(b" ")[1:2] == [b"200"]
    except (OSError, ValueError):
        return False


def _no_cassandra(reason: str) -> NoReturn:
    unavailable("Cassandra", reason)
