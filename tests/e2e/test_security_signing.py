"""Signed means signed (issue 14, items 1 and 2), over HTTP against a live server.

Whoever holds a presigned URL, or replays a header-signed request, must not be able to add an
`x-amz-*` header the signature does not cover: not a copy source, not an ACL, not a payload
mode that skips a pinned SHA-256. Each attack is paired with the same request with the header
properly signed, which succeeds, so the refusals cannot pass vacuously.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import botocore.exceptions
import pytest
import s3front_e2e_support as sup

UNSIGNED = "There were headers present in the request which were not signed"
SECRET_BYTES = b"private bytes the signer can read\n"


def _send_url(
    server: Any, method: str, url: str, headers: Mapping[str, str], body: bytes
) -> sup.RawResponse:
    split = urlsplit(url)
    return sup.send_raw(
        server.scheme,
        server.port,
        method,
        f"{split.path}?{split.query}",
        {"host": split.netloc, **headers},
        body,
        ssl_context=server.ssl_context(),
    )


def _presign(
    server: Any,
    method: str,
    path: str,
    *,
    params: Mapping[str, str] | None = None,
    signed_headers: Mapping[str, str] | None = None,
) -> str:
    """A SigV4 presigned URL signing `params` into the query and `signed_headers` (and host)
    as headers; the payload line is X-Amz-Content-Sha256 when given, else UNSIGNED-PAYLOAD.
    boto3 cannot pin a payload hash in a presigned URL, hence this small presigner."""
    now = dt.datetime.now(dt.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{amz_date[:8]}/{server.region}/s3/aws4_request"
    headers = {"host": f"127.0.0.1:{server.port}"}
    headers.update({k.lower(): v for k, v in (signed_headers or {}).items()})
    names = sorted(headers)
    query = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{server.access_key}/{scope}",
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": "300",
        "X-Amz-SignedHeaders": ";".join(names),
        **(params or {}),
    }
    raw_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in query.items()
    )
    creq = "\n".join(
        [
            method,
            path,
            sup.canonical_query(raw_query),
            "".join(f"{n}:{headers[n]}\n" for n in names),
            ";".join(names),
            query.get("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"),
        ]
    )
    sts = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()]
    )
    key = sup.signing_key(server.secret_key, amz_date[:8], server.region)
    signature = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    return f"{server.endpoint}{path}?{raw_query}&X-Amz-Signature={signature}"


def _assert_unsigned_refused(resp: sup.RawResponse, *names: str) -> None:
    assert resp.status == 403, resp
    assert resp.error_code == "AccessDenied", resp
    root = resp.xml()
    assert sup.find_text(root, "Message") == [UNSIGNED], resp
    assert sup.find_text(root, "HeadersNotSigned") == [", ".join(sorted(names))], resp


def _absent(s3: Any, bucket: str, key: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.head_object(Bucket=bucket, Key=key)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def _anonymous_get(server: Any, bucket: str, key: str) -> sup.RawResponse:
    return server.raw("GET", f"/{bucket}/{key}", sign=False)


# -- item 1: unsigned x-amz-* headers on a presigned URL ------------------------------------------


def test_presigned_put_cannot_become_a_public_copy_of_a_private_object(
    server: Any, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="secret", Body=SECRET_BYTES)
    assert _anonymous_get(server, bucket, "secret").status == 403  # private to start with
    url = server.client(signature_version="s3v4").generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "upload"}, ExpiresIn=300
    )
    assert "X-Amz-Signature=" in url
    attack = {"x-amz-copy-source": f"{bucket}/secret", "x-amz-acl": "public-read"}
    resp = _send_url(server, "PUT", url, attack, b"")
    _assert_unsigned_refused(resp, "x-amz-acl", "x-amz-copy-source")
    _absent(s3, bucket, "upload")
    assert _anonymous_get(server, bucket, "upload").status != 200

    # Each header alone is refused too.
    for name, value in [*attack.items(), ("x-amz-grant-full-control", 'uri="AllUsers"')]:
        _assert_unsigned_refused(_send_url(server, "PUT", url, {name: value}, b"x"), name)
    _absent(s3, bucket, "upload")

    # The URL itself still works for what it was signed for: a plain upload.
    assert _send_url(server, "PUT", url, {}, b"mine").status == 200
    assert s3.get_object(Bucket=bucket, Key="upload")["Body"].read() == b"mine"
    assert _anonymous_get(server, bucket, "upload").status == 403


def test_presigned_copy_with_signed_headers_is_honoured(server: Any, s3: Any, bucket: str) -> None:
    """Positive control: the same copy and ACL, signed into the URL by boto3, succeed."""
    s3.put_object(Bucket=bucket, Key="secret", Body=SECRET_BYTES)
    url = server.client(signature_version="s3v4").generate_presigned_url(
        "copy_object",
        Params={
            "Bucket": bucket,
            "Key": "copy",
            "CopySource": f"{bucket}/secret",
            "ACL": "public-read",
        },
        ExpiresIn=300,
    )
    assert "x-amz-acl" in url and "x-amz-copy-source" in url  # in X-Amz-SignedHeaders
    headers = {"x-amz-copy-source": f"{bucket}/secret", "x-amz-acl": "public-read"}
    resp = _send_url(server, "PUT", url, headers, b"")
    assert resp.status == 200, resp
    public = _anonymous_get(server, bucket, "copy")
    assert public.status == 200 and public.body == SECRET_BYTES


def test_sigv2_presigned_put_signs_every_amz_header(server: Any, s3: Any, bucket: str) -> None:
    """SigV2 puts every x-amz-* header in its string to sign: adding one breaks the signature."""
    s3.put_object(Bucket=bucket, Key="secret", Body=SECRET_BYTES)
    url = server.client(signature_version="s3").generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "upload"}, ExpiresIn=300
    )
    assert "AWSAccessKeyId=" in url
    attack = {"x-amz-copy-source": f"{bucket}/secret", "x-amz-acl": "public-read"}
    for headers in (attack, {"X-AMZ-ACL": "public-read"}, {"x-amz-meta-a": ""}):
        resp = _send_url(server, "PUT", url, headers, b"")
        assert resp.status == 403 and resp.error_code == "SignatureDoesNotMatch", resp
    _absent(s3, bucket, "upload")
    assert _send_url(server, "PUT", url, {}, b"mine").status == 200  # control


def test_presigned_signed_query_parameter_cannot_be_overridden_by_a_header(
    server: Any, s3: Any, bucket: str
) -> None:
    """An x-amz-* parameter in the (signed) query is not a licence to send that header."""
    url = _presign(server, "PUT", f"/{bucket}/k", params={"x-amz-acl": "private"})
    resp = _send_url(server, "PUT", url, {"x-amz-acl": "public-read"}, b"data")
    _assert_unsigned_refused(resp, "x-amz-acl")
    _absent(s3, bucket, "k")
    assert _send_url(server, "PUT", url, {}, b"data").status == 200  # control
    assert _anonymous_get(server, bucket, "k").status == 403


# -- item 1: unsigned x-amz-* headers on a header-signed request ----------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x-amz-acl", "public-read"),
        ("x-amz-grant-read", 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'),
        ("x-amz-meta-note", "added later"),
    ],
)
def test_header_auth_with_an_added_unsigned_header_is_refused(
    server: Any, s3: Any, bucket: str, name: str, value: str
) -> None:
    body = b"header-signed body"
    path = f"/{bucket}/k"
    host = f"127.0.0.1:{server.port}"
    signed = sup.sign_v4(
        "PUT",
        path,
        "",
        {"host": host},
        hashlib.sha256(body).hexdigest(),
        server.access_key,
        server.secret_key,
        server.region,
    )
    headers = {**signed.headers, name: value}
    resp = sup.send_raw(
        server.scheme, server.port, "PUT", path, headers, body, ssl_context=server.ssl_context()
    )
    _assert_unsigned_refused(resp, name)
    _absent(s3, bucket, "k")

    # Positive control: the same header, signed, is accepted and applied.
    resp = server.raw("PUT", path, headers={name: value}, body=body)
    assert resp.status == 200, resp
    if name != "x-amz-meta-note":
        assert _anonymous_get(server, bucket, "k").body == body
    else:
        assert s3.head_object(Bucket=bucket, Key="k")["Metadata"] == {"note": value}


def test_header_auth_copy_source_must_be_signed(server: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="secret", Body=SECRET_BYTES)
    path = f"/{bucket}/copy"
    host = f"127.0.0.1:{server.port}"
    empty = hashlib.sha256(b"").hexdigest()
    signed = sup.sign_v4(
        "PUT", path, "", {"host": host}, empty, server.access_key, server.secret_key, server.region
    )
    headers = {**signed.headers, "x-amz-copy-source": f"{bucket}/secret"}
    resp = sup.send_raw(
        server.scheme, server.port, "PUT", path, headers, b"", ssl_context=server.ssl_context()
    )
    _assert_unsigned_refused(resp, "x-amz-copy-source")
    _absent(s3, bucket, "copy")
    resp = server.raw("PUT", path, headers={"x-amz-copy-source": f"{bucket}/secret"})
    assert resp.status == 200, resp  # positive control
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == SECRET_BYTES


# -- item 2: a presigned URL's pinned payload hash --------------------------------------------------

PINNED = b"the only bytes this URL may store\n"
OTHER = b"anything else at all\n"


def _unsigned_trailer_body(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n"


@pytest.mark.parametrize(
    ("mode", "body"),
    [
        ("UNSIGNED-PAYLOAD", OTHER),
        ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", _unsigned_trailer_body(OTHER)),
    ],
    ids=["unsigned", "streaming"],
)
def test_presigned_pinned_payload_cannot_be_unpinned_by_a_header(
    server: Any, s3: Any, bucket: str, mode: str, body: bytes
) -> None:
    pin = hashlib.sha256(PINNED).hexdigest()
    url = _presign(server, "PUT", f"/{bucket}/pinned", params={"X-Amz-Content-Sha256": pin})
    headers = {"x-amz-content-sha256": mode}
    if mode.startswith("STREAMING"):
        headers["content-encoding"] = "aws-chunked"
    resp = _send_url(server, "PUT", url, headers, body)
    _assert_unsigned_refused(resp, "x-amz-content-sha256")
    _absent(s3, bucket, "pinned")

    # Controls: the pin holds without the header, and the pinned bytes are accepted.
    resp = _send_url(server, "PUT", url, {}, OTHER)
    assert resp.status == 400 and resp.error_code == "XAmzContentSHA256Mismatch", resp
    _absent(s3, bucket, "pinned")
    assert _send_url(server, "PUT", url, {}, PINNED).status == 200
    assert s3.get_object(Bucket=bucket, Key="pinned")["Body"].read() == PINNED


def test_presigned_signed_payload_header_must_agree_with_the_pin(
    server: Any, s3: Any, bucket: str
) -> None:
    pin = hashlib.sha256(PINNED).hexdigest()
    path = f"/{bucket}/pinned"
    # Signed and equal to the pin: accepted (positive control for the signed-header path).
    agreeing = _presign(
        server,
        "PUT",
        path,
        params={"X-Amz-Content-Sha256": pin},
        signed_headers={"x-amz-content-sha256": pin},
    )
    assert _send_url(server, "PUT", agreeing, {"x-amz-content-sha256": pin}, PINNED).status == 200
    s3.delete_object(Bucket=bucket, Key="pinned")
    # Signed but contradicting the pin: refused, nothing stored.
    contradicting = _presign(
        server,
        "PUT",
        path,
        params={"X-Amz-Content-Sha256": pin},
        signed_headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"},
    )
    headers = {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    resp = _send_url(server, "PUT", contradicting, headers, OTHER)
    assert resp.status == 400 and resp.error_code == "InvalidRequest", resp
    _absent(s3, bucket, "pinned")
