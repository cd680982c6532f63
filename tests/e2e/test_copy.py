"""CopyObject and UploadPartCopy against a live server: boto3, the AWS CLI and s3cmd.

Copies move no data (DESIGN.md section 2): besides comparing bytes, the tests count the store's
blocks before and after a copy, reading the server's own store (the SQLite file read-only, or
the Cassandra keyspace).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3.s3.transfer
import botocore.exceptions
import pytest
import s3front_e2e_support as sup

MiB = 1024 * 1024
SMALL = b"copy me, please\n" * 100


def block_count(server: Any) -> int:
    """Blocks in the server's store, counted in the store itself (not through S3)."""
    url: str = server.store_url
    if url.startswith("sqlite:"):
        path = Path(url.removeprefix("sqlite://")) / "s3front.db"
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return int(db.execute("SELECT count(*) FROM blocks").fetchone()[0])
        finally:
            db.close()
    from s3front.store.cassandra.session import Db, parse_url

    cfg = parse_url(url)
    cdb = Db.connect(cfg, cfg.keyspace)
    try:
        return len(cdb.execute("SELECT block_id FROM blocks"))
    finally:
        cdb.shutdown()


def error_of(exc: botocore.exceptions.ClientError) -> tuple[int, str]:
    return exc.response["ResponseMetadata"]["HTTPStatusCode"], exc.response["Error"]["Code"]


@pytest.fixture
def bucket2(s3: Any) -> Iterator[str]:
    name = sup.unique_bucket()
    s3.create_bucket(Bucket=name)
    yield name
    for obj in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=obj["Key"])
    s3.delete_bucket(Bucket=name)


def _put_multipart(s3: Any, bucket: str, key: str, data: bytes, part: int = 8 * MiB) -> str:
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/x-test")
    parts = []
    for n, off in enumerate(range(0, len(data), part), start=1):
        r = s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=up["UploadId"],
            PartNumber=n,
            Body=data[off : off + part],
        )
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
    )
    return str(done["ETag"])


