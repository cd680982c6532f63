"""Multipart details of issue 19 item 4, with boto3 and raw requests against a real server:
a retried CompleteMultipartUpload gets the first completion's answer, and a part re-sent while
its first send still runs is decided by the send that completes last."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
import s3front_e2e_support as sup

MiB = 1024 * 1024


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = sup.unique_bucket("mpr")
    s3.create_bucket(Bucket=name)
    yield name
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
        for up in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
        s3.delete_bucket(Bucket=name)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
        pass


def _upload(s3: Any, bucket: str, key: str, bodies: list[bytes]) -> tuple[str, list[Any]]:
    up = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = []
    for i, body in enumerate(bodies, 1):
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=i, Body=body)["ETag"]
        parts.append({"PartNumber": i, "ETag": etag})
    return up, parts


def _error(exc: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> tuple[int, str]:
    resp = exc.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"]


def test_repeated_complete_with_the_same_parts_answers_the_same_result(
    s3: Any, bucket: str
) -> None:
    """A Complete retried after a lost response (botocore retries Complete on a connection
    reset) answers 200 with the first completion's ETag, version id, key and location, and
    writes nothing: AWS behaves so (shown against real S3 in adobe/S3Mock#2586, checked by
    ceph/s3-tests#739); its CompleteMultipartUpload page
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html) asks
    clients to retry a Complete that failed."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    up, parts = _upload(s3, bucket, "k", [b"a" * (5 * MiB), b"tail"])
    first = s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=up, MultipartUpload={"Parts": parts}
    )
    # The same list again, its ETags unquoted this time (clients differ): the same parts.
    unquoted = [{"PartNumber": p["PartNumber"], "ETag": p["ETag"].strip('"')} for p in parts]
    for again_parts in (parts, unquoted):
        again = s3.complete_multipart_upload(
            Bucket=bucket, Key="k", UploadId=up, MultipartUpload={"Parts": again_parts}
        )
        assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
        for field in ("ETag", "VersionId", "Key", "Bucket", "Location"):
            assert again[field] == first[field], field
        assert again["ETag"].endswith('-2"')
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [v["VersionId"] for v in versions] == [first["VersionId"]]  # nothing written again
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["ETag"] == first["ETag"] and got["ContentLength"] == 5 * MiB + 4


def test_repeated_complete_with_other_parts_is_no_such_upload(s3: Any, bucket: str) -> None:
    """Only the part list of the completion gets its result again; any other (a missing part,
    another ETag) is 404 NoSuchUpload, as AWS answers for an upload that no longer exists
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html, Errors)."""
    up, parts = _upload(s3, bucket, "k", [b"a" * (5 * MiB), b"tail"])
    s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=up, MultipartUpload={"Parts": parts}
    )
    others = [
        parts[:1],
        [parts[0], {"PartNumber": 2, "ETag": '"' + "0" * 32 + '"'}],
        [parts[0], {"PartNumber": 3, "ETag": parts[1]["ETag"]}],
    ]
    for other in others:
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            s3.complete_multipart_upload(
                Bucket=bucket, Key="k", UploadId=up, MultipartUpload={"Parts": other}
            )
        assert _error(exc) == (404, "NoSuchUpload")
    # Another key with the same upload id is not this upload's completion either.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="k2", UploadId=up, MultipartUpload={"Parts": parts}
        )
    assert _error(exc) == (404, "NoSuchUpload")


def test_abort_and_list_parts_after_complete_are_no_such_upload(s3: Any, bucket: str) -> None:
    """After the completion the upload is gone for everything but a retried Complete: Abort and
    ListParts answer 404 NoSuchUpload as AWS
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_AbortMultipartUpload.html), the object
    stays, and a Complete retried after the Abort still gets the completion's result."""
    up, parts = _upload(s3, bucket, "k", [b"only part"])
    first = s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=up, MultipartUpload={"Parts": parts}
    )
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=up)
    assert _error(exc) == (404, "NoSuchUpload")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.list_parts(Bucket=bucket, Key="k", UploadId=up)
    assert _error(exc) == (404, "NoSuchUpload")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"only part"
    again = s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=up, MultipartUpload={"Parts": parts}
    )
    assert again["ETag"] == first["ETag"]


