"""Every IAM condition operator against the keys s3front evaluates (issue 19 item 10), one table
row per case, with what a key absent from the request does.

Sources (the AWS IAM User Guide):
- OPS: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
  (String, Numeric, Date, Bool, Binary, IP address, ARN, ...IfExists, Null; "If the key that you
  specify in a policy condition is not present in the request context, the values do not match
  and the condition is false. If the policy condition requires that the key is not matched, such
  as StringNotLike or ArnNotLike, and the right key is not present, the condition is true.")
- SETS: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
  (ForAllValues is true when the key is absent; ForAnyValue is false)
- LOGIC: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html
  (values of one key ORed; keys and operators ANDed)
- VARS: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from s3front import errors
from s3front.access.conditions import OPERATORS, Facts, holds, parse_block
from s3front.access.policy import parse

ACL = "s3:x-amz-acl"
MAX = "s3:max-keys"
NOW = "aws:currenttime"
EPOCH = "aws:epochtime"
SRC = "aws:sourcearn"
IP = "aws:sourceip"
TLS = "aws:securetransport"
MFA = "aws:multifactorauthpresent"
T0 = "2026-01-01T00:00:00Z"  # epoch 1767225600
B64_PRIVATE = base64.b64encode(b"private").decode()
BUCKET_ARN = "arn:aws:s3:::bucket"
TOPIC = "arn:aws:sns:us-east-1:123456789012:topic"


def facts_for(key: str, value: str | None) -> Facts:
    """A request whose only tested key is `key` (None: absent)."""
    if key == IP:
        return Facts(value or "", True)
    if key == TLS:
        return Facts("192.0.2.1", value == "true")
    if key == "s3:prefix":
        return Facts("192.0.2.1", True, prefix=value)
    return Facts("192.0.2.1", True, values={} if value is None else {key: value})


# (operator, key, policy values, request value or None for absent, holds) -- source: OPS
ROWS: list[tuple[str, str, Any, str | None, bool]] = [
    # String: exact and case-sensitive; values ORed; negation is "matches none of them".
    ("StringEquals", ACL, "private", "private", True),
    ("StringEquals", ACL, "private", "Private", False),
    ("StringEquals", ACL, ["public-read", "private"], "private", True),
    ("StringEquals", ACL, "private", None, False),
    ("StringNotEquals", ACL, "private", "public-read", True),
    ("StringNotEquals", ACL, ["public-read", "private"], "private", False),
    ("StringNotEquals", ACL, "private", None, True),
    ("StringEqualsIgnoreCase", ACL, "PRIVATE", "private", True),
    ("StringEqualsIgnoreCase", ACL, "PRIVATE", "public-read", False),
    ("StringEqualsIgnoreCase", ACL, "PRIVATE", None, False),
    ("StringNotEqualsIgnoreCase", ACL, "PRIVATE", "private", False),
    ("StringNotEqualsIgnoreCase", ACL, "PRIVATE", "public-read", True),
    ("StringNotEqualsIgnoreCase", ACL, "PRIVATE", None, True),
    ("StringLike", "s3:prefix", "home/*", "home/alice/", True),
    ("StringLike", "s3:prefix", "?ome/*", "home/a", True),
    ("StringLike", "s3:prefix", "home/*", "Home/a", False),
    ("StringLike", "s3:prefix", "home/*", None, False),
    ("StringNotLike", "s3:prefix", "home/*", "other/", True),
    ("StringNotLike", "s3:prefix", ["other/*", "home/*"], "home/a", False),
    ("StringNotLike", "s3:prefix", "home/*", None, True),
    # Numeric
    ("NumericEquals", MAX, "10", "10", True),
    ("NumericEquals", MAX, 10, "11", False),
    ("NumericEquals", MAX, "10", None, False),
    ("NumericNotEquals", MAX, "10", "11", True),
    ("NumericNotEquals", MAX, "10", "10", False),
    ("NumericNotEquals", MAX, "10", None, True),
    ("NumericLessThan", MAX, "10", "9", True),
    ("NumericLessThan", MAX, "10", "10", False),
    ("NumericLessThan", MAX, "10", None, False),
    ("NumericLessThanEquals", MAX, "10", "10", True),
    ("NumericLessThanEquals", MAX, "10", "11", False),
    ("NumericGreaterThan", MAX, "10", "11", True),
    ("NumericGreaterThan", MAX, "10", "10", False),
    ("NumericGreaterThanEquals", MAX, "10", "10", True),
    ("NumericGreaterThanEquals", MAX, "10", "9", False),
    ("NumericGreaterThan", MAX, "10", "many", False),  # not a number: never matches
    ("NumericLessThan", EPOCH, "1767225600", "1767225599", True),
    # Date: ISO 8601 (date or date-time) or epoch seconds in the policy.
    ("DateEquals", NOW, T0, T0, True),
    ("DateEquals", NOW, "1767225600", T0, True),
    ("DateEquals", NOW, "2026-01-01", T0, True),
    ("DateEquals", NOW, T0, None, False),
    ("DateNotEquals", NOW, T0, "2026-01-02T00:00:00Z", True),
    ("DateNotEquals", NOW, T0, T0, False),
    ("DateNotEquals", NOW, T0, None, True),
    ("DateLessThan", NOW, T0, "2025-12-31T23:59:59Z", True),
    ("DateLessThan", NOW, T0, T0, False),
    ("DateLessThanEquals", NOW, T0, T0, True),
    ("DateLessThanEquals", NOW, T0, "2026-01-01T00:00:01Z", False),
    ("DateGreaterThan", NOW, T0, "2026-01-01T00:00:01Z", True),
    ("DateGreaterThan", NOW, T0, T0, False),
    ("DateGreaterThanEquals", NOW, T0, T0, True),
    ("DateGreaterThanEquals", NOW, T0, "2025-12-31T23:59:59Z", False),
    ("DateLessThan", EPOCH, T0, "1767225599", True),
    # Bool
    ("Bool", TLS, "true", "true", True),
    ("Bool", TLS, "true", "false", False),
    ("Bool", TLS, False, "false", True),
    ("Bool", MFA, "true", None, False),
    # Binary: the key's bytes against the base64-decoded policy value.
    ("BinaryEquals", ACL, B64_PRIVATE, "private", True),
    ("BinaryEquals", ACL, B64_PRIVATE, "public-read", False),
    ("BinaryEquals", ACL, B64_PRIVATE, None, False),
    # IP address: CIDR or one address, IPv4 and IPv6; an IPv4 client seen on a dual-stack
    # listener (::ffff:a.b.c.d) is that IPv4 address.
    ("IpAddress", IP, "127.0.0.1/32", "127.0.0.1", True),
    ("IpAddress", IP, "10.0.0.0/8", "127.0.0.1", False),
    ("IpAddress", IP, ["10.0.0.0/8", "127.0.0.0/8"], "127.0.0.1", True),
    ("IpAddress", IP, "192.0.2.7", "192.0.2.7", True),
    ("IpAddress", IP, "127.0.0.1/32", "::ffff:127.0.0.1", True),
    ("IpAddress", IP, "2001:DB8::/32", "2001:db8::1", True),
    ("IpAddress", IP, "2001:db8::/32", "2001:db9::1", False),
    ("IpAddress", IP, "0.0.0.0/0", "2001:db8::1", False),
    ("IpAddress", IP, "127.0.0.1/32", None, False),
    ("NotIpAddress", IP, "10.0.0.0/8", "127.0.0.1", True),
    ("NotIpAddress", IP, "10.0.0.0/8", "10.1.2.3", False),
    ("NotIpAddress", IP, "::1/128", "::1", False),
    ("NotIpAddress", IP, "10.0.0.0/8", None, True),
    # ARN: six colon-separated parts matched one by one, case-sensitively; wildcards never
    # span a colon; ArnEquals is the same test as ArnLike.
    ("ArnLike", SRC, f"{BUCKET_ARN}/*", f"{BUCKET_ARN}/k", True),
    ("ArnEquals", SRC, f"{BUCKET_ARN}/*", f"{BUCKET_ARN}/k", True),
    ("ArnLike", SRC, "arn:aws:sns:*:123456789012:top?c", TOPIC, True),
    (
        "ArnLike",
        SRC,
        "arn:aws:sns:*:123456789012:topic",
        "arn:aws:sns:us:east:123456789012:topic",
        False,
    ),
    ("ArnLike", SRC, "arn:aws:s3:::Bucket", BUCKET_ARN, False),
    ("ArnEquals", SRC, BUCKET_ARN, BUCKET_ARN, True),
    ("ArnEquals", SRC, BUCKET_ARN, "bucket", False),
    ("ArnLike", SRC, BUCKET_ARN, None, False),
    ("ArnNotLike", SRC, f"{BUCKET_ARN}/*", "arn:aws:s3:::other/k", True),
    ("ArnNotLike", SRC, f"{BUCKET_ARN}/*", f"{BUCKET_ARN}/k", False),
    ("ArnNotLike", SRC, BUCKET_ARN, None, True),
    ("ArnNotEquals", SRC, BUCKET_ARN, BUCKET_ARN, False),
    ("ArnNotEquals", SRC, BUCKET_ARN, None, True),
    # String operators apply to ARN and numeric keys too.
    ("StringLike", SRC, "arn:aws:s3:::*", BUCKET_ARN, True),
    ("StringEquals", MAX, "10", "10", True),
    # Null: tests presence only.
    ("Null", ACL, "true", None, True),
    ("Null", ACL, "true", "private", False),
    ("Null", ACL, "false", "private", True),
    ("Null", ACL, False, None, False),
    # ...IfExists: an absent key makes it true, a present one is tested as usual. (OPS)
    ("StringEqualsIfExists", ACL, "private", None, True),
    ("StringEqualsIfExists", ACL, "private", "public-read", False),
    ("StringNotLikeIfExists", ACL, "public-*", None, True),
    ("NumericLessThanIfExists", MAX, "10", None, True),
    ("NumericLessThanIfExists", MAX, "10", "100", False),
    ("DateGreaterThanIfExists", NOW, T0, None, True),
    ("BoolIfExists", MFA, "true", None, True),
    ("BinaryEqualsIfExists", ACL, B64_PRIVATE, None, True),
    ("ArnLikeIfExists", SRC, BUCKET_ARN, None, True),
    ("ArnLikeIfExists", SRC, BUCKET_ARN, "arn:aws:s3:::other", False),
    ("IpAddressIfExists", IP, "10.0.0.0/8", None, True),
    # Set qualifiers (SETS): a single-valued key is the set of its one value.
    ("ForAnyValue:StringEquals", ACL, ["private", "x"], "private", True),
    ("ForAnyValue:StringEquals", ACL, "private", "public-read", False),
    ("ForAnyValue:StringEquals", ACL, "private", None, False),
    ("ForAnyValue:StringNotEquals", ACL, "private", None, False),
    ("ForAllValues:StringEquals", ACL, "private", "private", True),
    ("ForAllValues:StringEquals", ACL, "private", "public-read", False),
    ("ForAllValues:StringEquals", ACL, "private", None, True),
    ("ForAllValues:StringLike", SRC, "arn:*", None, True),
    ("ForAnyValue:ArnLike", SRC, BUCKET_ARN, BUCKET_ARN, True),
    ("ForAllValues:NumericLessThan", MAX, "10", "5", True),
]


@pytest.mark.parametrize(
    ("operator", "key", "values", "request_value", "expected"),
    ROWS,
    ids=[f"{r[0]}-{r[1]}-{r[3]}" for r in ROWS],
)
def test_operator(
    operator: str, key: str, values: Any, request_value: str | None, expected: bool
) -> None:
    [cond] = parse_block({operator: {key: values}})
    assert holds(cond, facts_for(key, request_value)) is expected


def test_every_operator_has_rows() -> None:
    """Every operator IAM defines is known, and the table above exercises each one."""
    iam = {
        *(f"String{s}" for s in ("Equals", "NotEquals", "EqualsIgnoreCase", "NotEqualsIgnoreCase")),
        "StringLike",
        "StringNotLike",
        *(
            f"{f}{s}"
            for f in ("Numeric", "Date")
            for s in ("Equals", "NotEquals", "LessThan", "LessThanEquals", "GreaterThan")
        ),
        "NumericGreaterThanEquals",
        "DateGreaterThanEquals",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
        "Null",
    }
    assert iam == OPERATORS
    tested = {r[0].split(":")[-1].removesuffix("IfExists") for r in ROWS}
    assert tested == iam


def test_values_ored_keys_and_operators_anded() -> None:
    """LOGIC: one key's values ORed; every key of a block, and every block, must hold."""
    conds = parse_block(
        {
            "StringEquals": {ACL: ["private", "public-read"], "s3:x-amz-storage-class": "STANDARD"},
            "NumericLessThan": {MAX: "100"},
        }
    )
    both = {ACL: "public-read", "s3:x-amz-storage-class": "STANDARD", MAX: "10"}

    def all_hold(values: dict[str, str]) -> bool:
        return all(holds(c, Facts("192.0.2.1", True, values=values)) for c in conds)

    assert all_hold(both)
    assert not all_hold({**both, "s3:x-amz-storage-class": "GLACIER"})
    assert not all_hold({**both, MAX: "1000"})
    assert not all_hold({k: v for k, v in both.items() if k != MAX})


