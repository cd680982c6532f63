"""Authentication details (issue 19 item 6) against a real server: header values outside ASCII,
SigV2 request dates, and a body without a declared length."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any

import botocore.exceptions
import pytest
import s3front_e2e_support as sup

# UTF-8 user metadata as the Go and JS SDKs (and curl) send it: the UTF-8 bytes on the wire,
# signed as those bytes. http.client sends a str header as ISO-8859-1, so the wire form is the
# UTF-8 bytes spelled one character per byte.
TEXT = "café \u2013 日本語"
WIRE = TEXT.encode("utf-8").decode("latin-1")


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = sup.unique_bucket("a")
    s3.create_bucket(Bucket=name)
    yield name
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=obj["Key"])
        s3.delete_bucket(Bucket=name)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
        pass


def _v4_put(server: Any, path: str, headers: dict[str, str], body: bytes) -> sup.RawResponse:
    """PUT signed over `headers` as text (UTF-8 in the canonical request), sent as WIRE."""
    payload = hashlib.sha256(body).hexdigest()
    signed = sup.sign_v4(
        "PUT",
        path,
        "",
        {"host": f"127.0.0.1:{server.port}", **headers},
        payload,
        server.access_key,
        server.secret_key,
        server.region,
    )
    wire = {k: (WIRE if v == TEXT else v) for k, v in signed.headers.items()}
    return sup.send_raw(
        server.scheme, server.port, "PUT", path, wire, body, ssl_context=server.ssl_context()
    )


def _get(server: Any, path: str) -> sup.RawResponse:
    signed = sup.sign_v4(
        "GET",
        path,
        "",
        {"host": f"127.0.0.1:{server.port}"},
        sup.EMPTY_SHA256,
        server.access_key,
        server.secret_key,
        server.region,
    )
    return sup.send_raw(
        server.scheme,
        server.port,
        "GET",
        path,
        signed.headers,
        b"",
        ssl_context=server.ssl_context(),
    )


def test_sigv4_utf8_metadata_signed_as_its_bytes_is_accepted_and_kept(
    server: Any, bucket: str
) -> None:
    """AWS computes the canonical request over the header bytes received: a UTF-8 metadata value
    signed as its UTF-8 bytes matches, and the bytes are returned unchanged."""
    path = f"/{bucket}/utf8"
    resp = _v4_put(server, path, {"x-amz-meta-note": TEXT}, b"data")
    assert resp.status == 200, resp
    got = _get(server, path)
    assert got.status == 200, got
    assert got.headers["x-amz-meta-note"] == WIRE  # the same bytes back
    assert got.body == b"data"


def test_sigv4_utf8_header_signature_still_binds_the_value(server: Any, bucket: str) -> None:
    """Reading the value as UTF-8 is not a way around the signature: a different value on the
    wire than the one signed is refused."""
    path = f"/{bucket}/tampered"
    payload = hashlib.sha256(b"x").hexdigest()
    signed = sup.sign_v4(
        "PUT",
        path,
        "",
        {"host": f"127.0.0.1:{server.port}", "x-amz-meta-note": TEXT},
        payload,
        server.access_key,
        server.secret_key,
        server.region,
    )
    wire = dict(signed.headers)
    wire["x-amz-meta-note"] = "cafe \u2013 日本語".encode().decode("latin-1")
    resp = sup.send_raw(
        server.scheme, server.port, "PUT", path, wire, b"x", ssl_context=server.ssl_context()
    )
    assert (resp.status, resp.error_code) == (403, "SignatureDoesNotMatch"), resp


def _v2_put(server: Any, path: str, headers: dict[str, str], body: bytes) -> sup.RawResponse:
    """SigV2 header auth, the string to sign built as s3cmd does (UTF-8 text)."""
    date = formatdate(usegmt=True)
    amz = "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()) if k.startswith("x-amz-"))
    text = f"PUT\n\n\n{date}\n{amz}{path}"
    sig = base64.b64encode(
        hmac.new(server.secret_key.encode(), text.encode("utf-8"), hashlib.sha1).digest()
    ).decode()
    wire = {k: (WIRE if v == TEXT else v) for k, v in headers.items()}
    wire.update(date=date, authorization=f"AWS {server.access_key}:{sig}")
    return sup.send_raw(
        server.scheme, server.port, "PUT", path, wire, body, ssl_context=server.ssl_context()
    )


def test_sigv2_utf8_metadata_signed_as_its_bytes_is_accepted(server: Any, bucket: str) -> None:
    path = f"/{bucket}/utf8-v2"
    resp = _v2_put(server, path, {"x-amz-meta-note": TEXT}, b"v2")
    assert resp.status == 200, resp
    assert _get(server, path).headers["x-amz-meta-note"] == WIRE


def _v2_client_with(server: Any, headers: dict[str, str]) -> Any:
    """A SigV2 boto3 client that adds `headers` before signing (as ceph s3-tests does)."""
    client = server.client(signature_version="s3")
    client.meta.events.register(
        "before-call.s3.PutObject", lambda **kw: kw["params"]["headers"].update(headers)
    )
    return client


@pytest.mark.parametrize(
    ("amz_date", "code"),
    [
        ("", "AccessDenied"),  # s3-tests test_object_create_bad_date_empty_aws2
        ("Bad Date", "AccessDenied"),
        ("Tue, 07 Jul 1950 21:53:04 GMT", "AccessDenied"),  # ..._before_epoch_aws2
        ("Tue, 07 Jul 2010 21:53:04 GMT", "RequestTimeTooSkewed"),  # ..._before_today_aws2
        ("Tue, 07 Jul 9999 21:53:04 GMT", "RequestTimeTooSkewed"),  # ..._after_end_aws2
    ],
    ids=["empty", "garbage", "before-epoch", "past", "year-9999"],
)
def test_sigv2_x_amz_date_is_the_request_time_and_never_falls_back_to_date(
    server: Any, bucket: str, amz_date: str, code: str
) -> None:
    """With SigV2 an x-amz-date header, when sent, is the request time even when it is empty
    (botocore also sends a valid Date, which must not be used instead); a date before 1970 is
    AccessDenied, as ceph s3-tests expect of AWS, not a clock skew."""
    client = _v2_client_with(server, {"x-amz-date": amz_date})
    try:
        with pytest.raises(botocore.exceptions.ClientError) as info:
            client.put_object(Bucket=bucket, Key="dated", Body=b"bar")
        err = info.value.response
        assert (err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"]) == (403, code)
    finally:
        client.close()


def test_sigv2_valid_x_amz_date_is_accepted(server: Any, bucket: str) -> None:
    client = _v2_client_with(server, {"x-amz-date": formatdate(usegmt=True)})
    try:
        client.put_object(Bucket=bucket, Key="dated", Body=b"bar")
    finally:
        client.close()


def _unsigned_put(server: Any, path: str, headers: dict[str, str], body: list[bytes]) -> Any:
    signed = sup.sign_v4(
        "PUT",
        path,
        "",
        {"host": f"127.0.0.1:{server.port}", **headers},
        "UNSIGNED-PAYLOAD",
        server.access_key,
        server.secret_key,
        server.region,
    )
    return sup.send_raw(
        server.scheme,
        server.port,
        "PUT",
        path,
        signed.headers,
        body,
        ssl_context=server.ssl_context(),
    )


@pytest.mark.parametrize("what", ["object", "part"])
def test_put_without_a_declared_length_is_411_missing_content_length(
    server: Any, s3: Any, bucket: str, what: str
) -> None:
    """PutObject and UploadPart need the size up front (Content-Length, or
    x-amz-decoded-content-length with aws-chunked): a plain chunked body is 411
    MissingContentLength (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html),
    and nothing is stored."""
    query = ""
    if what == "part":
        upload = s3.create_multipart_upload(Bucket=bucket, Key="chunked")["UploadId"]
        query = f"?partNumber=1&uploadId={upload}"
    data = b"x" * 1000
    framed = [f"{len(data):x}\r\n".encode() + data + b"\r\n", b"0\r\n\r\n"]
    path = f"/{bucket}/chunked"
    signed = sup.sign_v4(
        "PUT",
        path,
        query.lstrip("?"),
        {"host": f"127.0.0.1:{server.port}"},
        "UNSIGNED-PAYLOAD",
        server.access_key,
        server.secret_key,
        server.region,
    )
    resp = sup.send_raw(
        server.scheme,
        server.port,
        "PUT",
        path + query,
        {**signed.headers, "transfer-encoding": "chunked"},
        framed,
        ssl_context=server.ssl_context(),
    )
    assert (resp.status, resp.error_code) == (411, "MissingContentLength"), resp
    if what == "part":
        assert s3.list_parts(Bucket=bucket, Key="chunked", UploadId=upload).get("Parts", []) == []
        s3.abort_multipart_upload(Bucket=bucket, Key="chunked", UploadId=upload)
    else:
        with pytest.raises(botocore.exceptions.ClientError):
            s3.head_object(Bucket=bucket, Key="chunked")


def test_put_with_content_length_is_not_affected(server: Any, bucket: str) -> None:
    resp = _unsigned_put(server, f"/{bucket}/sized", {"content-length": "3"}, [b"abc"])
    assert resp.status == 200, resp
