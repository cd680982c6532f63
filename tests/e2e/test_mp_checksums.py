"""Multipart checksums (issue 19 item 5) with boto3 against a real server: FULL_OBJECT and
COMPOSITE types, the object checksum given on Complete, per-part checksums after completion.

AWS pages followed: "Checking object integrity in Amazon S3"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html), its
section "Using full object checksums for multipart upload" (which algorithm allows which type,
how the COMPOSITE "<base64>-N" value is made), and CompleteMultipartUpload
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html).
"""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import botocore.exceptions
import pytest
import s3front_e2e_support as sup
from awscrt import checksums as crt

MiB = 1024 * 1024

# Independent of s3front's code: one pass over the bytes with zlib / awscrt / hashlib.
_RAW: dict[str, Callable[[bytes], bytes]] = {
    "CRC32": lambda d: zlib.crc32(d).to_bytes(4, "big"),
    "CRC32C": lambda d: crt.crc32c(d).to_bytes(4, "big"),
    "CRC64NVME": lambda d: crt.crc64nvme(d).to_bytes(8, "big"),
    "SHA1": lambda d: hashlib.sha1(d).digest(),
    "SHA256": lambda d: hashlib.sha256(d).digest(),
}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def full(alg: str, data: bytes) -> str:
    return b64(_RAW[alg](data))


def composite(alg: str, bodies: list[bytes]) -> str:
    return f"{b64(_RAW[alg](b''.join(_RAW[alg](b) for b in bodies)))}-{len(bodies)}"


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = sup.unique_bucket("mpck")
    s3.create_bucket(Bucket=name)
    yield name
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=obj["Key"])
        for up in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
        s3.delete_bucket(Bucket=name)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
        pass


BODIES = [os.urandom(5 * MiB), os.urandom(5 * MiB), b"the last part"]


def _upload_parts(
    s3: Any, bucket: str, key: str, alg: str, kind: str | None
) -> tuple[str, list[dict[str, Any]]]:
    extra = {"ChecksumType": kind} if kind else {}
    created = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=alg, **extra)
    up = created["UploadId"]
    parts = []
    for n, body in enumerate(BODIES, start=1):
        r = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=up, PartNumber=n, Body=body, ChecksumAlgorithm=alg
        )
        assert r[f"Checksum{alg}"] == full(alg, body)
        parts.append({"PartNumber": n, "ETag": r["ETag"], f"Checksum{alg}": r[f"Checksum{alg}"]})
    return up, parts


def _error(exc: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> tuple[int, str]:
    resp = exc.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"]


def _part_checksums_after_completion(s3: Any, bucket: str, key: str, alg: str) -> None:
    attrs = s3.get_object_attributes(
        Bucket=bucket, Key=key, ObjectAttributes=["ObjectParts", "Checksum"]
    )
    listed = attrs["ObjectParts"]["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [
        (n, len(b)) for n, b in enumerate(BODIES, start=1)
    ]
    assert [p[f"Checksum{alg}"] for p in listed] == [full(alg, b) for b in BODIES]


@pytest.mark.parametrize("alg", ["CRC32", "CRC32C", "CRC64NVME"])
def test_full_object_multipart_checksum_is_the_crc_of_the_whole_object(
    s3: Any, bucket: str, alg: str
) -> None:
    """ChecksumType=FULL_OBJECT: the object's CRC is the CRC of all its bytes (s3front combines
    the part CRCs), the client's whole-object value on Complete is accepted, GET/HEAD and
    GetObjectAttributes return it, and the part checksums stay listed after completion."""
    up, parts = _upload_parts(s3, bucket, "k", alg, "FULL_OBJECT")
    whole = full(alg, b"".join(BODIES))
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="k",
        UploadId=up,
        MultipartUpload={"Parts": parts},
        ChecksumType="FULL_OBJECT",
        **{f"Checksum{alg}": whole},
    )
    assert done[f"Checksum{alg}"] == whole
    assert done["ChecksumType"] == "FULL_OBJECT"
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head[f"Checksum{alg}"] == whole
    assert head["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"".join(BODIES)  # botocore validates the full CRC too
    _part_checksums_after_completion(s3, bucket, "k", alg)


def test_crc64nvme_multipart_is_full_object_by_default(s3: Any, bucket: str) -> None:
    """CRC64NVME has only the FULL_OBJECT type: an upload naming no type gets it."""
    up, parts = _upload_parts(s3, bucket, "k", "CRC64NVME", None)
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=up, MultipartUpload={"Parts": parts}
    )
    assert done["ChecksumCRC64NVME"] == full("CRC64NVME", b"".join(BODIES))
    assert done["ChecksumType"] == "FULL_OBJECT"