@pytest.mark.parametrize(
    "condition",
    [
        {"NullIfExists": {ACL: "true"}},  # OPS: IfExists on any operator except Null
        {"ForAnyValue:Null": {ACL: "true"}},
        {"BinaryEquals": {ACL: "***"}},
        {"BinaryNotEquals": {ACL: B64_PRIVATE}},  # not an IAM operator
        {"ArnLike": {SRC: "arn:aws:s3"}},  # fewer than six parts
        {"ArnLike": {ACL: BUCKET_ARN}},  # an ARN operator on a string key
        {"IpAddress": {IP: "10.0.0.0/33"}},
        {"IpAddress": {ACL: "10.0.0.0/8"}},
        {"DateLessThan": {MAX: T0}},
        {"NumericLessThan": {NOW: "10"}},
    ],
)
def test_operators_that_cannot_be_evaluated_are_refused(condition: dict[str, Any]) -> None:
    with pytest.raises(errors.MalformedPolicy):
        parse_block(condition)


def _policy(version: str | None, resource: str, condition: dict[str, Any] | None) -> str:
    statement: dict[str, Any] = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": resource,
    }
    if condition:
        statement["Condition"] = condition
    doc: dict[str, Any] = {"Statement": [statement]}
    if version:
        doc["Version"] = version
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("resource", "condition"),
    [
        ("arn:aws:s3:::b/home/${aws:username}/*", None),
        ("arn:aws:s3:::b/*", {"StringLike": {"s3:prefix": "home/${aws:username}/*"}}),
        ("arn:aws:s3:::b/*", {"StringEquals": {ACL: ["private", "${*}"]}}),
    ],
)
def test_policy_variables_are_refused_where_aws_would_substitute(
    resource: str, condition: dict[str, Any] | None
) -> None:
    """VARS: a "2012-10-17" policy substitutes ${...}; s3front does not support variables, so it
    refuses such a policy rather than match the text literally. Without a Version (or with
    "2008-10-17") AWS takes them literally, and so does s3front."""
    with pytest.raises(errors.MalformedPolicy) as info:
        parse(_policy("2012-10-17", resource, condition), "b")
    assert "Policy variables" in str(info.value)
    for literal in (None, "2008-10-17"):
        parse(_policy(literal, resource, condition), "b")
