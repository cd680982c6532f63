"""Policy conditions: the operators and keys s3front evaluates, parsed strictly.

A policy must never be weaker than written, so a condition s3front cannot evaluate is refused
at PutBucketPolicy (MalformedPolicy naming the key or operator) rather than stored and ignored:
an ignored condition on a Deny would turn "deny public-read uploads" into "deny nothing".

Operators: every one IAM defines
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
String{Equals,NotEquals,EqualsIgnoreCase,NotEqualsIgnoreCase,Like,NotLike},
Numeric{Equals,NotEquals,LessThan,LessThanEquals,GreaterThan,GreaterThanEquals}, the same six
for Date, Bool, BinaryEquals, IpAddress / NotIpAddress (IPv4 and IPv6, CIDR or one address),
Arn{Equals,Like,NotEquals,NotLike} and Null; each (but Null) also with the `IfExists` suffix and
the `ForAnyValue:` / `ForAllValues:` qualifiers. An operator must suit its key's type (String
operators on a numeric or ARN key are fine, as in IAM; ArnLike on s3:prefix is refused).

Keys: `KEYS` below; each comes from the request (`api.access_hooks.facts_of`),
s3:ExistingObjectTag/<key> from the object's tags, read when a policy tests them. Request tags
(s3:RequestObjectTag/..., which PutObjectTagging carries in its body, read only after the access
decision) and TLS details are not available to the access decision and are refused.

Semantics follow IAM: values of one key are ORed, keys and operators ANDed; a key absent from the
request makes a condition false, except for the negated operators (true), `...IfExists` (true),
`ForAllValues:` (true, vacuously), and `Null` (which tests exactly that). ArnEquals and ArnLike
are the same test in IAM: each of the six colon-separated parts of the ARN is matched on its own,
case-sensitively, with `*` and `?` (which never span a colon). BinaryEquals compares the bytes of
the key's value (UTF-8) with the base64-decoded policy value; no S3 key is binary, so it is only
ever true for a value written in base64 in the policy.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from s3front import errors
from s3front.access.wildcard import Glob, compile_glob

IpNet = ipaddress.IPv4Network | ipaddress.IPv6Network

# Condition key (lower case) -> its type, which decides the operators it accepts.
KEYS: Mapping[str, str] = {
    "aws:sourceip": "ip",
    "aws:securetransport": "bool",
    "aws:useragent": "string",
    "aws:referer": "string",
    "aws:currenttime": "date",
    "aws:epochtime": "epoch",
    "aws:username": "string",
    # Never present in s3front's requests (no VPC endpoints, no MFA sessions): evaluating them
    # as absent is exactly what AWS does for a request that does not carry them.
    "aws:sourcevpc": "string",
    "aws:sourcevpce": "string",
    "aws:multifactorauthpresent": "bool",
    "aws:sourcearn": "arn",  # set only when an AWS service calls on a resource's behalf
    "s3:prefix": "string",
    "s3:delimiter": "string",
    "s3:max-keys": "numeric",
    "s3:versionid": "string",
    "s3:signatureversion": "string",
    "s3:authtype": "string",
    "s3:x-amz-acl": "string",
    "s3:x-amz-server-side-encryption": "string",
    "s3:x-amz-server-side-encryption-aws-kms-key-id": "string",
    "s3:x-amz-storage-class": "string",
    "s3:x-amz-copy-source": "string",
    "s3:x-amz-metadata-directive": "string",
    "s3:x-amz-content-sha256": "string",
    "s3:x-amz-grant-read": "string",
    "s3:x-amz-grant-write": "string",
    "s3:x-amz-grant-read-acp": "string",
    "s3:x-amz-grant-write-acp": "string",
    "s3:x-amz-grant-full-control": "string",
}
# s3:ExistingObjectTag/<tag key>: the tags of the object the request names (read for it).
EXISTING_TAG = "s3:existingobjecttag/"
# The s3: keys whose value is the request header of the same name (or the POST form field).
HEADER_KEYS = tuple(k[3:] for k in KEYS if k.startswith("s3:x-amz-"))

_COMPARISONS = ("Equals", "NotEquals", "LessThan", "LessThanEquals", "GreaterThan")
_FAMILIES: Mapping[str, tuple[str, ...]] = {
    "String": ("Equals", "NotEquals", "EqualsIgnoreCase", "NotEqualsIgnoreCase", "Like", "NotLike"),
    "Numeric": (*_COMPARISONS, "GreaterThanEquals"),
    "Date": (*_COMPARISONS, "GreaterThanEquals"),
}
_ARN_OPERATORS = ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike")
OPERATORS = frozenset(
    {f + s for f, suffixes in _FAMILIES.items() for s in suffixes}
    | {"Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "Null", *_ARN_OPERATORS}
)
# Which operator families each key type accepts.
_ACCEPTS: Mapping[str, frozenset[str]] = {
    "ip": frozenset({"Ip"}),
    "bool": frozenset({"Bool"}),
    "string": frozenset({"String", "Binary"}),
    "numeric": frozenset({"Numeric", "String"}),
    "arn": frozenset({"Arn", "String"}),
    "date": frozenset({"Date"}),
    "epoch": frozenset({"Date", "Numeric"}),
}


@dataclass(frozen=True, slots=True)
class Facts:
    """What conditions may test about a request. `values` holds every other key (lower case)
    the request carries; `username` is the caller's user name (its key's display name)."""

    source_ip: str
    secure: bool
    prefix: str | None = None
    values: Mapping[str, str] = field(default_factory=dict)
    username: str | None = None

    def get(self, key: str) -> str | None:
        if key == "aws:sourceip":
            return self.source_ip or None
        if key == "aws:securetransport":
            return "true" if self.secure else "false"
        if key == "s3:prefix":
            return self.prefix
        if key == "aws:username":
            return self.username
        return self.values.get(key)


@dataclass(frozen=True, slots=True)
class Condition:
    operator: str  # without qualifier and IfExists: "StringEquals", "Null", ...
    key: str  # lower case
    values: tuple[str, ...]
    if_exists: bool = False
    qualifier: str = ""  # "", "ForAnyValue" or "ForAllValues"
    networks: tuple[IpNet, ...] = ()
    numbers: tuple[Decimal, ...] = ()
    dates: tuple[datetime, ...] = ()
    globs: tuple[Glob, ...] = ()
    binaries: tuple[bytes, ...] = ()
    arns: tuple[tuple[Glob, ...], ...] = ()  # the six parts of each ARN pattern

    @property
    def negated(self) -> bool:
        return "Not" in self.operator


def _bad(message: str) -> errors.MalformedPolicy:
    return errors.MalformedPolicy(message)


def _family(operator: str) -> str:
    if operator in ("IpAddress", "NotIpAddress"):
        return "Ip"
    for family in ("String", "Numeric", "Date", "Bool", "Binary", "Arn"):
        if operator.startswith(family):
            return family
    return operator


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _date(text: str) -> datetime | None:
    """An ISO 8601 date/time or epoch seconds, as IAM accepts them."""
    text = text.strip()
    number = _number(text)
    try:
        if number is not None:
            return datetime.fromtimestamp(float(number), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _split_operator(raw: str) -> tuple[str, str, bool]:
    qualifier = ""
    op = raw
    if ":" in op:
        qualifier, op = op.split(":", 1)
        if qualifier not in ("ForAnyValue", "ForAllValues"):
            raise _bad(f"Unsupported condition operator {raw}")
    if_exists = op.endswith("IfExists") and op != "IfExists"
    if if_exists:
        op = op[: -len("IfExists")]
    if op not in OPERATORS or (op == "Null" and (if_exists or qualifier)):
        raise _bad(f"Unsupported condition operator {raw}")
    return op, qualifier, if_exists


def _values(raw: Any, key: str) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(i, str | bool | int | float) for i in items):
        raise _bad(f"Invalid condition value for {key}")
    return tuple(str(i).lower() if isinstance(i, bool) else str(i) for i in items)


def _condition(op: str, qualifier: str, if_exists: bool, key: str, raw: Any) -> Condition:
    lkey = key.lower()
    kind = KEYS.get(lkey)
    if lkey.startswith(EXISTING_TAG) and len(key) > len(EXISTING_TAG):
        # Tag keys are case-sensitive, the key's name is not.
        lkey, kind = EXISTING_TAG + key[len(EXISTING_TAG) :], "string"
    if kind is None:
        raise _bad(f"Policy has an unsupported condition key: {key}")
    values = _values(raw, key)
    family = _family(op)
    if family == "Null":
        if any(v.lower() not in ("true", "false") for v in values):
            raise _bad(f"Invalid Null condition value for {key}")
        return Condition(op, lkey, tuple(v.lower() for v in values))
    if family not in _ACCEPTS[kind]:
        raise _bad(f"Condition operator {op} cannot be used with the condition key {key}")
    cond = Condition(op, lkey, values, if_exists, qualifier)
    if family == "Ip":
        try:
            nets = tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values)
        except ValueError:
            raise _bad(f"Invalid IP address or CIDR in {op}") from None
        return _with(cond, networks=nets)
    if family == "Bool":
        if any(v.lower() not in ("true", "false") for v in values):
            raise _bad(f"Invalid Bool condition value for {key}")
        return _with(cond, values=tuple(v.lower() for v in values))
    if family == "Numeric":
        numbers = tuple(_number(v) for v in values)
        if any(n is None for n in numbers):
            raise _bad(f"Invalid numeric condition value for {key}")
        return _with(cond, numbers=tuple(n for n in numbers if n is not None))
    if family == "Date":
        dates = tuple(_date(v) for v in values)
        if any(d is None for d in dates):
            raise _bad(f"Invalid date condition value for {key}")
        return _with(cond, dates=tuple(d for d in dates if d is not None))
    if family == "Binary":
        try:
            raw_bytes = tuple(base64.b64decode(v.strip(), validate=True) for v in values)
        except (binascii.Error, ValueError):
            raise _bad(f"Invalid base64 value in {op} for {key}") from None
        return _with(cond, binaries=raw_bytes)
    if family == "Arn":
        parts = tuple(_arn_parts(v) for v in values)
        if any(p is None for p in parts):
            raise _bad(f"Invalid ARN in {op} for {key}")
        return _with(cond, arns=tuple(tuple(compile_glob(x) for x in p) for p in parts if p))
    if op in ("StringLike", "StringNotLike"):
        return _with(cond, globs=tuple(compile_glob(v) for v in values))
    return cond


def _arn_parts(value: str) -> list[str] | None:
    """arn:partition:service:region:account:resource -> its six parts (the resource may hold
    colons); None for anything else."""
    parts = value.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else None


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return None
    # A dual-stack listener reports an IPv4 client as ::ffff:a.b.c.d; policies name it in IPv4.
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _with(cond: Condition, **changes: Any) -> Condition:
    return replace(cond, **changes)


def parse_block(value: Any) -> tuple[Condition, ...]:
    """The statement's Condition element; MalformedPolicy for anything not evaluated."""
    if not isinstance(value, dict):
        raise _bad("Condition must be an object")
    out: list[Condition] = []
    for raw_op, block in value.items():
        op, qualifier, if_exists = _split_operator(raw_op)
        if not isinstance(block, dict) or not block:
            raise _bad(f"Condition {raw_op} must be an object")
        for key, raw in block.items():
            out.append(_condition(op, qualifier, if_exists, key, raw))
    return tuple(out)