@pytest.mark.parametrize("alg", ["SHA1", "SHA256", "CRC32", "CRC32C"])
def test_composite_multipart_checksum_is_the_checksum_of_the_part_checksums(
    s3: Any, bucket: str, alg: str
) -> None:
    """COMPOSITE (the only type for SHA-1/SHA-256, the default for CRC32/CRC32C): the object's
    value is base64(checksum(concatenated raw part checksums))-N; the same value given on
    Complete is accepted; part checksums are listed by ListParts and, after completion, by
    GetObjectAttributes ObjectParts."""
    up, parts = _upload_parts(s3, bucket, "k", alg, "COMPOSITE" if alg == "CRC32" else None)
    listing = s3.list_parts(Bucket=bucket, Key="k", UploadId=up)
    assert listing["ChecksumAlgorithm"] == alg and listing["ChecksumType"] == "COMPOSITE"
    assert [p[f"Checksum{alg}"] for p in listing["Parts"]] == [full(alg, b) for b in BODIES]
    value = composite(alg, BODIES)
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="k",
        UploadId=up,
        MultipartUpload={"Parts": parts},
        **{f"Checksum{alg}": value},
    )
    assert done[f"Checksum{alg}"] == value
    assert done["ChecksumType"] == "COMPOSITE"
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head[f"Checksum{alg}"] == value
    _part_checksums_after_completion(s3, bucket, "k", alg)


@pytest.mark.parametrize(
    ("alg", "kind", "given"),
    [
        ("CRC32", "FULL_OBJECT", lambda: full("CRC32", b"not the object")),
        ("CRC64NVME", "FULL_OBJECT", lambda: full("CRC64NVME", b"".join(BODIES[:2]))),
        # The COMPOSITE value of other parts, and the right value with the wrong part count.
        ("SHA256", None, lambda: composite("SHA256", BODIES[:2])),
        ("CRC32C", None, lambda: composite("CRC32C", BODIES).rsplit("-", 1)[0] + "-2"),
    ],
    ids=["crc32-full", "crc64nvme-full", "sha256-composite", "crc32c-composite-count"],
)
def test_wrong_checksum_on_complete_is_bad_digest_and_commits_nothing(
    s3: Any, bucket: str, alg: str, kind: str | None, given: Callable[[], str]
) -> None:
    """A Complete whose x-amz-checksum-<alg> is not what the parts give: 400 BadDigest, no
    object, the upload still open; the right value then completes it."""
    up, parts = _upload_parts(s3, bucket, "k", alg, kind)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=up,
            MultipartUpload={"Parts": parts},
            **{f"Checksum{alg}": given()},
        )
    assert _error(exc) == (400, "BadDigest")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="k")
    assert _error(exc)[0] == 404
    assert len(s3.list_parts(Bucket=bucket, Key="k", UploadId=up)["Parts"]) == len(BODIES)
    right = full(alg, b"".join(BODIES)) if kind == "FULL_OBJECT" else composite(alg, BODIES)
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="k",
        UploadId=up,
        MultipartUpload={"Parts": parts},
        **{f"Checksum{alg}": right},
    )
    assert done[f"Checksum{alg}"] == right