@pytest.mark.parametrize("size", [0, len(SMALL), 3 * MiB + 17], ids=["empty", "inline", "blocks"])
def test_copy_within_and_across_buckets(s3: Any, bucket: str, bucket2: str, size: int) -> None:
    data = (SMALL * (size // len(SMALL) + 1))[:size]
    put = s3.put_object(
        Bucket=bucket, Key="src/a b+c", Body=data, ContentType="text/x-src", Metadata={"m": "1"}
    )
    for target_bucket, target_key in [(bucket, "dst/same-bucket"), (bucket2, "other/ü key")]:
        res = s3.copy_object(
            Bucket=target_bucket,
            Key=target_key,
            CopySource={"Bucket": bucket, "Key": "src/a b+c"},
        )
        assert res["CopyObjectResult"]["ETag"] == put["ETag"]
        assert "VersionId" not in res and "CopySourceVersionId" not in res
        got = s3.get_object(Bucket=target_bucket, Key=target_key)
        assert got["Body"].read() == data
        assert got["ETag"] == put["ETag"]
        assert got["ContentType"] == "text/x-src"
        assert got["Metadata"] == {"m": "1"}
        copied_at = res["CopyObjectResult"]["LastModified"].replace(microsecond=0)
        assert got["LastModified"] == copied_at  # HTTP dates have second precision
    # The source is untouched.
    assert s3.get_object(Bucket=bucket, Key="src/a b+c")["Body"].read() == data


def test_copy_moves_no_data_and_survives_source_delete(server: Any, s3: Any, bucket: str) -> None:
    data = os.urandom(5 * MiB + 3)
    put = s3.put_object(Bucket=bucket, Key="src", Body=data)
    before = block_count(server)
    assert before >= 6  # the count sees the source's blocks
    s3.copy_object(Bucket=bucket, Key="copy1", CopySource=f"{bucket}/src")
    s3.copy_object(Bucket=bucket, Key="copy2", CopySource=f"/{bucket}/copy1")  # copy of a copy
    assert block_count(server) == before
    s3.delete_object(Bucket=bucket, Key="src")
    s3.delete_object(Bucket=bucket, Key="copy1")
    got = s3.get_object(Bucket=bucket, Key="copy2")
    assert got["ETag"] == put["ETag"]
    assert got["Body"].read() == data
    rng = s3.get_object(Bucket=bucket, Key="copy2", Range="bytes=5242879-5242883")
    assert rng["Body"].read() == data[5242879:5242884]


def test_copy_multipart_object(server: Any, s3: Any, bucket: str, bucket2: str) -> None:
    data = os.urandom(20 * MiB)
    etag = _put_multipart(s3, bucket, "mp.bin", data)
    assert etag.endswith('-3"')
    before = block_count(server)
    res = s3.copy_object(Bucket=bucket2, Key="mp-copy.bin", CopySource=f"{bucket}/mp.bin")
    assert block_count(server) == before
    assert res["CopyObjectResult"]["ETag"] == etag
    head = s3.head_object(Bucket=bucket2, Key="mp-copy.bin")
    assert head["ContentType"] == "application/x-test"
    assert head["ContentLength"] == len(data)
    got = s3.get_object(Bucket=bucket2, Key="mp-copy.bin")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


@pytest.mark.parametrize("directive", [None, "COPY", "REPLACE"])
def test_metadata_directive(s3: Any, bucket: str, directive: str | None) -> None:
    s3.put_object(
        Bucket=bucket,
        Key="src",
        Body=SMALL,
        ContentType="text/x-old",
        CacheControl="max-age=1",
        Metadata={"old": "yes"},
    )
    extra: dict[str, Any] = {"ContentType": "text/x-new", "Metadata": {"new": "yes"}}
    if directive is not None:
        extra["MetadataDirective"] = directive
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"}, **extra)
    head = s3.head_object(Bucket=bucket, Key="dst")
    if directive == "REPLACE":
        assert head["ContentType"] == "text/x-new"
        assert head["Metadata"] == {"new": "yes"}
        assert "CacheControl" not in head
    else:
        assert head["ContentType"] == "text/x-old"
        assert head["Metadata"] == {"old": "yes"}
        assert head["CacheControl"] == "max-age=1"


@pytest.mark.parametrize("directive", [None, "COPY", "REPLACE"])
def test_tagging_directive(s3: Any, bucket: str, directive: str | None) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=SMALL, Tagging="a=1&b=2")
    extra: dict[str, Any] = {"Tagging": "c=3"}
    if directive is not None:
        extra["TaggingDirective"] = directive
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"}, **extra)
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key="dst")["TagSet"]}
    assert tags == ({"c": "3"} if directive == "REPLACE" else {"a": "1", "b": "2"})


def test_copy_onto_itself(s3: Any, bucket: str) -> None:
    data = os.urandom(2 * MiB)
    put = s3.put_object(Bucket=bucket, Key="self", Body=data, Metadata={"v": "1"})
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"})
    assert error_of(exc.value) == (400, "InvalidRequest")
    assert "copy an object to itself" in exc.value.response["Error"]["Message"]
    for n in range(2, 5):  # repeated metadata updates by self-copy
        s3.copy_object(
            Bucket=bucket,
            Key="self",
            CopySource={"Bucket": bucket, "Key": "self"},
            MetadataDirective="REPLACE",
            Metadata={"v": str(n)},
            ContentType="text/x-changed",
        )
    got = s3.get_object(Bucket=bucket, Key="self")
    assert got["Metadata"] == {"v": "4"}
    assert got["ContentType"] == "text/x-changed"
    assert got["ETag"] == put["ETag"]
    assert got["Body"].read() == data


