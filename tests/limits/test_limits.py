"""Each limit answers with its S3 error, and the server keeps serving afterwards.

Limits (defaults; see s3front.config and s3front.limits): request head 32 KiB
(RequestHeaderSectionTooLarge), head within 15 s (RequestTimeout), body idle 30 s between chunks
(RequestTimeout), key 1024 bytes (KeyTooLongError), user metadata 2 KB (MetadataTooLarge), part
numbers 1..10000 (InvalidArgument), 5 GiB per PUT or part (EntityTooLarge, from the declared
length, before any body is read), 1024 concurrent connections per worker (503; signed requests
count requests only, see test_slow_clients.py for them and for the body's pace). This server
runs with 2 s timeouts and a limit of 20 connections so the tests are quick.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import s3front_e2e_support as sup

HEADER_TIMEOUT = 2.0
BODY_IDLE_TIMEOUT = 2.0
LIMIT_CONCURRENCY = 20


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    srv = sup.start_server(
        tmp_path_factory.mktemp("limits"),
        env_extra={
            "S3FRONT_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
            "S3FRONT_BODY_IDLE_TIMEOUT": str(BODY_IDLE_TIMEOUT),
            "S3FRONT_LIMIT_CONCURRENCY": str(LIMIT_CONCURRENCY),
        },
    )
    try:
        yield srv
    finally:
        sup.stop_server(srv)


@pytest.fixture(scope="module")
def bucket(limited_server: object) -> str:
    name = sup.unique_bucket("lim")
    assert limited_server.raw("PUT", f"/{name}").status == 200  # type: ignore[attr-defined]
    return name


def healthy(srv: Any) -> None:
    assert srv.alive()
    assert srv.raw("GET", "/-/healthz", sign=False, timeout=5).status == 200


def raw_exchange(srv: Any, data: bytes, timeout: float = 10) -> tuple[Any, float]:
    sock = sup.open_raw_socket(srv, timeout=timeout)
    started = time.monotonic()
    with sock:
        # The server may answer and close while we are still sending.
        with contextlib.suppress(OSError):
            sock.sendall(data)
        resp = sup.parse_http_response(sup.read_http_response(sock))
    return resp, time.monotonic() - started


@pytest.mark.parametrize("size", [40 * 1024, 64 * 1024, 4 * 1024 * 1024])
def test_oversized_header(limited_server: Any, size: int) -> None:
    resp, elapsed = raw_exchange(
        limited_server,
        b"GET /-/healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n",
    )
    assert resp is not None and resp.status == 400
    assert resp.error_code == "RequestHeaderSectionTooLarge"
    assert resp.headers.get("connection") == "close"
    assert elapsed < 5
    healthy(limited_server)


def test_many_small_headers_add_up(limited_server: Any) -> None:
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(400))  # ~43 KB
    resp, _ = raw_exchange(
        limited_server, b"GET /-/healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n"
    )
    assert resp is not None and resp.error_code == "RequestHeaderSectionTooLarge"
    healthy(limited_server)


def test_header_under_the_limit_is_served(limited_server: Any) -> None:
    resp, _ = raw_exchange(
        limited_server,
        b"GET /-/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: "
        + b"a" * (24 * 1024)
        + b"\r\n\r\n",
    )
    assert resp is not None and resp.status == 200


@pytest.mark.parametrize("partial", [b"", b"GET /-/healthz HTTP/1.1\r\nHost: x\r\n", b"GE"])
def test_stalled_request_head_is_closed(limited_server: Any, partial: bytes) -> None:
    sock = sup.open_raw_socket(limited_server, timeout=HEADER_TIMEOUT + 8)
    with sock:
        sock.sendall(partial)
        started = time.monotonic()
        data = sup.read_http_response(sock)
        elapsed = time.monotonic() - started
    # Closed by the server (recv returned b""), not by our socket timeout.
    assert HEADER_TIMEOUT - 0.5 <= elapsed < HEADER_TIMEOUT + 4
    if partial:
        resp = sup.parse_http_response(data)
        assert resp is not None and resp.error_code == "RequestTimeout"
    else:
        assert data == b""
    healthy(limited_server)


def test_slow_body_is_cut_with_request_timeout(limited_server: Any, bucket: str) -> None:
    """One byte, then silence: 400 RequestTimeout after the idle timeout, and nothing stored."""
    srv = limited_server
    path = f"/{bucket}/slow"
    signed = sup.sign_v4(
        "PUT",
        path,
        "",
        {"host": f"127.0.0.1:{srv.port}", "content-length": "100"},
        "UNSIGNED-PAYLOAD",
        srv.access_key,
        srv.secret_key,
    )
    head = f"PUT {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in signed.headers.items())
    sock = sup.open_raw_socket(srv, timeout=BODY_IDLE_TIMEOUT + 10)
    with sock:
        sock.sendall(head.encode() + b"\r\nx")
        started = time.monotonic()
        resp = sup.parse_http_response(sup.read_http_response(sock))
        elapsed = time.monotonic() - started
    assert resp is not None and resp.status == 400, resp
    assert resp.error_code == "RequestTimeout"
    assert resp.headers.get("connection") == "close"
    assert BODY_IDLE_TIMEOUT - 0.5 <= elapsed < BODY_IDLE_TIMEOUT + 4
    assert srv.raw("HEAD", path).status == 404
    healthy(srv)


def test_trickling_body_keeps_going_while_it_moves(limited_server: Any, bucket: str) -> None:
    """The timeout is between chunks, not per request: a slow but steady body succeeds."""
    srv = limited_server
    body = b"abcdef"

    def trickle() -> Any:
        for b in body:
            time.sleep(BODY_IDLE_TIMEOUT / 3)
            yield bytes([b])

    resp = srv.raw(
        "PUT",
        f"/{bucket}/steady",
        headers={"content-length": str(len(body))},
        body=trickle(),
        payload_hash="UNSIGNED-PAYLOAD",
        timeout=30,
    )
    assert resp.status == 200, resp
    assert srv.raw("GET", f"/{bucket}/steady").body == body


def test_key_length(limited_server: Any, bucket: str) -> None:
    srv = limited_server
    assert srv.raw("PUT", f"/{bucket}/" + "k" * 1024, body=b"x").status == 200
    resp = srv.raw("PUT", f"/{bucket}/" + "k" * 1025, body=b"x")
    assert resp.status == 400 and resp.error_code == "KeyTooLongError"
    # Multi-byte characters count as their UTF-8 bytes: 342 x 3 bytes = 1026.
    resp = srv.raw("PUT", f"/{bucket}/" + "%E2%82%AC" * 342, body=b"x")
    assert resp.error_code == "KeyTooLongError"
    healthy(srv)


def test_user_metadata_size(limited_server: Any, bucket: str) -> None:
    srv = limited_server
    ok = srv.raw("PUT", f"/{bucket}/meta-ok", headers={"x-amz-meta-a": "v" * 1500}, body=b"x")
    assert ok.status == 200, ok
    resp = srv.raw("PUT", f"/{bucket}/meta-big", headers={"x-amz-meta-a": "v" * 2100}, body=b"x")
    assert resp.status == 400 and resp.error_code == "MetadataTooLarge"
    assert srv.raw("HEAD", f"/{bucket}/meta-big").status == 404
    healthy(srv)


@pytest.mark.parametrize("number", ["0", "10001", "99999999999999999999999", "%C2%B2", "1x", ""])
def test_part_number_bounds(limited_server: Any, bucket: str, number: str) -> None:
    srv = limited_server
    resp = srv.raw("POST", f"/{bucket}/mp", query="uploads")
    assert resp.status == 200, resp
    upload_id = sup.find_text(resp.xml(), "UploadId")[0]
    ok = srv.raw("PUT", f"/{bucket}/mp", query=f"partNumber=10000&uploadId={upload_id}", body=b"p")
    assert ok.status == 200, ok
    resp = srv.raw(
        "PUT", f"/{bucket}/mp", query=f"partNumber={number}&uploadId={upload_id}", body=b"p"
    )
    assert resp.status == 400 and resp.error_code == "InvalidArgument", resp
    srv.raw("DELETE", f"/{bucket}/mp", query=f"uploadId={upload_id}")


@pytest.mark.parametrize("query", ["", "partNumber=1&uploadId={upload}"])
def test_declared_size_over_5_gib_refused_before_the_body(
    limited_server: Any, bucket: str, query: str
) -> None:
    """Content-Length 5 GiB + 1 and no body at all: EntityTooLarge at once, not a timeout."""
    srv = limited_server
    if query:
        resp = srv.raw("POST", f"/{bucket}/huge", query="uploads")
        query = query.format(upload=sup.find_text(resp.xml(), "UploadId")[0])
    path = f"/{bucket}/huge"
    signed = sup.sign_v4(
        "PUT",
        path,
        query,
        {"host": f"127.0.0.1:{srv.port}", "content-length": str(5 * 1024**3 + 1)},
        "UNSIGNED-PAYLOAD",
        srv.access_key,
        srv.secret_key,
    )
    target = path + (f"?{query}" if query else "")
    head = f"PUT {target} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in signed.headers.items()
    )
    resp, elapsed = raw_exchange(srv, head.encode() + b"\r\n")
    assert resp is not None and resp.error_code == "EntityTooLarge", resp
    assert elapsed < BODY_IDLE_TIMEOUT
    healthy(srv)


def test_connection_limit_gives_503_and_recovers(limited_server: Any) -> None:
    srv = limited_server
    # Fill every slot with connections that sent nothing (they count as connections).
    idle = [sup.open_raw_socket(srv, timeout=10) for _ in range(LIMIT_CONCURRENCY)]
    try:
        time.sleep(0.2)
        started = time.monotonic()
        resp = srv.raw("GET", "/-/healthz", sign=False, timeout=5)
        assert time.monotonic() - started < 2
        # S3's answer, which clients' retry logic knows, not uvicorn's plain-text 503.
        assert (resp.status, resp.error_code) == (503, "SlowDown"), resp.body
        assert resp.headers.get("x-amz-request-id")
        head = srv.raw("HEAD", "/bucket/key", sign=False, timeout=5)
        assert (head.status, head.body) == (503, b"")
        assert head.headers.get("x-amz-error-code") == "SlowDown"
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 10
    while srv.raw("GET", "/-/healthz", sign=False, timeout=5).status != 200:
        assert time.monotonic() < deadline, "no recovery after the connections closed"
        time.sleep(0.1)
    healthy(srv)


def test_idle_connections_are_reclaimed(limited_server: Any) -> None:
    """Connections that never send a request free their slot after the header timeout."""
    srv = limited_server
    idle = [sup.open_raw_socket(srv, timeout=10) for _ in range(LIMIT_CONCURRENCY)]
    try:
        time.sleep(HEADER_TIMEOUT + 1)
        assert srv.raw("GET", "/-/healthz", sign=False, timeout=5).status == 200
    finally:
        for sock in idle:
            sock.close()


def test_concurrent_uploads_within_the_limit(limited_server: Any, bucket: str) -> None:
    srv = limited_server
    results: list[int] = []

    def put(i: int) -> None:
        results.append(srv.raw("PUT", f"/{bucket}/c{i}", body=b"x" * 1000).status)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(LIMIT_CONCURRENCY // 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [200] * len(threads)


def test_socket_closed_mid_body_leaves_nothing(limited_server: Any, bucket: str) -> None:
    srv = limited_server
    path = f"/{bucket}/cut"
    signed = sup.sign_v4(
        "PUT",
        path,
        "",
        {"host": f"127.0.0.1:{srv.port}", "content-length": "1000"},
        "UNSIGNED-PAYLOAD",
        srv.access_key,
        srv.secret_key,
    )
    head = f"PUT {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in signed.headers.items())
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(head.encode() + b"\r\n" + b"x" * 500)
    time.sleep(0.3)
    assert srv.raw("HEAD", path).status == 404
    healthy(srv)
