"""Lifecycle end to end: a real `s3front serve` (SQLite, and Cassandra when marked) whose
lifecycle "day" is 2 seconds and whose worker runs every second, driven by boto3 and raw signed
requests: the configuration API and its bad-input table, each rule kind, the filters,
versioned and unversioned buckets, delete markers and aborted uploads."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import s3front_e2e_support as sup

DAY_SECONDS = 2
# A 1-day rule acts 2-4 s after the object's creation; the worker runs every second. Polls
# allow far more, for a loaded machine.
DEADLINE = 60.0


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)],
)
def lc_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    backend = request.param
    url = request.getfixturevalue("lc_cassandra_url") if backend == "cassandra" else None
    srv = sup.start_server(
        tmp_path_factory.mktemp(f"lc-{backend}"),
        store_url=url,
        variant=f"http-{backend}",
        ready_timeout=60,
        env_extra={
            "S3FRONT_LIFECYCLE_DAY_SECONDS": str(DAY_SECONDS),
            "S3FRONT_LIFECYCLE_INTERVAL": "1",
        },
    )
    try:
        yield srv
    finally:
        sup.stop_server(srv)


@pytest.fixture
def s3(lc_server: Any) -> Iterator[Any]:
    client = lc_server.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def bucket(s3: Any) -> str:
    name = sup.unique_bucket("lc")
    s3.create_bucket(Bucket=name)
    return name


def _rule(rule_id: str, flt: dict[str, Any], **actions: Any) -> dict[str, Any]:
    return {"ID": rule_id, "Status": "Enabled", "Filter": flt, **actions}


def _wait(what: str, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.5)
    raise AssertionError(f"lifecycle did not {what} within {DEADLINE} s")


def _keys(s3: Any, bucket: str) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def _versions(s3: Any, bucket: str, key: str) -> tuple[list[Any], list[Any]]:
    out = s3.list_object_versions(Bucket=bucket, Prefix=key)
    versions = [v for v in out.get("Versions", []) if v["Key"] == key]
    markers = [m for m in out.get("DeleteMarkers", []) if m["Key"] == key]
    return versions, markers


# -- the configuration API ------------------------------------------------------------------------
def test_put_get_delete_configuration(s3: Any, bucket: str) -> None:
    rules = [
        _rule("logs", {"Prefix": "logs/"}, Expiration={"Days": 30}),
        _rule(
            "and",
            {"And": {"Prefix": "a/", "Tags": [{"Key": "k", "Value": "v"}],
                     "ObjectSizeGreaterThan": 10}},
            NoncurrentVersionExpiration={"NoncurrentDays": 5, "NewerNoncurrentVersions": 3},
        ),
        _rule("mpu", {}, AbortIncompleteMultipartUpload={"DaysAfterInitiation": 7}),
        _rule("dm", {"Prefix": ""}, Expiration={"ExpiredObjectDeleteMarker": True}),
        _rule("date", {"Tag": {"Key": "t", "Value": "1"}},
              Expiration={"Date": "2030-01-01T00:00:00Z"}),
    ]  # fmt: skip
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in got] == ["logs", "and", "mpu", "dm", "date"]
    assert got[0]["Filter"] == {"Prefix": "logs/"} and got[0]["Expiration"] == {"Days": 30}
    assert got[1]["Filter"]["And"]["Tags"] == [{"Key": "k", "Value": "v"}]
    assert got[1]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": 5,
        "NewerNoncurrentVersions": 3,
    }
    assert got[2]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert got[3]["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    assert got[4]["Expiration"]["Date"].year == 2030
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(s3.exceptions.ClientError) as err:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert err.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"


def _doc(*rules: str) -> bytes:
    return (
        "<LifecycleConfiguration>" + "".join(f"<Rule>{r}</Rule>" for r in rules)
        + "</LifecycleConfiguration>"
    ).encode()  # fmt: skip


_OK_EXP = "<Expiration><Days>1</Days></Expiration>"
_BAD = [
    ("not xml", b"<Lifecycle", "MalformedXML"),
    ("wrong root", b"<Foo/>", "MalformedXML"),
    ("no rules", b"<LifecycleConfiguration/>", "MalformedXML"),
    ("no status", _doc(f"<Filter/>{_OK_EXP}"), "MalformedXML"),
    ("bad status", _doc(f"<Filter/><Status>On</Status>{_OK_EXP}"), "MalformedXML"),
    ("no filter", _doc(f"<Status>Enabled</Status>{_OK_EXP}"), "MalformedXML"),
    ("filter and prefix",
     _doc(f"<Filter/><Prefix>a</Prefix><Status>Enabled</Status>{_OK_EXP}"), "MalformedXML"),
    ("two predicates",
     _doc(f"<Filter><Prefix>a</Prefix><ObjectSizeLessThan>5</ObjectSizeLessThan></Filter>"
          f"<Status>Enabled</Status>{_OK_EXP}"), "MalformedXML"),
    ("days zero",
     _doc("<Filter/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration>"),
     "InvalidArgument"),
    ("days negative",
     _doc("<Filter/><Status>Enabled</Status><Expiration><Days>-3</Days></Expiration>"),
     "InvalidArgument"),
    ("days not a number",
     _doc("<Filter/><Status>Enabled</Status><Expiration><Days>x</Days></Expiration>"),
     "MalformedXML"),
    ("days and date",
     _doc("<Filter/><Status>Enabled</Status><Expiration><Days>1</Days>"
          "<Date>2030-01-01T00:00:00Z</Date></Expiration>"), "MalformedXML"),
    ("date not midnight",
     _doc("<Filter/><Status>Enabled</Status><Expiration><Date>2030-01-01T10:00:00Z</Date>"
          "</Expiration>"), "InvalidArgument"),
    ("noncurrent days zero",
     _doc("<Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>0"
          "</NoncurrentDays></NoncurrentVersionExpiration>"), "InvalidArgument"),
    ("newer noncurrent 101",
     _doc("<Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1"
          "</NoncurrentDays><NewerNoncurrentVersions>101</NewerNoncurrentVersions>"
          "</NoncurrentVersionExpiration>"), "InvalidArgument"),
    ("abort days zero",
     _doc("<Filter/><Status>Enabled</Status><AbortIncompleteMultipartUpload>"
          "<DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload>"),
     "InvalidArgument"),
    ("abort with tag",
     _doc("<Filter><Tag><Key>a</Key><Value>b</Value></Tag></Filter><Status>Enabled</Status>"
          "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
          "</AbortIncompleteMultipartUpload>"), "InvalidRequest"),
    ("no action", _doc("<Filter/><Status>Enabled</Status>"), "InvalidRequest"),
    ("duplicate ids",
     _doc(f"<ID>x</ID><Filter/><Status>Enabled</Status>{_OK_EXP}",
          f"<ID>x</ID><Filter/><Status>Enabled</Status>{_OK_EXP}"), "InvalidArgument"),
    ("id too long",
     _doc(f"<ID>{'i' * 256}</ID><Filter/><Status>Enabled</Status>{_OK_EXP}"),
     "InvalidArgument"),
    ("1001 rules",
     _doc(*[f"<ID>r{i}</ID><Filter/><Status>Enabled</Status>{_OK_EXP}" for i in range(1001)]),
     "InvalidRequest"),
    ("size range empty",
     _doc("<Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>5"
          f"</ObjectSizeLessThan></And></Filter><Status>Enabled</Status>{_OK_EXP}"),
     "InvalidArgument"),
    ("transition to glacier",
     _doc("<Filter/><Status>Enabled</Status><Transition><Days>30</Days>"
          "<StorageClass>GLACIER</StorageClass></Transition>"), "InvalidStorageClass"),
    ("transition to nonsense",
     _doc("<Filter/><Status>Enabled</Status><Transition><Days>30</Days>"
          "<StorageClass>FOO</StorageClass></Transition>"), "MalformedXML"),
    ("unknown element",
     _doc(f"<Filter/><Status>Enabled</Status><Bogus/>{_OK_EXP}"), "MalformedXML"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "code"), [pytest.param(b, c, id=n) for n, b, c in _BAD])
def test_bad_configuration(lc_server: Any, bucket: str, body: bytes, code: str) -> None:
    headers = {"content-md5": sup.content_md5(body)}
    resp = lc_server.raw("PUT", f"/{bucket}", query="lifecycle", headers=headers, body=body)
    assert resp.status in (400, 501) and sup.error_code(resp.body) == code, resp.body
    assert resp.status == 400


def test_configuration_needs_an_integrity_header(lc_server: Any, bucket: str) -> None:
    body = _doc(f"<Filter/><Status>Enabled</Status>{_OK_EXP}")
    resp = lc_server.raw("PUT", f"/{bucket}", query="lifecycle", body=body)
    assert resp.status == 400 and sup.error_code(resp.body) == "InvalidRequest"
    bad = {"content-md5": sup.content_md5(b"other")}
    resp = lc_server.raw("PUT", f"/{bucket}", query="lifecycle", headers=bad, body=body)
    assert resp.status == 400 and sup.error_code(resp.body) == "BadDigest"
    ok = {"x-amz-checksum-crc32": sup.crc32_b64(body)}
    resp = lc_server.raw("PUT", f"/{bucket}", query="lifecycle", headers=ok, body=body)
    assert resp.status == 200, resp.body


# -- the worker inside serve ---------------------------------------------------------------------
def test_expiration_unversioned_with_filters(s3: Any, bucket: str) -> None:
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                _rule("logs", {"Prefix": "logs/"}, Expiration={"Days": 1}),
                _rule("tmp", {"Tag": {"Key": "tmp", "Value": "1"}}, Expiration={"Days": 1}),
                _rule("big", {"ObjectSizeGreaterThan": 100}, Expiration={"Days": 1}),
                _rule(
                    "and",
                    {"And": {"Prefix": "a/", "Tags": [{"Key": "k", "Value": "v"}],
                             "ObjectSizeLessThan": 50}},
                    Expiration={"Days": 1},
                ),
            ]
        },
    )  # fmt: skip
    gone = {"logs/1": {}, "tagged": {"Tagging": "tmp=1"}, "big": {"Body": b"x" * 101},
            "a/small": {"Tagging": "k=v"}}  # fmt: skip
    kept = {"data/1": {}, "tagged0": {"Tagging": "tmp=0"}, "size100": {"Body": b"x" * 100},
            "a/notag": {}, "a/large": {"Tagging": "k=v", "Body": b"x" * 60},
            "b/small": {"Tagging": "k=v"}}  # fmt: skip
    for key, kw in {**gone, **kept}.items():
        s3.put_object(Bucket=bucket, Key=key, **{"Body": b"x", **kw})
    _wait("expire the matching objects", lambda: not (_keys(s3, bucket) & set(gone)))
    time.sleep(2 * DAY_SECONDS)  # more passes: still nothing else goes
    assert _keys(s3, bucket) == set(kept)


def test_expiration_versioned_adds_a_marker_and_noncurrent_go(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                _rule("exp", {"Prefix": "exp/"}, Expiration={"Days": 1}),
                _rule(
                    "nc",
                    {"Prefix": "nc/"},
                    NoncurrentVersionExpiration={"NoncurrentDays": 1, "NewerNoncurrentVersions": 1},
                ),
            ]
        },
    )
    first = s3.put_object(Bucket=bucket, Key="exp/a", Body=b"1")["VersionId"]
    ids = [s3.put_object(Bucket=bucket, Key="nc/k", Body=b"%d" % i)["VersionId"] for i in range(4)]
    _wait("add a delete marker", lambda: bool(_versions(s3, bucket, "exp/a")[1]))
    versions, markers = _versions(s3, bucket, "exp/a")
    assert [v["VersionId"] for v in versions] == [first] and len(markers) == 1
    assert markers[0]["IsLatest"]
    # nc/k: the current version and the newest noncurrent one stay.
    _wait("remove noncurrent versions", lambda: len(_versions(s3, bucket, "nc/k")[0]) == 2)
    time.sleep(2 * DAY_SECONDS)
    versions, markers = _versions(s3, bucket, "nc/k")
    assert [v["VersionId"] for v in versions] == ids[::-1][:2] and not markers
    # Still exactly one marker on exp/a (and it is not removed: there is a version below it).
    assert len(_versions(s3, bucket, "exp/a")[1]) == 1


def test_expired_object_delete_marker_removed(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                _rule("dm", {}, Expiration={"ExpiredObjectDeleteMarker": True}),
                _rule("nc", {}, NoncurrentVersionExpiration={"NoncurrentDays": 1}),
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    s3.delete_object(Bucket=bucket, Key="k")  # a marker over one version
    # The version goes as noncurrent, then the marker is alone and goes too.
    _wait("remove the version and then the marker", lambda: _versions(s3, bucket, "k") == ([], []))


def test_abort_incomplete_multipart_upload(s3: Any, bucket: str) -> None:
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                _rule("mpu", {"Prefix": "up/"},
                      AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1})
            ]
        },
    )  # fmt: skip
    old = s3.create_multipart_upload(Bucket=bucket, Key="up/a")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="up/a", UploadId=old, PartNumber=1, Body=b"p" * 100)
    other = s3.create_multipart_upload(Bucket=bucket, Key="keep/a")["UploadId"]

    def uploads() -> set[str]:
        return {u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])}

    _wait("abort the upload", lambda: old not in uploads())
    assert uploads() == {other}
    with pytest.raises(s3.exceptions.ClientError) as err:
        s3.list_parts(Bucket=bucket, Key="up/a", UploadId=old)
    assert err.value.response["Error"]["Code"] == "NoSuchUpload"
    s3.abort_multipart_upload(Bucket=bucket, Key="keep/a", UploadId=other)


def test_cli_lifecycle_run(lc_server: Any, s3: Any, bucket: str, tmp_path: Path) -> None:
    """`s3front lifecycle run` against the same store: one pass, a summary line on stdout."""
    s3.put_object(Bucket=bucket, Key="x", Body=b"1")
    store = lc_server.store_url
    out = sup.run(
        [str(sup.BIN / "s3front"), "lifecycle", "run", "--store", store],
        env={**os.environ, "S3FRONT_LIFECYCLE_DAY_SECONDS": str(DAY_SECONDS)},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("lifecycle: buckets "), out.stdout


# -- response headers ------------------------------------------------------------------------------
def test_expiration_and_abort_headers(lc_server: Any, bucket: str) -> None:
    """x-amz-expiration on PUT/GET/HEAD/copy/Complete, x-amz-abort-* on Create and ListParts,
    with AWS's date: creation + Days rounded up to the next (2-second) "midnight"."""
    s3 = lc_server.client()
    try:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={
                "Rules": [
                    _rule("far", {"Prefix": "h/"}, Expiration={"Days": 1000}),
                    _rule("mpu", {"Prefix": "h/"},
                          AbortIncompleteMultipartUpload={"DaysAfterInitiation": 500}),
                ]
            },
        )  # fmt: skip

        def expiry(value: str) -> float:
            m = re.fullmatch(r'expiry-date="([^"]+)", rule-id="far"', value)
            assert m, value
            return parsedate_to_datetime(m.group(1)).timestamp()

        before = time.time()
        put = s3.put_object(Bucket=bucket, Key="h/a", Body=b"1")
        after = time.time()
        at = expiry(put["Expiration"])
        assert at % DAY_SECONDS == 0  # at a "midnight"
        assert before + 1000 * DAY_SECONDS <= at <= after + 1001 * DAY_SECONDS
        assert expiry(s3.head_object(Bucket=bucket, Key="h/a")["Expiration"]) == at
        assert expiry(s3.get_object(Bucket=bucket, Key="h/a")["Expiration"]) > 0
        copy = s3.copy_object(Bucket=bucket, Key="h/b", CopySource={"Bucket": bucket, "Key": "h/a"})
        assert expiry(copy["Expiration"]) >= at
        # Not under the rule's prefix: no header.
        other = lc_server.raw("PUT", f"/{bucket}/x", body=b"1")
        assert other.status == 200 and "x-amz-expiration" not in other.headers

        up = s3.create_multipart_upload(Bucket=bucket, Key="h/m")
        assert up["AbortRuleId"] == "mpu"
        abort_at = up["AbortDate"].timestamp()
        assert abort_at % DAY_SECONDS == 0 and abort_at >= before + 500 * DAY_SECONDS
        part = s3.upload_part(Bucket=bucket, Key="h/m", UploadId=up["UploadId"], PartNumber=1,
                              Body=b"p")  # fmt: skip
        listed = s3.list_parts(Bucket=bucket, Key="h/m", UploadId=up["UploadId"])
        assert listed["AbortRuleId"] == "mpu" and listed["AbortDate"].timestamp() == abort_at
        done = s3.complete_multipart_upload(
            Bucket=bucket, Key="h/m", UploadId=up["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )  # fmt: skip
        assert expiry(done["Expiration"]) >= at
        assert "AbortDate" not in s3.create_multipart_upload(Bucket=bucket, Key="x/m")
    finally:
        s3.close()


def test_locked_versions_are_kept(s3: Any) -> None:
    """Object lock beats lifecycle: in a lock-enabled bucket, noncurrent expiration removes an
    unlocked old version but keeps one under retention and one under a legal hold (AWS: "a
    lifecycle rule cannot delete a locked object version"); expiration of the current version
    only adds a delete marker, which destroys nothing."""
    name = sup.unique_bucket("lclock")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    s3.put_bucket_lifecycle_configuration(
        Bucket=name,
        LifecycleConfiguration={
            "Rules": [
                _rule("nc", {"Prefix": ""}, NoncurrentVersionExpiration={"NoncurrentDays": 1})
            ]
        },
    )
    until = datetime.now(UTC) + timedelta(days=1)
    retained = s3.put_object(
        Bucket=name,
        Key="retained",
        Body=b"r",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=until,
        ChecksumAlgorithm="CRC32",
    )["VersionId"]
    held = s3.put_object(
        Bucket=name,
        Key="held",
        Body=b"h",
        ObjectLockLegalHoldStatus="ON",
        ChecksumAlgorithm="CRC32",
    )["VersionId"]
    plain = s3.put_object(Bucket=name, Key="plain", Body=b"p")["VersionId"]
    for key in ("retained", "held", "plain"):  # each old version becomes noncurrent
        s3.put_object(Bucket=name, Key=key, Body=b"new")
    _wait(
        "remove the unlocked noncurrent version", lambda: len(_versions(s3, name, "plain")[0]) == 1
    )
    time.sleep(2 * DAY_SECONDS)  # passes enough for the locked ones to have been judged too
    assert retained in [v["VersionId"] for v in _versions(s3, name, "retained")[0]]
    assert held in [v["VersionId"] for v in _versions(s3, name, "held")[0]]
    assert plain not in [v["VersionId"] for v in _versions(s3, name, "plain")[0]]
    got = s3.get_object(Bucket=name, Key="retained", VersionId=retained)["Body"].read()
    assert got == b"r"
