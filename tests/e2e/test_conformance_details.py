"""S3 behaviour details that clients and conformance suites check (issue 19), with boto3 against
a real server. Where s3front follows AWS against another server's behaviour, the test names the
AWS documentation page it follows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
import s3front_e2e_support as sup


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = sup.unique_bucket("c")
    s3.create_bucket(Bucket=name)
    yield name
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
        s3.delete_bucket(Bucket=name)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
        pass


def test_recreating_own_bucket_in_us_east_1_answers_200_and_keeps_its_acl(
    s3: Any, bucket: str
) -> None:
    """AWS CreateBucket (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html):
    in us-east-1 re-creating a bucket you own succeeds (legacy behaviour), elsewhere it is 409
    BucketAlreadyOwnedByYou. MinIO answers 409 everywhere; s3front follows AWS."""
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    before = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    resp = s3.create_bucket(Bucket=bucket)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_bucket_acl(Bucket=bucket)["Grants"] == before
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") for g in before)


def test_put_in_suspended_bucket_sends_no_null_version_id(s3: Any, bucket: str) -> None:
    """AWS sends no x-amz-version-id for a write in a versioning-suspended bucket
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/AddingObjectstoVersionSuspendedBuckets.html);
    some servers send "null"."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    resp = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert "x-amz-version-id" not in resp["ResponseMetadata"]["HTTPHeaders"]
    assert "VersionId" not in resp
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"x"


def test_missing_key_is_404_to_a_caller_who_may_list_and_403_to_one_who_may_not(
    server: Any, s3: Any, bucket: str
) -> None:
    """AWS GetObject/HeadObject "Permissions"
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html): with s3:ListBucket a
    missing key is 404 NoSuchKey, without it 403 AccessDenied. An anonymous caller on a
    private bucket may not list; on a public-read bucket (READ = ListBucket) they may."""
    for method in ("GET", "HEAD"):
        assert server.raw(method, f"/{bucket}/missing", sign=False).status == 403
    private = server.raw("GET", f"/{bucket}/missing", sign=False)
    assert private.error_code == "AccessDenied"
    s3.put_object(Bucket=bucket, Key="present", Body=b"secret")
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    missing = server.raw("GET", f"/{bucket}/missing", sign=False)
    assert (missing.status, missing.error_code) == (404, "NoSuchKey")
    assert server.raw("HEAD", f"/{bucket}/missing", sign=False).status == 404
    # An existing object that is not public stays 403: listing does not grant reading.
    assert server.raw("GET", f"/{bucket}/present", sign=False).status == 403
    # The owner always sees 404.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="missing")
    assert exc.value.response["Error"]["Code"] == "NoSuchKey"


def test_copy_of_a_missing_key_is_404_to_a_caller_who_may_list_the_source_and_403_otherwise(
    server: Any, s3: Any, bucket: str
) -> None:
    """As for GET: AWS answers a CopyObject whose source key does not exist with 404 NoSuchKey
    when the caller has s3:ListBucket on the source bucket, else 403 AccessDenied
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html, "Permissions": the
    source needs s3:GetObject; ErrorResponses, NoSuchKey)."""
    other = sup.create_key(server, f"copier-{uuid.uuid4().hex[:6]}")
    theirs = server.client(access_key=other.access_key, secret_key=other.secret_key)
    target = sup.unique_bucket()
    try:
        theirs.create_bucket(Bucket=target)
        s3.put_object(Bucket=bucket, Key="present", Body=b"secret")

        def code(source_key: str) -> str:
            with pytest.raises(botocore.exceptions.ClientError) as exc:
                theirs.copy_object(
                    Bucket=target, Key="k", CopySource={"Bucket": bucket, "Key": source_key}
                )
            return str(exc.value.response["Error"]["Code"])

        # Private source bucket: nothing to learn about the key either way.
        assert code("missing") == "AccessDenied"
        assert code("present") == "AccessDenied"
        s3.put_bucket_acl(
            Bucket=bucket, GrantRead=f"id={other.tenant}", GrantFullControl=f"id={_owner(s3)}"
        )
        # May list (READ on the bucket): a missing key is 404; a present, unreadable one 403.
        assert code("missing") == "NoSuchKey"
        assert code("present") == "AccessDenied"
        # A key whose newest version is a delete marker is missing too.
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
        s3.delete_object(Bucket=bucket, Key="gone")
        assert code("gone") == "NoSuchKey"
    finally:
        for obj in theirs.list_objects_v2(Bucket=target).get("Contents", []):
            theirs.delete_object(Bucket=target, Key=obj["Key"])
        theirs.delete_bucket(Bucket=target)
        theirs.close()


