"""Slow clients cannot deny service (issue 14, item 5): body pace, early refusal, a signed reserve.

Two live servers. `paced_server` runs with tight body limits (3 s idle, 200 B/s over a 2 s
window, 5 s total) so that each limit shows within seconds. `capacity_server` runs the default
pace with a modest `limit_concurrency`, and a long header timeout so that the slow anonymous
POSTs hold their slots for the whole test: what keeps signed requests going there is the reserve
of `limit_concurrency` that anonymous requests may not take (`anonymous_share`, 0.5 by default).
"""

from __future__ import annotations

import base64
import contextlib
import json
import resource
import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import s3front_e2e_support as sup

IDLE = 3.0
MIN_RATE = 200.0
RATE_WINDOW = 2.0
BODY_TIMEOUT = 5.0
HEADER_TIMEOUT = 3.0
PER_CLIENT = 3  # anonymous requests in flight per client address on paced_server
CAPACITY = 32  # limit_concurrency of capacity_server: 16 anonymous requests at most
ATTACKERS = 300
BOUNDARY = "slowclientboundary"


@pytest.fixture(scope="module")
def paced_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    srv = sup.start_server(
        tmp_path_factory.mktemp("paced"),
        env_extra={
            "S3FRONT_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
            "S3FRONT_BODY_IDLE_TIMEOUT": str(IDLE),
            "S3FRONT_BODY_MIN_RATE": str(MIN_RATE),
            "S3FRONT_BODY_RATE_WINDOW": str(RATE_WINDOW),
            "S3FRONT_BODY_TIMEOUT": str(BODY_TIMEOUT),
            "S3FRONT_ANONYMOUS_PER_CLIENT": str(PER_CLIENT),
        },
    )
    try:
        yield srv
    finally:
        sup.stop_server(srv)


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)],
)
def capacity_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * ATTACKERS + 256  # ours and the server's (it inherits the limit)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.fail(f"needs {wanted} open files, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    cassandra = request.param == "cassandra"
    srv = sup.start_server(
        tmp_path_factory.mktemp("capacity"),
        store_url=request.getfixturevalue("cassandra_url") if cassandra else None,
        ready_timeout=60 if cassandra else 30,
        env_extra={
            "S3FRONT_LIMIT_CONCURRENCY": str(CAPACITY),
            "S3FRONT_HEADER_TIMEOUT": "60",  # the slow forms are not cut during the test
        },
    )
    try:
        yield srv
    finally:
        sup.stop_server(srv)


def private_bucket(srv: Any) -> str:
    name = sup.unique_bucket("slow")
    assert srv.raw("PUT", f"/{name}").status == 200
    return name


