"""Bad input on the wire, with hand-signed raw requests so the test controls every byte.

Each case asserts the status, the <Code> of the XML error document, the x-amz-request-id
header, and that an object previously stored under the same key is still byte-identical.
Positive controls (the same request done right) keep the negative cases from passing because
the harness itself is broken.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import s3front_e2e_support as sup

VICTIM = b"the original bytes, which must survive every bad request\n" * 100
EVIL = b"evil replacement" * 1000


@pytest.fixture
def victim(s3: Any, bucket: str) -> Iterator[tuple[str, str]]:
    """(bucket, key) of a stored object that bad requests target."""
    s3.put_object(Bucket=bucket, Key="victim", Body=VICTIM)
    yield bucket, "victim"


def assert_intact(server: Any, bucket: str, key: str = "victim") -> None:
    resp = server.raw("GET", f"/{bucket}/{key}")
    assert resp.status == 200, str(resp)
    assert resp.body == VICTIM, "stored object changed by a rejected request"


def assert_error(resp: Any, status: int, code: str) -> None:
    assert resp.status == status, str(resp)
    assert resp.error_code == code, str(resp)
    assert resp.request_id, f"no x-amz-request-id: {resp.headers}"
    assert resp.headers.get("content-type", "").startswith(("application/xml", "text/xml")), str(
        resp
    )


def test_control_signed_put_works(server: Any, victim: tuple[str, str]) -> None:
    bucket, _ = victim
    resp = server.raw(
        "PUT",
        f"/{bucket}/control",
        body=EVIL,
        headers={"content-md5": sup.content_md5(EVIL), "x-amz-checksum-crc32": sup.crc32_b64(EVIL)},
    )
    assert resp.status == 200, str(resp)
    assert resp.headers.get("etag", "").strip('"') == hashlib.md5(EVIL).hexdigest()
    assert server.raw("GET", f"/{bucket}/control").body == EVIL


def test_wrong_secret(server: Any, victim: tuple[str, str]) -> None:
    bucket, key = victim
    resp = server.raw("PUT", f"/{bucket}/{key}", body=EVIL, secret_key="not-the-secret")
    assert_error(resp, 403, "SignatureDoesNotMatch")
    assert_intact(server, bucket)


def test_unknown_access_key(server: Any, victim: tuple[str, str]) -> None:
    bucket, key = victim
    resp = server.raw("PUT", f"/{bucket}/{key}", body=EVIL, access_key="AKIDONOTEXIST0000000")
    assert_error(resp, 403, "InvalidAccessKeyId")
    assert_intact(server, bucket)


def test_unsigned_put_refused(server: Any, victim: tuple[str, str]) -> None:
    bucket, key = victim
    resp = server.raw("PUT", f"/{bucket}/{key}", body=EVIL, sign=False)
    assert_error(resp, 403, "AccessDenied")
    assert_intact(server, bucket)


@pytest.mark.parametrize("content_encoding", [True, False], ids=["aws-chunked", "no-ce"])
def test_streaming_signed_chunks(
    server: Any, victim: tuple[str, str], content_encoding: bool
) -> None:
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD: good chunks accepted, a bad chunk signature not.

    Without Content-Encoding is how minio-go sends it: framing is known from the payload hash.
    """
    bucket, key = victim
    chunks = [os.urandom(65536), os.urandom(65536), os.urandom(1000)]
    resp = sup.signed_streaming_put(
        server, f"/{bucket}/streamed", chunks, content_encoding=content_encoding
    )
    assert resp.status == 200, str(resp)
    got = server.raw("GET", f"/{bucket}/streamed")
    assert got.body == b"".join(chunks)

    for tamper in (1, 3):  # a middle chunk; the final zero-length chunk
        resp = sup.signed_streaming_put(
            server, f"/{bucket}/{key}", chunks, tamper=tamper, content_encoding=content_encoding
        )
        assert_error(resp, 403, "SignatureDoesNotMatch")
        assert_intact(server, bucket)


