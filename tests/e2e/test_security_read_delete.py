"""Issue 14 items 11 and 12, end to end on every server variant.

11. A block lost from the store (deleted here behind the server's back, in the SQLite block
    directory or Cassandra's block_data table) is never served as a short object that looks
    whole: a lost first block (of the requested range) is a 500 InternalError document with the
    request id, logged with the request id and the block id; a lost later block cuts the
    connection before Content-Length bytes, which the client sees as a broken transfer.
12. A PUT racing DeleteBucket: never "PUT 200" and "DeleteBucket 204" both.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time
from typing import Any

import pytest
import s3front_e2e_support as sup

MiB = 1024 * 1024
BLOCKS = 4  # the object: 4 blocks of 1 MiB (the default block size), random bytes


def _empty_and_delete(s3: Any, name: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=obj["Key"])
    s3.delete_bucket(Bucket=name)


def _block_ids(data: bytes) -> list[bytes]:
    # Blocks are content-addressed: the id is the SHA-256 of the block's bytes.
    return [hashlib.sha256(data[i : i + MiB]).digest() for i in range(0, len(data), MiB)]


def _lose_block(server: Any, block_id: bytes) -> None:
    """Delete one block's bytes directly in the server's store."""
    url = server.store_url
    if url.startswith("sqlite://"):
        from s3front.store.sqlite import parse_url

        h = block_id.hex()
        os.remove(os.path.join(parse_url(url), "blocks", h[:2], h))
        return
    from s3front.store.cassandra.session import Db
    from s3front.store.cassandra.session import parse_url as cassandra_url

    cfg = cassandra_url(url)
    db = Db.connect(cfg, cfg.keyspace)
    try:
        db.execute("DELETE FROM block_data WHERE block_id = %s", (block_id,))
    finally:
        db.shutdown()


def _put_with_lost_block(server: Any, s3: Any, bucket: str, key: str, lost: int) -> bytes:
    data = os.urandom(BLOCKS * MiB)
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    _lose_block(server, _block_ids(data)[lost])
    return data


def _raw_get(server: Any, path: str, headers: dict[str, str] | None = None) -> socket.socket:
    signed = sup.sign_v4(
        "GET",
        path,
        "",
        {"host": f"127.0.0.1:{server.port}", **(headers or {})},
        sup.EMPTY_SHA256,
        server.access_key,
        server.secret_key,
    )
    head = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in signed.headers.items())
    sock = sup.open_raw_socket(server, timeout=30)
    sock.sendall((head + "\r\n").encode())
    return sock


def _read_until_closed(sock: socket.socket, limit: int) -> tuple[bytes, bool]:
    """Everything the server sends, and whether it closed the connection (bounded by the
    socket timeout: a server that keeps the connection open without sending is not closed)."""
    data = bytearray()
    closed = False
    try:
        while len(data) <= limit:
            piece = sock.recv(256 * 1024)
            if not piece:
                closed = True
                break
            data += piece
    except TimeoutError:
        pass
    except OSError:  # a reset, or TLS torn down without close_notify: closed either way
        closed = True
    return bytes(data), closed


def _assert_cut_short(server: Any, path: str, headers: dict[str, str], expect: int) -> None:
    sock = _raw_get(server, path, headers)
    try:
        data, closed = _read_until_closed(sock, expect + 64 * 1024)
    finally:
        sock.close()
    resp = sup.parse_http_response(data)
    assert resp is not None, data[:200]
    assert resp.status in (200, 206), (resp.status, resp.body[:300])
    declared = int(resp.headers["content-length"])
    assert declared == expect
    assert len(resp.body) < declared, "a lost block was served as a complete body"
    assert closed, "the server kept the connection open after cutting the body short"


def _assert_error_doc(server: Any, path: str, headers: dict[str, str], block: bytes) -> None:
    mark = server.log_mark()
    resp = server.raw("GET", path, headers=headers)
    assert resp.status == 500, (resp.status, resp.body[:300])
    assert sup.error_code(resp.body) == "InternalError"
    rid = resp.headers["x-amz-request-id"]
    assert f"<RequestId>{rid}</RequestId>".encode() in resp.body
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log = server.log_since(mark)
        if rid in log and block.hex() in log:
            break
        time.sleep(0.1)
    lines = [ln for ln in server.log_since(mark).splitlines() if block.hex() in ln]
    assert any(rid in ln for ln in lines), f"no log line names block and request: {lines}"


def test_lost_first_block_is_an_error_document(server: Any, s3: Any, bucket: str) -> None:
    data = _put_with_lost_block(server, s3, bucket, "first", lost=0)
    block = _block_ids(data)[0]
    _assert_error_doc(server, f"/{bucket}/first", {}, block)
    # A range that starts in the lost block, too.
    _assert_error_doc(server, f"/{bucket}/first", {"range": "bytes=100-2000000"}, block)


def test_lost_first_block_of_a_range_is_an_error_document(
    server: Any, s3: Any, bucket: str
) -> None:
    data = _put_with_lost_block(server, s3, bucket, "ranged", lost=2)
    block = _block_ids(data)[2]
    _assert_error_doc(server, f"/{bucket}/ranged", {"range": f"bytes={2 * MiB + 5}-"}, block)
    # A range that lies before the lost block is served whole.
    got = s3.get_object(Bucket=bucket, Key="ranged", Range=f"bytes=0-{2 * MiB - 1}")["Body"].read()
    assert got == data[: 2 * MiB]


def test_lost_middle_block_cuts_the_connection(server: Any, s3: Any, bucket: str) -> None:
    _put_with_lost_block(server, s3, bucket, "middle", lost=2)
    _assert_cut_short(server, f"/{bucket}/middle", {}, BLOCKS * MiB)
    # A range from the first block into the lost one, too.
    _assert_cut_short(server, f"/{bucket}/middle", {"range": "bytes=10-"}, BLOCKS * MiB - 10)
    # A client library sees a failure, not a short object.
    with pytest.raises(Exception) as info:
        s3.get_object(Bucket=bucket, Key="middle")["Body"].read()
    assert "ncomplete" in repr(info.value) or "onnection" in repr(info.value), info.value
    assert server.alive()


# -- 12: PUT racing DeleteBucket ------------------------------------------------------------


def _open_put(server: Any, path: str, body_len: int, body_sha: str) -> socket.socket:
    signed = sup.sign_v4(
        "PUT",
        path,
        "",
        {"host": f"127.0.0.1:{server.port}", "content-length": str(body_len)},
        body_sha,
        server.access_key,
        server.secret_key,
    )
    head = f"PUT {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in signed.headers.items())
    sock = sup.open_raw_socket(server, timeout=60)
    sock.sendall((head + "\r\n").encode())
    return sock


def test_put_that_started_before_delete_bucket_fails(server: Any, s3: Any) -> None:
    """The PUT checks its bucket, then DeleteBucket runs to completion while the PUT's body is
    still arriving; the PUT must not answer 200 for an object that went with the bucket."""
    name = sup.unique_bucket()
    s3.create_bucket(Bucket=name)
    body = os.urandom(3 * MiB)
    sock = _open_put(server, f"/{name}/late", len(body), hashlib.sha256(body).hexdigest())
    try:
        sock.sendall(body[:MiB])
        time.sleep(0.5)  # the server has authenticated and read the bucket record by now
        deleted = server.raw("DELETE", f"/{name}")
        sock.sendall(body[MiB:])
        resp = sup.parse_http_response(sup.read_http_response(sock))
    finally:
        sock.close()
    assert resp is not None
    if deleted.status == 204:
        assert resp.status == 404, (resp.status, resp.body[:300])
        assert sup.error_code(resp.body) == "NoSuchBucket"
        created = s3.create_bucket(Bucket=name)  # and a new bucket of that name is empty
        assert created["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert s3.list_objects_v2(Bucket=name).get("KeyCount", 0) == 0
        s3.delete_bucket(Bucket=name)
    else:
        assert deleted.status == 409, deleted.status
        assert resp.status == 200
        assert s3.get_object(Bucket=name, Key="late")["Body"].read() == body
        _empty_and_delete(s3, name)


def _put_after(
    barrier: threading.Barrier, server: Any, name: str, body: bytes, out: list[int]
) -> None:
    barrier.wait()
    out.append(server.raw("PUT", f"/{name}/k", body=body).status)


def test_put_racing_delete_bucket_never_both_succeed(server: Any, s3: Any) -> None:
    rounds = 12
    outcomes: list[tuple[int, int]] = []
    for i in range(rounds):
        name = sup.unique_bucket()
        s3.create_bucket(Bucket=name)
        body = os.urandom(64 * 1024 + i)
        put_status: list[int] = []
        barrier = threading.Barrier(2)
        t = threading.Thread(target=_put_after, args=(barrier, server, name, body, put_status))
        t.start()
        barrier.wait()
        time.sleep(0.002 * (i % 6))  # spread the delete across the PUT's life
        deleted = server.raw("DELETE", f"/{name}").status
        t.join(60)
        assert put_status, "the PUT did not finish"
        outcomes.append((put_status[0], deleted))
        assert (put_status[0], deleted) != (200, 204), f"round {i}: both succeeded"
        if put_status[0] == 200:
            assert deleted == 409
            assert s3.get_object(Bucket=name, Key="k")["Body"].read() == body
            _empty_and_delete(s3, name)
        else:
            assert put_status[0] == 404
            assert deleted == 204
        with contextlib.suppress(Exception):
            s3.delete_bucket(Bucket=name)
    assert all(p in (200, 404) and d in (204, 409) for p, d in outcomes), outcomes
