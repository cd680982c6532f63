"""The harness checks itself: the hand-written SigV4 signer agrees with botocore's, and the
server fixture really serves what it claims (scheme, readiness, log)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
import s3front_e2e_support as sup
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    [
        ("GET", "/bucket", "list-type=2&prefix=a%20b&delimiter=%2F", b""),
        ("PUT", "/bucket/key%20with%20space", "", b"hello"),
        ("POST", "/bucket/k", "uploads=", b""),
        ("GET", "/", "", b""),
    ],
)
def test_signer_matches_botocore(method: str, path: str, query: str, body: bytes) -> None:
    payload = hashlib.sha256(body).hexdigest()
    url = f"http://127.0.0.1:9000{path}" + (f"?{query}" if query else "")
    req = AWSRequest(method=method, url=url, data=body)
    S3SigV4Auth(Credentials("AK", "SK"), "s3", "us-east-1").add_auth(req)
    theirs = req.headers["Authorization"]
    # botocore takes the clock itself; sign ours at the same second.
    now = dt.datetime.strptime(req.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    ours = sup.sign_v4(
        method, path, query, {"host": "127.0.0.1:9000"}, payload, "AK", "SK", "us-east-1", now
    )
    assert ours.signature == theirs.rsplit("Signature=", 1)[1]


def test_aws_chunked_framing_length() -> None:
    now = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
    signed = sup.sign_v4(
        "PUT",
        "/b/k",
        "",
        {"host": "h"},
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "AK",
        "SK",
        "us-east-1",
        now,
    )
    chunks = [b"a" * 65536, b"b" * 100]
    body = sup.aws_chunked_body(signed, chunks)
    assert len(body) == sup.aws_chunked_length([65536, 100])
    assert body.endswith(b"\r\n\r\n")


def test_server_answers(server: Any) -> None:
    assert server.alive()
    resp = sup.send_raw(
        server.scheme,
        server.port,
        "GET",
        "/-/healthz",
        {"host": f"127.0.0.1:{server.port}"},
        b"",
        ssl_context=server.ssl_context(),
        timeout=5,
    )
    assert resp.status < 500, str(resp)
    # An unsigned request to the service is refused, never served.
    resp = server.raw("GET", "/", sign=False)
    assert resp.status == 403, str(resp)
    assert resp.error_code == "AccessDenied", str(resp)
    assert resp.request_id
    # A signed one lists buckets.
    resp = server.raw("GET", "/")
    assert resp.status == 200, str(resp)
    assert sup.strip_ns(resp.xml().tag) == "ListAllMyBucketsResult"