def test_wrong_content_md5(server: Any, victim: tuple[str, str]) -> None:
    bucket, key = victim
    resp = server.raw(
        "PUT",
        f"/{bucket}/{key}",
        body=EVIL,
        headers={"content-md5": sup.content_md5(b"something else")},
    )
    assert_error(resp, 400, "BadDigest")
    assert_intact(server, bucket)


def test_malformed_content_md5(server: Any, victim: tuple[str, str]) -> None:
    bucket, key = victim
    resp = server.raw("PUT", f"/{bucket}/{key}", body=EVIL, headers={"content-md5": "nope"})
    assert resp.status == 400, str(resp)
    assert resp.error_code in ("InvalidDigest", "BadDigest"), str(resp)
    assert_intact(server, bucket)


def test_wrong_checksum_crc32(server: Any, victim: tuple[str, str]) -> None:
    bucket, key = victim
    resp = server.raw(
        "PUT",
        f"/{bucket}/{key}",
        body=EVIL,
        headers={"x-amz-checksum-crc32": sup.crc32_b64(b"something else")},
    )
    assert_error(resp, 400, "BadDigest")
    assert_intact(server, bucket)


def test_payload_sha256_mismatch(server: Any, victim: tuple[str, str]) -> None:
    bucket, key = victim
    resp = server.raw(
        "PUT",
        f"/{bucket}/{key}",
        body=EVIL,
        payload_hash=hashlib.sha256(b"something else").hexdigest(),
    )
    assert_error(resp, 400, "XAmzContentSHA256Mismatch")
    assert_intact(server, bucket)


def _truncated_put(server: Any, path: str, declared: int, sent: bytes) -> Any:
    """Declare `declared` bytes, send fewer, half-close; whatever comes back (bounded)."""
    signed = sup.sign_v4(
        "PUT",
        path,
        "",
        {"host": f"127.0.0.1:{server.port}", "content-length": str(declared)},
        "UNSIGNED-PAYLOAD",
        server.access_key,
        server.secret_key,
    )
    head = (
        f"PUT {path} HTTP/1.1\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in signed.headers.items())
        + "\r\n"
    )
    sock = sup.open_raw_socket(server, timeout=10)
    try:
        sock.sendall(head.encode() + sent)
        with contextlib.suppress(OSError):
            if server.scheme == "https":
                sock.close()  # no half-close over TLS: closing is the disconnect
                return None
            sock.shutdown(socket.SHUT_WR)
        return sup.parse_http_response(sup.read_http_response(sock))
    finally:
        sock.close()


