"""Object lock end to end (issue 15): a lock-enabled bucket, default retention, retention and
legal holds per version, the lock headers of PUT / copy / multipart / POST, and the delete
paths that must refuse a protected version (DeleteObject with a version id, DeleteObjects),
with boto3 and raw signed requests, on every server variant. Bad input gets AWS's error and
stores nothing. A GC pass at grace 0 after the refused deletes leaves the version readable.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions
import httpx
import pytest
import s3front_e2e_support as sup
from s3front_e2e_support import TenantKey as Key
from s3front_e2e_support import create_key

MiB = 1024 * 1024


def _delete_everything(s3: Any, name: str) -> None:
    """Best effort: GOVERNANCE versions go with the bypass, COMPLIANCE ones stay (as on AWS)."""
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                with contextlib.suppress(botocore.exceptions.ClientError):
                    s3.put_object_legal_hold(
                        Bucket=name,
                        Key=v["Key"],
                        VersionId=v["VersionId"],
                        LegalHold={"Status": "OFF"},
                    )
                with contextlib.suppress(botocore.exceptions.ClientError):
                    s3.delete_object(
                        Bucket=name,
                        Key=v["Key"],
                        VersionId=v["VersionId"],
                        BypassGovernanceRetention=True,
                    )
        s3.delete_bucket(Bucket=name)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
        pass


@pytest.fixture
def locked(s3: Any) -> Iterator[str]:
    """A fresh bucket created with object lock enabled."""
    name = sup.unique_bucket("lk")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    yield name
    _delete_everything(s3, name)


@pytest.fixture
def plain(s3: Any) -> Iterator[str]:
    name = sup.unique_bucket("nl")
    s3.create_bucket(Bucket=name)
    yield name
    _delete_everything(s3, name)


def _error(exc: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> tuple[int, str]:
    r = exc.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


def _future(days: float = 1) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _refused(call: Any, status: int, code: str, **kwargs: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        call(**kwargs)
    assert _error(exc) == (status, code)


# --- the bucket --------------------------------------------------------------------------------


def test_bucket_created_with_object_lock(s3: Any, locked: str) -> None:
    assert s3.get_bucket_versioning(Bucket=locked)["Status"] == "Enabled"
    conf = s3.get_object_lock_configuration(Bucket=locked)["ObjectLockConfiguration"]
    assert conf == {"ObjectLockEnabled": "Enabled"}
    # Versioning can never be suspended on a lock-enabled bucket.
    _refused(
        s3.put_bucket_versioning,
        409,
        "InvalidBucketState",
        Bucket=locked,
        VersioningConfiguration={"Status": "Suspended"},
    )
    assert s3.get_bucket_versioning(Bucket=locked)["Status"] == "Enabled"
    # Enabling again is no change and is fine.
    s3.put_bucket_versioning(Bucket=locked, VersioningConfiguration={"Status": "Enabled"})


def test_lock_configuration_on_other_buckets(s3: Any, plain: str) -> None:
    _refused(
        s3.get_object_lock_configuration, 404, "ObjectLockConfigurationNotFoundError", Bucket=plain
    )
    conf = {"ObjectLockEnabled": "Enabled"}
    # Not versioned: AWS refuses to turn object lock on.
    _refused(
        s3.put_object_lock_configuration,
        409,
        "InvalidBucketState",
        Bucket=plain,
        ObjectLockConfiguration=conf,
    )
    _refused(
        s3.get_object_lock_configuration, 404, "ObjectLockConfigurationNotFoundError", Bucket=plain
    )
    # Versioned: it may be turned on, and then versioning cannot be suspended.
    s3.put_bucket_versioning(Bucket=plain, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=plain, ObjectLockConfiguration=conf)
    assert s3.get_object_lock_configuration(Bucket=plain)["ObjectLockConfiguration"] == conf
    _refused(
        s3.put_bucket_versioning,
        409,
        "InvalidBucketState",
        Bucket=plain,
        VersioningConfiguration={"Status": "Suspended"},
    )


def test_default_retention_applies_to_new_versions(s3: Any, locked: str) -> None:
    for rule in ({"Mode": "COMPLIANCE", "Years": 2}, {"Mode": "GOVERNANCE", "Days": 3}):
        conf = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": rule}}
        s3.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration=conf)
        assert s3.get_object_lock_configuration(Bucket=locked)["ObjectLockConfiguration"] == conf
    before = datetime.now(UTC)
    vid = s3.put_object(Bucket=locked, Key="d", Body=b"default")["VersionId"]
    head = s3.head_object(Bucket=locked, Key="d", VersionId=vid)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    until = head["ObjectLockRetainUntilDate"]
    assert before + timedelta(days=3) - timedelta(minutes=5) < until
    assert until < datetime.now(UTC) + timedelta(days=3, minutes=5)
    got = s3.get_object_retention(Bucket=locked, Key="d", VersionId=vid)["Retention"]
    assert got == {"Mode": "GOVERNANCE", "RetainUntilDate": until}
    _refused(s3.delete_object, 403, "AccessDenied", Bucket=locked, Key="d", VersionId=vid)
    # Explicit headers win over the default.
    until2 = _future(10)
    vid2 = s3.put_object(
        Bucket=locked,
        Key="d",
        Body=b"explicit",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=until2,
    )["VersionId"]
    head2 = s3.head_object(Bucket=locked, Key="d", VersionId=vid2)
    assert head2["ObjectLockRetainUntilDate"] == until2
    # Removing the rule: new versions get no retention.
    s3.put_object_lock_configuration(
        Bucket=locked, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
    )
    vid3 = s3.put_object(Bucket=locked, Key="d", Body=b"free")["VersionId"]
    assert "ObjectLockMode" not in s3.head_object(Bucket=locked, Key="d", VersionId=vid3)
    s3.delete_object(Bucket=locked, Key="d", VersionId=vid3)


# --- legal hold --------------------------------------------------------------------------------


def test_legal_hold_blocks_every_delete_of_the_version(s3: Any, locked: str) -> None:
    vid = s3.put_object(Bucket=locked, Key="held", Body=b"evidence")["VersionId"]
    _refused(
        s3.get_object_legal_hold, 404, "NoSuchObjectLockConfiguration", Bucket=locked, Key="held"
    )
    s3.put_object_legal_hold(Bucket=locked, Key="held", LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=locked, Key="held", VersionId=vid)["LegalHold"] == {
        "Status": "ON"
    }
    assert s3.head_object(Bucket=locked, Key="held")["ObjectLockLegalHoldStatus"] == "ON"
    # By version id: refused, and the bypass does not lift a legal hold.
    _refused(s3.delete_object, 403, "AccessDenied", Bucket=locked, Key="held", VersionId=vid)
    _refused(
        s3.delete_object,
        403,
        "AccessDenied",
        Bucket=locked,
        Key="held",
        VersionId=vid,
        BypassGovernanceRetention=True,
    )
    out = s3.delete_objects(
        Bucket=locked,
        Delete={"Objects": [{"Key": "held", "VersionId": vid}]},
        BypassGovernanceRetention=True,
    )
    assert [(e["Key"], e["Code"]) for e in out["Errors"]] == [("held", "AccessDenied")]
    assert not out.get("Deleted")
    # Without a version id: a delete marker, as AWS (the version stays).
    marker = s3.delete_object(Bucket=locked, Key="held")
    assert marker["DeleteMarker"] is True
    assert s3.get_object(Bucket=locked, Key="held", VersionId=vid)["Body"].read() == b"evidence"
    # Released: the version may go.
    s3.put_object_legal_hold(Bucket=locked, Key="held", VersionId=vid, LegalHold={"Status": "OFF"})
    assert s3.get_object_legal_hold(Bucket=locked, Key="held", VersionId=vid)["LegalHold"] == {
        "Status": "OFF"
    }
    resp = s3.delete_object(Bucket=locked, Key="held", VersionId=vid)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204


# --- retention ---------------------------------------------------------------------------------


def test_compliance_cannot_be_shortened_removed_or_bypassed(s3: Any, locked: str) -> None:
    until = _future(2)
    vid = s3.put_object(
        Bucket=locked,
        Key="c",
        Body=b"compliant",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
    )["VersionId"]
    head = s3.head_object(Bucket=locked, Key="c")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("COMPLIANCE", until)
    raw = head["ResponseMetadata"]["HTTPHeaders"]["x-amz-object-lock-retain-until-date"]
    assert raw == until.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    for retention, bypass in [
        ({"Mode": "COMPLIANCE", "RetainUntilDate": _future(1)}, False),
        ({"Mode": "COMPLIANCE", "RetainUntilDate": _future(1)}, True),
        ({"Mode": "GOVERNANCE", "RetainUntilDate": _future(5)}, True),
        ({}, True),
    ]:
        _refused(
            s3.put_object_retention,
            403,
            "AccessDenied",
            Bucket=locked,
            Key="c",
            VersionId=vid,
            Retention=retention,
            BypassGovernanceRetention=bypass,
        )
    assert s3.get_object_retention(Bucket=locked, Key="c")["Retention"] == {
        "Mode": "COMPLIANCE",
        "RetainUntilDate": until,
    }
    # Extending is allowed.
    later = _future(3)
    s3.put_object_retention(
        Bucket=locked, Key="c", Retention={"Mode": "COMPLIANCE", "RetainUntilDate": later}
    )
    assert s3.get_object_retention(Bucket=locked, Key="c")["Retention"]["RetainUntilDate"] == later
    _refused(
        s3.delete_object,
        403,
        "AccessDenied",
        Bucket=locked,
        Key="c",
        VersionId=vid,
        BypassGovernanceRetention=True,
    )
    out = s3.delete_objects(
        Bucket=locked,
        Delete={"Objects": [{"Key": "c", "VersionId": vid}]},
        BypassGovernanceRetention=True,
    )
    assert [e["Code"] for e in out["Errors"]] == ["AccessDenied"]
    assert s3.get_object(Bucket=locked, Key="c", VersionId=vid)["Body"].read() == b"compliant"


def test_governance_yields_only_to_the_bypass(s3: Any, locked: str) -> None:
    vid = s3.put_object(Bucket=locked, Key="g", Body=b"governed")["VersionId"]
    _refused(s3.get_object_retention, 404, "NoSuchObjectLockConfiguration", Bucket=locked, Key="g")
    until = _future(5)
    s3.put_object_retention(
        Bucket=locked,
        Key="g",
        VersionId=vid,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until},
    )
    shorter = {"Mode": "GOVERNANCE", "RetainUntilDate": _future(1)}
    for retention in (shorter, {"Mode": "COMPLIANCE", "RetainUntilDate": until}, {}):
        _refused(
            s3.put_object_retention,
            403,
            "AccessDenied",
            Bucket=locked,
            Key="g",
            Retention=retention,
        )
    _refused(s3.delete_object, 403, "AccessDenied", Bucket=locked, Key="g", VersionId=vid)
    out = s3.delete_objects(Bucket=locked, Delete={"Objects": [{"Key": "g", "VersionId": vid}]})
    assert [e["Code"] for e in out["Errors"]] == ["AccessDenied"]
    s3.put_object_retention(
        Bucket=locked, Key="g", Retention=shorter, BypassGovernanceRetention=True
    )
    assert (
        s3.get_object_retention(Bucket=locked, Key="g")["Retention"]["RetainUntilDate"]
        == shorter["RetainUntilDate"]
    )
    out = s3.delete_objects(
        Bucket=locked,
        Delete={"Objects": [{"Key": "g", "VersionId": vid}]},
        BypassGovernanceRetention=True,
    )
    assert [d["VersionId"] for d in out["Deleted"]] == [vid]
    assert not out.get("Errors")


def test_bypass_needs_the_permission(server: Any, s3: Any, locked: str) -> None:
    bob: Key = create_key(server, f"bob-{uuid.uuid4().hex[:6]}")
    bob_s3 = server.client(access_key=bob.access_key, secret_key=bob.secret_key)
    vid = s3.put_object(
        Bucket=locked,
        Key="g",
        Body=b"governed",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=_future(1),
    )["VersionId"]

    def policy(actions: list[str]) -> None:
        statement = {
            "Effect": "Allow",
            "Principal": {"AWS": bob.tenant},
            "Action": actions,
            "Resource": f"arn:aws:s3:::{locked}/*",
        }
        s3.put_bucket_policy(
            Bucket=locked,
            Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )

    policy(["s3:DeleteObjectVersion", "s3:PutObjectRetention"])
    _refused(
        bob_s3.delete_object,
        403,
        "AccessDenied",
        Bucket=locked,
        Key="g",
        VersionId=vid,
        BypassGovernanceRetention=True,
    )
    _refused(
        bob_s3.put_object_retention,
        403,
        "AccessDenied",
        Bucket=locked,
        Key="g",
        Retention={},
        BypassGovernanceRetention=True,
    )
    policy(["s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"])
    # The permission alone is not the bypass: the header must be sent too.
    _refused(bob_s3.delete_object, 403, "AccessDenied", Bucket=locked, Key="g", VersionId=vid)
    bob_s3.delete_object(Bucket=locked, Key="g", VersionId=vid, BypassGovernanceRetention=True)
    _refused(s3.head_object, 404, "404", Bucket=locked, Key="g", VersionId=vid)


# --- lock headers on the other writes ----------------------------------------------------------


def test_lock_headers_on_copy_multipart_and_post(server: Any, s3: Any, locked: str) -> None:
    until = _future(1)
    src = s3.put_object(
        Bucket=locked,
        Key="src",
        Body=b"source",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
        ObjectLockLegalHoldStatus="ON",
    )["VersionId"]
    # A copy does not inherit the source's lock...
    plain_copy = s3.copy_object(Bucket=locked, Key="copy1", CopySource=f"{locked}/src")
    head = s3.head_object(Bucket=locked, Key="copy1", VersionId=plain_copy["VersionId"])
    assert "ObjectLockMode" not in head and "ObjectLockLegalHoldStatus" not in head
    # ...it takes its own headers.
    locked_copy = s3.copy_object(
        Bucket=locked,
        Key="copy2",
        CopySource={"Bucket": locked, "Key": "src", "VersionId": src},
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=until,
    )
    head = s3.head_object(Bucket=locked, Key="copy2")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("GOVERNANCE", until)
    _refused(
        s3.delete_object,
        403,
        "AccessDenied",
        Bucket=locked,
        Key="copy2",
        VersionId=locked_copy["VersionId"],
    )
    # Multipart: the headers of CreateMultipartUpload lock the completed object.
    up = s3.create_multipart_upload(Bucket=locked, Key="mp", ObjectLockLegalHoldStatus="ON")[
        "UploadId"
    ]
    part = s3.upload_part(Bucket=locked, Key="mp", UploadId=up, PartNumber=1, Body=b"p" * 1000)
    done = s3.complete_multipart_upload(
        Bucket=locked,
        Key="mp",
        UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert s3.head_object(Bucket=locked, Key="mp")["ObjectLockLegalHoldStatus"] == "ON"
    _refused(
        s3.delete_object, 403, "AccessDenied", Bucket=locked, Key="mp", VersionId=done["VersionId"]
    )
    # POST form upload: the fields of the same names.
    fields = {
        "x-amz-object-lock-mode": "GOVERNANCE",
        "x-amz-object-lock-retain-until-date": _iso(until),
    }
    post = s3.generate_presigned_post(
        locked,
        "posted",
        Fields=fields,
        Conditions=[{k: v} for k, v in fields.items()],
        ExpiresIn=300,
    )
    context = server.ssl_context()
    resp = httpx.post(
        post["url"],
        data=post["fields"],
        files={"file": ("f.txt", b"posted", "text/plain")},
        verify=context if context is not None else True,
        timeout=60,
    )
    assert resp.status_code == 204, resp.text
    head = s3.head_object(Bucket=locked, Key="posted")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("GOVERNANCE", until)
    _refused(
        s3.delete_object,
        403,
        "AccessDenied",
        Bucket=locked,
        Key="posted",
        VersionId=head["VersionId"],
    )


# --- bad input: AWS's error, nothing stored ----------------------------------------------------


def _lock_headers(mode: str | None, until: str | None, hold: str | None = None) -> dict[str, str]:
    out = {}
    if mode is not None:
        out["x-amz-object-lock-mode"] = mode
    if until is not None:
        out["x-amz-object-lock-retain-until-date"] = until
    if hold is not None:
        out["x-amz-object-lock-legal-hold"] = hold
    return out


PAST = "2001-01-01T00:00:00Z"
LATER = "2099-01-01T00:00:00Z"

BAD_PUTS = [
    ("past date", _lock_headers("GOVERNANCE", PAST), 400, "InvalidArgument"),
    ("bad mode", _lock_headers("FOREVER", LATER), 400, "InvalidArgument"),
    ("lower-case mode", _lock_headers("governance", LATER), 400, "InvalidArgument"),
    ("mode without date", _lock_headers("GOVERNANCE", None), 400, "InvalidArgument"),
    ("date without mode", _lock_headers(None, LATER), 400, "InvalidArgument"),
    ("not a date", _lock_headers("COMPLIANCE", "next tuesday"), 400, "InvalidArgument"),
    ("bad legal hold", _lock_headers(None, None, "MAYBE"), 400, "InvalidArgument"),
]


@pytest.mark.parametrize(
    ("case", "headers", "status", "code"), BAD_PUTS, ids=[c[0] for c in BAD_PUTS]
)
def test_bad_lock_headers_store_nothing(
    server: Any, s3: Any, locked: str, case: str, headers: dict[str, str], status: int, code: str
) -> None:
    body = b"payload"
    resp = server.raw(
        "PUT", f"/{locked}/k", headers={**headers, "content-md5": sup.content_md5(body)}, body=body
    )
    assert (resp.status, resp.error_code) == (status, code), str(resp)
    assert s3.list_object_versions(Bucket=locked).get("Versions") is None


def test_lock_headers_need_an_integrity_header_and_a_lock_bucket(
    server: Any, s3: Any, locked: str, plain: str
) -> None:
    body = b"payload"
    headers = _lock_headers("GOVERNANCE", LATER)
    resp = server.raw("PUT", f"/{locked}/k", headers=headers, body=body)
    assert (resp.status, resp.error_code) == (400, "InvalidRequest"), str(resp)
    assert b"Content-MD5 OR x-amz-checksum- HTTP header is required" in resp.body
    assert s3.list_object_versions(Bucket=locked).get("Versions") is None
    # With a checksum it is accepted.
    resp = server.raw(
        "PUT",
        f"/{locked}/k",
        headers={**headers, "x-amz-checksum-crc32": sup.crc32_b64(body)},
        body=body,
    )
    assert resp.status == 200, str(resp)
    # Any lock header on a bucket without object lock.
    for hdrs in (headers, _lock_headers(None, None, "OFF")):
        resp = server.raw(
            "PUT", f"/{plain}/k", headers={**hdrs, "content-md5": sup.content_md5(body)}, body=body
        )
        assert (resp.status, resp.error_code) == (400, "InvalidRequest"), str(resp)
        assert b"Bucket is missing Object Lock Configuration" in resp.body
    _refused(s3.head_object, 404, "404", Bucket=plain, Key="k")
    _refused(
        s3.copy_object,
        400,
        "InvalidRequest",
        Bucket=plain,
        Key="k2",
        CopySource=f"{locked}/k",
        ObjectLockLegalHoldStatus="ON",
    )
    _refused(
        s3.create_multipart_upload,
        400,
        "InvalidRequest",
        Bucket=plain,
        Key="k3",
        ObjectLockLegalHoldStatus="ON",
    )
    assert not s3.list_multipart_uploads(Bucket=plain).get("Uploads")
    _refused(s3.head_object, 404, "404", Bucket=plain, Key="k2")


def _config(inner: str) -> bytes:
    return (
        '<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"{inner}</ObjectLockConfiguration>"
    ).encode()


_RULE = "<Rule><DefaultRetention>{}</DefaultRetention></Rule>"
_ON = "<ObjectLockEnabled>Enabled</ObjectLockEnabled>"
BAD_CONFIGS = [
    (
        "days and years",
        _config(_ON + _RULE.format("<Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years>")),
        "MalformedXML",
    ),
    ("no period", _config(_ON + _RULE.format("<Mode>GOVERNANCE</Mode>")), "MalformedXML"),
    (
        "zero days",
        _config(_ON + _RULE.format("<Mode>GOVERNANCE</Mode><Days>0</Days>")),
        "InvalidRetentionPeriod",
    ),
    (
        "negative years",
        _config(_ON + _RULE.format("<Mode>COMPLIANCE</Mode><Years>-1</Years>")),
        "InvalidRetentionPeriod",
    ),
    (
        "days not a number",
        _config(_ON + _RULE.format("<Mode>GOVERNANCE</Mode><Days>x</Days>")),
        "MalformedXML",
    ),
    (
        "bad mode",
        _config(_ON + _RULE.format("<Mode>governance</Mode><Days>1</Days>")),
        "MalformedXML",
    ),
    ("no mode", _config(_ON + _RULE.format("<Days>1</Days>")), "MalformedXML"),
    ("disabled", _config("<ObjectLockEnabled>Disabled</ObjectLockEnabled>"), "MalformedXML"),
    ("empty rule", _config(_ON + "<Rule/>"), "MalformedXML"),
    ("not xml", b"<ObjectLockConfiguration>", "MalformedXML"),
    ("wrong root", b"<LegalHold><Status>ON</Status></LegalHold>", "MalformedXML"),
]


@pytest.mark.parametrize(("case", "body", "code"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_lock_configuration_stores_nothing(
    server: Any, s3: Any, locked: str, case: str, body: bytes, code: str
) -> None:
    resp = server.raw(
        "PUT",
        f"/{locked}",
        query="object-lock",
        headers={"content-md5": sup.content_md5(body)},
        body=body,
    )
    assert (resp.status, resp.error_code) == (400, code), str(resp)
    conf = s3.get_object_lock_configuration(Bucket=locked)["ObjectLockConfiguration"]
    assert conf == {"ObjectLockEnabled": "Enabled"}


def _retention(mode: str | None, until: str | None) -> bytes:
    inner = (f"<Mode>{mode}</Mode>" if mode is not None else "") + (
        f"<RetainUntilDate>{until}</RetainUntilDate>" if until is not None else ""
    )
    return f"<Retention>{inner}</Retention>".encode()


BAD_DOCUMENTS = [
    ("retention in the past", "retention", _retention("GOVERNANCE", PAST), 400, "InvalidArgument"),
    ("retention bad mode", "retention", _retention("FOREVER", LATER), 400, "MalformedXML"),
    ("retention no date", "retention", _retention("GOVERNANCE", None), 400, "MalformedXML"),
    ("retention bad date", "retention", _retention("GOVERNANCE", "soon"), 400, "MalformedXML"),
    (
        "legal hold bad status",
        "legal-hold",
        b"<LegalHold><Status>on</Status></LegalHold>",
        400,
        "MalformedXML",
    ),
    ("legal hold empty", "legal-hold", b"<LegalHold/>", 400, "MalformedXML"),
    ("legal hold not xml", "legal-hold", b"ON", 400, "MalformedXML"),
]


@pytest.mark.parametrize(
    ("case", "sub", "body", "status", "code"), BAD_DOCUMENTS, ids=[c[0] for c in BAD_DOCUMENTS]
)
def test_bad_retention_and_legal_hold_store_nothing(
    server: Any, s3: Any, locked: str, case: str, sub: str, body: bytes, status: int, code: str
) -> None:
    s3.put_object(Bucket=locked, Key="k", Body=b"x")
    resp = server.raw(
        "PUT", f"/{locked}/k", query=sub, headers={"content-md5": sup.content_md5(body)}, body=body
    )
    assert (resp.status, resp.error_code) == (status, code), str(resp)
    head = s3.head_object(Bucket=locked, Key="k")
    assert "ObjectLockMode" not in head and "ObjectLockLegalHoldStatus" not in head


def test_lock_requests_on_a_bucket_without_object_lock(server: Any, s3: Any, plain: str) -> None:
    s3.put_object(Bucket=plain, Key="k", Body=b"x")
    for call, kwargs in [
        (
            s3.put_object_retention,
            {"Retention": {"Mode": "GOVERNANCE", "RetainUntilDate": _future()}},
        ),
        (s3.get_object_retention, {}),
        (s3.put_object_legal_hold, {"LegalHold": {"Status": "ON"}}),
        (s3.get_object_legal_hold, {}),
    ]:
        _refused(call, 400, "InvalidRequest", Bucket=plain, Key="k", **kwargs)
    # The documents need Content-MD5 or a checksum, as on AWS.
    body = b"<LegalHold><Status>ON</Status></LegalHold>"
    resp = server.raw("PUT", f"/{plain}/k", query="legal-hold", body=body)
    assert (resp.status, resp.error_code) == (400, "InvalidRequest"), str(resp)


def test_create_bucket_with_a_bad_lock_header_creates_nothing(server: Any, s3: Any) -> None:
    name = sup.unique_bucket("bad")
    resp = server.raw("PUT", f"/{name}", headers={"x-amz-bucket-object-lock-enabled": "yes"})
    assert (resp.status, resp.error_code) == (400, "InvalidArgument"), str(resp)
    _refused(s3.head_bucket, 404, "404", Bucket=name)


# --- GC keeps a locked version's blocks --------------------------------------------------------


def _gc(server: Any) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("S3FRONT_")}
    done = subprocess.run(
        [sys.executable, "-m", "s3front", "gc", "--grace", "0", "--store", server.store_url],
        capture_output=True,
        cwd=server.workdir,
        env=env,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode()


def test_gc_never_frees_a_locked_version(server: Any, s3: Any, locked: str) -> None:
    data = os.urandom(2 * MiB + 12345)  # several blocks, in a manifest
    vid = s3.put_object(
        Bucket=locked,
        Key="big",
        Body=data,
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=_future(1),
    )["VersionId"]
    _refused(s3.delete_object, 403, "AccessDenied", Bucket=locked, Key="big", VersionId=vid)
    out = s3.delete_objects(Bucket=locked, Delete={"Objects": [{"Key": "big", "VersionId": vid}]})
    assert [e["Code"] for e in out["Errors"]] == ["AccessDenied"]
    s3.delete_object(Bucket=locked, Key="big")  # a delete marker on top
    _gc(server)
    got = s3.get_object(Bucket=locked, Key="big", VersionId=vid)["Body"].read()
    assert got == data