def _positive(cond: Condition, value: str) -> bool:
    """The un-negated test of one request value against the condition's values (ORed)."""
    op = cond.operator.replace("Not", "", 1) if cond.negated else cond.operator
    if op == "IpAddress":
        addr = _ip(value)
        return addr is not None and any(addr in net for net in cond.networks)
    if op == "BinaryEquals":
        return value.encode("utf-8") in cond.binaries
    if op in ("ArnEquals", "ArnLike"):
        parts = _arn_parts(value)
        return parts is not None and any(
            all(g.matches(p) for g, p in zip(arn, parts, strict=True)) for arn in cond.arns
        )
    if op in ("StringEquals", "Bool"):
        return value in cond.values
    if op == "StringEqualsIgnoreCase":
        return value.lower() in {v.lower() for v in cond.values}
    if op == "StringLike":
        return any(g.matches(value) for g in cond.globs)
    if op.startswith("Numeric"):
        number = _number(value)
        return number is not None and any(_compare(op[7:], number, n) for n in cond.numbers)
    if op.startswith("Date"):
        moment = _date(value)
        return moment is not None and any(_compare(op[4:], moment, d) for d in cond.dates)
    raise AssertionError(f"unhandled operator {op}")  # parse_block admits no other


def _compare(how: str, left: Any, right: Any) -> bool:
    if how == "Equals":
        return bool(left == right)
    if how == "LessThan":
        return bool(left < right)
    if how == "LessThanEquals":
        return bool(left <= right)
    if how == "GreaterThan":
        return bool(left > right)
    return bool(left >= right)  # GreaterThanEquals


def holds(cond: Condition, facts: Facts) -> bool:
    value = facts.get(cond.key)
    if cond.operator == "Null":
        return any((value is None) == (v == "true") for v in cond.values)
    if value is None:
        if cond.if_exists or cond.qualifier == "ForAllValues":
            return True
        if cond.qualifier == "ForAnyValue":
            return False
        return cond.negated
    # Every key s3front evaluates is single-valued, so both set qualifiers reduce to the test
    # of the one value.
    matched = _positive(cond, value)
    return not matched if cond.negated else matched
