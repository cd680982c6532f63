"""S3 behaviour details that clients and conformance suites check (issue 19), with boto3 against
a real server. Where s3front follows AWS against another server's behaviour, the test names the
AWS documentation page it follows."""

from __future__ import annotations

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
