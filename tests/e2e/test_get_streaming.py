"""Streaming a large GET: a client that hangs up mid-body stops the server reading the store.

uvicorn drops the bytes sent to a closed connection without an error, so without a watch for
the disconnect the server would read every remaining block for nobody. The store's own call
counter (the Prometheus series at /-/metrics) shows how many blocks it read.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

import s3front_e2e_support as sup

MiB = 1024 * 1024
_GET_BLOCK = re.compile(
    r'^s3front_store_operation_duration_seconds_count\{[^}]*op="get_block"[^}]*\} (\S+)$', re.M
)


def _blocks_read(server: Any) -> int:
    text = server.raw("GET", "/-/metrics", sign=False).body.decode()
    return int(sum(float(v) for v in _GET_BLOCK.findall(text)))


def test_get_stops_reading_when_the_client_leaves(server: Any, s3: Any, bucket: str) -> None:
    blocks = 64
    s3.put_object(Bucket=bucket, Key="leaver", Body=os.urandom(blocks * MiB))
    before = _blocks_read(server)
    path = f"/{bucket}/leaver"
    signed = sup.sign_v4(
        "GET",
        path,
        "",
        {"host": f"127.0.0.1:{server.port}"},
        sup.EMPTY_SHA256,
        server.access_key,
        server.secret_key,
    )
    head = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in signed.headers.items())
    sock = sup.open_raw_socket(server, timeout=30)
    try:
        sock.sendall((head + "\r\n").encode())
        first = sock.recv(64 * 1024)
        assert first.startswith(b"HTTP/1.1 200 "), first[:200]
        got = len(first)
        while got < 2 * MiB:  # and the first blocks of the body
            piece = sock.recv(256 * 1024)
            assert piece, "connection closed early"
            got += len(piece)
    finally:
        sock.close()
    # The server notices, stops; wait for the count to settle (bounded).
    deadline = time.monotonic() + 10
    read = _blocks_read(server) - before
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _blocks_read(server) - before
        if now == read:
            break
        read = now
    # Socket buffers on both sides and the reader's prefetch hold a few MiB; far from 64.
    assert 2 <= read < blocks // 2, f"{read} of {blocks} blocks read after the client left"
    # The object itself is intact for the next reader.
    assert s3.get_object(Bucket=bucket, Key="leaver")["ContentLength"] == blocks * MiB
