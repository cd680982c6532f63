"""The support table (s3front.support) against the router, the handlers and the controls.

The e2e walk (tests/e2e/test_refusals.py) sends every entry to a real server; these checks
keep the table and the code that acts on it from drifting apart.
"""

from __future__ import annotations

import json

import pytest

from s3front import errors, routing, support
from s3front.access import acl as acls
from s3front.access import controls
from s3front.access import policy as policies
from s3front.api import HANDLERS
from s3front.xml import Grant

OWNER = "a" * 64
OTHER = "b" * 64


def _routed_subresources() -> dict[tuple[str, str, str], str]:
    """(level, method, sub-resource) -> op for every sub-resource rule of the router."""
    out: dict[tuple[str, str, str], str] = {}
    for (level, method), rules in routing._RULES.items():
        for rule in rules:
            if not rule.params or rule.copy_source:  # UploadPartCopy: UploadPart with a source
                continue
            # UploadPart / UploadPartCopy need partNumber and uploadId; the table names the
            # sub-resource (uploadId), partNumber being a plain parameter.
            name = "uploadId" if "uploadId" in rule.params else rule.params[0]
            out.setdefault((level, method, name), rule.op)
    return out


def test_every_routed_subresource_is_in_the_table_with_its_operation() -> None:
    routed = _routed_subresources()
    for key, op in routed.items():
        assert key in support.SUBRESOURCES, key
        assert support.SUBRESOURCES[key].name == op, (key, op)


def test_every_table_entry_is_routed_or_refused_by_the_router() -> None:
    routed = _routed_subresources()
    for key, op in support.SUBRESOURCES.items():
        level, method, name = key
        if key in routed:
            continue
        assert not op.implemented, f"{key} is marked implemented but nothing routes it"
        assert routing._UNSUPPORTED[(level, method)][name] == op.name  # type: ignore[index]


def test_implemented_operations_have_handlers_and_refused_ones_have_none() -> None:
    for key, op in support.SUBRESOURCES.items():
        if op.implemented:
            assert op.name in HANDLERS, key
        else:
            # A handler for a refused operation would be dead code (the app refuses first).
            assert op.name not in HANDLERS, key


def test_unknown_amz_header_is_not_implemented() -> None:
    with pytest.raises(errors.NotImplemented) as exc:
        support.check_headers([("x-amz-frobnicate", "yes")])
    assert exc.value.extra == {"Header": "x-amz-frobnicate"}
    assert exc.value.status == 501


def test_other_headers_are_not_the_tables_business() -> None:
    support.check_headers([("content-type", "text/plain"), ("if-match", '"x"')])


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"x-amz-storage-class": "GLACIER"}, errors.InvalidStorageClass),
        ({"x-amz-storage-class": "BOGUS"}, errors.InvalidStorageClass),
        ({"x-amz-storage-class": "standard"}, errors.InvalidStorageClass),  # AWS: case matters
        ({"x-amz-server-side-encryption-context": "e30="}, errors.NotImplemented),
        ({"x-amz-website-redirect-location": "/x"}, errors.NotImplemented),
        ({"x-amz-checksum-type": "PARTIAL"}, errors.InvalidRequest),
        ({"x-amz-security-token": "abc"}, errors.InvalidToken),
        ({"x-amz-mfa": "123 456"}, errors.NotImplemented),
    ],
)
def test_refused_headers(headers: dict[str, str], error: type[errors.S3Error]) -> None:
    with pytest.raises(error):
        support.check_headers(headers.items())


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-storage-class": "STANDARD"},
        {"x-amz-checksum-type": "COMPOSITE"},
        {"x-amz-checksum-type": "FULL_OBJECT"},
        {"x-amz-meta-anything": "1", "x-amz-acl": "private", "x-amz-tagging": "a=b"},
        {"x-amz-sdk-checksum-algorithm": "CRC32", "x-amz-checksum-crc32": "AAAAAA=="},
    ],
)
def test_accepted_headers(headers: dict[str, str]) -> None:
    support.check_headers(headers.items())


