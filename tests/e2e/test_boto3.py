"""boto3 against a live server: default settings (path-style and virtual-hosted), SigV2.

Each test does the whole round trip: make bucket, put small, put 40 MiB (managed multipart,
8 MiB parts), list, head, get and compare, ranged get, delete, remove bucket. Requests are
captured on their way out so the test can assert what the client really sent (aws-chunked
with a CRC32 trailer over HTTPS, a checksum header over HTTP).
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
import s3front_e2e_support as sup

SMALL = b"hello, s3front!\n" * 64


class Capture:
    """Headers of every request a client sends, by operation name."""

    def __init__(self, client: Any) -> None:
        self.sent: list[tuple[str, str, dict[str, str]]] = []
        client.meta.events.register("before-send.s3", self._record)

    def _record(self, request: Any, **kwargs: Any) -> None:
        op = kwargs.get("event_name", "").rsplit(".", 1)[-1]
        headers = {
            k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()
        }
        self.sent.append((op, request.url, headers))

    def of(self, op: str) -> list[dict[str, str]]:
        return [h for o, _, h in self.sent if o == op]

    def urls(self) -> list[str]:
        return [u for _, u, _ in self.sent]


def roundtrip(client: Any, bucket: str, big: Any, tmp_path: Path) -> None:
    client.create_bucket(Bucket=bucket)
    assert bucket in [b["Name"] for b in client.list_buckets()["Buckets"]]

    put = client.put_object(Bucket=bucket, Key="small.txt", Body=SMALL)
    assert put["ETag"].strip('"') == hashlib.md5(SMALL).hexdigest()

    client.upload_file(str(big.path), bucket, "dir/big.bin")  # TransferConfig defaults

    listed = client.list_objects_v2(Bucket=bucket)
    assert {o["Key"]: o["Size"] for o in listed["Contents"]} == {
        "small.txt": len(SMALL),
        "dir/big.bin": big.size,
    }
    assert listed["KeyCount"] == 2
    delim = client.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in delim.get("CommonPrefixes", [])] == ["dir/"]
    assert [o["Key"] for o in delim["Contents"]] == ["small.txt"]

    head = client.head_object(Bucket=bucket, Key="dir/big.bin")
    assert head["ContentLength"] == big.size
    assert head["ETag"].strip('"').endswith("-5"), head["ETag"]  # 40 MiB / 8 MiB parts
    head_small = client.head_object(Bucket=bucket, Key="small.txt")
    assert head_small["ContentLength"] == len(SMALL)
    assert head_small["ETag"] == put["ETag"]

    got = client.get_object(Bucket=bucket, Key="small.txt")
    assert got["Body"].read() == SMALL

    out = tmp_path / "big.out"
    client.download_file(bucket, "dir/big.bin", str(out))
    assert out.stat().st_size == big.size
    assert sup.sha256_file(out) == big.sha256

    ranged = client.get_object(Bucket=bucket, Key="dir/big.bin", Range="bytes=1000-2999")
    assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert ranged["ContentRange"] == f"bytes 1000-2999/{big.size}"
    assert ranged["Body"].read() == sup.read_range(big.path, 1000, 2999)
    # A range across a block boundary (blocks are 1 MiB) and a suffix range.
    start = 3 * sup.MiB - 10
    ranged = client.get_object(
        Bucket=bucket, Key="dir/big.bin", Range=f"bytes={start}-{start + 19}"
    )
    assert ranged["Body"].read() == sup.read_range(big.path, start, start + 19)
    ranged = client.get_object(Bucket=bucket, Key="dir/big.bin", Range="bytes=-100")
    assert ranged["Body"].read() == sup.read_range(big.path, big.size - 100, big.size - 1)

    client.delete_object(Bucket=bucket, Key="small.txt")
    client.delete_object(Bucket=bucket, Key="dir/big.bin")
    assert client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    with pytest.raises(botocore.exceptions.ClientError) as err:
        client.head_object(Bucket=bucket, Key="small.txt")
    assert err.value.response["Error"]["Code"] in ("404", "NoSuchKey")
    client.delete_bucket(Bucket=bucket)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        client.head_bucket(Bucket=bucket)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_boto3_default_path_style(server: Any, big_file: Any, tmp_path: Path) -> None:
    client = server.client()
    try:
        cap = Capture(client)
        roundtrip(client, sup.unique_bucket(), big_file, tmp_path)
    finally:
        client.close()
    parts = cap.of("UploadPart")
    assert len(parts) == 5
    put = cap.of("PutObject")[0]
    if server.scheme == "https":
        # botocore streams over TLS: aws-chunked body, unsigned payload, CRC32 in a trailer.
        for hdrs in [put, *parts]:
            assert "aws-chunked" in hdrs.get("content-encoding", ""), hdrs
            assert hdrs.get("x-amz-trailer") == "x-amz-checksum-crc32", hdrs
            assert hdrs.get("x-amz-content-sha256") == "STREAMING-UNSIGNED-PAYLOAD-TRAILER", hdrs
    else:
        assert "x-amz-checksum-crc32" in put, put


@pytest.fixture
def resolve_localhost_subdomains(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make "<bucket>.localhost" resolve to 127.0.0.1 in this process (glibc does not)."""
    real = socket.getaddrinfo

    def fake(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    yield


@pytest.mark.usefixtures("resolve_localhost_subdomains")
def test_boto3_virtual_hosted(server: Any, big_file: Any, tmp_path: Path) -> None:
    client = server.client(addressing="virtual", endpoint=server.endpoint_localhost)
    bucket = sup.vhost_bucket(server.variant)  # named in the TLS certificate
    try:
        cap = Capture(client)
        roundtrip(client, bucket, big_file, tmp_path)
    finally:
        client.close()
    assert any(f"//{bucket}.localhost:{server.port}/" in u for u in cap.urls()), cap.urls()[:3]


def test_virtual_hosted_raw_host_header(server: Any) -> None:
    bucket = sup.unique_bucket()
    host = f"{bucket}.localhost:{server.port}"
    resp = server.raw("PUT", "/", host=host)
    assert resp.status == 200, str(resp)
    try:
        resp = server.raw("PUT", "/a%20b/c.txt", host=host, body=SMALL)
        assert resp.status == 200, str(resp)
        # Path-style sees the same object.
        resp = server.raw("GET", f"/{bucket}/a%20b/c.txt")
        assert resp.status == 200 and resp.body == SMALL, str(resp)
        resp = server.raw("GET", "/a%20b/c.txt", host=host)
        assert resp.status == 200 and resp.body == SMALL, str(resp)
        resp = server.raw("GET", "/", query="list-type=2", host=host)
        assert resp.status == 200, str(resp)
        assert sup.find_text(resp.xml(), "Key") == ["a b/c.txt"]
        resp = server.raw("DELETE", "/a%20b/c.txt", host=host)
        assert resp.status == 204, str(resp)
    finally:
        resp = server.raw("DELETE", "/", host=host)
    assert resp.status == 204, str(resp)


def test_boto3_sigv2(server: Any, big_file: Any, tmp_path: Path) -> None:
    client = server.client(signature_version="s3")
    try:
        cap = Capture(client)
        roundtrip(client, sup.unique_bucket(), big_file, tmp_path)
    finally:
        client.close()
    put = cap.of("PutObject")[0]
    assert put["authorization"].startswith("AWS "), put  # really V2


def test_boto3_sigv2_presigned_url(server: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="p.txt", Body=SMALL)
    for version in ("s3", "s3v4"):
        signer = server.client(signature_version=version)
        try:
            url = signer.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": "p.txt"}, ExpiresIn=300
            )
        finally:
            signer.close()
        target = url.split(f":{server.port}", 1)[1]
        resp = sup.send_raw(
            server.scheme,
            server.port,
            "GET",
            target,
            {"host": f"127.0.0.1:{server.port}"},
            b"",
            ssl_context=server.ssl_context(),
        )
        assert resp.status == 200, f"{version}: {resp}"
        assert resp.body == SMALL
