"""The order of a canned ACL's grants (issue 19 item 1): group grants, then the owner's
FULL_CONTROL, then the bucket owner's grant on another tenant's object. AWS's canned ACL table
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#canned-acl) says who
gets what; the order is the one ceph/s3-tests (test_bucket_acl_canned*,
test_object_acl_canned_bucketownerread), run against AWS, compares in order."""

from __future__ import annotations

import pytest

from s3front.access import acl as acls
from s3front.keys import tenant_id
from s3front.xml import Grant

OWNER = tenant_id("owner")
WRITER = tenant_id("writer")
ALL, AUTH, LOG = acls.ALL_USERS, acls.AUTHENTICATED_USERS, acls.LOG_DELIVERY


def _g(kind: str, who: str, perm: str) -> Grant:
    return Grant(kind, who, perm)


OWN = _g("CanonicalUser", OWNER, "FULL_CONTROL")
WRITER_OWN = _g("CanonicalUser", WRITER, "FULL_CONTROL")


@pytest.mark.parametrize(
    ("name", "owner", "expected"),
    [
        ("private", OWNER, (OWN,)),
        ("public-read", OWNER, (_g("Group", ALL, "READ"), OWN)),
        ("public-read-write", OWNER, (_g("Group", ALL, "READ"), _g("Group", ALL, "WRITE"), OWN)),
        ("authenticated-read", OWNER, (_g("Group", AUTH, "READ"), OWN)),
        (
            "log-delivery-write",
            OWNER,
            (_g("Group", LOG, "WRITE"), _g("Group", LOG, "READ_ACP"), OWN),
        ),
        ("bucket-owner-read", OWNER, (OWN,)),
        ("bucket-owner-full-control", OWNER, (OWN,)),
        ("bucket-owner-read", WRITER, (WRITER_OWN, _g("CanonicalUser", OWNER, "READ"))),
        (
            "bucket-owner-full-control",
            WRITER,
            (WRITER_OWN, _g("CanonicalUser", OWNER, "FULL_CONTROL")),
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else "writer" if v == WRITER else "",
)
def test_canned_acl_grant_order(name: str, owner: str, expected: tuple[Grant, ...]) -> None:
    acl = acls.canned(name, owner, OWNER)
    assert acl.owner == owner
    assert acl.grants == expected
