"""How the store talks to Cassandra, read back from the live driver connections.

TCP_NODELAY: without it a request bigger than one TCP segment waits for the node's delayed ACK
(a 4 KiB PUT took ~45 ms instead of ~3 ms; issue 21). The option is read back from the kernel,
on every connection the driver holds: each host pool's and the control connection's, and on a
connection made afterwards by the factory the driver uses for new and replacement connections.

Server warnings: Cassandra answers the prepare of a statement with unqualified table names, on a
connection with a keyspace (USE, or protocol v5's per-statement keyspace), with an anti-pattern
warning that the driver logs. Opening a store prepares every statement; none may draw a warning.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import pytest

from s3front.store.cassandra import CassandraStore, open_cassandra
from s3front.store.cassandra.schema import apply_schema_sync
from s3front.store.cassandra.session import Db, parse_url

pytestmark = pytest.mark.cassandra


def _live_connections(db: Db) -> list[tuple[str, Any]]:
    """(where, connection) for every connection the driver holds right now."""
    found: list[tuple[str, Any]] = []
    for pool in db.session.get_pools():
        # HostConnection (protocol v3+) keeps one connection; HostConnectionPool (v1, v2) a list.
        conns = getattr(pool, "_connections", None) or [pool._connection]
        found += [(f"pool {pool.host.endpoint}", c) for c in conns if c is not None]
    control = db.cluster.control_connection._connection
    assert control is not None, "the driver has no control connection"
    found.append(("control connection", control))
    return found


def _nodelay(conn: Any) -> int:
    return int(conn._socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def _open(url: str) -> CassandraStore:
    return asyncio.run(open_cassandra(url))


def test_every_driver_connection_sets_tcp_nodelay(cassandra_url: str) -> None:
    store = _open(cassandra_url)
    db = store._db
    try:
        conns = _live_connections(db)
        assert len(conns) >= 2, conns  # at least one pool and the control connection
        for where, conn in conns:
            assert _nodelay(conn), f"{where}: TCP_NODELAY is off"
        # What the pools use to open new connections and to replace lost ones.
        host = next(iter(db.session.get_pools())).host
        extra = db.cluster.connection_factory(host.endpoint)
        try:
            assert _nodelay(extra), "a new connection from the factory: TCP_NODELAY is off"
        finally:
            extra.close()
        asyncio.run(store.meta.get_bucket("no-such-bucket"))  # the connections work
    finally:
        asyncio.run(store.close())


def test_tcp_nodelay_0_is_the_drivers_default(cassandra_url: str) -> None:
    """The diagnostic switch that bench/compare.py's `s3front-cassandra-nagle` target uses
    really turns the option off, so its "before" numbers measure what they claim."""
    store = _open(cassandra_url + "&tcp_nodelay=0")
    try:
        conns = _live_connections(store._db)
        assert conns and all(_nodelay(c) == 0 for _, c in conns)
    finally:
        asyncio.run(store.close())


def test_opening_the_store_draws_no_server_warning(
    fresh_keyspace_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A fresh keyspace: the node warns when it first prepares a statement, not when it finds
    # the statement in its cache (statements prepared in the session's keyspace by earlier
    # tests would hide the warning).
    apply_schema_sync(fresh_keyspace_url)
    try:
        with caplog.at_level(logging.WARNING, logger="cassandra"):
            store = _open(fresh_keyspace_url)
            asyncio.run(store.close())
    finally:
        db = Db.connect(parse_url(fresh_keyspace_url))
        try:
            db.execute(f"DROP KEYSPACE IF EXISTS {parse_url(fresh_keyspace_url).keyspace}")
        finally:
            db.shutdown()
    warned = [r.getMessage()[:200] for r in caplog.records if "Server warning" in r.getMessage()]
    assert not warned, warned
