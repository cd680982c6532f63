"""`authenticate` against requests signed by botocore itself (boto3 clients, captured just
before sending), plus tampering, expiry, skew, anonymous requests and mixed mechanisms."""

from __future__ import annotations

import dataclasses
import hashlib
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
    from_url,
    key,
    make_request,
    read,
    run,
)

from s3front import errors
from s3front.auth import sigv4
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


# -- signed means signed: x-amz-* headers the signature does not cover (issue 14) ---------------

UNSIGNED = "There were headers present in the request which were not signed"

# Headers a handler acts on (copy, ACLs, metadata, checksums, body framing) and a few that only
# SDKs send: none may ride along unsigned.
ADDED_HEADERS = [
    ("x-amz-copy-source", "bkt/private"),
    ("x-amz-acl", "public-read"),
    ("x-amz-grant-full-control", 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'),
    ("x-amz-meta-a", "b"),
    ("x-amz-tagging", "a=b"),
    ("x-amz-content-sha256", sigv4.UNSIGNED_PAYLOAD),
    ("x-amz-content-sha256", sigv4.STREAMING_UNSIGNED_TRAILER),
    ("x-amz-decoded-content-length", "5"),
    ("x-amz-trailer", "x-amz-checksum-crc32"),
    ("x-amz-sdk-checksum-algorithm", "CRC32"),
    ("x-amz-checksum-crc32", "AAAAAA=="),
    ("x-amz-user-agent", "aws-sdk-js/3"),
    ("x-amz-date", "20990101T000000Z"),
    ("x-amz-", ""),
]


def _unsigned_error(info: pytest.ExceptionInfo[errors.AccessDenied], *names: str) -> None:
    assert info.value.message == UNSIGNED
    assert dict(info.value.extra) == {"HeadersNotSigned": ", ".join(sorted(names))}


@pytest.mark.parametrize(("name", "value"), ADDED_HEADERS)
def test_presigned_v4_refuses_any_unsigned_amz_header(name: str, value: str) -> None:
    req = boto3_presigned("put_object", signature_version="s3v4", Bucket="bkt", Key="k")
    req = _with_header("content-length", "5")(req)
    assert run(auth(req, KEYS, now(), b"hello")).principal is not None  # as signed: accepted
    with pytest.raises(errors.AccessDenied) as info:
        run(auth(_with_header(name, value)(req), KEYS, now(), b"hello"))
    _unsigned_error(info, name)


def test_presigned_v4_copy_and_acl_attack_names_every_unsigned_header() -> None:
    req = boto3_presigned("put_object", signature_version="s3v4", Bucket="bkt", Key="k")
    req = _with_header("x-amz-copy-source", "bkt/private")(req)
    req = _with_header("x-amz-acl", "public-read")(req)
    with pytest.raises(errors.AccessDenied) as info:
        run(auth(req, KEYS, now()))
    _unsigned_error(info, "x-amz-acl", "x-amz-copy-source")
    assert errors.AccessDenied.status == 403


def test_presigned_v4_with_the_headers_signed_is_accepted() -> None:
    req = boto3_presigned(
        "copy_object",
        signature_version="s3v4",
        Bucket="bkt",
        Key="k",
        CopySource="bkt/private",
        ACL="public-read",
    )
    req = dataclasses.replace(req, method="PUT")
    signed = req.param("X-Amz-SignedHeaders") or ""
    assert signed.split(";") == ["host", "x-amz-acl", "x-amz-copy-source"]
    req = _with_header("x-amz-copy-source", "bkt/private")(req)
    req = _with_header("x-amz-acl", "public-read")(req)
    assert run(auth(req, KEYS, now())).principal is not None


def test_presigned_v4_unsigned_header_cannot_override_a_signed_query_parameter() -> None:
    # aws-sdk-js v3 hoists x-amz-* headers into the (signed) query; a header of the same name
    # sent beside it is still an unsigned header.
    req = boto3_presigned("get_object", signature_version="s3v4", Bucket="bkt", Key="k")
    req = _with_query("x-amz-acl=private")(req)
    with pytest.raises(errors.SignatureDoesNotMatch):
        run(auth(req, KEYS, now()))  # the query is signed: adding a parameter breaks it
    req = boto3_presigned(
        "put_object", signature_version="s3v4", Bucket="bkt", Key="k", ACL="private"
    )
    assert "x-amz-acl" in (req.param("X-Amz-SignedHeaders") or "")
    req = _with_header("x-amz-acl", "private")(req)
    assert run(auth(req, KEYS, now())).principal is not None
    with pytest.raises(errors.SignatureDoesNotMatch):
        run(auth(_with_header("x-amz-acl", "public-read")(req), KEYS, now()))


@pytest.mark.parametrize(("name", "value"), [h for h in ADDED_HEADERS if h[0] != "x-amz-date"])
def test_header_v4_refuses_any_unsigned_amz_header(name: str, value: str) -> None:
    req, _ = boto3_request("get_object", Bucket="bkt", Key="k")
    if name == "x-amz-content-sha256":
        # The payload line of the canonical request: changing it breaks the signature, which is
        # why the header form may leave it out of SignedHeaders.
        with pytest.raises(errors.SignatureDoesNotMatch):
            run(auth(_with_header(name, value)(req), KEYS, now()))
        return
    with pytest.raises(errors.AccessDenied) as info:
        run(auth(_with_header(name, value)(req), KEYS, now()))
    _unsigned_error(info, name)


def test_header_v4_other_unsigned_headers_are_not_amz_headers() -> None:
    # What SDKs leave unsigned on purpose (botocore: expect, user-agent, x-amzn-trace-id).
    req, _ = boto3_request("get_object", Bucket="bkt", Key="k")
    for name, value in [
        ("x-amzn-trace-id", "Root=1-0"),
        ("user-agent", "x"),
        ("expect", "100-continue"),
        ("transfer-encoding", "chunked"),
    ]:
        req = _with_header(name, value)(req)
    assert run(auth(req, KEYS, now())).principal is not None


def test_header_v4_payload_hash_left_out_of_signed_headers_is_bound_anyway() -> None:
    # botocore's SigV4Auth signs the body's hash without sending the header; sending it
    # afterwards (the AWS documentation example's form) leaves it out of SignedHeaders.
    req = _botocore_signed("/bkt/k", signer="SigV4Auth")
    assert "x-amz-content-sha256" not in req.headers
    empty = hashlib.sha256(b"").hexdigest()
    accepted = _with_header("x-amz-content-sha256", empty)(req)
    assert run(auth(accepted, KEYS, now())).principal is not None
    for value in (sigv4.UNSIGNED_PAYLOAD, sigv4.STREAMING_UNSIGNED_TRAILER, "0" * 64):
        with pytest.raises(errors.SignatureDoesNotMatch):
            run(auth(_with_header("x-amz-content-sha256", value)(req), KEYS, now()))


# -- a presigned URL's payload mode is what was signed (issue 14, item 2) ---------------------------

PINNED = b"hello"
PIN = hashlib.sha256(PINNED).hexdigest()


def _presigned_pinned(pin: str | None, header: str | None) -> S3Request:
    """A presigned PUT signed with botocore's SigV4QueryAuth: `pin` as X-Amz-Content-Sha256
    in the query (signed), `header` as a signed x-amz-content-sha256 header."""
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    params = {"X-Amz-Content-Sha256": pin} if pin is not None else {}
    headers = {"x-amz-content-sha256": header} if header is not None else {}
    request = AWSRequest(
        method="PUT", url="http://localhost:9000/bkt/k", headers=headers, params=params
    )

    class Presigner(SigV4QueryAuth):
        def payload(self, request: AWSRequest) -> str:
            return pin if pin is not None else sigv4.UNSIGNED_PAYLOAD

    Presigner(Credentials(AK, SECRET), "s3", "us-east-1", expires=300).add_auth(request)
    return from_url(
        "PUT",
        request.url,
        {**headers, "content-length": str(len(PINNED)), "host": "localhost:9000"},
    )


def test_presigned_pin_holds_and_an_unsigned_header_cannot_lift_it() -> None:
    req = _presigned_pinned(PIN, None)
    assert req.param("X-Amz-Content-Sha256") == PIN
    assert run(read(run(auth(req, KEYS, now(), PINNED)).body)) == PINNED
    with pytest.raises(errors.XAmzContentSHA256Mismatch):
        run(read(run(auth(req, KEYS, now(), b"HELLO")).body))
    for mode in (sigv4.UNSIGNED_PAYLOAD, sigv4.STREAMING_UNSIGNED_TRAILER, sigv4.STREAMING_SIGNED):
        with pytest.raises(errors.AccessDenied) as info:
            run(auth(_with_header("x-amz-content-sha256", mode)(req), KEYS, now(), b"HELLO"))
        _unsigned_error(info, "x-amz-content-sha256")


def test_presigned_signed_payload_header_must_equal_the_pin() -> None:
    agreeing = _presigned_pinned(PIN, PIN.upper())
    assert run(read(run(auth(agreeing, KEYS, now(), PINNED)).body)) == PINNED
    with pytest.raises(errors.XAmzContentSHA256Mismatch):
        run(read(run(auth(agreeing, KEYS, now(), b"HELLO")).body))
    contradicting = _presigned_pinned(PIN, sigv4.UNSIGNED_PAYLOAD)
    with pytest.raises(errors.InvalidRequest):
        run(auth(contradicting, KEYS, now(), b"HELLO"))


def test_presigned_without_pin_a_signed_header_may_only_add_a_check() -> None:
    unpinned = _presigned_pinned(None, None)
    assert run(read(run(auth(unpinned, KEYS, now(), b"HELLO")).body)) == b"HELLO"
    stricter = _presigned_pinned(None, PIN)
    assert run(read(run(auth(stricter, KEYS, now(), PINNED)).body)) == PINNED
    with pytest.raises(errors.XAmzContentSHA256Mismatch):
        run(read(run(auth(stricter, KEYS, now(), b"HELLO")).body))
    with pytest.raises(errors.InvalidArgument):
        run(auth(_presigned_pinned(None, "sha256"), KEYS, now(), PINNED))
