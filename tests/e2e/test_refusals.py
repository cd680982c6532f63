"""Refuse what is not done: the support table (s3front.support) walked over HTTP.

Every `x-amz-*` request header of the table (and one the table does not know) is sent on a
PutObject; every sub-resource on its bucket or object. An implemented entry must not be
refused; a refused one must get exactly the error the table names (status and code), and a
refused write must store nothing. Storage classes: only STANDARD is accepted, the rest are
400 InvalidStorageClass with nothing stored, and STANDARD is what HEAD, GET and every listing
report.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import s3front_e2e_support as sup
from botocore.exceptions import ClientError

from s3front import support

BODY = b"refusal walk body"
CRC32 = base64.b64encode(zlib.crc32(BODY).to_bytes(4, "big")).decode()

# A plausible value for each header (one a client would send); the walk sends it alone.
SAMPLES: dict[str, str] = {
    "x-amz-decoded-content-length": str(len(BODY)),
    "x-amz-trailer": "x-amz-checksum-crc32",
    "x-amz-security-token": "FQoGZXIvYXdzEXAMPLETOKEN",
    "x-amz-user-agent": "aws-sdk-js/2.0",
    "x-amz-checksum-crc32": CRC32,
    "x-amz-checksum-crc32c": "AAAAAA==",
    "x-amz-checksum-crc64nvme": "AAAAAAAAAAA=",
    "x-amz-checksum-sha1": base64.b64encode(hashlib.sha1(BODY).digest()).decode(),
    "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(BODY).digest()).decode(),
    "x-amz-checksum-algorithm": "CRC32",
    "x-amz-sdk-checksum-algorithm": "CRC32",
    "x-amz-checksum-mode": "ENABLED",
    "x-amz-checksum-type": "COMPOSITE",
    "x-amz-storage-class": "STANDARD",
    "x-amz-tagging": "a=b",
    "x-amz-acl": "private",
    "x-amz-grant-read": f'id="{"c" * 64}"',
    "x-amz-grant-write": f'id="{"c" * 64}"',
    "x-amz-grant-read-acp": f'id="{"c" * 64}"',
    "x-amz-grant-write-acp": f'id="{"c" * 64}"',
    "x-amz-grant-full-control": f'id="{"c" * 64}"',
    "x-amz-website-redirect-location": "/elsewhere.html",
    "x-amz-copy-source-range": "bytes=0-1",
    "x-amz-copy-source-if-match": '"abc"',
    "x-amz-copy-source-if-none-match": '"abc"',
    "x-amz-copy-source-if-modified-since": "Sat, 01 Jan 2000 00:00:00 GMT",
    "x-amz-copy-source-if-unmodified-since": "Sat, 01 Jan 2000 00:00:00 GMT",
    "x-amz-metadata-directive": "COPY",
    "x-amz-tagging-directive": "COPY",
    "x-amz-source-expected-bucket-owner": "123456789012",
    "x-amz-object-ownership": "ObjectWriter",
    "x-amz-request-payer": "requester",
    "x-amz-confirm-remove-self-bucket-access": "true",
    "x-amz-object-attributes": "ETag",
    "x-amz-max-parts": "10",
    "x-amz-part-number-marker": "0",
    "x-amz-optional-object-attributes": "RestoreStatus",
    "x-amz-mfa": "arn:aws:iam::123456789012:mfa/user 123456",
    "x-amz-write-offset-bytes": "0",
    "x-amz-if-match-last-modified-time": "Sat, 01 Jan 2000 00:00:00 GMT",
    "x-amz-if-match-size": "17",
    "x-amz-if-match-initiated-time": "Sat, 01 Jan 2000 00:00:00 GMT",
    "x-amz-mp-object-size": "17",
    "x-amz-rename-source": "/b/k",
    "x-amz-server-side-encryption": "AES256",
    "x-amz-server-side-encryption-aws-kms-key-id": "alias/key",
    "x-amz-server-side-encryption-context": base64.b64encode(b"{}").decode(),
    "x-amz-server-side-encryption-bucket-key-enabled": "true",
    "x-amz-server-side-encryption-customer-algorithm": "AES256",
    "x-amz-server-side-encryption-customer-key": base64.b64encode(b"k" * 32).decode(),
    "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(
        hashlib.md5(b"k" * 32).digest()
    ).decode(),
    "x-amz-copy-source-server-side-encryption-customer-algorithm": "AES256",
    "x-amz-copy-source-server-side-encryption-customer-key": base64.b64encode(b"k" * 32).decode(),
    "x-amz-copy-source-server-side-encryption-customer-key-md5": "x",
    "x-amz-object-lock-mode": "GOVERNANCE",
    "x-amz-object-lock-retain-until-date": "2099-01-01T00:00:00Z",
    "x-amz-object-lock-legal-hold": "ON",
    "x-amz-bucket-object-lock-enabled": "true",
    "x-amz-bypass-governance-retention": "true",
    # Not in the table: an x-amz- header nobody documented is refused, not ignored.
    "x-amz-frobnicate": "please",
}
# Sent on every signed request by the harness itself (they are walked by every other test).
ALWAYS_SENT = {"x-amz-date", "x-amz-content-sha256"}
# Their value depends on the request being tested.
SPECIAL = {"x-amz-copy-source", "x-amz-expected-bucket-owner"}

WALKED_HEADERS = sorted(
    (set(support.HEADERS) - ALWAYS_SENT - SPECIAL) | {"x-amz-frobnicate", "x-amz-meta-colour"}
)


def test_every_table_header_has_a_sample() -> None:
    missing = set(WALKED_HEADERS) - set(SAMPLES) - {"x-amz-meta-colour"}
    assert not missing, missing


@pytest.fixture(scope="module")
def walk_bucket(server: Any) -> Iterator[str]:
    s3 = server.client()
    name = sup.unique_bucket("walk")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="src", Body=BODY)
    yield name


def _expected(name: str, value: str) -> tuple[int, str] | None:
    """(status, code) the table says the header gets; None when it is implemented."""
    decision = support.header_support(name)
    if isinstance(decision, support.Refused):
        err = decision.error(name, value)
        return err.status, err.code
    return None


def _code(resp: sup.RawResponse) -> str:
    code: str = resp.error_code or resp.headers.get("x-amz-error-code", "")
    return code


@pytest.mark.parametrize("header", WALKED_HEADERS)
def test_header_walk(server: Any, walk_bucket: str, header: str) -> None:
    value = SAMPLES.get(header, "blue")
    key = f"h-{uuid.uuid4().hex[:10]}"
    resp = server.raw("PUT", f"/{walk_bucket}/{key}", headers={header: value}, body=BODY)
    expected = _expected(header, value)
    head = server.raw("HEAD", f"/{walk_bucket}/{key}")
    if expected is None:
        assert (resp.status, _code(resp)) != (501, "NotImplemented"), resp
        assert resp.status < 500, resp
    else:
        assert (resp.status, _code(resp)) == expected, resp
        if expected[0] == 501:
            assert f"<Header>{header}</Header>".encode() in resp.body, resp
        assert head.status == 404, f"a refused PUT stored the object: {head}"


def test_copy_source_header_is_implemented(server: Any, walk_bucket: str) -> None:
    resp = server.raw(
        "PUT", f"/{walk_bucket}/copied", headers={"x-amz-copy-source": f"/{walk_bucket}/src"}
    )
    assert resp.status == 200, resp
    assert server.raw("GET", f"/{walk_bucket}/copied").body == BODY


def test_expected_bucket_owner_is_enforced(server: Any, walk_bucket: str) -> None:
    s3 = server.client()
    owner = s3.get_bucket_acl(Bucket=walk_bucket)["Owner"]["ID"]
    ok = server.raw(
        "PUT", f"/{walk_bucket}/eo", headers={"x-amz-expected-bucket-owner": owner}, body=BODY
    )
    assert ok.status == 200, ok
    wrong = server.raw(
        "PUT",
        f"/{walk_bucket}/eo-wrong",
        headers={"x-amz-expected-bucket-owner": "123456789012"},
        body=BODY,
    )
    assert (wrong.status, _code(wrong)) == (403, "AccessDenied"), wrong
    assert server.raw("HEAD", f"/{walk_bucket}/eo-wrong").status == 404
    # boto3 sends it as ExpectedBucketOwner on reads too.
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=walk_bucket, Key="src", ExpectedBucketOwner="123456789012")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    assert s3.get_object(Bucket=walk_bucket, Key="src", ExpectedBucketOwner=owner)["Body"].read()
    # CreateBucket: the expected owner of the new bucket is its creator.
    other = sup.unique_bucket("eo")
    headers = {"x-amz-expected-bucket-owner": "123456789012"}
    resp = server.raw("PUT", f"/{other}", headers=headers)
    assert (resp.status, _code(resp)) == (403, "AccessDenied"), resp
    assert server.raw("HEAD", f"/{other}").status == 404
    resp = server.raw("PUT", f"/{other}", headers={"x-amz-expected-bucket-owner": owner})
    assert resp.status == 200, resp


# --- sub-resources ---------------------------------------------------------------------------

_XML_BODY = b"<Configuration/>"


def _subresource_request(
    server: Any, bucket: str, key: str, upload_id: str, entry: tuple[str, str, str]
) -> sup.RawResponse:
    level, method, name = entry
    path = f"/{bucket}" if level == "bucket" else f"/{bucket}/{key}"
    query = name
    if name == "list-type":
        query = "list-type=2"
    elif name == "uploadId":
        query = f"uploadId={upload_id}"
        if method == "PUT":
            query = f"partNumber=1&uploadId={upload_id}"
    elif name == "uploads" and method == "POST":
        query = "uploads"
    body = _XML_BODY if method in ("PUT", "POST") else b""
    return server.raw(method, path, query=query, body=body)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "entry", sorted(support.SUBRESOURCES), ids=lambda e: f"{e[1]}-{e[0]}-{e[2]}"
)
def test_subresource_walk(server: Any, entry: tuple[str, str, str]) -> None:
    s3 = server.client()
    bucket = sup.unique_bucket("sub")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="obj", Body=BODY)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="obj")["UploadId"]
    op = support.SUBRESOURCES[entry]  # type: ignore[index]
    resp = _subresource_request(server, bucket, "obj", upload_id, entry)
    if op.implemented:
        assert (resp.status, _code(resp)) != (501, "NotImplemented"), resp
        assert resp.status < 500, resp
    else:
        assert (resp.status, _code(resp)) == (501, "NotImplemented"), resp
        # A refused PUT stored nothing the matching GET could show.
        assert op.name in resp.body.decode(), resp


# --- form fields -----------------------------------------------------------------------------


def _post_form(server: Any, bucket: str, key: str, extra: dict[str, str]) -> sup.RawResponse:
    """A SigV2-signed browser POST whose policy allows exactly these fields."""
    expiration = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    conditions: list[Any] = [{"bucket": bucket}, {"key": key}]
    conditions += [{name: value} for name, value in extra.items()]
    policy = base64.b64encode(
        json.dumps({"expiration": expiration, "conditions": conditions}).encode()
    ).decode()
    signature = base64.b64encode(
        hmac.new(server.secret_key.encode(), policy.encode(), hashlib.sha1).digest()
    ).decode()
    fields = {
        "key": key,
        **extra,
        "AWSAccessKeyId": server.access_key,
        "policy": policy,
        "signature": signature,
    }
    boundary = "----s3front" + uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n{v}\r\n'.encode()
        for n, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nposted body\r\n--{boundary}--\r\n".encode()
    )
    return server.raw(  # type: ignore[no-any-return]
        "POST",
        f"/{bucket}",
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        body=b"".join(parts),
        sign=False,
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, (204, "")),
        ({"x-amz-meta-colour": "blue"}, (204, "")),
        ({"x-amz-storage-class": "STANDARD"}, (204, "")),
        ({"x-amz-storage-class": "GLACIER"}, (400, "InvalidStorageClass")),
        ({"tagging": "<Tagging><TagSet/></Tagging>"}, (204, "")),  # applied (issue 19)
        ({"x-amz-tagging": "a=b"}, (501, "NotImplemented")),  # not a PostObject field
        # SSE-S3 is implemented, and this server has no master key: refused, nothing stored.
        ({"x-amz-server-side-encryption": "AES256"}, (400, "InvalidRequest")),
        ({"x-amz-server-side-encryption-context": "e30="}, (501, "NotImplemented")),
        ({"x-amz-website-redirect-location": "/x"}, (501, "NotImplemented")),
        # Verified against the file ("posted body"): this is not its CRC32.
        ({"x-amz-checksum-crc32": "AAAAAA=="}, (400, "BadDigest")),
        ({"x-amz-frobnicate": "1"}, (501, "NotImplemented")),
        # Enforced as a header only: as a form field it would be a check that never happens.
        ({"x-amz-expected-bucket-owner": "123456789012"}, (501, "NotImplemented")),
    ],
)
def test_form_field_walk(
    server: Any, walk_bucket: str, fields: dict[str, str], expected: tuple[int, str]
) -> None:
    key = f"form-{uuid.uuid4().hex[:10]}"
    resp = _post_form(server, walk_bucket, key, fields)
    assert (resp.status, _code(resp)) == expected, resp
    stored = server.raw("HEAD", f"/{walk_bucket}/{key}").status
    assert stored == (200 if expected[0] == 204 else 404)


# --- storage classes -------------------------------------------------------------------------

REFUSED_CLASSES = [
    "BOGUS",
    "standard",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "GLACIER_IR",
    "DEEP_ARCHIVE",
    "OUTPOSTS",
    "EXPRESS_ONEZONE",
    "",
]


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    resp = exc.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"]


@pytest.mark.parametrize("storage_class", REFUSED_CLASSES)
def test_storage_class_refused_nothing_stored(
    server: Any, walk_bucket: str, storage_class: str
) -> None:
    key = f"sc-{uuid.uuid4().hex[:10]}"
    headers = {"x-amz-storage-class": storage_class}
    put = server.raw("PUT", f"/{walk_bucket}/{key}", headers=headers, body=BODY)
    assert (put.status, _code(put)) == (400, "InvalidStorageClass"), put
    copy = server.raw(
        "PUT",
        f"/{walk_bucket}/{key}",
        headers={**headers, "x-amz-copy-source": f"/{walk_bucket}/src"},
    )
    assert (copy.status, _code(copy)) == (400, "InvalidStorageClass"), copy
    create = server.raw("POST", f"/{walk_bucket}/{key}", query="uploads", headers=headers)
    assert (create.status, _code(create)) == (400, "InvalidStorageClass"), create
    assert server.raw("HEAD", f"/{walk_bucket}/{key}").status == 404
    s3 = server.client()
    uploads = s3.list_multipart_uploads(Bucket=walk_bucket, Prefix=key).get("Uploads", [])
    assert uploads == []


def test_storage_class_standard_reported_everywhere(server: Any) -> None:
    s3 = server.client()
    bucket = sup.unique_bucket("sc")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=BODY, StorageClass="STANDARD")
    # AWS leaves x-amz-storage-class out of HEAD and GET for STANDARD.
    head = server.raw("HEAD", f"/{bucket}/k")
    assert head.status == 200 and "x-amz-storage-class" not in head.headers
    assert s3.get_object(Bucket=bucket, Key="k").get("StorageClass") in (None, "STANDARD")
    s3.copy_object(
        Bucket=bucket, Key="k2", CopySource={"Bucket": bucket, "Key": "k"}, StorageClass="STANDARD"
    )
    assert [o["StorageClass"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [
        "STANDARD",
        "STANDARD",
    ]
    assert {o["StorageClass"] for o in s3.list_objects(Bucket=bucket)["Contents"]} == {"STANDARD"}
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert {v["StorageClass"] for v in versions} == {"STANDARD"}
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", StorageClass="STANDARD")
    s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=BODY)
    assert s3.list_multipart_uploads(Bucket=bucket)["Uploads"][0]["StorageClass"] == "STANDARD"
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=up["UploadId"])["StorageClass"] == (
        "STANDARD"
    )
    attrs = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["StorageClass"])
    assert attrs["StorageClass"] == "STANDARD"
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="g", Body=BODY, StorageClass="GLACIER")
    assert _error(exc) == (400, "InvalidStorageClass")


def test_versioning_with_mfa_delete_is_refused(server: Any) -> None:
    """MfaDelete in the body asks for MFA delete just as x-amz-mfa does: refused, not ignored."""
    s3 = server.client()
    bucket = sup.unique_bucket("mfa")
    s3.create_bucket(Bucket=bucket)
    body = (
        b"<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete>"
        b"</VersioningConfiguration>"
    )
    resp = server.raw("PUT", f"/{bucket}", query="versioning", body=body)
    assert (resp.status, _code(resp)) == (501, "NotImplemented"), resp
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    disabled = body.replace(b"<MfaDelete>Enabled", b"<MfaDelete>Disabled")
    assert server.raw("PUT", f"/{bucket}", query="versioning", body=disabled).status == 200
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


# --- integrity headers on documents -----------------------------------------------------------

TAGGING = b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"
PAB = (
    b"<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls>"
    b"</PublicAccessBlockConfiguration>"
)


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


@pytest.mark.parametrize(
    ("query", "body", "read_back"),
    [
        ("tagging", TAGGING, "tagging"),
        ("publicAccessBlock", PAB, "publicAccessBlock"),
    ],
)
@pytest.mark.parametrize("header", ["content-md5", "x-amz-checksum-crc32"])
def test_document_checksums_are_checked(
    server: Any, query: str, body: bytes, read_back: str, header: str
) -> None:
    s3 = server.client()
    bucket = sup.unique_bucket("dig")
    s3.create_bucket(Bucket=bucket)
    before = server.raw("GET", f"/{bucket}", query=read_back)
    wrong = _md5(b"other") if header == "content-md5" else _crc32(b"other")
    resp = server.raw("PUT", f"/{bucket}", query=query, headers={header: wrong}, body=body)
    assert (resp.status, _code(resp)) == (400, "BadDigest"), resp
    after = server.raw("GET", f"/{bucket}", query=read_back)
    assert (after.status, _code(after)) == (before.status, _code(before)) == (404, _code(before))
    right = _md5(body) if header == "content-md5" else _crc32(body)
    resp = server.raw("PUT", f"/{bucket}", query=query, headers={header: right}, body=body)
    assert resp.status in (200, 204), resp
    assert server.raw("GET", f"/{bucket}", query=read_back).status == 200


def test_object_checksum_on_complete_is_checked(server: Any) -> None:
    """On CompleteMultipartUpload x-amz-checksum-<alg> is the whole object's checksum, checked
    against what the parts give (s3front.objects.mp_checksums): an upload made without a
    checksum algorithm has none to match, so 400 BadDigest, never acknowledged."""
    s3 = server.client()
    bucket = sup.unique_bucket("cmp")
    s3.create_bucket(Bucket=bucket)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=1, Body=BODY)["ETag"]
    doc = (
        f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>"
        "</CompleteMultipartUpload>"
    ).encode()
    resp = server.raw(
        "POST",
        f"/{bucket}/k",
        query=f"uploadId={upload}",
        headers={"x-amz-checksum-crc32": _crc32(b"not the object")},
        body=doc,
    )
    assert (resp.status, _code(resp)) == (400, "BadDigest"), resp
    assert server.raw("HEAD", f"/{bucket}/k").status == 404
    # Without it (and with a right Content-MD5 of the document) the upload completes.
    done = server.raw(
        "POST",
        f"/{bucket}/k",
        query=f"uploadId={upload}",
        headers={"content-md5": _md5(doc)},
        body=doc,
    )
    assert done.status == 200, done
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == BODY