def form_head(bucket: str, port: int, length: int) -> bytes:
    return (
        f"POST /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def form_fields(fields: dict[str, str]) -> bytes:
    """The form up to the file's data: the fields, then the file part's headers."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
    )
    return b"".join(parts)


def signed_put_head(srv: Any, path: str, length: int) -> bytes:
    signed = sup.sign_v4(
        "PUT",
        path,
        "",
        {"host": f"127.0.0.1:{srv.port}", "content-length": str(length)},
        "UNSIGNED-PAYLOAD",
        srv.access_key,
        srv.secret_key,
    )
    lines = "".join(f"{k}: {v}\r\n" for k, v in signed.headers.items())
    return f"PUT {path} HTTP/1.1\r\n{lines}\r\n".encode()


def trickle(
    sock: socket.socket, pieces: Iterator[bytes], interval: float, limit: float
) -> tuple[bytes, float]:
    """Send a piece every `interval` seconds until the server answers (or `limit` passes);
    return the answer and when it came."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        readable, _, _ = select.select([sock], [], [], interval)
        if readable:
            return sup.read_http_response(sock), time.monotonic() - started
        piece = next(pieces, b"")
        if piece:
            with contextlib.suppress(OSError):  # the server may have closed meanwhile
                sock.sendall(piece)
    return b"", time.monotonic() - started


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes `sock` within `within` seconds (anything it sends is drained)."""
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], left)
        if readable:
            try:
                if not sock.recv(65536):
                    return True
            except OSError:
                return True
    return False


def still_accepting(sock: socket.socket) -> bool:
    """Whether the server still takes bytes on `sock` (a half-close does; a close resets)."""
    try:
        for _ in range(3):
            sock.sendall(b"x")
            time.sleep(0.2)
    except OSError:
        return False
    return True


# -- the pace of a body ------------------------------------------------------------------------


def test_body_below_the_minimum_rate_gets_request_timeout(paced_server: Any) -> None:
    """A byte every 0.5 s never trips the idle timeout; the minimum rate ends it after its
    window. (Before the fix: nothing ended it while it moved.)"""
    srv = paced_server
    bucket = private_bucket(srv)
    path = f"/{bucket}/slow"
    sock = sup.open_raw_socket(srv, timeout=30)
    with sock:
        sock.sendall(signed_put_head(srv, path, 1000))
        resp_bytes, elapsed = trickle(sock, iter([b"x"] * 1000), 0.5, RATE_WINDOW + 10)
        assert not still_accepting(sock)  # shed at once: no lingering for a client this slow
    resp = sup.parse_http_response(resp_bytes)
    assert resp is not None and resp.status == 400, resp_bytes[:300]
    assert resp.error_code == "RequestTimeout"
    assert resp.headers.get("connection") == "close"
    assert RATE_WINDOW - 0.5 <= elapsed < RATE_WINDOW + 4
    assert srv.raw("HEAD", path).status == 404


def test_body_past_the_total_deadline_gets_request_timeout(paced_server: Any) -> None:
    """300 bytes every 0.5 s (well above the minimum rate) still ends at the body deadline."""
    srv = paced_server
    bucket = private_bucket(srv)
    path = f"/{bucket}/long"
    sock = sup.open_raw_socket(srv, timeout=30)
    with sock:
        sock.sendall(signed_put_head(srv, path, 1_000_000))
        resp_bytes, elapsed = trickle(sock, iter([b"y" * 300] * 1000), 0.5, BODY_TIMEOUT + 10)
    resp = sup.parse_http_response(resp_bytes)
    assert resp is not None and resp.status == 400, resp_bytes[:300]
    assert resp.error_code == "RequestTimeout"
    assert BODY_TIMEOUT - 1 <= elapsed < BODY_TIMEOUT + 4
    assert srv.raw("HEAD", path).status == 404


def test_body_above_the_minimum_rate_succeeds(paced_server: Any) -> None:
    """Slow but above the rate (~1000 B/s for 3 s), and inside the deadline: stored."""
    srv = paced_server
    bucket = private_bucket(srv)
    body = b"z" * 3000

    def pieces() -> Iterator[bytes]:
        for i in range(0, len(body), 250):
            time.sleep(0.25)
            yield body[i : i + 250]

    resp = srv.raw(
        "PUT",
        f"/{bucket}/steady",
        headers={"content-length": str(len(body))},
        body=pieces(),
        payload_hash="UNSIGNED-PAYLOAD",
        timeout=30,
    )
    assert resp.status == 200, resp
    assert srv.raw("GET", f"/{bucket}/steady").body == body


# -- refused before the body -------------------------------------------------------------------


def _v2_form(srv: Any, bucket: str) -> dict[str, str]:
    doc = {"expiration": "2099-01-01T00:00:00Z", "conditions": [{"bucket": bucket}, {"key": "k"}]}
    return {
        "key": "k",
        "AWSAccessKeyId": srv.access_key,
        "policy": base64.b64encode(json.dumps(doc).encode()).decode(),
        "signature": base64.b64encode(b"not the signature").decode(),
    }


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("anonymous-form-private-bucket", 403, "AccessDenied"),
        ("bad-signature", 403, "SignatureDoesNotMatch"),
        ("no-such-bucket", 404, "NoSuchBucket"),
    ],
)
def test_post_form_refused_before_the_file(
    paced_server: Any, case: str, status: int, code: str
) -> None:
    """The fields and the file part's headers, not the file: the answer comes, and the
    connection is closed (the declared megabyte is never read)."""
    srv = paced_server
    bucket = private_bucket(srv)
    fields: dict[str, str] = {"key": "k"}
    if case == "bad-signature":
        fields = _v2_form(srv, bucket)
    if case == "no-such-bucket":
        bucket = sup.unique_bucket("missing")
    sock = sup.open_raw_socket(srv, timeout=10)
    with sock:
        sock.sendall(form_head(bucket, srv.port, 1_000_000) + form_fields(fields))
        started = time.monotonic()
        resp = sup.parse_http_response(sup.read_http_response(sock))
        elapsed = time.monotonic() - started
        assert resp is not None and (resp.status, resp.error_code) == (status, code), resp
        assert resp.headers.get("connection") == "close"
        assert closed_by_server(sock, 2)
    assert elapsed < IDLE  # answered, not timed out
    assert srv.raw("HEAD", f"/{bucket}/k").status in (403, 404)


def test_refused_form_whose_file_keeps_coming_still_gets_its_answer(paced_server: Any) -> None:
    """A browser does not read the answer until it has sent its file. The server half-closes
    and discards the rest (a lingering close), so the client's send completes and it reads the
    403; a plain close with unread data would reset the connection under the response."""
    srv = paced_server
    bucket = private_bucket(srv)
    head = form_fields({"key": "k"})
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    file_data = b"f" * (4 * 1024 * 1024)
    sock = sup.open_raw_socket(srv, timeout=10)
    with sock:
        sock.sendall(form_head(bucket, srv.port, len(head) + len(file_data) + len(tail)) + head)
        time.sleep(0.3)  # the server has answered by now
        sock.sendall(file_data + tail)  # a plain close: BrokenPipeError here
        resp = sup.parse_http_response(sup.read_http_response(sock))
        assert resp is not None and (resp.status, resp.error_code) == (403, "AccessDenied")
        assert resp.headers.get("connection") == "close"
        assert closed_by_server(sock, 2)


def test_anonymous_put_refused_and_closed(paced_server: Any) -> None:
    srv = paced_server
    bucket = private_bucket(srv)
    head = (
        f"PUT /{bucket}/k HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nContent-Length: 100000\r\n\r\n"
    )
    sock = sup.open_raw_socket(srv, timeout=10)
    with sock:
        sock.sendall(head.encode() + b"a" * 100)
        resp = sup.parse_http_response(sup.read_http_response(sock))
        assert resp is not None and resp.error_code == "AccessDenied", resp
        assert resp.headers.get("connection") == "close"
        assert closed_by_server(sock, 2)


def test_slow_form_fields_are_cut(paced_server: Any) -> None:
    """The fields before the file (all an anonymous form's authorization rests on) trickled:
    400 RequestTimeout within the header timeout, well before the fields end."""
    srv = paced_server
    bucket = private_bucket(srv)
    data = form_fields({"key": "k", "x-ignore-pad": "p" * 2000})
    sock = sup.open_raw_socket(srv, timeout=30)
    with sock:
        sock.sendall(form_head(bucket, srv.port, len(data) + 100))
        resp_bytes, elapsed = trickle(sock, (bytes([b]) for b in data), 0.2, HEADER_TIMEOUT + 10)
    resp = sup.parse_http_response(resp_bytes)
    assert resp is not None and resp.error_code == "RequestTimeout", resp_bytes[:300]
    assert elapsed < HEADER_TIMEOUT + 4


def test_form_fields_are_bounded(paced_server: Any) -> None:
    """Many small fields (each under the value limit) add up: refused once they pass the bound,
    without waiting for the file."""
    srv = paced_server
    bucket = private_bucket(srv)
    data = form_fields({f"x-ignore-{i}": "v" for i in range(3000)})  # ~270 KB of part headers
    sock = sup.open_raw_socket(srv, timeout=10)
    with sock:
        sock.sendall(form_head(bucket, srv.port, len(data) + 100))
        with contextlib.suppress(OSError):
            sock.sendall(data)
        resp = sup.parse_http_response(sup.read_http_response(sock))
    assert resp is not None and resp.error_code == "EntityTooLarge", resp


def test_signed_request_answered_early_cannot_trickle_forever(paced_server: Any) -> None:
    """A signed PUT to a missing bucket is answered before its body; the rest of the body must
    then arrive within the header timeout, or the connection is closed. (uvicorn alone discards
    it with no timer: each byte cancels its keep-alive timeout.)"""
    srv = paced_server
    path = f"/{sup.unique_bucket('missing')}/k"
    sock = sup.open_raw_socket(srv, timeout=10)
    with sock:
        sock.sendall(signed_put_head(srv, path, 100_000) + b"a" * 10)
        resp = sup.parse_http_response(sup.read_http_response(sock))
        assert resp is not None and resp.error_code == "NoSuchBucket", resp
        started = time.monotonic()
        closed = False
        while not closed and time.monotonic() - started < HEADER_TIMEOUT + 5:
            with contextlib.suppress(OSError):
                sock.sendall(b"a")
            closed = closed_by_server(sock, 0.5)
        assert closed
        assert time.monotonic() - started >= HEADER_TIMEOUT - 0.5


def test_signed_request_answered_early_keeps_its_connection(paced_server: Any) -> None:
    """The rest of a short body sent at once is discarded and the connection carries on."""
    srv = paced_server
    path = f"/{sup.unique_bucket('missing')}/k"
    conn = sup.connect(srv.scheme, srv.port, srv.ssl_context(), 10)
    try:
        for _ in range(2):
            signed = sup.sign_v4(
                "PUT",
                path,
                "",
                {"host": f"127.0.0.1:{srv.port}", "content-length": "5000"},
                "UNSIGNED-PAYLOAD",
                srv.access_key,
                srv.secret_key,
            )
            conn.request("PUT", path, body=b"b" * 5000, headers=signed.headers)
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 404
            assert resp.getheader("connection") != "close"
    finally:
        conn.close()


def _get(port: int, target: str, source: str = "127.0.0.1", headers: str = "") -> Any:
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}\r\n".encode())
        return sup.parse_http_response(sup.read_http_response(s))


def test_anonymous_requests_per_client_address(paced_server: Any) -> None:
    """With `anonymous_per_client` held by slow forms from one address, that address's next
    anonymous request gets 503 SlowDown; another address, and signed requests, are served."""
    srv = paced_server
    bucket = private_bucket(srv)
    held = [sup.open_raw_socket(srv, timeout=10) for _ in range(PER_CLIENT)]
    try:
        for sock in held:  # a form that has not reached its file: its handler is reading
            sock.sendall(form_head(bucket, srv.port, 1000) + b"--" + BOUNDARY.encode())
        time.sleep(0.5)
        refused = _get(srv.port, "/-/healthz")
        assert refused is not None and (refused.status, refused.error_code) == (503, "SlowDown")
        other = _get(srv.port, "/-/healthz", source="127.0.0.2")
        assert other is not None and other.status == 200, other
        assert srv.raw("GET", f"/{bucket}", timeout=10).status == 200
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while (resp := _get(srv.port, "/-/healthz")) is None or resp.status != 200:
        assert time.monotonic() < deadline, resp
        time.sleep(0.2)


# -- the reserve for signed requests -----------------------------------------------------------


class Attackers:
    """`count` anonymous POST forms to a private bucket, a byte every `interval` seconds each;
    one refused (503) or closed is opened again after `interval` (a real attacker retries)."""

    def __init__(self, srv: Any, bucket: str, count: int, interval: float) -> None:
        self.srv, self.bucket, self.count, self.interval = srv, bucket, count, interval
        self.data = form_fields({"key": "k", "x-ignore-pad": "p" * 5000})
        self.head = form_head(bucket, srv.port, len(self.data) + 1000)
        self.socks: dict[socket.socket, int] = {}  # socket -> bytes of the form sent
        self.refused = 0  # answers received (503 SlowDown expected)
        self.answers: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
            sock.sendall(self.head)
        except OSError:
            return
        sock.setblocking(False)
        self.socks[sock] = 0

    def _run(self) -> None:
        for _ in range(self.count):
            self._open()
        while not self.stop.is_set():
            time.sleep(self.interval / 4)
            for sock in list(self.socks):
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue  # nothing from the server: still held
                except OSError:
                    data = b""
                if data:
                    self.refused += 1
                    self.answers.append(data)
                sock.close()
                del self.socks[sock]
            for sock, sent in list(self.socks.items())[: self.count // 4]:
                # a quarter of them per round: each sends a byte every `interval` seconds
                with contextlib.suppress(OSError):
                    sock.send(self.data[sent : sent + 1])
                    self.socks[sock] = sent + 1
            for _ in range(min(self.count - len(self.socks), 20)):
                self._open()

    def __enter__(self) -> Attackers:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)
        for sock in self.socks:
            sock.close()


def test_signed_requests_keep_working_under_slow_anonymous_posts(capacity_server: Any) -> None:
    """Hundreds of slow anonymous POSTs fill every slot anonymous requests may have; signed
    GETs (header-signed and presigned) all succeed meanwhile. (Before the fix: 503 SlowDown.)"""
    srv = capacity_server
    bucket = private_bucket(srv)
    assert srv.raw("PUT", f"/{bucket}/obj", body=b"payload").status == 200
    presigned = srv.client().generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "obj"}, ExpiresIn=600
    )
    presigned_target = presigned.split(str(srv.port), 1)[1]
    statuses: list[tuple[str, int, str]] = []

    def signed_gets(kind: str, stop: float) -> None:
        for _ in range(300):
            if time.monotonic() > stop:
                return
            if kind == "header":
                resp = srv.raw("GET", f"/{bucket}/obj", timeout=20)
            else:
                host = {"host": f"127.0.0.1:{srv.port}"}
                resp = sup.send_raw(srv.scheme, srv.port, "GET", presigned_target, host, b"")
            statuses.append((kind, resp.status, resp.error_code or ""))
            time.sleep(0.02)

    with Attackers(srv, bucket, ATTACKERS, interval=2.0) as attack:
        # Every attacker connects; all but the anonymous share are refused.
        deadline = time.monotonic() + 20
        while attack.refused < ATTACKERS - CAPACITY:
            assert time.monotonic() < deadline, attack.refused
            time.sleep(0.2)
        time.sleep(1)
        held, refused_before = len(attack.socks), attack.refused
        stop = time.monotonic() + 8
        threads = [
            threading.Thread(target=signed_gets, args=(kind, stop)) for kind in ("header", "query")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        # The attack went on all along: anonymous requests were still being refused.
        assert attack.refused >= refused_before + 10, (refused_before, attack.refused)
    assert held >= CAPACITY // 4  # slow forms held slots
    assert all(a.startswith(b"HTTP/1.1 503") and b"SlowDown" in a for a in attack.answers[:50])
    failures = [s for s in statuses if s[1] != 200]
    assert len(statuses) >= 20 and not failures, (len(statuses), failures[:10])
    # And with the attack over, anonymous requests are served again.
    deadline = time.monotonic() + 10
    while srv.raw("GET", "/-/healthz", sign=False, timeout=5).status != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
