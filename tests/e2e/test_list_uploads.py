"""ListMultipartUploads against a live server (boto3): order, prefix, delimiter, paging."""

from __future__ import annotations

from typing import Any

import pytest

KEYS = ["a/1", "a/2", "b", "b", "c/x/1", "d"]  # two uploads of "b"


@pytest.fixture
def uploads(s3: Any, bucket: str) -> list[tuple[str, str]]:
    """(key, upload id) of every upload, in S3's listing order (key, then upload id)."""
    out = []
    for key in KEYS:
        out.append((key, s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]))
    # One completed upload is no longer listed; an aborted one neither.
    done = s3.create_multipart_upload(Bucket=bucket, Key="a/done")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="a/done", UploadId=done, PartNumber=1, Body=b"x")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="a/done",
        UploadId=done,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    gone = s3.create_multipart_upload(Bucket=bucket, Key="a/aborted")["UploadId"]
    s3.abort_multipart_upload(Bucket=bucket, Key="a/aborted", UploadId=gone)
    return sorted(out)


def _listed(page: dict[str, Any]) -> list[tuple[str, str]]:
    return [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]


def test_list_all(s3: Any, bucket: str, uploads: list[tuple[str, str]]) -> None:
    page = s3.list_multipart_uploads(Bucket=bucket)
    assert _listed(page) == uploads
    assert page["IsTruncated"] is False
    assert "CommonPrefixes" not in page
    assert {u["Initiator"]["ID"] for u in page["Uploads"]} == {page["Uploads"][0]["Owner"]["ID"]}


@pytest.mark.parametrize(
    ("prefix", "delimiter", "keys", "prefixes"),
    [
        ("a/", "", ["a/1", "a/2"], []),
        ("b", "", ["b", "b"], []),
        ("", "/", ["b", "b", "d"], ["a/", "c/"]),
        ("c/", "/", [], ["c/x/"]),
        ("zzz", "", [], []),
    ],
)
def test_prefix_and_delimiter(
    s3: Any,
    bucket: str,
    uploads: list[tuple[str, str]],
    prefix: str,
    delimiter: str,
    keys: list[str],
    prefixes: list[str],
) -> None:
    page = s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix, Delimiter=delimiter)
    assert [k for k, _ in _listed(page)] == keys
    assert [p["Prefix"] for p in page.get("CommonPrefixes", [])] == prefixes
    assert page["IsTruncated"] is False


@pytest.mark.parametrize("max_uploads", [1, 2, 3, 5])
def test_paging(s3: Any, bucket: str, uploads: list[tuple[str, str]], max_uploads: int) -> None:
    seen: list[tuple[str, str]] = []
    kwargs: dict[str, Any] = {}
    for _ in range(10):
        page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=max_uploads, **kwargs)
        assert len(page.get("Uploads", [])) <= max_uploads
        seen += _listed(page)
        if not page["IsTruncated"]:
            break
        assert page["NextKeyMarker"] == seen[-1][0]
        assert page["NextUploadIdMarker"] == seen[-1][1]
        kwargs = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
    assert seen == uploads


def test_paginator_with_delimiter(s3: Any, bucket: str, uploads: list[tuple[str, str]]) -> None:
    pages = list(
        s3.get_paginator("list_multipart_uploads").paginate(
            Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 1}
        )
    )
    keys = [k for p in pages for k, _ in _listed(p)]
    prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
    assert keys == ["b", "b", "d"]
    assert prefixes == ["a/", "c/"]


def test_key_marker_alone_skips_that_key(
    s3: Any, bucket: str, uploads: list[tuple[str, str]]
) -> None:
    # A KeyMarker without UploadIdMarker: keys strictly after it, so neither upload of "b".
    page = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="b")
    assert [k for k, _ in _listed(page)] == ["c/x/1", "d"]
    # With an UploadIdMarker: the uploads of that key after the marker, then later keys.
    first_b = next(u for k, u in uploads if k == "b")
    page = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="b", UploadIdMarker=first_b)
    assert _listed(page) == [u for u in uploads if u > ("b", first_b)]
    # A marker between keys.
    page = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="a/15")
    assert [k for k, _ in _listed(page)] == ["a/2", "b", "b", "c/x/1", "d"]