def test_form_fields() -> None:
    support.check_form_fields({"key": "k", "x-amz-meta-a": "1", "x-ignore-me": "z"})
    support.check_form_fields({"key": "k", "tagging": "<Tagging/>"})  # applied since issue 19
    with pytest.raises(errors.NotImplemented):
        support.check_form_fields({"key": "k", "x-amz-tagging": "a=b"})  # not a PostObject field
    with pytest.raises(errors.InvalidStorageClass):
        support.check_form_fields({"key": "k", "x-amz-storage-class": "GLACIER"})
    support.check_form_fields({"key": "k", "x-amz-server-side-encryption": "AES256"})
    with pytest.raises(errors.NotImplemented):
        support.check_form_fields({"key": "k", "x-amz-server-side-encryption-context": "e30="})


def test_encryption_lock_and_lifecycle_are_implemented() -> None:
    """The features that landed after the table was written are switched on in it."""
    for name in (
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-customer-key",
        "x-amz-object-lock-mode",
        "x-amz-bypass-governance-retention",
    ):
        assert isinstance(support.HEADERS[name], support.Implemented), name
    for op in (
        "PutBucketEncryption",
        "PutObjectLockConfiguration",
        "PutObjectRetention",
        "PutObjectLegalHold",
        "PutBucketLifecycleConfiguration",
        "DeleteBucketLifecycle",
    ):
        assert op not in support.REFUSED_OPS, op
        assert op in HANDLERS, op


# --- what "public" means ----------------------------------------------------------------------


def _policy(statement: dict[str, object]) -> policies.Policy:
    base = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    return policies.parse(json.dumps({"Statement": [{**base, **statement}]}), "b")


@pytest.mark.parametrize(
    ("statement", "public"),
    [
        ({"Principal": "*"}, True),
        ({"Principal": {"AWS": "*"}}, True),
        ({"Principal": {"AWS": OTHER}}, False),
        ({"Principal": "*", "Effect": "Deny"}, False),
        ({"Principal": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}, False),
        ({"Principal": "*", "Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/1"}}}, True),
        ({"Principal": "*", "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}, True),
        ({"Principal": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}, True),
        ({"Principal": "*", "Condition": {"StringLike": {"s3:prefix": "home/*"}}}, True),
    ],
)
def test_public_policy(statement: dict[str, object], public: bool) -> None:
    assert controls.is_public_policy(_policy(statement)) is public


def test_acl_write_checks() -> None:
    public = acls.canned("public-read", OWNER, OWNER)
    private = acls.canned("private", OWNER, OWNER)
    auth = acls.canned("authenticated-read", OWNER, OWNER)
    assert controls.is_public_acl(public) and controls.is_public_acl(auth)
    assert not controls.is_public_acl(acls.canned("log-delivery-write", OWNER, OWNER))
    block = {controls.PAB_ATTR: controls.pab_json(controls.PublicAccessBlock(True))}
    with pytest.raises(errors.AccessDenied):
        controls.check_acl_write(block, public, OWNER)
    controls.check_acl_write(block, private, OWNER)
    enforced = {controls.OWNERSHIP_ATTR: controls.BUCKET_OWNER_ENFORCED}
    with pytest.raises(errors.AccessControlListNotSupported):
        controls.check_acl_write(enforced, public, OWNER)
    with pytest.raises(errors.AccessControlListNotSupported):
        grant = acls.Acl(OWNER, (Grant("CanonicalUser", OTHER, "READ"),))
        controls.check_acl_write(enforced, grant, OWNER)
    controls.check_acl_write(
        enforced, acls.canned("bucket-owner-full-control", OWNER, OWNER), OWNER
    )


def test_object_owner() -> None:
    enforced = {controls.OWNERSHIP_ATTR: controls.BUCKET_OWNER_ENFORCED}
    preferred = {controls.OWNERSHIP_ATTR: controls.BUCKET_OWNER_PREFERRED}
    assert controls.object_owner(enforced, OTHER, OWNER, "") == OWNER
    assert controls.object_owner(preferred, OTHER, OWNER, "") == OTHER
    assert controls.object_owner(preferred, OTHER, OWNER, "bucket-owner-full-control") == OWNER
    assert controls.object_owner({}, OTHER, OWNER, "bucket-owner-full-control") == OTHER