def test_complete_with_another_checksum_type_or_algorithm_is_bad_digest(
    s3: Any, bucket: str
) -> None:
    """The type and algorithm named on Complete must be the upload's: 400 BadDigest."""
    up, parts = _upload_parts(s3, bucket, "k", "CRC32", None)  # COMPOSITE
    for extra in (
        {"ChecksumType": "FULL_OBJECT", "ChecksumCRC32": full("CRC32", b"".join(BODIES))},
        {"ChecksumSHA256": composite("SHA256", BODIES)},
    ):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            s3.complete_multipart_upload(
                Bucket=bucket, Key="k", UploadId=up, MultipartUpload={"Parts": parts}, **extra
            )
        assert _error(exc) == (400, "BadDigest")


@pytest.mark.parametrize(
    "extra",
    [
        {"ChecksumAlgorithm": "SHA256", "ChecksumType": "FULL_OBJECT"},
        {"ChecksumAlgorithm": "SHA1", "ChecksumType": "FULL_OBJECT"},
        {"ChecksumAlgorithm": "CRC64NVME", "ChecksumType": "COMPOSITE"},
        {"ChecksumType": "FULL_OBJECT"},  # a type without an algorithm
    ],
    ids=["sha256-full", "sha1-full", "crc64nvme-composite", "no-algorithm"],
)
def test_checksum_type_the_algorithm_does_not_have_is_invalid_request(
    s3: Any, bucket: str, extra: dict[str, str]
) -> None:
    """Only CRC32/CRC32C have both types; SHA-1/SHA-256 are COMPOSITE only, CRC64NVME
    FULL_OBJECT only; a type needs an algorithm. Anything else: 400 InvalidRequest."""
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.create_multipart_upload(Bucket=bucket, Key="k", **extra)
    assert _error(exc) == (400, "InvalidRequest")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


# -- browser POST uploads: x-amz-checksum-* form fields ----------------------------------------


def _post(server: Any, post: dict[str, Any], content: bytes) -> Any:
    import httpx

    verify: Any = server.ssl_context() if server.scheme == "https" else False
    return httpx.post(
        post["url"],
        data=post["fields"],
        files={"file": ("f.bin", content, "application/octet-stream")},
        verify=verify,
        follow_redirects=False,
        timeout=60,
    )


@pytest.mark.parametrize("alg", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_post_upload_checksum_field_is_verified_and_stored(
    server: Any, s3: Any, bucket: str, alg: str
) -> None:
    """A browser POST's x-amz-checksum-<alg> field is checked against the file: the right value
    stores the object with it (GET/HEAD with checksum mode return it), a wrong one is 400
    BadDigest with nothing stored. AWS POST Object form fields
    (https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html) and "Checking object
    integrity" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html)."""
    data = os.urandom(300_000)
    field = f"x-amz-checksum-{alg.lower()}"
    for key, value, status in (
        ("right", full(alg, data), 204),
        ("wrong", full(alg, data + b"x"), 400),
    ):
        post = s3.generate_presigned_post(
            bucket,
            key,
            Fields={field: value, "x-amz-checksum-algorithm": alg},
            Conditions=[{field: value}, {"x-amz-checksum-algorithm": alg}],
            ExpiresIn=300,
        )
        resp = _post(server, post, data)
        assert resp.status_code == status, resp.text
        if status == 400:
            assert "<Code>BadDigest</Code>" in resp.text
            with pytest.raises(botocore.exceptions.ClientError) as exc:
                s3.head_object(Bucket=bucket, Key=key)
            assert _error(exc)[0] == 404
        else:
            head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
            assert head[f"Checksum{alg}"] == value
            assert head["ChecksumType"] == "FULL_OBJECT"
            got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
            assert got["Body"].read() == data


def test_post_upload_checksum_algorithm_field_alone_computes_it(
    server: Any, s3: Any, bucket: str
) -> None:
    """x-amz-checksum-algorithm alone asks the server to compute and store that checksum."""
    data = b"form upload with a computed checksum"
    post = s3.generate_presigned_post(
        bucket,
        "k",
        Fields={"x-amz-checksum-algorithm": "SHA256"},
        Conditions=[{"x-amz-checksum-algorithm": "SHA256"}],
        ExpiresIn=300,
    )
    resp = _post(server, post, data)
    assert resp.status_code == 204, resp.text
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == full("SHA256", data)
