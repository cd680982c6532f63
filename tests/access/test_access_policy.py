"""Bucket policy parsing and evaluation, and the whole access decision, as pure functions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from s3front import errors
from s3front.access import acl as acls
from s3front.access.authorize import is_allowed
from s3front.access.policy import Facts, evaluate, parse
from s3front.keys import tenant_id
from s3front.store.records import BucketRecord, ObjectRecord

OWNER = tenant_id("owner")
ALICE = tenant_id("alice")
BOB = tenant_id("bob")
HERE = Facts(source_ip="192.0.2.10", secure=True)


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def st(effect: str, principal: Any, action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {
        "Effect": effect,
        "Principal": principal,
        "Action": action,
        "Resource": resource,
        **extra,
    }


def test_wildcards_principals_and_deny() -> None:
    policy = parse(
        doc(
            st(
                "Allow",
                {"AWS": [f"arn:aws:iam::{ALICE}:root", BOB]},
                "s3:Get*",
                "arn:aws:s3:::b/pub/*",
            ),
            st("Deny", {"AWS": "alice"}, ["s3:GetObject"], "arn:aws:s3:::b/pub/secret?"),
            st("Allow", "*", "s3:ListBucket", "arn:aws:s3:::b"),
        ),
        "b",
    )
    assert evaluate(policy, ALICE, "s3:GetObject", "b/pub/x", HERE) is True
    assert evaluate(policy, ALICE, "S3:getobjectacl", "b/pub/x", HERE) is True  # actions: any case
    assert evaluate(policy, BOB, "s3:GetObject", "b/pub/secret1", HERE) is True
    assert evaluate(policy, ALICE, "s3:GetObject", "b/pub/secret1", HERE) is False
    assert evaluate(policy, ALICE, "s3:GetObject", "b/pub/secret12", HERE) is True  # ? is one
    assert evaluate(policy, ALICE, "s3:PutObject", "b/pub/x", HERE) is None
    assert evaluate(policy, None, "s3:GetObject", "b/pub/x", HERE) is None
    assert evaluate(policy, None, "s3:ListBucket", "b", HERE) is True
    assert evaluate(policy, ALICE, "s3:GetObject", "b/PUB/x", HERE) is None  # keys: exact case


def test_conditions() -> None:
    policy = parse(
        doc(
            st(
                "Allow",
                "*",
                "s3:ListBucket",
                "arn:aws:s3:::b",
                Condition={"StringLike": {"s3:prefix": ["home/*", ""]}},
            ),
            st(
                "Allow",
                "*",
                "s3:GetObject",
                "arn:aws:s3:::b/*",
                Condition={"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}},
            ),
            st(
                "Deny",
                "*",
                "s3:PutObject",
                "arn:aws:s3:::b/*",
                Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            ),
            st(
                "Allow",
                "*",
                "s3:GetObjectAcl",
                "arn:aws:s3:::b/*",
                Condition={
                    "StringEquals": {"s3:prefix": "x"},
                    "Bool": {"aws:SecureTransport": True},
                },
            ),
        ),
        "b",
    )
    assert evaluate(policy, None, "s3:ListBucket", "b", Facts("1.1.1.1", False, "home/me/")) is True
    assert evaluate(policy, None, "s3:ListBucket", "b", Facts("1.1.1.1", False, "etc/")) is None
    assert evaluate(policy, None, "s3:ListBucket", "b", Facts("1.1.1.1", False, None)) is None
    assert evaluate(policy, None, "s3:GetObject", "b/k", HERE) is True
    assert evaluate(policy, None, "s3:GetObject", "b/k", Facts("2001:db8::1", False)) is True
    assert evaluate(policy, None, "s3:GetObject", "b/k", Facts("198.51.100.1", False)) is None
    assert evaluate(policy, OWNER, "s3:PutObject", "b/k", HERE) is False
    assert evaluate(policy, OWNER, "s3:PutObject", "b/k", Facts("10.1.2.3", False)) is None
    assert evaluate(policy, None, "s3:GetObjectAcl", "b/k", Facts("1.1.1.1", True, "x")) is True
    assert evaluate(policy, None, "s3:GetObjectAcl", "b/k", Facts("1.1.1.1", False, "x")) is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "{not json",
        json.dumps({"Statement": []}),
        json.dumps(
            {"Version": "2099-01-01", "Statement": st("Allow", "*", "s3:*", "arn:aws:s3:::b")}
        ),
        doc(st("Permit", "*", "s3:*", "arn:aws:s3:::b")),
        doc(st("Allow", "*", "s3:*", "arn:aws:s3:::other/*")),
        doc(st("Allow", "*", "iam:*", "arn:aws:s3:::b")),
        doc(st("Allow", {"Service": "x"}, "s3:*", "arn:aws:s3:::b")),
        doc(st("Allow", "*", "s3:*", "b/*")),
        doc(st("Allow", "*", [], "arn:aws:s3:::b")),
        doc({"Effect": "Allow", "Principal": "*", "Action": "s3:*"}),
        doc({**st("Allow", "*", "s3:*", "arn:aws:s3:::b"), "NotResource": "x"}),
        doc(st("Allow", "*", "s3:*", "arn:aws:s3:::b", Condition={"DateGreaterThan": {"a": "b"}})),
        doc(
            st(
                "Allow",
                "*",
                "s3:*",
                "arn:aws:s3:::b",
                Condition={"IpAddress": {"aws:SourceIp": "x"}},
            )
        ),
        doc(
            st(
                "Allow",
                "*",
                "s3:*",
                "arn:aws:s3:::b",
                Condition={"IpAddress": {"s3:prefix": "1.2.3.4"}},
            )
        ),
    ],
)
def test_malformed(text: str) -> None:
    with pytest.raises(errors.MalformedPolicy):
        parse(text, "b")


def test_single_statement_object() -> None:
    text = json.dumps({"Statement": st("Allow", "*", "s3:GetObject", "arn:aws:s3:::b*/*")})
    assert evaluate(parse(text, "b"), None, "s3:GetObject", "b/k", HERE) is True


# -- the decision -------------------------------------------------------------------------------


def bucket(**attrs: str) -> BucketRecord:
    return BucketRecord("b", "id", OWNER, 0, "us-east-1", 1, attrs=attrs)


def obj(owner: str = OWNER, **attrs: str) -> ObjectRecord:
    return ObjectRecord("k", 0, "null", 1, "e", 0, owner, attrs=attrs)


def test_owner_acl_and_anonymous() -> None:
    b = bucket()
    assert is_allowed(OWNER, "s3:PutBucketCORS", b, None, None, HERE)
    assert not is_allowed(ALICE, "s3:ListBucket", b, None, None, HERE)
    assert not is_allowed(None, "s3:GetObject", b, "k", obj(), HERE)
    public = obj(acl=acls.dumps(acls.canned("public-read", OWNER, OWNER)))
    assert is_allowed(None, "s3:GetObject", b, "k", public, HERE)
    assert is_allowed(ALICE, "s3:GetObjectVersion", b, "k", public, HERE)
    assert not is_allowed(None, "s3:GetObjectAcl", b, "k", public, HERE)
    assert not is_allowed(None, "s3:PutObject", b, "k", public, HERE)
    auth = bucket(acl=acls.dumps(acls.canned("authenticated-read", OWNER, OWNER)))
    assert is_allowed(ALICE, "s3:ListBucket", auth, None, None, HERE)
    assert not is_allowed(None, "s3:ListBucket", auth, None, None, HERE)
    assert not is_allowed(ALICE, "s3:PutBucketTagging", auth, None, None, HERE)
    rw = bucket(acl=acls.dumps(acls.canned("public-read-write", OWNER, OWNER)))
    assert is_allowed(None, "s3:PutObject", rw, "k", None, HERE)
    assert is_allowed(ALICE, "s3:DeleteObject", rw, "k", None, HERE)
    # An object's writer owns it, even in someone else's bucket.
    assert is_allowed(ALICE, "s3:PutObjectAcl", b, "k", obj(ALICE), HERE)
    owner_read = obj(ALICE, acl=acls.dumps(acls.canned("bucket-owner-read", ALICE, OWNER)))
    assert is_allowed(OWNER, "s3:GetObject", b, "k", owner_read, HERE)


def test_deny_binds_owner_but_not_for_the_policy_itself() -> None:
    text = doc(st("Deny", "*", "s3:*", ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]))
    b = bucket(policy=text)
    assert not is_allowed(OWNER, "s3:GetObject", b, "k", obj(), HERE)
    assert not is_allowed(OWNER, "s3:ListBucket", b, None, None, HERE)
    for action in ("s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"):
        assert is_allowed(OWNER, action, b, None, None, HERE)
    allow_all = bucket(policy=doc(st("Allow", "*", "s3:*", "arn:aws:s3:::b")))
    assert not is_allowed(ALICE, "s3:PutBucketPolicy", allow_all, None, None, HERE)
    assert is_allowed(ALICE, "s3:GetBucketLocation", allow_all, None, None, HERE)
