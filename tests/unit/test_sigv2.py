"""SigV2 against real signers: botocore (boto3 `signature_version='s3'`, HmacV1Auth and
HmacV1QueryAuth) and s3cmd's own `S3.Crypto` functions, plus tampering, expiry and skew."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from authkit import AK, KEYS, SECRET, auth, boto3_presigned, boto3_request, make_request, read, run

from s3front import errors
from s3front.auth import sigv2
from s3front.request import S3Request, parse_query


def now() -> datetime:
    return datetime.now(UTC)


V2_CASES: list[tuple[str, dict[str, object]]] = [
    ("list_objects", {"Bucket": "bkt"}),  # bucket root: signed "/bkt/", sent "/bkt"
    ("list_objects", {"Bucket": "bkt", "Prefix": "a b/", "Delimiter": "/"}),
    ("head_bucket", {"Bucket": "bkt"}),
    ("get_bucket_acl", {"Bucket": "bkt"}),
    ("get_bucket_versioning", {"Bucket": "bkt"}),
    ("put_object", {"Bucket": "bkt", "Key": "dir/a b+ü$.txt", "Body": b"hello",
                    "ContentType": "text/plain", "Metadata": {"Color": "blue"}}),
    ("get_object", {"Bucket": "bkt", "Key": "k", "VersionId": "v 1",
                    "ResponseContentDisposition": "attachment; filename=\"a b\""}),
    ("upload_part", {"Bucket": "bkt", "Key": "k", "UploadId": "u+1/2", "PartNumber": 2,
                     "Body": b"x"}),
    ("create_multipart_upload", {"Bucket": "bkt", "Key": "k"}),
    ("delete_objects", {"Bucket": "bkt", "Delete": {"Objects": [{"Key": "a"}]}}),
    ("get_object_tagging", {"Bucket": "bkt", "Key": "k"}),
]  # fmt: skip


@pytest.mark.parametrize("style", ["path", "virtual"])
@pytest.mark.parametrize(("op", "params"), V2_CASES)
def test_botocore_hmacv1_requests_verify(op: str, params: dict[str, object], style: str) -> None:
    req, raw = boto3_request(op, signature_version="s3", addressing_style=style, **params)
    assert req.headers["authorization"].startswith("AWS ")
    bucket = "bkt"
    virtual = req.host.startswith("bkt.")
    assert virtual == (style == "virtual")
    result = run(auth(req, KEYS, now(), raw, bucket=bucket, virtual_host=virtual))
    assert result.principal is not None and result.principal.access_key == AK
    assert run(read(result.body)) == raw


def _replace(req: S3Request, **changes: object) -> S3Request:
    if "raw_query" in changes:
        changes["query"] = parse_query(str(changes["raw_query"]))
    return dataclasses.replace(req, **changes)  # type: ignore[arg-type]


def _header(req: S3Request, name: str, value: str | None) -> S3Request:
    headers = dict(req.headers)
    if value is None:
        headers.pop(name, None)
    else:
        headers[name] = value
    return dataclasses.replace(req, headers=headers)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda r: _replace(r, raw_path="/bkt/other"), errors.SignatureDoesNotMatch),
        (lambda r: _replace(r, raw_query="uploadId=8&partNumber=2"), errors.SignatureDoesNotMatch),
        (lambda r: _replace(r, raw_query=r.raw_query + "&versionId=3"),
         errors.SignatureDoesNotMatch),
        (lambda r: _replace(r, method="POST"), errors.SignatureDoesNotMatch),
        (lambda r: _header(r, "content-type", "text/html"), errors.SignatureDoesNotMatch),
        (lambda r: _header(r, "x-amz-meta-color", "red"), errors.SignatureDoesNotMatch),
        (lambda r: _header(r, "x-amz-acl", "public-read"), errors.SignatureDoesNotMatch),
        (lambda r: _header(r, "date", None), errors.AccessDenied),
        (lambda r: _header(r, "authorization", "AWS " + AK), errors.InvalidArgument),
        (lambda r: _header(r, "authorization", "AWS NOBODY:abc="), errors.InvalidAccessKeyId),
    ],
)  # fmt: skip
def test_tampered_hmacv1_request_fails(change: object, error: type[Exception]) -> None:
    req, raw = boto3_request(
        "put_object", signature_version="s3", Bucket="bkt", Key="k", Body=b"x",
    )  # fmt: skip
    req = _header(req, "x-amz-meta-color", "blue")
    with pytest.raises(errors.SignatureDoesNotMatch):
        run(auth(req, KEYS, now(), raw, bucket="bkt"))  # header added after signing
    req, raw = boto3_request(
        "upload_part", signature_version="s3", Bucket="bkt", Key="k", UploadId="9",
        PartNumber=2, Body=b"x",
    )  # fmt: skip
    run(auth(req, KEYS, now(), raw, bucket="bkt"))
    with pytest.raises(error):
        run(auth(change(req), KEYS, now(), raw, bucket="bkt"))  # type: ignore[operator]


@pytest.mark.parametrize("minutes", [-16, 16])
def test_hmacv1_skewed_clock(minutes: int) -> None:
    req, _ = boto3_request("head_bucket", signature_version="s3", Bucket="bkt")
    with pytest.raises(errors.RequestTimeTooSkewed):
        run(auth(req, KEYS, now() + timedelta(minutes=minutes), bucket="bkt"))


# -- presigned V2 (botocore HmacV1QueryAuth) ----------------------------------------------------


@pytest.mark.parametrize("style", ["path", "virtual"])
def test_botocore_presigned_v2_verifies(style: str) -> None:
    req = boto3_presigned(
        "get_object",
        signature_version="s3",
        addressing_style=style,
        Bucket="bkt",
        Key="a b+c.txt",
        ResponseContentType="text/plain",
    )
    assert "AWSAccessKeyId=" in req.raw_query
    result = run(auth(req, KEYS, now(), bucket="bkt", virtual_host=style == "virtual"))
    assert result.principal is not None and result.principal.access_key == AK


def test_presigned_v2_put_with_amz_headers_moved_into_the_query() -> None:
    req = boto3_presigned(
        "put_object", signature_version="s3", Bucket="bkt", Key="k", Metadata={"a": "b"}
    )
    assert "x-amz-meta-a=b" in req.raw_query
    assert run(auth(req, KEYS, now(), bucket="bkt")).principal is not None
    tampered = _replace(req, raw_query=req.raw_query.replace("x-amz-meta-a=b", "x-amz-meta-a=c"))
    with pytest.raises(errors.SignatureDoesNotMatch):
        run(auth(tampered, KEYS, now(), bucket="bkt"))


def test_presigned_v2_expired() -> None:
    req = boto3_presigned("get_object", signature_version="s3", expires=60, Bucket="bkt", Key="k")
    run(auth(req, KEYS, now() + timedelta(seconds=55), bucket="bkt"))
    with pytest.raises(errors.AccessDenied, match="Request has expired"):
        run(auth(req, KEYS, now() + timedelta(seconds=65), bucket="bkt"))


def test_presigned_v2_tampered_expires_fails() -> None:
    req = boto3_presigned("get_object", signature_version="s3", expires=60, Bucket="bkt", Key="k")
    expires = req.param("Expires")
    assert expires is not None
    q = req.raw_query.replace(f"Expires={expires}", f"Expires={int(expires) + 3600}")
    with pytest.raises(errors.SignatureDoesNotMatch):
        run(auth(_replace(req, raw_query=q), KEYS, now(), bucket="bkt"))


# -- s3cmd's own signer -------------------------------------------------------------------------


def _s3cmd_config() -> object:
    from S3.Config import Config

    cfg = Config()
    cfg.access_key, cfg.secret_key = AK, SECRET
    cfg.host_base, cfg.host_bucket = "localhost:9000", "localhost:9000"
    return cfg


@pytest.mark.parametrize(
    ("method", "uri", "params", "virtual"),
    [
        ("GET", "/", {}, False),
        ("GET", "/bkt/", {"acl": None}, False),
        ("GET", "/bkt/", {"location": None}, True),
        ("PUT", "/bkt/dir/a b+ü.txt", {"partNumber": "1", "uploadId": "u 1"}, False),
        ("POST", "/bkt/", {"delete": None}, True),
        ("GET", "/bkt/", {"prefix": "a b", "delimiter": "/", "marker": "m"}, False),
        ("DELETE", "/bkt/k", {"versionId": "v1"}, True),
    ],
)
def test_s3cmd_sign_request_v2_verifies(
    method: str, uri: str, params: dict[str, str | None], virtual: bool
) -> None:
    from S3 import Crypto
    from S3.BaseUtils import s3_quote
    from S3.SortedDict import SortedDict

    _s3cmd_config()
    date = format_datetime(now(), usegmt=False).replace("-0000", "+0000")
    headers = SortedDict({"x-amz-date": date, "content-type": "text/plain"}, ignore_case=True)
    signed = Crypto.sign_request_v2(method, uri, params, headers)
    # s3cmd sends the quoted uri (minus the bucket when virtual-hosted) and its parameters.
    bucket = uri.split("/")[1] or None
    sent_path = s3_quote(uri, quote_backslashes=False, unicode_output=True)
    if virtual and bucket:
        sent_path = sent_path[len(bucket) + 1 :]
    target = sent_path + Crypto.format_param_str(params)
    req = make_request(method, target, {"host": "localhost:9000", **dict(signed.items())})
    result = run(auth(req, KEYS, now(), bucket=bucket, virtual_host=virtual))
    assert result.principal is not None
    with pytest.raises(errors.SignatureDoesNotMatch):
        run(auth(_header(req, "content-type", "text/html"), KEYS, now(), bucket=bucket))


def test_s3cmd_signurl_verifies_and_expires() -> None:
    from S3 import Crypto
    from S3.S3Uri import S3Uri

    _s3cmd_config()
    expiry = int(now().timestamp()) + 120
    url = Crypto.sign_url_v2(S3Uri("s3://bkt/a b+c.txt"), expiry)
    target = url.split("localhost:9000", 1)[1]
    req = make_request("GET", target, {"host": "localhost:9000"})
    assert run(auth(req, KEYS, now(), bucket="bkt")).principal is not None
    with pytest.raises(errors.AccessDenied):
        run(auth(req, KEYS, now() + timedelta(seconds=121), bucket="bkt"))


# -- the pure pieces ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_query", "expected"),
    [
        ("", {""}),
        ("prefix=a&max-keys=2", {""}),
        ("acl", {"?acl"}),
        ("uploads=", {"?uploads", "?uploads="}),
        ("versionId=a%20b&acl", {"?acl&versionId=a b", "?acl&versionId=a%20b"}),
        ("uploadId=u&partNumber=1&x-id=UploadPart", {"?partNumber=1&uploadId=u"}),
        ("legal-hold&versionId=1", {"?legal-hold&versionId=1"}),
    ],
)
def test_subresource_strings(raw_query: str, expected: set[str]) -> None:
    assert sigv2.subresource_strings(raw_query) == expected


def test_string_to_sign_layout_from_the_spec() -> None:
    headers = {
        "content-md5": "md5==",
        "content-type": "image/jpeg",
        "x-amz-meta-b": " two,three ",
        "x-amz-date": "Tue, 27 Mar 2007 21:20:26 +0000",
        "x-amz-acl": "public-read",
    }
    texts = sigv2.candidate_strings("PUT", headers, [""], "/photos/p.jpg", "acl", "bkt", True)
    assert texts == {
        "PUT\nmd5==\nimage/jpeg\n\n"
        "x-amz-acl:public-read\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\n"
        "x-amz-meta-b:two,three\n/bkt/photos/p.jpg?acl"
    }


def test_known_hmacv1_signature() -> None:
    # botocore's HmacV1Auth.sign_string on the same text gives the same value.
    from botocore.auth import HmacV1Auth
    from botocore.credentials import Credentials

    text = "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg"
    expected = HmacV1Auth(Credentials(AK, SECRET)).sign_string(text)
    assert sigv2.sign(SECRET, text) == expected
    assert sigv2.matches(SECRET, [text], expected)
    assert not sigv2.matches(SECRET, [text + "x"], expected)


# -- every x-amz-* header is signed by construction (issue 14) --------------------------------

NOW_DATE = "<now>"


def _value(value: str) -> str:
    return format_datetime(datetime.now(UTC), usegmt=True) if value == NOW_DATE else value


ADDED_HEADERS = [
    ("x-amz-copy-source", "bkt/private"),
    ("x-amz-acl", "public-read"),
    ("x-amz-grant-full-control", 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'),
    ("x-amz-meta-other", "b"),
    ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
    ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
    ("x-amz-decoded-content-length", "1"),
    # The current time, taken when the test runs (a value fixed at collection goes stale: a
    # whole-suite run reaches this test more than 15 minutes later, and skew is refused first).
    ("x-amz-date", NOW_DATE),
    ("X-AMZ-TAGGING", "a=b"),  # names arrive in any case
    ("x-amz-a", ""),  # an empty value is still a line of the string to sign
    ("x-amz-acl", "private"),  # a repeat of a signed header: joined "private,private"
    ("x-amz-meta-a", "b"),
]


def _v2_put() -> tuple[S3Request, list[tuple[str, str]], bytes]:
    req, raw = boto3_request(
        "put_object", signature_version="s3", Bucket="bkt", Key="k", Body=b"x",
        ACL="private", Metadata={"a": "b"},
    )  # fmt: skip
    assert req.headers["x-amz-acl"] == "private" and req.headers["x-amz-meta-a"] == "b"
    return req, list(req.headers.items()), raw


@pytest.mark.parametrize(("name", "value"), ADDED_HEADERS)
def test_hmacv1_header_any_added_amz_header_breaks_the_signature(name: str, value: str) -> None:
    req, headers, raw = _v2_put()
    run(auth(req, KEYS, now(), raw, bucket="bkt"))
    added = make_request(
        req.method, f"{req.raw_path}?{req.raw_query}", [*headers, (name, _value(value))]
    )
    with pytest.raises(errors.SignatureDoesNotMatch):
        run(auth(added, KEYS, now(), raw, bucket="bkt"))


def test_hmacv1_amz_header_whitespace_folds_as_signed() -> None:
    # The value is trimmed as SigV2 prescribes; only a different value changes the string.
    req, headers, raw = _v2_put()
    padded = [(n, f"  {v} ") if n == "x-amz-acl" else (n, v) for n, v in headers]
    run(auth(make_request(req.method, req.raw_path, padded), KEYS, now(), raw, bucket="bkt"))
    inner = [(n, "pri vate") if n == "x-amz-acl" else (n, v) for n, v in headers]
    with pytest.raises(errors.SignatureDoesNotMatch):
        run(auth(make_request(req.method, req.raw_path, inner), KEYS, now(), raw, bucket="bkt"))


@pytest.mark.parametrize(("name", "value"), ADDED_HEADERS)
def test_presigned_v2_any_added_amz_header_breaks_the_signature(name: str, value: str) -> None:
    # botocore moves x-amz-* headers into the query; a header sent beside them counts as
    # signed only when it repeats exactly what the query signed.
    req = boto3_presigned(
        "put_object", signature_version="s3", Bucket="bkt", Key="k", ACL="private",
        Metadata={"a": "b"},
    )  # fmt: skip
    assert "x-amz-acl=private" in req.raw_query and "x-amz-meta-a=b" in req.raw_query
    assert run(auth(req, KEYS, now(), bucket="bkt")).principal is not None
    added = _header(req, name.lower(), _value(value))
    if (name, value) in {("x-amz-acl", "private"), ("x-amz-meta-a", "b")}:
        # The very value the query signed: the same request (as S3 reads a hoisted header).
        assert run(auth(added, KEYS, now(), bucket="bkt")).principal is not None
        return
    with pytest.raises(errors.SignatureDoesNotMatch):
        run(auth(added, KEYS, now(), bucket="bkt"))


def test_canonical_amz_headers_hold_every_amz_header() -> None:
    headers = {"x-amz-b": "2", "x-amz-a": " 1 ", "x-amz-": "", "content-type": "t", "x-amzn-x": "n"}
    assert sigv2.canonical_amz_headers(headers) == "x-amz-:\nx-amz-a:1\nx-amz-b:2\n"