def test_truncated_body(server: Any, victim: tuple[str, str]) -> None:
    bucket, key = victim
    size = 3 * sup.MiB
    payload = os.urandom(size)
    mark = server.log_mark()
    for path in (f"/{bucket}/truncated-new", f"/{bucket}/{key}"):
        resp = _truncated_put(server, path, size, payload[: size // 2])
        if resp is not None:  # a response is optional; if one comes it must be this
            assert_error(resp, 400, "IncompleteBody")
    # The server may still be draining the dead connection; give it a moment (bounded).
    deadline = time.monotonic() + 5
    while True:
        head = server.raw("HEAD", f"/{bucket}/truncated-new")
        if head.status == 404 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert head.status == 404, f"object created from a truncated body: {head}"
    assert_intact(server, bucket)
    # The client went away: nothing reaches it, but the server must not count that as its
    # own failure (a 500 / InternalError with a traceback in the log).
    puts = [e for e in server.access_log(mark) if e.get("op") == "PutObject"]
    statuses = [(e["key"], e["status"]) for e in puts]
    assert all(status < 500 for _, status in statuses), f"client disconnect logged as {statuses}"


def _create_upload(server: Any, bucket: str, key: str) -> str:
    resp = server.raw("POST", f"/{bucket}/{key}", query="uploads")
    assert resp.status == 200, str(resp)
    return sup.find_text(resp.xml(), "UploadId")[0]


@pytest.mark.parametrize(
    "doc",
    [
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>",
        b"not xml at all",
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part",
    ],
    ids=["unclosed", "garbage", "truncated"],
)
def test_malformed_complete_multipart(server: Any, victim: tuple[str, str], doc: bytes) -> None:
    bucket, key = victim
    upload_id = _create_upload(server, bucket, key)
    part = os.urandom(1000)
    resp = server.raw(
        "PUT", f"/{bucket}/{key}", query=f"partNumber=1&uploadId={upload_id}", body=part
    )
    assert resp.status == 200, str(resp)
    resp = server.raw("POST", f"/{bucket}/{key}", query=f"uploadId={upload_id}", body=doc)
    assert_error(resp, 400, "MalformedXML")
    assert_intact(server, bucket)
    resp = server.raw("DELETE", f"/{bucket}/{key}", query=f"uploadId={upload_id}")
    assert resp.status == 204, str(resp)


def test_malformed_delete_objects(server: Any, victim: tuple[str, str]) -> None:
    bucket, _ = victim
    doc = b"<Delete><Object><Key>victim</Key></Object>"  # unclosed
    resp = server.raw(
        "POST",
        f"/{bucket}",
        query="delete",
        body=doc,
        headers={"content-md5": sup.content_md5(doc), "content-type": "application/xml"},
    )
    assert_error(resp, 400, "MalformedXML")
    assert_intact(server, bucket)
    # Control: the well-formed document deletes.
    good = b"<Delete><Quiet>true</Quiet><Object><Key>gone</Key></Object></Delete>"
    resp = server.raw(
        "POST",
        f"/{bucket}",
        query="delete",
        body=good,
        headers={"x-amz-checksum-crc32": sup.crc32_b64(good)},
    )
    assert resp.status == 200, str(resp)


def test_malformed_create_bucket(server: Any) -> None:
    name = sup.unique_bucket()
    doc = b"<CreateBucketConfiguration><LocationConstraint>us-east-1"
    resp = server.raw("PUT", f"/{name}", body=doc)
    assert_error(resp, 400, "MalformedXML")
    head = server.raw("HEAD", f"/{name}")
    assert head.status == 404, f"bucket created despite malformed XML: {head}"


def test_xml_entities_refused(server: Any, victim: tuple[str, str]) -> None:
    """An XXE attempt in DeleteObjects must not read files or expand entities."""
    bucket, _ = victim
    doc = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
        b"<Delete><Object><Key>&x;</Key></Object></Delete>"
    )
    resp = server.raw(
        "POST",
        f"/{bucket}",
        query="delete",
        body=doc,
        headers={"content-md5": sup.content_md5(doc)},
    )
    assert 400 <= resp.status < 500, str(resp)
    hostname = Path("/etc/hostname").read_bytes().strip()
    assert not hostname or hostname not in resp.body
    assert_intact(server, bucket)


def test_head_missing_key(server: Any, victim: tuple[str, str]) -> None:
    bucket, _ = victim
    resp = server.raw("HEAD", f"/{bucket}/no-such-key")
    assert resp.status == 404, str(resp)
    assert resp.body == b""
    assert resp.request_id
    resp = server.raw("GET", f"/{bucket}/no-such-key")
    assert_error(resp, 404, "NoSuchKey")
    resp = server.raw("GET", f"/{sup.unique_bucket()}/k")
    assert_error(resp, 404, "NoSuchBucket")
    resp = server.raw("HEAD", f"/{sup.unique_bucket()}")
    assert resp.status == 404 and resp.body == b"", str(resp)


@pytest.mark.parametrize(
    ("sub", "status", "expect"),
    [
        ("acl", 200, "AccessControlPolicy"),
        ("cors", 404, "NoSuchCORSConfiguration"),
        ("policy", 404, "NoSuchBucketPolicy"),
        ("versioning", 200, "VersioningConfiguration"),
        ("tagging", 404, "NoSuchTagSet"),
        ("location", 200, "LocationConstraint"),
    ],
)
def test_bucket_subresources(
    server: Any, victim: tuple[str, str], sub: str, status: int, expect: str
) -> None:
    bucket, _ = victim
    resp = server.raw("GET", f"/{bucket}", query=sub)
    assert resp.status == status, str(resp)
    assert resp.request_id
    if status == 200:
        root = resp.xml()
        assert sup.strip_ns(root.tag) == expect, str(resp)
        assert root.tag.startswith(sup.S3_NS), f"not in the S3 namespace: {root.tag}"
        if sub == "versioning":
            assert not sup.find_text(root, "Status"), str(resp)
        if sub == "acl":
            assert sup.find_text(root, "DisplayName")[0], "empty Owner DisplayName breaks s3cmd"
    else:
        assert_error(resp, status, expect)


BUCKET_SUBS = [
    "acl",
    "cors",
    "policy",
    "versioning",
    "tagging",
    "location",
    "lifecycle",
    "website",
    "logging",
    "encryption",
    "requestPayment",
    "ownershipControls",
    "publicAccessBlock",
    "notification",
    "replication",
    "accelerate",
    "object-lock",
    "policyStatus",
    "uploads",
    "versions",
    "analytics",
    "metrics",
    "inventory",
    "intelligent-tiering",
]
OBJECT_SUBS = ["acl", "tagging", "retention", "legal-hold", "attributes", "torrent"]


def test_no_subresource_gives_5xx(server: Any, victim: tuple[str, str]) -> None:
    """Anything a client may ask about a bucket or object gets an S3 answer, not a crash.

    501 NotImplemented is a legitimate S3 answer for features the server does not have; any
    other 5xx (or an error without an S3 error document) is a bug.
    """
    bucket, key = victim
    failures = []

    def check(what: str, resp: Any) -> None:
        bad_5xx = resp.status >= 500 and not (
            resp.status == 501 and resp.error_code == "NotImplemented"
        )
        if bad_5xx or (resp.status >= 400 and not resp.error_code):
            failures.append(f"{what}: {resp}")

    for sub in BUCKET_SUBS:
        check(f"GET /{bucket}?{sub}", server.raw("GET", f"/{bucket}", query=sub))
    for sub in OBJECT_SUBS:
        headers = {"x-amz-object-attributes": "ETag"} if sub == "attributes" else {}
        resp = server.raw("GET", f"/{bucket}/{key}", query=sub, headers=headers)
        check(f"GET /{bucket}/{key}?{sub}", resp)
    assert not failures, "\n".join(failures)


def test_object_acl_and_tagging(server: Any, victim: tuple[str, str]) -> None:
    """GetObjectAcl and GetObjectTagging of a plain object: the AWS CLI copies tags and ACLs
    (`aws s3 cp s3://... s3://...`), so both must answer with their empty documents."""
    bucket, key = victim
    resp = server.raw("GET", f"/{bucket}/{key}", query="acl")
    assert resp.status == 200, str(resp)
    assert sup.strip_ns(resp.xml().tag) == "AccessControlPolicy"
    resp = server.raw("GET", f"/{bucket}/{key}", query="tagging")
    assert resp.status == 200, str(resp)
    root = resp.xml()
    assert sup.strip_ns(root.tag) == "Tagging", str(resp)
    assert not sup.find_text(root, "Key"), str(resp)


def test_error_document_shape(server: Any) -> None:
    resp = server.raw("GET", f"/{sup.unique_bucket()}/k")
    assert resp.body.startswith(b"<?xml"), "no whitespace before the XML declaration"
    root = resp.xml()
    assert sup.strip_ns(root.tag) == "Error"
    assert sup.find_text(root, "Message")[0]
    assert sup.find_text(root, "RequestId") == [resp.request_id]