@pytest.mark.parametrize(
    ("condition", "passes"),
    [
        ("CopySourceIfMatch=etag", True),
        ("CopySourceIfMatch=other", False),
        ("CopySourceIfNoneMatch=etag", False),
        ("CopySourceIfNoneMatch=other", True),
        ("CopySourceIfModifiedSince=past", True),
        ("CopySourceIfModifiedSince=future", False),
        ("CopySourceIfUnmodifiedSince=past", False),
        ("CopySourceIfUnmodifiedSince=future", True),
    ],
)
def test_copy_source_conditions(s3: Any, bucket: str, condition: str, passes: bool) -> None:
    put = s3.put_object(Bucket=bucket, Key="src", Body=SMALL)
    now = datetime.now(UTC)
    values = {
        "etag": put["ETag"],
        "other": '"0123456789abcdef0123456789abcdef"',
        "past": now - timedelta(days=1),
        "future": now + timedelta(days=1),
    }
    name, _, value = condition.partition("=")
    kwargs = {name: values[value]}
    if passes:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", **kwargs)
        assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == SMALL
        return
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", **kwargs)
    assert error_of(exc.value) == (412, "PreconditionFailed")
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key="dst")


def test_copy_target_if_none_match(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=SMALL)
    s3.put_object(Bucket=bucket, Key="dst", Body=b"already here")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", IfNoneMatch="*")
    assert error_of(exc.value) == (412, "PreconditionFailed")
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"already here"
    s3.copy_object(Bucket=bucket, Key="new", CopySource=f"{bucket}/src", IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="new")["Body"].read() == SMALL


def test_copy_errors(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=SMALL)
    cases: list[tuple[dict[str, Any], tuple[int, str]]] = [
        ({"CopySource": f"{bucket}/missing"}, (404, "NoSuchKey")),
        ({"CopySource": f"{sup.unique_bucket()}/src"}, (404, "NoSuchBucket")),
        ({"CopySource": f"{bucket}/src", "MetadataDirective": "MOVE"}, (400, "InvalidArgument")),
        ({"CopySource": f"{bucket}/src", "TaggingDirective": "KEEP"}, (400, "InvalidArgument")),
        ({"CopySource": f"{bucket}/src?versionId=nope"}, (404, "NoSuchVersion")),
    ]
    for kwargs, expected in cases:
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            s3.copy_object(Bucket=bucket, Key="dst", **kwargs)
        assert error_of(exc.value) == expected, kwargs


@pytest.mark.parametrize("source", ["justabucket", "/justabucket", "bucket-only/", "/", ""])
def test_copy_source_malformed(server: Any, bucket: str, source: str) -> None:
    r = server.raw("PUT", f"/{bucket}/dst", headers={"x-amz-copy-source": source})
    assert r.status == 400, r.body
    assert sup.error_code(r.body) == "InvalidArgument"
    assert b"Copy Source must mention the source bucket and key" in r.body


def test_copy_source_url_encoded(server: Any, s3: Any, bucket: str) -> None:
    key = "dir/we?ird &key+ü"
    s3.put_object(Bucket=bucket, Key=key, Body=SMALL)
    r = server.raw(
        "PUT", f"/{bucket}/dst", headers={"x-amz-copy-source": quote(f"/{bucket}/{key}")}
    )
    assert r.status == 200, r.body
    assert b"<CopyObjectResult" in r.body
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == SMALL


