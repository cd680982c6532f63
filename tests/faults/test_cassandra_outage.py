"""Cassandra goes away under a running server: requests fail fast with 503 (ServiceUnavailable
or SlowDown), the server process stays up, /-/readyz says 503 (liveness /-/healthz stays 200);
when Cassandra is back, the same server process serves again without a restart.

Runs on a private node (another CQL port and data dir, from scripts/local-cassandra through
`tests/cassandra/test_outage.py`'s `Node` and `node` fixture), never on the session's shared node.
Two outages: a hung node (SIGSTOP: requests meet timeouts) and a stopped one (connections
refused; the driver must reconnect by itself once it is started again).
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import s3front_cassandra_node as cassandra_node
import s3front_e2e_support as sup

from s3front.store.cassandra.schema import apply_schema_sync

pytestmark = pytest.mark.cassandra

node = (
    cassandra_node.node
)  # the private node fixture (skips when S3FRONT_TEST_CASSANDRA names a cluster)
BOUND = cassandra_node.BOUND  # seconds a failing request may take: "fast", not "eventually"
RECOVERY = 90.0
OUTAGE_ERRORS = {"ServiceUnavailable", "SlowDown"}


def _request(srv: Any, method: str, path: str, **kw: Any) -> tuple[Any, float]:
    t0 = time.monotonic()
    resp = srv.raw(method, path, timeout=BOUND + 30, **kw)
    return resp, time.monotonic() - t0


def _fails_fast(srv: Any, method: str, path: str, **kw: Any) -> float:
    resp, took = _request(srv, method, path, **kw)
    assert took < BOUND, f"{method} {path} took {took:.1f}s to fail (bound {BOUND}s)"
    assert resp.status == 503, f"{method} {path} during the outage: {resp}"
    if method != "HEAD":
        assert resp.error_code in OUTAGE_ERRORS, str(resp)
    return took


def _probe_status(srv: Any, path: str) -> int:
    return int(
        sup.send_raw(
            "http",
            srv.port,
            "GET",
            path,
            {"host": f"127.0.0.1:{srv.port}"},
            b"",
            timeout=BOUND + 30,
        ).status
    )


def _outage_visible(srv: Any) -> None:
    """Bounded wait until the server sees the outage (readiness says 503).

    A stop signal or a shutdown takes a moment to bite on a loaded 2-core machine: requests
    already queued at the node may still be answered. The behaviour under test is what
    happens during the outage, not at the instant the signal is sent."""
    deadline = time.monotonic() + BOUND * 3
    while _probe_status(srv, "/-/readyz") != 503:
        assert time.monotonic() < deadline, "the server never noticed the outage"
        time.sleep(0.2)


def _during_outage(srv: Any, bucket: str, objects: dict[str, bytes]) -> list[float]:
    _outage_visible(srv)
    took = [
        _fails_fast(srv, "GET", f"/{bucket}/small"),
        _fails_fast(srv, "HEAD", f"/{bucket}/large"),
        _fails_fast(srv, "PUT", f"/{bucket}/new-small", body=os.urandom(1000)),
        _fails_fast(srv, "PUT", f"/{bucket}/new-large", body=os.urandom(2 * sup.MiB)),
        _fails_fast(srv, "GET", f"/{bucket}", query="list-type=2"),
        _fails_fast(srv, "DELETE", f"/{bucket}/small"),
    ]
    t0 = time.monotonic()
    assert _probe_status(srv, "/-/readyz") == 503
    took.append(time.monotonic() - t0)
    assert took[-1] < BOUND
    assert _probe_status(srv, "/-/healthz") == 200
    assert srv.alive(), "the server died with its store"
    return took


def _recovers(srv: Any, bucket: str, objects: dict[str, bytes]) -> float:
    """Bounded wait until the same server reads and writes again; every object is intact."""
    t0 = time.monotonic()
    deadline = t0 + RECOVERY
    while True:
        resp, _ = _request(srv, "PUT", f"/{bucket}/after", body=b"back")
        if resp.status == 200:
            break
        assert resp.status == 503, f"while recovering: {resp}"
        assert time.monotonic() < deadline, f"no recovery within {RECOVERY}s: {resp}"
        time.sleep(0.5)
    took = time.monotonic() - t0
    assert _probe_status(srv, "/-/readyz") == 200
    for key, data in objects.items():
        resp, _ = _request(srv, "GET", f"/{bucket}/{key}")
        assert resp.status == 200, str(resp)
        assert hashlib.sha256(resp.body).digest() == hashlib.sha256(data).digest(), key
    # The writes refused during the outage did not half-happen.
    for key in ("new-small", "new-large"):
        resp, _ = _request(srv, "GET", f"/{bucket}/{key}")
        assert resp.status == 404, f"{key} after a 503: {resp}"
    return took


def test_server_rides_out_cassandra_outages(node: Any, tmp_path: Path) -> None:
    url = f"cassandra://127.0.0.1:{node.port}/faults?dc=datacenter1&{cassandra_node.TIMEOUTS}"
    apply_schema_sync(url)
    srv = sup.start_server(tmp_path / "srv", store_url=url, ready_timeout=60)
    try:
        bucket = sup.unique_bucket("outage")
        assert srv.raw("PUT", f"/{bucket}").status == 200
        objects = {"small": os.urandom(3000), "large": os.urandom(2 * sup.MiB + 17)}
        for key, data in objects.items():
            assert srv.raw("PUT", f"/{bucket}/{key}", body=data).status == 200
        pid = srv.pid

        # 1. Hung node.
        os.kill(node.pid(), signal.SIGSTOP)
        try:
            hung = _during_outage(srv, bucket, objects)
        finally:
            os.kill(node.pid(), signal.SIGCONT)
        back1 = _recovers(srv, bucket, objects)

        # 2. Stopped node.
        node.run("stop")
        down = _during_outage(srv, bucket, objects)
        node.run("start")
        back2 = _recovers(srv, bucket, objects)

        assert srv.pid == pid and srv.alive(), "the server was restarted or died"
        print(
            f"hung: failures in {max(hung):.1f}s at most; back after {back1:.1f}s. "
            f"stopped: failures in {max(down):.1f}s at most; back after {back2:.1f}s"
        )
    finally:
        sup.stop_server(srv)
