"""Routing tests: request lines from the AWS S3 API reference examples, plus client quirks."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from s3front import errors
from s3front.request import S3Request, parse_query
from s3front.routing import ROUTES, Endpoint, required_permission, resolve

DOMAINS = ["localhost", "s3.example.com"]
COPY = {"x-amz-copy-source": "/source-bucket/sourceobject"}


def request(
    line: str, host: str = "s3.example.com", headers: Mapping[str, str] | None = None
) -> S3Request:
    """An S3Request from "METHOD /path?query" as the server would receive it."""
    method, target = line.split(" ", 1)
    path, _, query = target.partition("?")
    return S3Request(
        method=method,
        raw_path=path,
        raw_query=query,
        query=parse_query(query),
        headers={"host": host, **(headers or {})},
        host=host,
        scheme="http",
        client_ip="127.0.0.1",
    )


# Bucket-addressed examples from the AWS S3 API reference, written as sent virtual-hosted
# (Host: amzn-s3-demo-bucket.s3.amazonaws.com). Each runs both virtual-hosted and path-style.
# (request line, extra headers, expected op, expected key)
AWS_DOC_EXAMPLES: list[tuple[str, Mapping[str, str], str, str | None]] = [
    ("PUT /", {}, "CreateBucket", None),
    ("DELETE /", {}, "DeleteBucket", None),
    ("HEAD /", {}, "HeadBucket", None),
    ("GET /?location", {}, "GetBucketLocation", None),
    ("GET /", {}, "ListObjects", None),
    ("GET /?prefix=N&marker=Ned&max-keys=40", {}, "ListObjects", None),
    ("GET /?delimiter=/", {}, "ListObjects", None),
    ("GET /?list-type=2", {}, "ListObjectsV2", None),
    ("GET /?list-type=2&prefix=photos", {}, "ListObjectsV2", None),
    (
        "GET /?list-type=2&max-keys=3&prefix=E&start-after=ExampleGuide.pdf",
        {},
        "ListObjectsV2",
        None,
    ),
    ("GET /?list-type=2&delimiter=/&prefix=photos/2006/", {}, "ListObjectsV2", None),
    (
        "GET /?list-type=2&continuation-token=1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=",
        {},
        "ListObjectsV2",
        None,
    ),
    ("GET /?versions", {}, "ListObjectVersions", None),
    (
        "GET /?versions&key-marker=key3&version-id-marker=t46ZenlYTZBnj",
        {},
        "ListObjectVersions",
        None,
    ),
    ("GET /?versions&prefix=myObject&max-keys=3&delimiter=/", {}, "ListObjectVersions", None),
    ("GET /?uploads&max-uploads=3", {}, "ListMultipartUploads", None),
    ("GET /?uploads&delimiter=/&prefix=photos/2006/", {}, "ListMultipartUploads", None),
    ("GET /?acl", {}, "GetBucketAcl", None),
    ("PUT /?acl", {}, "PutBucketAcl", None),
    ("GET /?cors", {}, "GetBucketCors", None),
    ("PUT /?cors", {}, "PutBucketCors", None),
    ("DELETE /?cors", {}, "DeleteBucketCors", None),
    ("GET /?policy", {}, "GetBucketPolicy", None),
    ("PUT /?policy", {}, "PutBucketPolicy", None),
    ("DELETE /?policy", {}, "DeleteBucketPolicy", None),
    ("GET /?policyStatus", {}, "GetBucketPolicyStatus", None),
    ("GET /?versioning", {}, "GetBucketVersioning", None),
    ("PUT /?versioning", {}, "PutBucketVersioning", None),
    ("GET /?tagging", {}, "GetBucketTagging", None),
    ("PUT /?tagging", {}, "PutBucketTagging", None),
    ("DELETE /?tagging", {}, "DeleteBucketTagging", None),
    ("GET /?lifecycle", {}, "GetBucketLifecycleConfiguration", None),
    ("PUT /?lifecycle", {}, "PutBucketLifecycleConfiguration", None),
    ("DELETE /?lifecycle", {}, "DeleteBucketLifecycle", None),
    ("GET /?website", {}, "GetBucketWebsite", None),
    ("PUT /?website", {}, "PutBucketWebsite", None),
    ("DELETE /?website", {}, "DeleteBucketWebsite", None),
    ("GET /?logging", {}, "GetBucketLogging", None),
    ("PUT /?logging", {}, "PutBucketLogging", None),
    ("GET /?notification", {}, "GetBucketNotificationConfiguration", None),
    ("PUT /?notification", {}, "PutBucketNotificationConfiguration", None),
    ("GET /?encryption", {}, "GetBucketEncryption", None),
    ("PUT /?encryption", {}, "PutBucketEncryption", None),
    ("DELETE /?encryption", {}, "DeleteBucketEncryption", None),
    ("GET /?object-lock", {}, "GetObjectLockConfiguration", None),
    ("PUT /?object-lock", {}, "PutObjectLockConfiguration", None),
    ("GET /?ownershipControls", {}, "GetBucketOwnershipControls", None),
    ("GET /?publicAccessBlock", {}, "GetPublicAccessBlock", None),
    ("PUT /?publicAccessBlock", {}, "PutPublicAccessBlock", None),
    ("DELETE /?publicAccessBlock", {}, "DeletePublicAccessBlock", None),
    ("PUT /?ownershipControls", {}, "PutBucketOwnershipControls", None),
    ("DELETE /?ownershipControls", {}, "DeleteBucketOwnershipControls", None),
    ("GET /?replication", {}, "GetBucketReplication", None),
    ("GET /?accelerate", {}, "GetBucketAccelerateConfiguration", None),
    ("GET /?requestPayment", {}, "GetBucketRequestPayment", None),
    ("POST /?delete", {}, "DeleteObjects", None),
    ("POST /", {"content-type": "multipart/form-data; boundary=9431149156168"}, "PostObject", None),
    ("PUT /my-image.jpg", {}, "PutObject", "my-image.jpg"),
    (
        "PUT /my-second-image.jpg",
        {"x-amz-copy-source": "/bucket/my-image.jpg"},
        "CopyObject",
        "my-second-image.jpg",
    ),
    ("GET /my-image.jpg", {}, "GetObject", "my-image.jpg"),
    ("GET /example-object?versionId=3/L4kqtJlcpXroDTDmpUMLUo", {}, "GetObject", "example-object"),
    (
        "GET /Junk3.txt?response-cache-control=No-cache"
        "&response-content-disposition=attachment%3B%20filename%3Dtesting.txt",
        {},
        "GetObject",
        "Junk3.txt",
    ),
    ("HEAD /my-image.jpg", {}, "HeadObject", "my-image.jpg"),
    ("DELETE /my-second-image.jpg", {}, "DeleteObject", "my-second-image.jpg"),
    (
        "DELETE /my-third-image.jpg"
        "?versionId=UIORUnfndfiufdisojhr398493jfdkjFJjkndnqUifhnw89493jJFJ",
        {},
        "DeleteObject",
        "my-third-image.jpg",
    ),
    ("GET /my-image.jpg?acl", {}, "GetObjectAcl", "my-image.jpg"),
    ("PUT /my-image.jpg?acl", {}, "PutObjectAcl", "my-image.jpg"),
    ("GET /example-object?tagging", {}, "GetObjectTagging", "example-object"),
    ("PUT /object-key?tagging", {}, "PutObjectTagging", "object-key"),
    ("DELETE /exampleobject?tagging", {}, "DeleteObjectTagging", "exampleobject"),
    ("PUT /my-image.jpg?retention", {}, "PutObjectRetention", "my-image.jpg"),
    ("GET /my-image.jpg?retention", {}, "GetObjectRetention", "my-image.jpg"),
    ("PUT /my-image.jpg?legal-hold", {}, "PutObjectLegalHold", "my-image.jpg"),
    ("GET /my-image.jpg?legal-hold&versionId=v1", {}, "GetObjectLegalHold", "my-image.jpg"),
    (
        "GET /example-object?attributes",
        {"x-amz-object-attributes": "ETag"},
        "GetObjectAttributes",
        "example-object",
    ),
    ("POST /example-object?uploads", {}, "CreateMultipartUpload", "example-object"),
    (
        "PUT /my-movie.m2ts?partNumber=1"
        "&uploadId=VCVsb2FkIElEIGZvciBlbZZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZR",
        {},
        "UploadPart",
        "my-movie.m2ts",
    ),
    (
        "PUT /newobject?partNumber=2"
        "&uploadId=VCVsb2FkIElEIGZvciBlbZZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZR",
        COPY,
        "UploadPartCopy",
        "newobject",
    ),
    (
        "POST /example-object?uploadId=AAAsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIRRwbG9hZA",
        {},
        "CompleteMultipartUpload",
        "example-object",
    ),
    (
        "DELETE /example-object?uploadId=VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZ",
        {},
        "AbortMultipartUpload",
        "example-object",
    ),
    (
        "GET /example-object?uploadId=XXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"
        "&max-parts=2&part-number-marker=1",
        {},
        "ListParts",
        "example-object",
    ),
    ("POST /ObjectName?restore&versionId=VersionID", {}, "RestoreObject", "ObjectName"),
    (
        "OPTIONS /exampleobject",
        {"origin": "http://www.example.com", "access-control-request-method": "PUT"},
        "Options",
        "exampleobject",
    ),
    ("GET /example-object?partNumber=1", {}, "GetObject", "example-object"),
    ("HEAD /example-object?partNumber=1", {}, "HeadObject", "example-object"),
]


@pytest.mark.parametrize(("line", "headers", "op", "key"), AWS_DOC_EXAMPLES)
def test_aws_doc_examples_virtual_hosted(
    line: str, headers: Mapping[str, str], op: str, key: str | None
) -> None:
    req = request(line, host="amzn-s3-demo-bucket.s3.example.com", headers=headers)
    assert resolve(req, DOMAINS) == Endpoint(op, "amzn-s3-demo-bucket", key, virtual_host=True)


@pytest.mark.parametrize(("line", "headers", "op", "key"), AWS_DOC_EXAMPLES)
def test_aws_doc_examples_path_style(
    line: str, headers: Mapping[str, str], op: str, key: str | None
) -> None:
    method, target = line.split(" ", 1)
    req = request(f"{method} /amzn-s3-demo-bucket{target}", headers=headers)
    assert resolve(req, DOMAINS) == Endpoint(op, "amzn-s3-demo-bucket", key, virtual_host=False)


@pytest.mark.parametrize("host", ["s3.example.com", "localhost", "127.0.0.1", "[::1]"])
def test_list_buckets(host: str) -> None:
    assert resolve(request("GET /", host=host), DOMAINS) == Endpoint(
        "ListBuckets", None, None, False
    )


# (request line, host, bucket, key): addressing and key-decoding quirks.
ADDRESSING = [
    # Both /bucket and /bucket/ address the bucket (clients send both).
    ("GET /photos", "localhost", "photos", None),
    ("GET /photos/", "localhost", "photos", None),
    # Host without a configured domain: path-style even if it has dots.
    ("GET /photos/a", "10.0.0.1", "photos", "a"),
    ("GET /photos/a", "s3.other.org", "photos", "a"),
    # The JS SDK's virtual-hosted form against a local endpoint.
    ("GET /a", "photos.localhost", "photos", "a"),
    ("GET /", "photos.localhost", "photos", None),
    ("GET /a", "my.dotted.bucket.s3.example.com", "my.dotted.bucket", "a"),
    # Keys decoded from the raw path exactly.
    ("GET /b/dir%2Ffile", "localhost", "b", "dir/file"),
    ("GET /b/dir/file", "localhost", "b", "dir/file"),
    ("GET /b/with%20space", "localhost", "b", "with space"),
    ("GET /b/plus+sign", "localhost", "b", "plus+sign"),  # "+" in a path is not a space
    ("GET /b/plus%2Bsign", "localhost", "b", "plus+sign"),
    ("GET /b/caf%C3%A9/%E6%97%A5%E6%9C%AC", "localhost", "b", "café/日本"),
    ("GET /b/caf\u00c3\u00a9", "localhost", "b", "café"),  # raw UTF-8 bytes, as ASGI gives them
    ("GET /b//double", "localhost", "b", "/double"),
    ("GET /b/a//b", "localhost", "b", "a//b"),
    ("GET /b/dir/", "localhost", "b", "dir/"),
    ("GET /b/trailing%20", "localhost", "b", "trailing "),
    ("GET //double", "b.localhost", "b", "/double"),
    ("GET /dir/", "b.localhost", "b", "dir/"),
    ("GET /a%25b", "b.localhost", "b", "a%b"),
]


@pytest.mark.parametrize(("line", "host", "bucket", "key"), ADDRESSING)
def test_addressing(line: str, host: str, bucket: str, key: str | None) -> None:
    ep = resolve(request(line, host=host), DOMAINS)
    assert (ep.bucket, ep.key) == (bucket, key)
    assert ep.virtual_host == (host.endswith(".localhost") or host.endswith(".s3.example.com"))


# (request line, headers, op): query quirks real clients produce.
QUIRKS: list[tuple[str, Mapping[str, str], str]] = [
    ("POST /b/k?uploads", {}, "CreateMultipartUpload"),
    ("POST /b/k?uploads=", {}, "CreateMultipartUpload"),  # botocore's canonical form
    ("GET /b?uploads=", {}, "ListMultipartUploads"),
    ("GET /b?versions=", {}, "ListObjectVersions"),
    ("PUT /b/k?x-id=PutObject", {}, "PutObject"),  # the JS SDK
    ("GET /b/k?x-id=GetObject", {}, "GetObject"),
    ("PUT /b/k?x-id=CopyObject", COPY, "CopyObject"),
    ("PUT /b/k?partNumber=3&uploadId=u&x-id=UploadPart", {}, "UploadPart"),
    ("POST /b/k?uploadId=u&x-id=CompleteMultipartUpload", {}, "CompleteMultipartUpload"),
    ("POST /b?delete=&x-id=DeleteObjects", {}, "DeleteObjects"),
    ("GET /b?list-type=2&delimiter=&encoding-type=url", {}, "ListObjectsV2"),
    ("GET /b?delimiter=/&encoding-type=url", {}, "ListObjects"),
    ("PUT /b?x-id=CreateBucket", {}, "CreateBucket"),
    ("OPTIONS /", {}, "Options"),
    ("OPTIONS /b", {}, "Options"),
    ("HEAD /b?acl", {}, "HeadBucket"),  # HEAD ignores sub-resources
    ("GET /b/k?versionId=null", {}, "GetObject"),
]


@pytest.mark.parametrize(("line", "headers", "op"), QUIRKS)
def test_quirks(line: str, headers: Mapping[str, str], op: str) -> None:
    assert resolve(request(line, host="localhost", headers=headers), DOMAINS).op == op


# (request line, headers, error class)
REJECTED: list[tuple[str, Mapping[str, str], type[errors.S3Error]]] = [
    ("PUT /", {}, errors.MethodNotAllowed),
    ("DELETE /", {}, errors.MethodNotAllowed),
    ("POST /", {}, errors.MethodNotAllowed),
    ("PATCH /b", {}, errors.MethodNotAllowed),
    ("POST /b/k", {}, errors.MethodNotAllowed),  # POST on an object needs a sub-resource
    ("POST /b/k?x-id=Foo", {}, errors.MethodNotAllowed),
    ("DELETE /b?versioning", {}, errors.MethodNotAllowed),  # S3 has no DeleteBucketVersioning
    ("DELETE /b?acl", {}, errors.MethodNotAllowed),  # ... nor DeleteBucketAcl
    ("POST /b?acl", {}, errors.MethodNotAllowed),
    ("GET /b?delete", {}, errors.MethodNotAllowed),
    ("GET /b/k?uploads", {}, errors.MethodNotAllowed),
    ("PUT /b/k?uploads", {}, errors.MethodNotAllowed),
    ("PUT /b/k?uploadId=u", {}, errors.MethodNotAllowed),
    ("PUT /b/k?partNumber=1", {}, errors.InvalidArgument),  # would overwrite the object
    ("PUT /b?replication", {}, errors.NotImplemented),
    ("GET /b?metadataTable", {}, errors.NotImplemented),
    ("GET /b?analytics&id=a", {}, errors.NotImplemented),
    ("GET /b/k?torrent", {}, errors.NotImplemented),
    ("PUT /b/k?renameObject", {}, errors.NotImplemented),
    ("DELETE /b/k?retention", {}, errors.MethodNotAllowed),
    ("POST /b?object-lock", {}, errors.MethodNotAllowed),
    ("POST /b/k?select&select-type=2", {}, errors.NotImplemented),
    ("GET /b?list-type=1", {}, errors.InvalidArgument),
    ("GET /b/%zz", {}, errors.InvalidArgument),
    ("GET /b/a%2", {}, errors.InvalidArgument),
    ("GET /b/%C3%28", {}, errors.InvalidArgument),  # invalid UTF-8
    ("GET /b/%FF", {}, errors.InvalidArgument),
    ("GET /%zz/k", {}, errors.InvalidArgument),
]


@pytest.mark.parametrize(("line", "headers", "error"), REJECTED)
def test_rejected(line: str, headers: Mapping[str, str], error: type[errors.S3Error]) -> None:
    with pytest.raises(error) as info:
        resolve(request(line, host="localhost", headers=headers), DOMAINS)
    assert type(info.value) is error


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("a" * 1024, True),
        ("a" * 1025, False),
        ("é" * 512, True),  # 1024 bytes of UTF-8
        ("é" * 512 + "a", False),  # 1025 bytes, 513 characters
        ("%C3%A9" * 512, True),  # percent-encoded: measured after decoding
        ("%C3%A9" * 513, False),
    ],
)
def test_key_length(key: str, ok: bool) -> None:
    raw = key if "%" in key else key.encode("utf-8").decode("latin-1")
    req = request(f"PUT /b/{raw}", host="localhost")
    if ok:
        ep = resolve(req, DOMAINS)
        assert ep.key is not None and len(ep.key.encode()) == 1024
    else:
        with pytest.raises(errors.KeyTooLongError):
            resolve(req, DOMAINS)


def test_longest_domain_wins() -> None:
    ep = resolve(request("GET /k", host="b.s3.example.com"), ["example.com", "s3.example.com"])
    assert (ep.bucket, ep.key) == ("b", "k")


def test_every_routed_op_is_in_the_table() -> None:
    ops = {op for _, _, op, _ in AWS_DOC_EXAMPLES} | {"ListBuckets"}
    assert ops == set(ROUTES), set(ROUTES) ^ ops


@pytest.mark.parametrize(
    ("op", "permission", "level"),
    [
        ("ListBuckets", "s3:ListAllMyBuckets", "service"),
        ("ListObjects", "s3:ListBucket", "bucket"),
        ("ListObjectsV2", "s3:ListBucket", "bucket"),
        ("HeadBucket", "s3:ListBucket", "bucket"),
        ("ListObjectVersions", "s3:ListBucketVersions", "bucket"),
        ("ListMultipartUploads", "s3:ListBucketMultipartUploads", "bucket"),
        ("GetObject", "s3:GetObject", "object"),
        ("HeadObject", "s3:GetObject", "object"),
        ("PutObject", "s3:PutObject", "object"),
        ("UploadPart", "s3:PutObject", "object"),
        ("ListParts", "s3:ListMultipartUploadParts", "object"),
        ("AbortMultipartUpload", "s3:AbortMultipartUpload", "object"),
        ("DeleteObjects", "s3:DeleteObject", "bucket"),
        ("PutBucketVersioning", "s3:PutBucketVersioning", "bucket"),
        ("Options", "", "bucket"),
    ],
)
def test_route_permissions(op: str, permission: str, level: str) -> None:
    route = ROUTES[op]
    assert (route.op, route.permission, route.level) == (op, permission, level)


@pytest.mark.parametrize(
    ("line", "permission"),
    [
        ("GET /b/k", "s3:GetObject"),
        ("GET /b/k?versionId=v1", "s3:GetObjectVersion"),
        ("DELETE /b/k?versionId=v1", "s3:DeleteObjectVersion"),
        ("PUT /b/k?versionId=v1", "s3:PutObject"),  # no version variant
        ("PUT /b/k?retention&versionId=v1", "s3:PutObjectRetention"),  # nor here
        ("GET /b/k?legal-hold&versionId=v1", "s3:GetObjectLegalHold"),
        ("PUT /b?object-lock", "s3:PutBucketObjectLockConfiguration"),
    ],
)
def test_required_permission(line: str, permission: str) -> None:
    req = request(line, host="localhost")
    assert required_permission(ROUTES[resolve(req, DOMAINS).op], req) == permission


@pytest.mark.parametrize("path", ["/", "/bucket", "/bucket/key"])
@pytest.mark.parametrize("method", ["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("copy", [False, True])
def test_requests_without_a_query_route_as_the_rule_scan_does(
    path: str, method: str, copy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a query string, routing looks the operation up in a precomputed table; the
    answer (or the error) must be the one the full rule scan gives."""
    from s3front import routing

    def outcome() -> str:
        req = request(f"{method} {path}", host="localhost", headers=COPY if copy else None)
        try:
            return resolve(req, DOMAINS).op
        except errors.S3Error as exc:
            return type(exc).__name__

    fast = outcome()
    monkeypatch.setattr(routing, "_PLAIN_OPERATIONS", {})
    assert fast == outcome()