def test_upload_part_copy(server: Any, s3: Any, bucket: str) -> None:
    single = os.urandom(6 * MiB + 5)
    put = s3.put_object(Bucket=bucket, Key="single", Body=single)
    multi = os.urandom(11 * MiB)
    _put_multipart(s3, bucket, "multi", multi, part=5 * MiB)
    up = s3.create_multipart_upload(Bucket=bucket, Key="assembled")
    uid = up["UploadId"]

    def part_copy(n: int, key: str, rng: str | None = None) -> str:
        extra = {"CopySourceRange": rng} if rng else {}
        r = s3.upload_part_copy(
            Bucket=bucket,
            Key="assembled",
            UploadId=uid,
            PartNumber=n,
            CopySource={"Bucket": bucket, "Key": key},
            **extra,
        )
        return str(r["CopyPartResult"]["ETag"])

    # The whole single-PUT object: its manifest is reused, its ETag is the part's ETag.
    before = block_count(server)
    e1 = part_copy(1, "single")
    assert block_count(server) == before
    assert e1 == put["ETag"]
    # A range of a multipart object, across its part boundary: the bytes are hashed anew.
    lo, hi = 4 * MiB, 10 * MiB - 1
    e2 = part_copy(2, "multi", f"bytes={lo}-{hi}")
    assert e2 == '"' + hashlib.md5(multi[lo : hi + 1]).hexdigest() + '"'
    # The whole multipart object without a range: ETag is the MD5 of its bytes, not its "-N".
    e3 = part_copy(3, "multi")
    assert e3 == '"' + hashlib.md5(multi).hexdigest() + '"'
    e4 = part_copy(4, "single", "bytes=0-0")
    listed = s3.list_parts(Bucket=bucket, Key="assembled", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [
        (1, len(single)),
        (2, hi + 1 - lo),
        (3, len(multi)),
        (4, 1),
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="assembled",
        UploadId=uid,
        MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate([e1, e2, e3, e4], start=1)]
        },
    )
    got = s3.get_object(Bucket=bucket, Key="assembled")["Body"].read()
    expected = single + multi[lo : hi + 1] + multi + single[:1]
    assert hashlib.sha256(got).digest() == hashlib.sha256(expected).digest()


@pytest.mark.parametrize(
    ("rng", "expected"),
    [
        ("bytes=0-100", None),
        ("bytes=5-4", (400, "InvalidArgument")),
        ("bytes=-10", (400, "InvalidArgument")),
        ("bytes=10-", (400, "InvalidArgument")),
        ("items=0-1", (400, "InvalidArgument")),
        (f"bytes=0-{len(SMALL)}", (416, "InvalidRange")),
        (f"bytes={len(SMALL) - 1}-{len(SMALL) - 1}", None),
    ],
)
def test_upload_part_copy_range(
    s3: Any, bucket: str, rng: str, expected: tuple[int, str] | None
) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=SMALL)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    kwargs: dict[str, Any] = {
        "Bucket": bucket,
        "Key": "dst",
        "UploadId": uid,
        "PartNumber": 1,
        "CopySource": f"{bucket}/src",
        "CopySourceRange": rng,
    }
    if expected is None:
        r = s3.upload_part_copy(**kwargs)
        first, last = (int(x) for x in rng.removeprefix("bytes=").split("-"))
        md5 = hashlib.md5(SMALL[first : last + 1]).hexdigest()
        assert r["CopyPartResult"]["ETag"] == f'"{md5}"'
    else:
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            s3.upload_part_copy(**kwargs)
        assert error_of(exc.value) == expected
        if expected[1] == "InvalidArgument":
            assert "must be of the form bytes=first-last" in exc.value.response["Error"]["Message"]
    s3.abort_multipart_upload(Bucket=bucket, Key="dst", UploadId=uid)


def test_upload_part_copy_errors(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=SMALL)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    base = {"Bucket": bucket, "Key": "dst", "CopySource": f"{bucket}/src"}
    cases: list[tuple[dict[str, Any], tuple[int, str]]] = [
        ({"UploadId": "nope", "PartNumber": 1}, (404, "NoSuchUpload")),
        ({"UploadId": uid, "PartNumber": 10001}, (400, "InvalidArgument")),
        (
            {"UploadId": uid, "PartNumber": 1, "CopySource": f"{bucket}/missing"},
            (404, "NoSuchKey"),
        ),
        (
            {"UploadId": uid, "PartNumber": 1, "CopySourceIfMatch": '"00"'},
            (412, "PreconditionFailed"),
        ),
    ]
    for kwargs, expected in cases:
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            s3.upload_part_copy(**{**base, **kwargs})
        assert error_of(exc.value) == expected, kwargs
    s3.abort_multipart_upload(Bucket=bucket, Key="dst", UploadId=uid)