def _owner(s3: Any) -> str:
    return str(s3.list_buckets()["Owner"]["ID"])


def test_cors_preflight_on_a_presigned_url_is_unauthenticated(
    server: Any, s3: Any, bucket: str
) -> None:
    """AWS: the preflight is an unauthenticated OPTIONS evaluated against the bucket's CORS
    rules (https://docs.aws.amazon.com/AmazonS3/latest/API/RESTOPTIONSobject.html); a browser
    sends it to the presigned URL itself, query parameters included (SigV2 and SigV4)."""
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [{"AllowedOrigins": ["https://app.example"], "AllowedMethods": ["PUT"]}]
        },
    )
    v4 = server.client(signature_version="s3v4")
    try:
        for client, marker in ((s3, "Signature="), (v4, "X-Amz-Signature=")):
            url = client.generate_presigned_url(
                "put_object", Params={"Bucket": bucket, "Key": "up"}
            )
            _preflight_presigned(server, url, marker)
    finally:
        v4.close()


def _preflight_presigned(server: Any, url: str, marker: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    assert marker in parts.query
    headers = {"origin": "https://app.example", "access-control-request-method": "PUT"}
    ok = server.raw("OPTIONS", f"{parts.path}?{parts.query}", headers=headers, sign=False)
    assert ok.status == 200, ok
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    # Still judged by the rules: an origin they do not allow is refused as a CORS mismatch.
    bad = dict(headers, origin="https://evil.example")
    refused = server.raw("OPTIONS", f"{parts.path}?{parts.query}", headers=bad, sign=False)
    assert refused.status == 403 and refused.error_code != "SignatureDoesNotMatch"
    assert b"CORSResponse" in refused.body


def _get_part(s3: Any, bucket: str, key: str, number: int, **extra: Any) -> Any:
    return s3.get_object(Bucket=bucket, Key=key, PartNumber=number, **extra)


def test_get_and_head_part_number_return_that_part(s3: Any, bucket: str) -> None:
    """AWS GetObject/HeadObject partNumber
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html): 206 with Content-Range
    and x-amz-mp-parts-count; part 1 of a single-part object is the whole object; a part that
    does not exist is 416 InvalidPartNumber. (SSE objects: test_sse.py.)"""
    extra: dict[str, str] = {}
    sizes = [5 * 1024 * 1024, 5 * 1024 * 1024, 1234]
    bodies = [bytes([65 + i]) * n for i, n in enumerate(sizes)]
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", **extra)["UploadId"]
    parts = []
    for i, body in enumerate(bodies, 1):
        etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=i, Body=body)
        parts.append({"PartNumber": i, "ETag": etag["ETag"]})
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={"Parts": parts}
    )
    total = sum(sizes)
    offset = 0
    for i, body in enumerate(bodies, 1):
        got = _get_part(s3, bucket, "mp", i)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentRange"] == f"bytes {offset}-{offset + len(body) - 1}/{total}"
        assert got["PartsCount"] == 3
        assert got["Body"].read() == body
        head = s3.head_object(Bucket=bucket, Key="mp", PartNumber=i)
        assert head["ContentLength"] == len(body) and head["PartsCount"] == 3
        offset += len(body)
    for bad in (4, 10000):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            _get_part(s3, bucket, "mp", bad)
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
        assert exc.value.response["Error"]["Code"] == "InvalidPartNumber"
    s3.put_object(Bucket=bucket, Key="single", Body=b"whole object", **extra)
    one = _get_part(s3, bucket, "single", 1)
    assert one["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert one["Body"].read() == b"whole object"
    assert one["ContentRange"] == "bytes 0-11/12"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        _get_part(s3, bucket, "single", 2)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416


@pytest.mark.parametrize("number", ["0", "10001", "%C2%B2", "1.0", "-1", "99999999999999999999"])
def test_part_number_that_is_not_1_to_10000_is_invalid_argument(
    server: Any, s3: Any, bucket: str, number: str
) -> None:
    """Not a 500: "²" passes str.isdigit() but not int() (found by the fuzzer)."""
    s3.put_object(Bucket=bucket, Key="obj", Body=b"x")
    resp = server.raw("GET", f"/{bucket}/obj", query=f"partNumber={number}")
    assert (resp.status, resp.error_code) == (400, "InvalidArgument"), resp
