"""Bucket policies: the JSON subset s3front understands, parsed strictly, evaluated purely.

Supported: Version, Id, Statement (a list or one object) with Sid, Effect (Allow/Deny),
Principal ("*", {"AWS": "*" | id | [ids]} or {"CanonicalUser": ...}, where an id is a canonical
id, `arn:aws:iam::<id>:root`, or a tenant name), Action (string or list, `s3:*`, `*`,
wildcards like `s3:Get*`; case-insensitive), Resource (`arn:aws:s3:::bucket` and
`arn:aws:s3:::bucket/prefix*`, `*` and `?` wildcards) and Condition with IpAddress /
NotIpAddress (aws:SourceIp, CIDR), StringEquals / StringNotEquals / StringLike / StringNotLike
(s3:prefix and other string keys) and Bool (aws:SecureTransport).

Anything else (NotPrincipal, NotAction, NotResource, other condition operators) is refused as
MalformedPolicy rather than ignored: silently dropping part of a Deny would grant access.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from s3front import errors
from s3front.keys import tenant_id

MAX_POLICY_BYTES = 20 * 1024
_STATEMENT_KEYS = {"Sid", "Effect", "Principal", "Action", "Resource", "Condition"}
_IP_OPS = {"IpAddress", "NotIpAddress"}
_STRING_OPS = {"StringEquals", "StringNotEquals", "StringLike", "StringNotLike"}
_BOOL_OPS = {"Bool"}
_ARN_IAM = re.compile(r"arn:aws:iam::([^:]+):root")

IpNet = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Condition:
    operator: str
    key: str  # lower case
    values: tuple[str, ...]
    networks: tuple[IpNet, ...] = ()


@dataclass(frozen=True, slots=True)
class Statement:
    sid: str
    allow: bool
    principals: frozenset[str]  # canonical ids, or "*"
    actions: tuple[re.Pattern[str], ...]
    resources: tuple[re.Pattern[str], ...]
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    statements: tuple[Statement, ...]


@dataclass(frozen=True, slots=True)
class Facts:
    """What conditions may test about a request."""

    source_ip: str
    secure: bool
    prefix: str | None = None


def _bad(message: str) -> errors.MalformedPolicy:
    return errors.MalformedPolicy(message)


def _strings(value: Any, what: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) and i for i in items):
        raise _bad(f"{what} must be a non-empty string or list of strings")
    return list(items)


def _wildcard(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _principals(value: Any) -> frozenset[str]:
    if value == "*":
        return frozenset({"*"})
    if not isinstance(value, dict) or not value:
        raise _bad("Invalid principal in policy")
    out: set[str] = set()
    for kind, ids in value.items():
        if kind not in ("AWS", "CanonicalUser"):
            raise _bad(f"Unsupported principal type {kind}")
        for ident in _strings(ids, "Principal"):
            if ident == "*":
                out.add("*")
                continue
            m = _ARN_IAM.fullmatch(ident)
            out.add(tenant_id(m.group(1) if m else ident))
    return frozenset(out)


def _actions(value: Any) -> tuple[re.Pattern[str], ...]:
    out = []
    for action in _strings(value, "Action"):
        if action != "*" and not action.lower().startswith("s3:"):
            raise _bad(f"Policy has an invalid action: {action}")
        out.append(_wildcard(action, ignore_case=True))
    return tuple(out)


def _resources(value: Any, bucket: str) -> tuple[re.Pattern[str], ...]:
    out = []
    for res in _strings(value, "Resource"):
        if not res.startswith("arn:aws:s3:::"):
            raise _bad("Policy has invalid resource")
        rest = res[len("arn:aws:s3:::") :]
        name = rest.split("/", 1)[0]
        if not _wildcard(name, ignore_case=False).fullmatch(bucket):
            raise _bad("Policy has invalid resource")
        out.append(_wildcard(rest, ignore_case=False))
    return tuple(out)


def _conditions(value: Any) -> tuple[Condition, ...]:
    if not isinstance(value, dict):
        raise _bad("Condition must be an object")
    out: list[Condition] = []
    for op, block in value.items():
        if op not in _IP_OPS | _STRING_OPS | _BOOL_OPS:
            raise _bad(f"Unsupported condition operator {op}")
        if not isinstance(block, dict) or not block:
            raise _bad(f"Condition {op} must be an object")
        for key, raw in block.items():
            items = raw if isinstance(raw, list) else [raw]
            if not items or not all(isinstance(i, str | bool) for i in items):
                raise _bad(f"Invalid condition value for {key}")
            values = tuple(str(i).lower() if isinstance(i, bool) else i for i in items)
            nets: tuple[IpNet, ...] = ()
            if op in _IP_OPS:
                if key.lower() != "aws:sourceip":
                    raise _bad(f"{op} applies to aws:SourceIp only")
                try:
                    nets = tuple(ipaddress.ip_network(v, strict=False) for v in values)
                except ValueError:
                    raise _bad(f"Invalid IP address or CIDR in {op}") from None
            out.append(Condition(op, key.lower(), values, nets))
    return tuple(out)


def parse(text: str, bucket: str) -> Policy:
    """Parse and validate a policy document for `bucket`; MalformedPolicy if it is not one."""
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise _bad("Policy exceeds the maximum allowed document size.")
    if not text.lstrip().startswith("{"):
        raise errors.MalformedPolicy()
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # deep nesting ("[[[[...") exhausts the C stack guard
        raise errors.MalformedPolicy("This policy contains invalid Json") from None
    if not isinstance(doc, dict):
        raise errors.MalformedPolicy()
    unknown = set(doc) - {"Version", "Id", "Statement"}
    if unknown:
        raise _bad(f"Unknown field {sorted(unknown)[0]}")
    if doc.get("Version", "2012-10-17") not in ("2012-10-17", "2008-10-17"):
        raise _bad("The policy must contain a valid version string")
    raw = doc.get("Statement")
    items = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else None
    if not items:
        raise _bad("Missing required field Statement")
    statements = []
    for st in items:
        if not isinstance(st, dict):
            raise _bad("Statement must be an object")
        unknown = set(st) - _STATEMENT_KEYS
        if unknown:
            raise _bad(f"Unsupported field {sorted(unknown)[0]}")
        for need in ("Effect", "Principal", "Action", "Resource"):
            if need not in st:
                raise _bad(f"Missing required field {need}")
        if st["Effect"] not in ("Allow", "Deny"):
            raise _bad("Invalid effect: " + str(st["Effect"]))
        statements.append(
            Statement(
                sid=str(st.get("Sid", "")),
                allow=st["Effect"] == "Allow",
                principals=_principals(st["Principal"]),
                actions=_actions(st["Action"]),
                resources=_resources(st["Resource"], bucket),
                conditions=_conditions(st.get("Condition", {})),
            )
        )
    return Policy(tuple(statements))


@lru_cache(maxsize=256)
def parse_cached(text: str, bucket: str) -> Policy:
    return parse(text, bucket)


def _fact(key: str, facts: Facts) -> str | None:
    if key == "aws:sourceip":
        return facts.source_ip
    if key == "aws:securetransport":
        return "true" if facts.secure else "false"
    if key == "s3:prefix":
        return facts.prefix
    return None


def _condition_holds(cond: Condition, facts: Facts) -> bool:
    value = _fact(cond.key, facts)
    if cond.operator in _IP_OPS:
        try:
            addr = ipaddress.ip_address(value or "")
        except ValueError:
            return False
        inside = any(addr in net for net in cond.networks)
        return inside if cond.operator == "IpAddress" else not inside
    if value is None:
        # A missing key satisfies only the negated operators, as in IAM.
        return cond.operator in ("StringNotEquals", "StringNotLike")
    if cond.operator in ("StringEquals", "Bool"):
        return value in cond.values
    if cond.operator == "StringNotEquals":
        return value not in cond.values
    like = any(_wildcard(v, ignore_case=False).fullmatch(value) for v in cond.values)
    return like if cond.operator == "StringLike" else not like


def _matches(st: Statement, who: str | None, action: str, resource: str, facts: Facts) -> bool:
    if "*" not in st.principals and (who is None or who not in st.principals):
        return False
    if not any(a.fullmatch(action) for a in st.actions):
        return False
    if not any(r.fullmatch(resource) for r in st.resources):
        return False
    return all(_condition_holds(c, facts) for c in st.conditions)


def evaluate(
    policy: Policy, who: str | None, action: str, resource: str, facts: Facts
) -> bool | None:
    """False: an explicit Deny matches; True: an Allow matches; None: the policy is silent.

    `resource` is the ARN without its prefix: "bucket" or "bucket/key".
    """
    decision: bool | None = None
    for st in policy.statements:
        if _matches(st, who, action, resource, facts):
            if not st.allow:
                return False
            decision = True
    return decision