def test_boto3_managed_copy(server: Any, s3: Any, bucket: str, bucket2: str) -> None:
    """s3.copy() of an object over the 8 MiB threshold: UploadPartCopy with ranges."""
    data = os.urandom(20 * MiB + 123)
    s3.put_object(Bucket=bucket, Key="big", Body=data)
    mark = server.log_mark()
    cfg = boto3.s3.transfer.TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB)
    s3.copy({"Bucket": bucket, "Key": "big"}, bucket2, "big-copy", Config=cfg)
    ops = [e["op"] for e in server.access_log(mark)]
    assert ops.count("UploadPartCopy") == 3, ops
    got = s3.get_object(Bucket=bucket2, Key="big-copy")
    assert got["ContentLength"] == len(data)
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(data).digest()


@pytest.mark.parametrize("size", [len(SMALL), 10 * MiB], ids=["copy", "multipart-copy"])
def test_awscli_cp(
    server: Any, s3: Any, bucket: str, bucket2: str, tmp_path: Path, size: int
) -> None:
    data = os.urandom(size)
    s3.put_object(Bucket=bucket, Key="x", Body=data)
    env = sup.client_env(tmp_path, server)
    mark = server.log_mark()
    sup.run(sup.aws_cmd(server, "s3", "cp", f"s3://{bucket}/x", f"s3://{bucket2}/y"), env=env)
    ops = [e["op"] for e in server.access_log(mark)]
    assert ("UploadPartCopy" if size > 8 * MiB else "CopyObject") in ops, ops
    assert s3.get_object(Bucket=bucket2, Key="y")["Body"].read() == data


def test_s3cmd_cp(server: Any, s3: Any, bucket: str, bucket2: str, tmp_path: Path) -> None:
    s3.put_object(Bucket=bucket, Key="dir/x", Body=SMALL, Metadata={"k": "v"})
    cfg = sup.s3cmd_config(tmp_path / "s3cfg", server, v2=False)
    env = sup.client_env(tmp_path, server)
    sup.run(sup.s3cmd_cmd(cfg, "cp", f"s3://{bucket}/dir/x", f"s3://{bucket2}/z"), env=env)
    got = s3.get_object(Bucket=bucket2, Key="z")
    assert got["Body"].read() == SMALL


def test_upload_part_copy_into_checksum_upload(s3: Any, bucket: str) -> None:
    """An upload created with a checksum algorithm needs each part's checksum: a source
    without one is streamed so the part gets it computed; a source with one lends it."""
    plain = os.urandom(5 * MiB + 1)
    s3.put_object(Bucket=bucket, Key="plain", Body=plain)
    with_crc = os.urandom(1000)
    put = s3.put_object(Bucket=bucket, Key="crc", Body=with_crc, ChecksumAlgorithm="CRC32")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst", ChecksumAlgorithm="CRC32")[
        "UploadId"
    ]
    results = []
    for n, key in enumerate(["plain", "crc"], start=1):
        r = s3.upload_part_copy(
            Bucket=bucket, Key="dst", UploadId=uid, PartNumber=n, CopySource=f"{bucket}/{key}"
        )["CopyPartResult"]
        results.append(r)
    assert results[0]["ChecksumCRC32"] == sup.crc32_b64(plain)
    assert results[1]["ChecksumCRC32"] == put["ChecksumCRC32"] == sup.crc32_b64(with_crc)
    parts = [
        {"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]}
        for n, r in enumerate(results, start=1)
    ]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="dst", UploadId=uid, MultipartUpload={"Parts": parts}
    )
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == plain + with_crc
