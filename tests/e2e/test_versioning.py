"""Versioning end to end with boto3: bucket states, versions by id, delete markers, the
Suspended "null" version, never-versioned buckets (no version headers, "null" accepted),
DeleteObjects with versions, ListObjectVersions paging, conditional writes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import botocore.exceptions
import pytest
import s3front_e2e_support as sup


def _empty_versions_and_delete(s3: Any, name: str) -> None:
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
        s3.delete_bucket(Bucket=name)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
        pass


@pytest.fixture
def vbucket(s3: Any) -> Iterator[str]:
    """A fresh bucket with versioning Enabled, emptied of every version afterwards."""
    name = sup.unique_bucket("v")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    yield name
    _empty_versions_and_delete(s3, name)


@pytest.fixture
def plain(s3: Any) -> Iterator[str]:
    """A fresh never-versioned bucket."""
    name = sup.unique_bucket("p")
    s3.create_bucket(Bucket=name)
    yield name
    _empty_versions_and_delete(s3, name)


def _headers(resp: Any) -> dict[str, str]:
    return dict(resp["ResponseMetadata"]["HTTPHeaders"])


def _error(
    exc: pytest.ExceptionInfo[botocore.exceptions.ClientError],
) -> tuple[int, str, dict[str, str]]:
    r = exc.value.response
    return (
        r["ResponseMetadata"]["HTTPStatusCode"],
        r["Error"]["Code"],
        dict(r["ResponseMetadata"]["HTTPHeaders"]),
    )


def _versions(server: Any, bucket: str, **params: str) -> list[tuple[str, str, bool, bool]]:
    """(key, version id, is latest, is delete marker) in the order of the ListVersionsResult
    document (boto3 splits versions from delete markers and so loses the interleaving)."""
    return _listing(server, bucket, **params)[0]


def _listing(
    server: Any, bucket: str, **params: str
) -> tuple[list[tuple[str, str, bool, bool]], ET.Element]:
    query = "&".join(["versions"] + [f"{k}={quote(v, safe='')}" for k, v in sorted(params.items())])
    resp = server.raw("GET", f"/{bucket}", query=query)
    assert resp.status == 200, str(resp)
    root = resp.xml()
    rows = []
    for el in root:
        tag = el.tag.removeprefix(sup.S3_NS)
        if tag in ("Version", "DeleteMarker"):
            rows.append(
                (
                    el.findtext(f"{sup.S3_NS}Key") or "",
                    el.findtext(f"{sup.S3_NS}VersionId") or "",
                    el.findtext(f"{sup.S3_NS}IsLatest") == "true",
                    tag == "DeleteMarker",
                )
            )
    return rows, root


def test_bucket_versioning_states(s3: Any, server: Any, plain: str) -> None:
    assert "Status" not in s3.get_bucket_versioning(Bucket=plain)
    s3.put_bucket_versioning(Bucket=plain, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=plain)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=plain, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=plain)["Status"] == "Suspended"
    bad = b"<VersioningConfiguration><Status>Disabled</Status></VersioningConfiguration>"
    resp = server.raw("PUT", f"/{plain}", query="versioning", body=bad)
    assert resp.status == 400 and resp.error_code == "MalformedXML", str(resp)
    assert s3.get_bucket_versioning(Bucket=plain)["Status"] == "Suspended"


def test_versions_by_id_and_delete_markers(s3: Any, server: Any, vbucket: str) -> None:
    ids = []
    for i in range(3):
        resp = s3.put_object(Bucket=vbucket, Key="k", Body=f"body-{i}".encode())
        ids.append(resp["VersionId"])
        assert _headers(resp)["x-amz-version-id"] == resp["VersionId"]
    assert len(set(ids)) == 3 and "null" not in ids
    for i, vid in enumerate(ids):
        got = s3.get_object(Bucket=vbucket, Key="k", VersionId=vid)
        assert got["Body"].read() == f"body-{i}".encode()
        assert got["VersionId"] == vid
        assert s3.head_object(Bucket=vbucket, Key="k", VersionId=vid)["ContentLength"] == 6
    latest = s3.get_object(Bucket=vbucket, Key="k")
    assert latest["Body"].read() == b"body-2" and latest["VersionId"] == ids[2]
    listed = _versions(server, vbucket)
    assert listed == [
        ("k", ids[2], True, False),
        ("k", ids[1], False, False),
        ("k", ids[0], False, False),
    ]

    # DELETE without a version id: a delete marker on top.
    dm = s3.delete_object(Bucket=vbucket, Key="k")
    assert dm["DeleteMarker"] is True and dm["VersionId"] not in ids
    assert _headers(dm)["x-amz-delete-marker"] == "true"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_object(Bucket=vbucket, Key="k")
    status, code, headers = _error(exc)
    assert (status, code, headers["x-amz-delete-marker"]) == (404, "NoSuchKey", "true")
    assert headers["x-amz-version-id"] == dm["VersionId"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.head_object(Bucket=vbucket, Key="k")
    status, _, headers = _error(exc)
    assert (status, headers["x-amz-delete-marker"]) == (404, "true")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_object(Bucket=vbucket, Key="k", VersionId=dm["VersionId"])
    status, code, headers = _error(exc)
    assert (status, code, headers["x-amz-delete-marker"]) == (405, "MethodNotAllowed", "true")
    assert "Contents" not in s3.list_objects_v2(Bucket=vbucket)
    assert _versions(server, vbucket)[0] == ("k", dm["VersionId"], True, True)
    # Older versions are still readable by id.
    assert s3.get_object(Bucket=vbucket, Key="k", VersionId=ids[0])["Body"].read() == b"body-0"

    # Deleting the marker brings the object back.
    undo = s3.delete_object(Bucket=vbucket, Key="k", VersionId=dm["VersionId"])
    assert undo["DeleteMarker"] is True and undo["VersionId"] == dm["VersionId"]
    assert s3.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"body-2"

    # Deleting one version removes exactly that one.
    gone = s3.delete_object(Bucket=vbucket, Key="k", VersionId=ids[1])
    assert gone["VersionId"] == ids[1] and "DeleteMarker" not in gone
    assert [v for _, v, _, _ in _versions(server, vbucket)] == [ids[2], ids[0]]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_object(Bucket=vbucket, Key="k", VersionId=ids[1])
    assert _error(exc)[:2] == (404, "NoSuchVersion")
    # Deleting the newest makes the next one the latest.
    s3.delete_object(Bucket=vbucket, Key="k", VersionId=ids[2])
    assert s3.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"body-0"
    assert _versions(server, vbucket) == [("k", ids[0], True, False)]


def test_suspended_replaces_the_null_version(s3: Any, server: Any, vbucket: str) -> None:
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"enabled")["VersionId"]
    s3.put_bucket_versioning(Bucket=vbucket, VersioningConfiguration={"Status": "Suspended"})
    for body in (b"null-1", b"null-2"):
        resp = s3.put_object(Bucket=vbucket, Key="k", Body=body)
        assert "x-amz-version-id" not in _headers(resp)  # as AWS: no header for a null write
    assert _versions(server, vbucket) == [("k", "null", True, False), ("k", v1, False, False)]
    got = s3.get_object(Bucket=vbucket, Key="k", VersionId="null")
    assert got["Body"].read() == b"null-2" and got["VersionId"] == "null"
    assert s3.get_object(Bucket=vbucket, Key="k", VersionId=v1)["Body"].read() == b"enabled"
    # A delete in a Suspended bucket is a "null" delete marker that replaces the null version.
    dm = s3.delete_object(Bucket=vbucket, Key="k")
    assert dm["DeleteMarker"] is True and dm["VersionId"] == "null"
    assert _versions(server, vbucket) == [("k", "null", True, True), ("k", v1, False, False)]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_object(Bucket=vbucket, Key="k")
    assert _error(exc)[:2] == (404, "NoSuchKey")
    # Enabled again: new versions stack on top, the null marker stays in history.
    s3.put_bucket_versioning(Bucket=vbucket, VersioningConfiguration={"Status": "Enabled"})
    v3 = s3.put_object(Bucket=vbucket, Key="k", Body=b"again")["VersionId"]
    assert [(v, dm_) for _, v, _, dm_ in _versions(server, vbucket)] == [
        (v3, False),
        ("null", True),
        (v1, False),
    ]


def test_never_versioned_bucket(s3: Any, server: Any, plain: str) -> None:
    put = s3.put_object(Bucket=plain, Key="k", Body=b"one")
    assert "x-amz-version-id" not in _headers(put) and "VersionId" not in put
    put = s3.put_object(Bucket=plain, Key="k", Body=b"two")  # overwritten in place
    got = s3.get_object(Bucket=plain, Key="k")
    assert got["Body"].read() == b"two" and "x-amz-version-id" not in _headers(got)
    # rclone HEADs ?versionId=null after uploads.
    head = s3.head_object(Bucket=plain, Key="k", VersionId="null")
    assert head["ETag"] == put["ETag"] and "x-amz-version-id" not in _headers(head)
    resp = s3.list_object_versions(Bucket=plain)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in resp["Versions"]] == [
        ("k", "null", True)
    ]
    assert "DeleteMarkers" not in resp
    # Cleanup scripts delete with VersionId null.
    deleted = s3.delete_object(Bucket=plain, Key="k", VersionId="null")
    assert "x-amz-version-id" not in _headers(deleted)
    assert "Versions" not in s3.list_object_versions(Bucket=plain)
    # A plain delete removes the row; no marker appears.
    s3.put_object(Bucket=plain, Key="j", Body=b"x")
    deleted = s3.delete_object(Bucket=plain, Key="j")
    assert "x-amz-delete-marker" not in _headers(deleted)
    resp = s3.list_object_versions(Bucket=plain)
    assert "Versions" not in resp and "DeleteMarkers" not in resp
    raw = server.raw("GET", f"/{plain}/j")
    assert raw.status == 404 and "x-amz-delete-marker" not in raw.headers


def test_delete_objects_with_versions(s3: Any, server: Any, vbucket: str) -> None:
    a1 = s3.put_object(Bucket=vbucket, Key="a", Body=b"a1")["VersionId"]
    a2 = s3.put_object(Bucket=vbucket, Key="a", Body=b"a2")["VersionId"]
    s3.put_object(Bucket=vbucket, Key="b", Body=b"b1")
    resp = s3.delete_objects(
        Bucket=vbucket, Delete={"Objects": [{"Key": "a", "VersionId": a1}, {"Key": "b"}]}
    )
    by_key = {d["Key"]: d for d in resp["Deleted"]}
    assert by_key["a"]["VersionId"] == a1 and "DeleteMarker" not in by_key["a"]
    assert by_key["b"]["DeleteMarker"] is True
    marker = by_key["b"]["DeleteMarkerVersionId"]
    assert "Errors" not in resp
    assert _versions(server, vbucket) == [
        ("a", a2, True, False),
        ("b", marker, True, True),
        ("b", _versions(server, vbucket, prefix="b")[1][1], False, False),
    ]
    # Removing the marker by id reports it as a marker.
    resp = s3.delete_objects(
        Bucket=vbucket, Delete={"Objects": [{"Key": "b", "VersionId": marker}]}
    )
    (entry,) = resp["Deleted"]
    assert (entry["VersionId"], entry["DeleteMarker"], entry["DeleteMarkerVersionId"]) == (
        marker,
        True,
        marker,
    )
    assert s3.get_object(Bucket=vbucket, Key="b")["Body"].read() == b"b1"


def test_list_object_versions_paging_prefix_delimiter(s3: Any, server: Any, vbucket: str) -> None:
    expected: list[tuple[str, str]] = []
    for key, count in (("a", 3), ("d/x", 2), ("d/y", 1), ("z", 2)):
        ids = [s3.put_object(Bucket=vbucket, Key=key, Body=b"x")["VersionId"] for _ in range(count)]
        expected += [(key, vid) for vid in reversed(ids)]
    z_marker = s3.delete_object(Bucket=vbucket, Key="z")["VersionId"]
    expected.insert(len(expected) - 2, ("z", z_marker))

    seen: list[tuple[str, str]] = []
    params: dict[str, str] = {"max-keys": "2"}
    pages = 0
    while True:
        rows, root = _listing(server, vbucket, **params)
        pages += 1
        assert len(rows) <= 2
        seen += [(k, v) for k, v, _, _ in rows]
        if root.findtext(f"{sup.S3_NS}IsTruncated") != "true":
            break
        next_key = root.findtext(f"{sup.S3_NS}NextKeyMarker") or ""
        next_version = root.findtext(f"{sup.S3_NS}NextVersionIdMarker") or ""
        assert (next_key, next_version) == seen[-1]
        params = {"max-keys": "2", "key-marker": next_key, "version-id-marker": next_version}
    assert seen == expected and pages == 5
    # boto3's paginator walks the same markers.
    paginated = [
        (v["Key"], v["VersionId"])
        for page in s3.get_paginator("list_object_versions").paginate(
            Bucket=vbucket, PaginationConfig={"PageSize": 3}
        )
        for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
    ]
    assert sorted(paginated) == sorted(expected) and len(paginated) == len(expected)

    resp = s3.list_object_versions(Bucket=vbucket, Delimiter="/")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["d/"]
    assert {v["Key"] for v in resp["Versions"]} == {"a", "z"}
    resp = s3.list_object_versions(Bucket=vbucket, Prefix="d/")
    assert [(v["Key"], v["VersionId"]) for v in resp["Versions"]] == [
        e for e in expected if e[0].startswith("d/")
    ]
    # A bare key-marker starts after every version of that key.
    resp = s3.list_object_versions(Bucket=vbucket, KeyMarker="d/x")
    assert [v["Key"] for v in resp["Versions"]] == ["d/y", "z", "z"]


def test_multipart_and_conditional_writes_in_versioned_bucket(
    s3: Any, server: Any, vbucket: str
) -> None:
    first = s3.put_object(Bucket=vbucket, Key="k", Body=b"first")
    up = s3.create_multipart_upload(Bucket=vbucket, Key="k")
    part = s3.upload_part(
        Bucket=vbucket, Key="k", UploadId=up["UploadId"], PartNumber=1, Body=b"mp"
    )
    done = s3.complete_multipart_upload(
        Bucket=vbucket,
        Key="k",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert done["VersionId"] not in ("null", first["VersionId"])
    assert (
        s3.get_object(Bucket=vbucket, Key="k", VersionId=done["VersionId"])["Body"].read() == b"mp"
    )
    assert (
        s3.get_object(Bucket=vbucket, Key="k", VersionId=first["VersionId"])["Body"].read()
        == b"first"
    )

    # If-None-Match: * fails while the latest is a live object, succeeds over a delete marker.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.put_object(Bucket=vbucket, Key="k", Body=b"no", IfNoneMatch="*")
    assert _error(exc)[:2] == (412, "PreconditionFailed")
    s3.delete_object(Bucket=vbucket, Key="k")
    created = s3.put_object(Bucket=vbucket, Key="k", Body=b"created", IfNoneMatch="*")
    # If-Match compares the latest version's etag.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.put_object(Bucket=vbucket, Key="k", Body=b"no", IfMatch=first["ETag"])
    assert _error(exc)[:2] == (412, "PreconditionFailed")
    s3.put_object(Bucket=vbucket, Key="k", Body=b"matched", IfMatch=created["ETag"])
    assert s3.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"matched"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.put_object(Bucket=vbucket, Key="never", Body=b"no", IfMatch=first["ETag"])
    assert _error(exc)[:2] == (404, "NoSuchKey")
    # Four versions and one marker of k; the failed writes left nothing.
    assert len(_versions(server, vbucket)) == 5


@pytest.mark.parametrize("versioned", [True, False], ids=["versioned", "never-versioned"])
def test_racing_conditional_writers_have_one_winner(
    s3: Any, vbucket: str, plain: str, versioned: bool
) -> None:
    """Eight writers race `If-None-Match: *` on a fresh key, then on an existing one with
    `If-Match` of its etag: each time exactly one wins; the losers get 412 or 409 and leave
    no version behind."""
    from concurrent.futures import ThreadPoolExecutor

    bucket = vbucket if versioned else plain

    def attempt(i: int, **cond: str) -> int:
        try:
            s3.put_object(Bucket=bucket, Key="race", Body=f"writer {i}".encode(), **cond)
        except botocore.exceptions.ClientError as exc:
            status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            code = exc.response["Error"]["Code"]
            assert (status, code) in (
                (412, "PreconditionFailed"),
                (409, "ConditionalRequestConflict"),
            )
            return 0
        return 1

    with ThreadPoolExecutor(8) as pool:
        wins = sum(pool.map(lambda i: attempt(i, IfNoneMatch="*"), range(8)))
    assert wins == 1
    head = s3.head_object(Bucket=bucket, Key="race")
    with ThreadPoolExecutor(8) as pool:
        wins = sum(pool.map(lambda i: attempt(100 + i, IfMatch=head["ETag"]), range(8)))
    assert wins == 1
    body = s3.get_object(Bucket=bucket, Key="race")["Body"].read()
    assert body.startswith(b"writer 1")
    if versioned:
        versions = s3.list_object_versions(Bucket=bucket, Prefix="race").get("Versions", [])
        assert len(versions) == 2
