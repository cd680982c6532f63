"""GetObjectAttributes against a live server (boto3), single-PUT, multipart and copied objects."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import botocore.exceptions
import pytest

MiB = 1024 * 1024
ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


def test_attributes_single_put(s3: Any, bucket: str) -> None:
    data = b"attributes\n" * 1000
    put = s3.put_object(Bucket=bucket, Key="one", Body=data, ChecksumAlgorithm="SHA256")
    r = s3.get_object_attributes(Bucket=bucket, Key="one", ObjectAttributes=ALL)
    assert r["ETag"] == put["ETag"].strip('"')  # unquoted in this document only
    assert r["ObjectSize"] == len(data)
    assert r["StorageClass"] == "STANDARD"
    assert r["Checksum"]["ChecksumSHA256"] == put["ChecksumSHA256"]
    assert "ObjectParts" not in r  # not a multipart object
    head = s3.head_object(Bucket=bucket, Key="one")
    assert r["LastModified"] == head["LastModified"]
    assert "VersionId" not in r


def test_attributes_only_what_is_asked(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="one", Body=b"x" * 10)
    r = s3.get_object_attributes(Bucket=bucket, Key="one", ObjectAttributes=["ObjectSize"])
    assert r["ObjectSize"] == 10
    for absent in ("ETag", "Checksum", "StorageClass", "ObjectParts"):
        assert absent not in r


def _multipart(s3: Any, bucket: str, key: str, sizes: list[int]) -> tuple[str, bytes]:
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts, chunks = [], []
    for n, size in enumerate(sizes, start=1):
        chunk = os.urandom(size)
        chunks.append(chunk)
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=chunk)
        parts.append({"PartNumber": n, "ETag": etag["ETag"]})
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": parts}
    )
    return str(done["ETag"]), b"".join(chunks)


SIZES = [5 * MiB, 5 * MiB + 1, 5 * MiB + 2, 1234]


@pytest.mark.parametrize("copied", [False, True], ids=["original", "copy"])
def test_attributes_multipart_paging(s3: Any, bucket: str, copied: bool) -> None:
    etag, _ = _multipart(s3, bucket, "mp", SIZES)
    key = "mp"
    if copied:
        s3.copy_object(Bucket=bucket, Key="mp-copy", CopySource=f"{bucket}/mp")
        key = "mp-copy"
    r = s3.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=ALL)
    assert r["ETag"] == etag.strip('"')
    assert r["ETag"].endswith("-4")
    assert r["ObjectSize"] == sum(SIZES)
    op = r["ObjectParts"]
    assert op["TotalPartsCount"] == 4
    assert op["IsTruncated"] is False
    assert [(p["PartNumber"], p["Size"]) for p in op["Parts"]] == list(enumerate(SIZES, start=1))
    # Paging: two at a time, following NextPartNumberMarker.
    seen: list[tuple[int, int]] = []
    marker = 0
    while True:
        page = s3.get_object_attributes(
            Bucket=bucket,
            Key=key,
            ObjectAttributes=["ObjectParts"],
            MaxParts=2,
            PartNumberMarker=marker,
        )["ObjectParts"]
        assert page["MaxParts"] == 2
        assert page["PartNumberMarker"] == marker
        seen += [(p["PartNumber"], p["Size"]) for p in page["Parts"]]
        if not page["IsTruncated"]:
            break
        marker = page["NextPartNumberMarker"]
    assert seen == list(enumerate(SIZES, start=1))


def test_attributes_errors(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="one", Body=b"x")
    cases: list[tuple[dict[str, Any], tuple[int, str]]] = [
        ({"Key": "missing", "ObjectAttributes": ["ETag"]}, (404, "NoSuchKey")),
        ({"Key": "one", "ObjectAttributes": ["ETag"], "VersionId": "nope"}, (404, "NoSuchVersion")),
        ({"Key": "one", "ObjectAttributes": ["Colour"]}, (400, "InvalidArgument")),
    ]
    for kwargs, expected in cases:
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            s3.get_object_attributes(Bucket=bucket, **kwargs)
        err = exc.value.response
        assert (err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"]) == expected


def test_attributes_header_required(server: Any, bucket: str, s3: Any) -> None:
    s3.put_object(Bucket=bucket, Key="one", Body=b"x")
    r = server.raw("GET", f"/{bucket}/one", query="attributes=")
    assert r.status == 400, r.body
    assert b"<Code>InvalidArgument</Code>" in r.body
    ok = server.raw(
        "GET",
        f"/{bucket}/one",
        query="attributes=",
        headers={"x-amz-object-attributes": "ETag,ObjectSize"},
    )
    assert ok.status == 200, ok.body
    md5 = hashlib.md5(b"x").hexdigest()
    assert f"<ETag>{md5}</ETag>".encode() in ok.body
    assert b"<ObjectSize>1</ObjectSize>" in ok.body
