"""`authenticate` against requests signed by botocore itself (boto3 clients, captured just
before sending), plus tampering, expiry, skew, anonymous requests and mixed mechanisms."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from authkit import (
    AK,
    KEYS,
    SECRET,
    Keys,
    auth,
    boto3_presigned,
    boto3_request,
    key,
    make_request,
    read,
    run,
)

from s3front import errors
from s3front.request import S3Request, parse_query


def now() -> datetime:
    return datetime.now(UTC)


ODD_KEY = "dir/a b+c~ü$%&=?.txt"

# op, params, endpoint (https makes botocore send aws-chunked with a CRC32 trailer)
V4_CASES: list[tuple[str, dict[str, object], str]] = [
    ("list_objects_v2", {"Bucket": "bkt", "Prefix": "a/b c", "Delimiter": "/"}, "http"),
    ("list_objects", {"Bucket": "bkt", "Marker": "m+1"}, "http"),
    ("head_bucket", {"Bucket": "bkt"}, "http"),
    ("get_object", {"Bucket": "bkt", "Key": ODD_KEY, "Range": "bytes=0-9"}, "http"),
    ("put_object", {"Bucket": "bkt", "Key": ODD_KEY, "Body": b"hello" * 1000}, "http"),
    ("put_object", {"Bucket": "bkt", "Key": "k", "Body": b"hello" * 100_000}, "https"),
    ("put_object", {"Bucket": "bkt", "Key": "k", "Body": b""}, "https"),
    ("create_multipart_upload", {"Bucket": "bkt", "Key": "k"}, "http"),
    ("upload_part", {"Bucket": "bkt", "Key": "k", "UploadId": "u/1", "PartNumber": 3,
                     "Body": b"x" * 70_000}, "https"),
    ("delete_objects", {"Bucket": "bkt", "Delete": {"Objects": [{"Key": "a"}]}}, "http"),
    ("get_bucket_acl", {"Bucket": "bkt"}, "http"),
]  # fmt: skip


def _body_of(params: dict[str, object]) -> bytes:
    body = params.get("Body", b"")
    assert isinstance(body, bytes)
    return body


@pytest.mark.parametrize("style", ["path", "virtual"])
@pytest.mark.parametrize(("op", "params", "scheme"), V4_CASES)
def test_botocore_sigv4_requests_verify(
    op: str, params: dict[str, object], scheme: str, style: str
) -> None:
    req, raw = boto3_request(
        op, addressing_style=style, endpoint=f"{scheme}://localhost:9000", **params
    )
    assert req.host.startswith("bkt.") == (style == "virtual")
    bucket = "bkt" if style == "virtual" else None
    result = run(auth(req, KEYS, now(), raw, bucket=bucket, virtual_host=style == "virtual"))
    assert result.principal is not None
    assert result.principal.access_key == AK and result.principal.tenant == "tenant-" + AK
    body = run(read(result.body))
    if op in ("put_object", "upload_part"):
        assert body == _body_of(params)
        assert result.body.length == len(body)
        if scheme == "https":
            assert set(result.body.trailers) == {"x-amz-checksum-crc32"}


def _with_header(name: str, value: str | None) -> Callable[[S3Request], S3Request]:
    def change(req: S3Request) -> S3Request:
        headers = dict(req.headers)
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
        return dataclasses.replace(req, headers=headers)

    return change


def _with_query(raw_query: str) -> Callable[[S3Request], S3Request]:
    def change(req: S3Request) -> S3Request:
        q = f"{req.raw_query}&{raw_query}" if req.raw_query else raw_query
        return dataclasses.replace(req, raw_query=q, query=parse_query(q))

    return change


def _with_path(path: str) -> Callable[[S3Request], S3Request]:
    return lambda req: dataclasses.replace(req, raw_path=path)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (_with_header("range", "bytes=0-10"), errors.SignatureDoesNotMatch),
        (_with_header("host", "other:9000"), errors.SignatureDoesNotMatch),
        (_with_query("x-id=GetObject"), errors.SignatureDoesNotMatch),
        (_with_query("versionId=1"), errors.SignatureDoesNotMatch),
        (_with_path("/bkt/other"), errors.SignatureDoesNotMatch),
        (_with_path("/bkt/dir//a%20b%2Bc~%C3%BC%24%25%26%3D%3F.txt"), errors.SignatureDoesNotMatch),
        (lambda r: dataclasses.replace(r, method="DELETE"), errors.SignatureDoesNotMatch),
        (_with_header("x-amz-content-sha256", None), errors.InvalidRequest),
        (_with_header("x-amz-date", None), errors.AccessDenied),
    ],
)
def test_tampered_sigv4_request_fails(
    change: Callable[[S3Request], S3Request], error: type[Exception]
) -> None:
    req, _ = boto3_request("get_object", Bucket="bkt", Key=ODD_KEY, Range="bytes=0-9")
    run(auth(req, KEYS, now()))  # the untouched request passes
    with pytest.raises(error):
        run(auth(change(req), KEYS, now()))


def test_sigv4_wrong_secret_unknown_and_revoked_keys() -> None:
    req, _ = boto3_request("head_bucket", Bucket="bkt")
    with pytest.raises(errors.SignatureDoesNotMatch):
        run(auth(req, Keys(key(AK, SECRET + "x")), now()))
    with pytest.raises(errors.InvalidAccessKeyId):
        run(auth(req, Keys(), now()))
    with pytest.raises(errors.InvalidAccessKeyId):
        run(auth(req, Keys(key(AK, SECRET, status="revoked")), now()))


@pytest.mark.parametrize("minutes", [-16, 16])
def test_sigv4_skewed_clock(minutes: int) -> None:
    req, _ = boto3_request("head_bucket", Bucket="bkt")
    with pytest.raises(errors.RequestTimeTooSkewed):
        run(auth(req, KEYS, now() + timedelta(minutes=minutes)))


def test_sigv4_any_region_in_the_scope_is_accepted_but_not_another_service() -> None:
    req, _ = boto3_request("head_bucket", Bucket="bkt")
    other_region = req.headers["authorization"].replace("/us-east-1/", "/eu-west-3/")
    req2 = _with_header("authorization", other_region)(req)
    # Same signature, other scope: it must be re-verified, so it fails as a signature...
    with pytest.raises(errors.SignatureDoesNotMatch):
        run(auth(req2, KEYS, now()))
    other_service = req.headers["authorization"].replace("/s3/", "/sqs/")
    with pytest.raises(errors.AuthorizationHeaderMalformed):
        run(auth(_with_header("authorization", other_service)(req), KEYS, now()))


def test_sigv4_client_configured_for_another_region_verifies() -> None:
    import boto3
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    del boto3
    from botocore.auth import S3SigV4Auth

    request = AWSRequest(method="GET", url="http://localhost:9000/bkt?list-type=2")
    S3SigV4Auth(Credentials(AK, SECRET), "s3", "eu-west-3").add_auth(request)
    prepared = request.prepare()
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    headers["host"] = "localhost:9000"
    req = make_request("GET", "/bkt?list-type=2", headers)
    assert run(auth(req, KEYS, now())).principal is not None


@pytest.mark.parametrize("tail", [b"", b"x"])
def test_sigv4_plain_body_hash_mismatch(tail: bytes) -> None:
    req, raw = boto3_request("put_object", Bucket="bkt", Key="k", Body=b"hello")
    assert len(req.headers["x-amz-content-sha256"]) == 64
    result = run(auth(req, KEYS, now(), raw[:-1] + (tail or b"j")))
    with pytest.raises(errors.XAmzContentSHA256Mismatch):
        run(read(result.body))


def test_sigv4_truncated_plain_body_is_incomplete() -> None:
    req, raw = boto3_request("put_object", Bucket="bkt", Key="k", Body=b"hello")
    result = run(auth(req, KEYS, now(), raw[:-1]))
    with pytest.raises(errors.IncompleteBody):
        run(read(result.body))


def test_aws_chunked_trailer_body_truncated() -> None:
    req, raw = boto3_request(
        "put_object", endpoint="https://localhost:9000", Bucket="bkt", Key="k", Body=b"abc" * 9
    )
    with pytest.raises(errors.IncompleteBody):
        run(read(run(auth(req, KEYS, now(), raw[:-9])).body))


# -- presigned V4 -------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["path", "virtual"])
def test_botocore_presigned_v4_verifies(style: str) -> None:
    req = boto3_presigned(
        "get_object",
        signature_version="s3v4",
        addressing_style=style,
        Bucket="bkt",
        Key=ODD_KEY,
        ResponseContentType="text/plain; charset=utf-8",
    )
    bucket = "bkt" if style == "virtual" else None
    result = run(auth(req, KEYS, now(), bucket=bucket, virtual_host=style == "virtual"))
    assert result.principal is not None and result.principal.access_key == AK


def test_presigned_v4_put_with_body() -> None:
    req = boto3_presigned("put_object", signature_version="s3v4", Bucket="bkt", Key="k")
    req = _with_header("content-length", "5")(req)
    result = run(auth(req, KEYS, now(), b"hello"))
    assert run(read(result.body)) == b"hello"


@pytest.mark.parametrize(
    ("expires", "at", "error"),
    [
        (60, timedelta(seconds=59), None),
        (60, timedelta(seconds=61), errors.AccessDenied),
        (604800, timedelta(days=6), None),
        (604801, timedelta(0), errors.AuthorizationQueryParametersError),
        (60, timedelta(minutes=-16), errors.AccessDenied),  # not valid yet
    ],
)
def test_presigned_v4_expiry(expires: int, at: timedelta, error: type[Exception] | None) -> None:
    req = boto3_presigned(
        "get_object", signature_version="s3v4", expires=expires, Bucket="bkt", Key="k"
    )
    if error is None:
        assert run(auth(req, KEYS, now() + at)).principal is not None
    else:
        with pytest.raises(error) as info:
            run(auth(req, KEYS, now() + at))
        if expires == 60 and at > timedelta(0):
            assert info.value.args[0] == "Request has expired"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (_with_query("versionId=2"), errors.SignatureDoesNotMatch),
        (_with_path("/bkt/other"), errors.SignatureDoesNotMatch),
        (_with_header("host", "evil:9000"), errors.SignatureDoesNotMatch),
        (lambda r: _replace_query(r, "X-Amz-Expires=3600", "X-Amz-Expires=7200"),
         errors.SignatureDoesNotMatch),
        (lambda r: _replace_query(r, "X-Amz-Algorithm=AWS4-HMAC-SHA256&", ""),
         errors.AuthorizationQueryParametersError),
        (lambda r: _replace_query(r, "X-Amz-Expires=3600", "X-Amz-Expires=soon"),
         errors.AuthorizationQueryParametersError),
        (lambda r: _replace_query(r, "%2Fs3%2F", "%2Fsqs%2F"),
         errors.AuthorizationQueryParametersError),
        (_with_header("authorization", "AWS4-HMAC-SHA256 x"), errors.InvalidArgument),
    ],
)  # fmt: skip
def test_tampered_presigned_v4_fails(
    change: Callable[[S3Request], S3Request], error: type[Exception]
) -> None:
    req = boto3_presigned("get_object", signature_version="s3v4", Bucket="bkt", Key="k")
    with pytest.raises(error):
        run(auth(change(req), KEYS, now()))


def _replace_query(req: S3Request, old: str, new: str) -> S3Request:
    assert old in req.raw_query
    q = req.raw_query.replace(old, new)
    return dataclasses.replace(req, raw_query=q, query=parse_query(q))


# -- anonymous and mixed ------------------------------------------------------------------------


def test_anonymous_request_passes_body_through() -> None:
    req = make_request("PUT", "/bkt/k", {"host": "h", "content-length": "5"})
    result = run(auth(req, KEYS, now(), b"hello", piece=2))
    assert result.principal is None
    assert result.body.length == 5
    assert run(read(result.body)) == b"hello"


def test_anonymous_short_body_is_incomplete() -> None:
    req = make_request("PUT", "/bkt/k", {"host": "h", "content-length": "6"})
    result = run(auth(req, KEYS, now(), b"hello"))
    with pytest.raises(errors.IncompleteBody):
        run(read(result.body))


def test_anonymous_body_without_length() -> None:
    req = make_request("PUT", "/bkt/k", {"host": "h"})
    result = run(auth(req, KEYS, now(), b"hello"))
    assert result.body.length is None and run(read(result.body)) == b"hello"


@pytest.mark.parametrize(
    ("target", "headers", "error"),
    [
        ("/bkt?Signature=abc", {}, errors.AccessDenied),
        ("/bkt?AWSAccessKeyId=" + AK, {}, errors.AccessDenied),
        ("/bkt?X-Amz-Credential=x", {}, errors.AuthorizationQueryParametersError),
        ("/bkt?X-Amz-Signature=" + "0" * 64, {}, errors.AuthorizationQueryParametersError),
        ("/bkt?AWSAccessKeyId=a&Signature=b", {"authorization": "AWS a:b"}, errors.InvalidArgument),
        ("/bkt", {"authorization": ""}, errors.InvalidArgument),
        ("/bkt", {"authorization": "AWS "}, errors.InvalidArgument),
        ("/bkt", {"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
         errors.InvalidRequest),
    ],
)  # fmt: skip
def test_partial_or_mixed_credentials_fail_closed(
    target: str, headers: dict[str, str], error: type[Exception]
) -> None:
    req = make_request("GET", target, {"host": "h", **headers})
    with pytest.raises(error):
        run(auth(req, KEYS, now()))


def test_body_can_be_read_once() -> None:
    req = make_request("PUT", "/bkt/k", {"host": "h", "content-length": "5"})
    result = run(auth(req, KEYS, now(), b"hello"))
    run(read(result.body))
    with pytest.raises(errors.InvalidRequest):
        run(read(result.body))


# -- botocore's signers used directly -----------------------------------------------------------


def _botocore_signed(
    target: str, signer: str = "S3SigV4Auth", headers: dict[str, str] | None = None
) -> S3Request:
    from botocore import auth as botocore_auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="PUT", url="http://localhost:9000" + target, headers=headers or {}, data=b""
    )
    getattr(botocore_auth, signer)(Credentials(AK, SECRET), "s3", "us-east-1").add_auth(request)
    signed = {k.lower(): v for k, v in request.headers.items()}
    signed["host"] = "localhost:9000"
    return make_request("PUT", target, signed)


@pytest.mark.parametrize(
    "target",
    [
        "/bkt/k?x-id=PutObject",  # the JS SDK's operation marker is signed like any parameter
        "/bkt?uploads",
        "/bkt?uploads=",
        "/bkt?delimiter=%2F&prefix=&list-type=2",
        "/bkt//a//b/",  # S3 does not normalise the path
        "/bkt/a%2Fb%20c",
    ],
)
def test_botocore_s3sigv4auth_targets(target: str) -> None:
    req = _botocore_signed(target)
    assert run(auth(req, KEYS, now())).principal is not None


def test_signed_chunks_without_content_encoding_are_decoded() -> None:
    # minio-go: STREAMING-AWS4-HMAC-SHA256-PAYLOAD with no Content-Encoding: aws-chunked.
    import hashlib

    from s3front.auth import sigv4
    from s3front.auth.chunked import ChunkSigner

    req = _botocore_signed(
        "/bkt/k",
        signer="SigV4Auth",
        headers={
            "X-Amz-Content-SHA256": sigv4.STREAMING_SIGNED,
            "X-Amz-Decoded-Content-Length": "10",
        },
    )
    assert "content-encoding" not in req.headers
    authz = sigv4.parse_authorization(req.headers["authorization"], req.headers["x-amz-date"])
    signer = ChunkSigner(
        sigv4.signing_key(SECRET, authz.credential.date, "us-east-1", "s3"),
        authz.amz_date,
        authz.credential.scope,
        authz.signature,
    )
    body, previous = b"", signer.seed
    for data in (b"0123456789", b""):
        previous = signer.chunk(previous, hashlib.sha256(data).hexdigest())
        body += f"{len(data):x};chunk-signature={previous}\r\n".encode() + data + b"\r\n"
    result = run(auth(req, KEYS, now(), body, piece=3))
    assert result.body.length == 10
    assert run(read(result.body)) == b"0123456789"
