"""Policy conditions and principals: every key is evaluated or the policy refused (issue 14,
item 4), with IAM's semantics for operators, qualifiers and absent keys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from s3front import errors
from s3front.access.authorize import is_allowed
from s3front.access.policy import Facts, evaluate, parse
from s3front.keys import tenant_id
from s3front.store.records import BucketRecord

ALICE = tenant_id("alice")
BOB = tenant_id("bob")


def policy_with(condition: dict[str, Any], effect: str = "Deny", principal: Any = "*") -> Any:
    statement = {
        "Effect": effect,
        "Principal": principal,
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
    }
    if condition:
        statement["Condition"] = condition
    return parse(json.dumps({"Statement": [statement]}), "b")


def facts(**values: str) -> Facts:
    return Facts("192.0.2.1", True, values={k.lower(): v for k, v in values.items()})


def denies(condition: dict[str, Any], fx: Facts) -> bool:
    return evaluate(policy_with(condition), ALICE, "s3:PutObject", "b/k", fx) is False


def test_acl_header_condition_applies() -> None:
    cond = {"StringEquals": {"s3:x-amz-acl": "public-read"}}
    assert denies(cond, facts(**{"s3:x-amz-acl": "public-read"}))
    assert not denies(cond, facts(**{"s3:x-amz-acl": "private"}))
    assert not denies(cond, facts())  # absent: a positive operator is false


@pytest.mark.parametrize(
    ("condition", "present", "absent"),
    [
        ({"StringNotEquals": {"s3:x-amz-acl": "private"}}, "public-read", True),
        ({"StringEqualsIfExists": {"s3:x-amz-acl": "public-read"}}, "public-read", True),
        ({"StringNotEqualsIfExists": {"s3:x-amz-acl": "x"}}, "public-read", True),
        ({"StringEqualsIgnoreCase": {"s3:x-amz-acl": "PUBLIC-READ"}}, "public-read", False),
        ({"StringLike": {"s3:x-amz-acl": "public-*"}}, "public-read", False),
        ({"StringNotLike": {"s3:x-amz-acl": "private*"}}, "public-read", True),
        ({"ForAnyValue:StringEquals": {"s3:x-amz-acl": "public-read"}}, "public-read", False),
        ({"ForAllValues:StringEquals": {"s3:x-amz-acl": "public-read"}}, "public-read", True),
        ({"Null": {"s3:x-amz-acl": "false"}}, "public-read", False),
    ],
)
def test_operators_and_absent_keys(condition: dict[str, Any], present: str, absent: bool) -> None:
    assert denies(condition, facts(**{"s3:x-amz-acl": present}))
    assert denies(condition, facts()) is absent


def test_null_true_means_absent() -> None:
    cond = {"Null": {"s3:x-amz-server-side-encryption": "true"}}
    assert denies(cond, facts())
    assert not denies(cond, facts(**{"s3:x-amz-server-side-encryption": "AES256"}))


def test_user_agent_referer_and_auth_keys() -> None:
    assert denies({"StringLike": {"aws:UserAgent": "*curl*"}}, facts(**{"aws:useragent": "curl/8"}))
    assert not denies({"StringLike": {"aws:UserAgent": "*curl*"}}, facts(**{"aws:useragent": "b"}))
    assert denies({"StringNotLike": {"aws:Referer": "https://ok/*"}}, facts())
    assert not denies(
        {"StringNotLike": {"aws:Referer": "https://ok/*"}}, facts(**{"aws:referer": "https://ok/a"})
    )
    sig = {"StringEquals": {"s3:signatureversion": "AWS"}}
    assert denies(sig, facts(**{"s3:signatureversion": "AWS"}))
    assert not denies(sig, facts(**{"s3:signatureversion": "AWS4-HMAC-SHA256"}))
    auth = {"StringNotEquals": {"s3:authType": "REST-HEADER"}}
    assert denies(auth, facts(**{"s3:authtype": "REST-QUERY-STRING"}))
    assert not denies(auth, facts(**{"s3:authtype": "REST-HEADER"}))


def test_numeric_date_ip_and_bool() -> None:
    many = {"NumericGreaterThan": {"s3:max-keys": "100"}}
    assert denies(many, facts(**{"s3:max-keys": "1000"}))
    assert not denies(many, facts(**{"s3:max-keys": "10"}))
    assert not denies(many, facts(**{"s3:max-keys": "junk"}))
    late = {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}
    assert denies(late, facts(**{"aws:currenttime": "2026-01-01T00:00:00Z"}))
    assert not denies(late, facts(**{"aws:currenttime": "2019-01-01T00:00:00Z"}))
    epoch = {"NumericLessThan": {"aws:EpochTime": 1000}}
    assert denies(epoch, facts(**{"aws:epochtime": "999"}))
    outside = {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    assert denies(outside, facts())  # 192.0.2.1
    assert not denies(outside, Facts("10.1.1.1", False))
    assert denies(outside, Facts("", False))  # no address: a negated operator holds
    assert denies({"Bool": {"aws:SecureTransport": "false"}}, Facts("1.1.1.1", False))
    assert not denies({"Bool": {"aws:SecureTransport": False}}, Facts("1.1.1.1", True))


@pytest.mark.parametrize(
    ("condition", "named"),
    [
        ({"ForAnyValue:StringLike": {"s3:RequestObjectTagKeys": "x"}}, "s3:RequestObjectTagKeys"),
        ({"StringEquals": {"s3:RequestObjectTag/team": "x"}}, "s3:RequestObjectTag/team"),
        ({"NumericGreaterThan": {"s3:TlsVersion": "1.2"}}, "s3:TlsVersion"),
        ({"StringEquals": {"aws:PrincipalOrgID": "o-1"}}, "aws:PrincipalOrgID"),
        ({"StringEquals": {"s3:made-up": "x"}}, "s3:made-up"),
        ({"StringEqualsWhatever": {"s3:x-amz-acl": "x"}}, "StringEqualsWhatever"),
        ({"BinaryEquals": {"s3:x-amz-acl": "not base64!"}}, "BinaryEquals"),
        ({"ArnLike": {"s3:prefix": "arn:aws:s3:::b/*"}}, "ArnLike"),
        ({"ArnLike": {"aws:SourceArn": "not-an-arn"}}, "aws:SourceArn"),
        ({"IpAddress": {"aws:SourceIp": "300.1.1.1/8"}}, "IpAddress"),
        ({"ForSomeValues:StringEquals": {"s3:x-amz-acl": "x"}}, "ForSomeValues"),
        ({"NullIfExists": {"s3:x-amz-acl": "true"}}, "NullIfExists"),
        ({"Bool": {"s3:x-amz-acl": "true"}}, "s3:x-amz-acl"),
        ({"NumericEquals": {"s3:max-keys": "ten"}}, "s3:max-keys"),
        ({"DateEquals": {"aws:CurrentTime": "yesterday"}}, "aws:CurrentTime"),
        ({"Null": {"s3:x-amz-acl": "maybe"}}, "s3:x-amz-acl"),
    ],
)
def test_what_cannot_be_evaluated_is_refused_by_name(condition: dict[str, Any], named: str) -> None:
    with pytest.raises(errors.MalformedPolicy) as info:
        policy_with(condition)
    assert named in str(info.value)


def test_existing_object_tags() -> None:
    policy = policy_with({"StringEquals": {"s3:existingObjectTag/Class": "secret"}})
    assert policy.tests_object_tags
    secret = Facts("192.0.2.1", True, values={"s3:existingobjecttag/Class": "secret"})
    assert evaluate(policy, ALICE, "s3:GetObject", "b/k", secret) is False
    other = Facts("192.0.2.1", True, values={"s3:existingobjecttag/class": "secret"})
    assert evaluate(policy, ALICE, "s3:GetObject", "b/k", other) is None  # tag keys: exact case
    assert evaluate(policy, ALICE, "s3:GetObject", "b/k", facts()) is None
    assert not policy_with({"StringEquals": {"s3:x-amz-acl": "x"}}).tests_object_tags


def test_iam_user_and_account_principals() -> None:
    users = policy_with(
        {}, principal={"AWS": ["arn:aws:iam::alice:user/ci", "arn:aws:iam::bob:user/team/ops"]}
    )
    assert users.users == {(ALICE, "ci"), (BOB, "ops")}
    ci = Facts("1.1.1.1", True, username="ci")
    assert evaluate(users, ALICE, "s3:GetObject", "b/k", ci) is False
    assert evaluate(users, BOB, "s3:GetObject", "b/k", ci) is None  # bob's "ci" is not named
    assert evaluate(users, ALICE, "s3:GetObject", "b/k", Facts("1.1.1.1", True)) is None
    assert evaluate(users, None, "s3:GetObject", "b/k", ci) is None
    ops = Facts("1.1.1.1", True, username="ops")
    assert evaluate(users, BOB, "s3:GetObject", "b/k", ops) is False
    root = policy_with({}, principal={"AWS": "arn:aws:iam::alice:root"})
    assert evaluate(root, ALICE, "s3:GetObject", "b/k", ci) is False
    assert evaluate(root, BOB, "s3:GetObject", "b/k", ci) is None


@pytest.mark.parametrize(
    "principal",
    [
        "arn:aws:iam::alice:role/admin",
        "arn:aws:iam::alice:group/devs",
        "arn:aws:sts::alice:assumed-role/r/s",
        "arn:aws:iam::alice:user/*",
        "arn:aws:iam::*:root",
        "arn:aws:iam:::user/bob",
        "ali*",
    ],
)
def test_principals_that_denote_nobody_are_refused(principal: str) -> None:
    with pytest.raises(errors.MalformedPolicy, match="Invalid principal"):
        policy_with({}, principal={"AWS": principal})


def test_a_stored_policy_that_no_longer_parses_fails_closed() -> None:
    """A policy an older version accepted (an unsupported key, never applied) now denies
    everything but the policy actions, so its owner can replace it."""
    text = json.dumps(
        {
            "Statement": {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::b/*",
                "Condition": {"StringEquals": {"s3:RequestObjectTag/x": "y"}},
            }
        }
    )
    owner = tenant_id("owner")
    b = BucketRecord("b", "id", owner, 0, "us-east-1", 1, attrs={"policy": text})
    here = Facts("127.0.0.1", False)
    assert not is_allowed(owner, "s3:GetObject", b, "k", None, here)
    assert not is_allowed(None, "s3:ListBucket", b, None, None, here)
    assert is_allowed(owner, "s3:PutBucketPolicy", b, None, None, here)
    assert is_allowed(owner, "s3:DeleteBucketPolicy", b, None, None, here)