def _slow_part_put(
    server: Any,
    path: str,
    query: str,
    body: bytes,
    go_on: threading.Event,
    out: dict[str, Any],
) -> None:
    """UploadPart that sends half of `body`, waits for `go_on`, then sends the rest."""
    half = len(body) // 2

    def pieces() -> Iterator[bytes]:
        yield body[:half]
        assert go_on.wait(60)
        time.sleep(0.2)
        yield body[half:]

    out["resp"] = server.raw(
        "PUT",
        path,
        query=query,
        headers={"content-length": str(len(body))},
        body=pieces(),
        payload_hash=hashlib.sha256(body).hexdigest(),
    )


def test_part_resent_while_first_send_runs_last_completed_send_wins(
    server: Any, s3: Any, bucket: str
) -> None:
    """Two sends of part 1 overlap; the one that started first finishes last. As on AWS
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html: "If you upload a new
    part using the same part number that was used with a previous part, the previously uploaded
    part is overwritten"), the send that completed last is the part: Complete takes its ETag,
    refuses the other's (400 InvalidPart), and the object holds its bytes, whole."""
    up = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    slow_body = bytes(range(256)) * (3 * 4096)  # 3 MiB, distinct from the fast one
    fast_body = b"F" * (2 * MiB + 17)
    query = f"partNumber=1&uploadId={up}"
    go_on = threading.Event()
    out: dict[str, Any] = {}
    slow = threading.Thread(
        target=_slow_part_put, args=(server, f"/{bucket}/k", query, slow_body, go_on, out)
    )
    slow.start()
    try:
        time.sleep(0.5)  # the slow send's request is in, half its body sent
        fast = server.raw("PUT", f"/{bucket}/k", query=query, body=fast_body)
        assert fast.status == 200, fast.body
    finally:
        go_on.set()
        slow.join(90)
    assert not slow.is_alive()
    assert out["resp"].status == 200, out["resp"].body
    slow_etag, fast_etag = out["resp"].headers["etag"], fast.headers["etag"]
    assert slow_etag.strip('"') == hashlib.md5(slow_body).hexdigest()
    assert fast_etag.strip('"') == hashlib.md5(fast_body).hexdigest()
    listed = s3.list_parts(Bucket=bucket, Key="k", UploadId=up)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed] == [
        (1, slow_etag, len(slow_body))
    ]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=up,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": fast_etag}]},
        )
    assert _error(exc) == (400, "InvalidPart")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="k",
        UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": slow_etag}]},
    )
    got = s3.get_object(Bucket=bucket, Key="k")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(slow_body).digest()


def test_completion_result_is_kept_for_completion_retention_seconds(
    tmp_path: Any,
) -> None:
    """The result is kept `completion_retention` seconds ("for a while", as AWS): a retry
    within that answers 200, one after it 404 NoSuchUpload; 0 keeps nothing. (A private SQLite
    server per setting; the stores' expiry itself is in tests/contract.)"""
    for retention, wait, after in (("2", 3.0, 404), ("0", 0.0, 404)):
        srv = sup.start_server(
            tmp_path / f"r{retention}",
            env_extra={"S3FRONT_COMPLETION_RETENTION": retention},
        )
        try:
            s3 = srv.client()
            s3.create_bucket(Bucket="bkt")
            up, parts = _upload(s3, "bkt", "k", [b"part"])
            doc = {"Parts": parts}
            s3.complete_multipart_upload(Bucket="bkt", Key="k", UploadId=up, MultipartUpload=doc)
            if retention != "0":
                again = s3.complete_multipart_upload(
                    Bucket="bkt", Key="k", UploadId=up, MultipartUpload=doc
                )
                assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
            time.sleep(wait)
            with pytest.raises(botocore.exceptions.ClientError) as exc:
                s3.complete_multipart_upload(
                    Bucket="bkt", Key="k", UploadId=up, MultipartUpload=doc
                )
            assert _error(exc) == (after, "NoSuchUpload")
        finally:
            sup.stop_server(srv)
